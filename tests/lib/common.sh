# tests/lib/common.sh: sourced by integration tests. Usage at the top of a test:
#   . "$(dirname "$0")/../lib/common.sh" "$@"
# Gives: $BUILD (build dir), $SRC (source dir), $DIGESTFS, $DIGESTCTL, $CORPUS, $T (a private temp
# dir removed at exit), and helpers below. A test exits 0 on pass, 1 on failure, 77 when skipped.
set -euo pipefail
BUILD=$(cd "${1:?usage: test.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIGESTFS=$BUILD/fs/digestfs
DIGESTCTL=$BUILD/cli/digestctl
CORPUS=$SRC/../shared/corpus/rpm-upstream
T=$(mktemp -d /tmp/dfs-test.XXXXXX)
_cleanups=()
# (Its loop variable has a name no cleanup string uses: a cleanup with its own "for i in ..." once
# reset a shared `i` and made this loop run forever: integ_fs_verify_blocks hung in CI.)
on_exit() { local _dfs_k; for ((_dfs_k=${#_cleanups[@]}-1; _dfs_k>=0; _dfs_k--)); do eval "${_cleanups[_dfs_k]}" || true; done; rm -rf "$T"; }
trap on_exit EXIT
# Runs CMD (a string) at exit, last registered first.
at_exit() { _cleanups+=("$1"); }
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIPPED: $*" >&2; exit 77; }
pass() { echo "ok: $*"; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
need_fuse() { [ -e /dev/fuse ] || skip "no /dev/fuse"; }
need_cmd() { local c; for c in "$@"; do command -v "$c" >/dev/null || skip "missing command $c"; done; }
# Asserts that two strings are equal.
assert_eq() { [ "$1" == "$2" ] || fail "${3:-values differ}: expected '$2', got '$1'"; }
# Waits until DIR is a mount point (10 s).
wait_mounted() { local i; for i in $(seq 100); do mountpoint -q "$1" && return 0; sleep 0.1; done; fail "$1 did not mount"; }
# The pid of the digestfs daemon serving mount point MNT, from its runtime status file (written
# when the daemon runs as root); empty when there is none or it names another mount point.
mount_daemon_pid() {
  local dev
  dev=$(mountpoint -d "$1" 2>/dev/null) || return 0
  [ -r "/run/digestfs/$dev.json" ] || return 0
  python3 - "/run/digestfs/$dev.json" "$(realpath -m "$1")" <<'PY' 2>/dev/null || true
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    if j.get("mountpoint") == sys.argv[2]:
        print(j["pid"])
except (OSError, ValueError, KeyError):
    pass
PY
}
# Waits (10 s) until process PID has exited (a zombie counts as exited); 1 if it has not.
wait_pid_gone() {
  local i st
  for i in $(seq 100); do
    st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 0
    [ -z "$st" ] || [ "$st" = Z ] && return 0
    sleep 0.1
  done
  return 1
}
# Unmounts a FUSE mount and waits for its daemon to exit, so that the daemon's descriptors on the
# lower tree are closed when the next cleanup (say, unmounting a lower tmpfs) runs.
unmount() {
  mountpoint -q "$1" || return 0
  local pid
  pid=$(mount_daemon_pid "$1")
  fusermount3 -u "$1" 2>/dev/null || umount -l "$1"
  if [ -n "$pid" ] && ! wait_pid_gone "$pid"; then
    echo "warning: daemon $pid of $1 still running 10 s after unmount" >&2
  fi
  return 0
}
# Mounts SOURCE on MNT with digestfs options; unmounted at exit.
dfs_mount() {
  local src=$1 mnt=$2; shift 2
  mkdir -p "$mnt"
  "$DIGESTFS" "$src" "$mnt" "$@" || fail "digestfs $src $mnt $* failed"
  wait_mounted "$mnt"
  at_exit "unmount '$mnt'"
}

# dfs_mount_fg SRC MNT LOG OPTS: runs `digestfs SRC MNT -f -o OPTS` in the background with its
# stderr (the daemon's log) in LOG, waits until MNT is mounted, and at exit unmounts it and waits
# for the daemon. The daemon's pid is left in DFS_PID.
dfs_mount_fg() {
  local src=$1 mnt=$2 log=$3 opts=$4
  mkdir -p "$mnt"
  "$DIGESTFS" "$src" "$mnt" -f -o "$opts" 2>"$log" &
  DFS_PID=$!
  at_exit "unmount '$mnt'; wait $DFS_PID 2>/dev/null"
  wait_mounted "$mnt"
}

# dfs_manifest_store STORE TREE NAME: makes STORE (initialized if new) trust every file now in
# TREE through a manifest NAME ($T/NAME.manifest) signed with the test's throwaway key ($T/k.key,
# $T/k.crt; made and added to STORE on first use). Fails the test on any error.
dfs_manifest_store() {
  local store=$1 tree=$2 name=$3
  if [ ! -f "$T/k.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
      -subj "/CN=dfs test $name" -keyout "$T/k.key" -out "$T/k.crt" 2>/dev/null || fail "openssl req"
  fi
  if [ ! -e "$store/data.mdb" ]; then "$DIGESTCTL" --store "$store" init >/dev/null || fail "init $store"; fi
  local mark
  mark="$T/.key-added-$(printf '%s' "$store" | md5sum | cut -c1-12)"
  if [ ! -f "$mark" ]; then
    "$DIGESTCTL" --store "$store" keys add "$T/k.crt" >/dev/null || fail "keys add"
    touch "$mark"
  fi
  "$DIGESTCTL" manifest create "$tree" --key "$T/k.key" --cert "$T/k.crt" -o "$T/$name.manifest" \
    --name "$name" >/dev/null || fail "manifest create $name"
  "$DIGESTCTL" --store "$store" import manifest "$T/$name.manifest" >/dev/null || fail "import manifest $name"
}
