#!/bin/bash
# bench/fapolicyd_bench.sh BUILD_DIR: digestfs against fapolicyd (not a test). One run measures
# open + read 4 KiB + close over 5000 distinct 4 KiB files (bench/fs_openread.c, invoked as in
# bench/fs_bench.sh) on:
#   native     ext4, nothing watching;
#   fapolicyd  native ext4 under Debian's fapolicyd (1.1.7) with integrity=sha256, trust=file: the
#              5000 files are in its trust (path, size, sha256); rules allow trusted files and deny
#              every other open of the benchmark's own files by the benchmark binary;
#   dfs-enf    `digestfs -o mode=enforce` over the same files, a store holding a signed manifest of
#              them, policy `appraise op=read`;
#   dfs-off    `digestfs -o mode=off` over the same files.
# Figures: cold (first pass after drop_caches, each integrity checker freshly started, so every file
# is read from disk and hashed), first pass after a fresh start with the page cache warm (hashing
# cost only), and warm (median of 5 interleaved rounds). Prints absolute rates and ratios.
#
# fapolicyd polices the whole machine while it runs. This script therefore: refuses to start if any
# fapolicyd is running; installs its private configuration only while the daemon starts and puts the
# original files back as soon as it listens (and again at exit); stops the daemon by pid after each
# measurement (TERM, then KILL) and checks that none is left; and starts a watchdog that kills the
# daemon should this script die without running its exit trap. The rules decide only for the
# benchmark binary; everything else is allowed.
# Needs root (drop_caches, fanotify, mounts), /dev/fuse and fapolicyd.
# Option: --fuse-wake-here Y|N (a kernel whose fuse module has the wake_here parameter, as in
# bench/workload_bench.sh: set for this run only, put back at exit; Y wakes the task a request or
# its reply is for on the waker's CPU). The setting in force is printed either way.
set -euo pipefail
BUILD=$(cd "${1:?usage: fapolicyd_bench.sh BUILD_DIR [--fuse-wake-here Y|N]}" && pwd)
shift
WAKE_HERE=
while [ $# -gt 0 ]; do
  case $1 in
    --fuse-wake-here) [[ ${2:-} =~ ^[YN]$ ]] || { echo "fapolicyd_bench: --fuse-wake-here takes Y or N" >&2; exit 2; }
                      WAKE_HERE=$2; shift 2 ;;
    *) echo "fapolicyd_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
SRC=$(cd "$(dirname "$0")/.." && pwd)
DIGESTFS=$BUILD/fs/digestfs
DIGESTCTL=$BUILD/cli/digestctl
ROUNDS=${ROUNDS:-5}
N=5000
die() { echo "fapolicyd_bench: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root"
[ -e /dev/fuse ] || die "needs /dev/fuse"
[ -x "$DIGESTFS" ] && [ -x "$DIGESTCTL" ] || die "build digestfs and digestctl first"
. "$(dirname "$0")/install_baselines.sh"
install_baselines fapolicyd
FAPOLICYD=$(command -v fapolicyd) || die "fapolicyd is not installed (apt-get install fapolicyd)"
ETC=/etc/fapolicyd
[ -d "$ETC" ] || die "no $ETC"
if pgrep -x fapolicyd >/dev/null; then die "a fapolicyd is already running; stop it first"; fi

W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/dfs-fapo.XXXXXX")
chmod 755 "$W"
[ "$(stat -f -c %T "$W")" = ext2/ext3 ] || echo "note: $W is not on ext4 ($(stat -f -c %T "$W"))"
D=$W/data          # the 5000 files
MOFF=$W/m_off      # digestfs mode=off
MENF=$W/m_enf      # digestfs mode=enforce
# --- fapolicyd state: what exists before, put back at exit (bench/lib/fapolicyd.sh) -----------
. "$(dirname "$0")/lib/fapolicyd.sh"
fapo_init fapolicyd_bench dfs-bench.trust
fapo_save
cleanup() {
  local rc=$?
  set +e
  fapo_restore || rc=1
  local m
  for m in "$MENF" "$MOFF"; do
    mountpoint -q "$m" && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
  done
  if [ -n "$WAKE_HERE_WAS" ]; then echo "$WAKE_HERE_WAS" >"$WAKE_HERE_FILE" || rc=1; fi
  rm -rf "$W"
  exit $rc
}
WAKE_HERE_FILE=/sys/module/fuse/parameters/wake_here WAKE_HERE_WAS=
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
if [ -n "$WAKE_HERE" ]; then
  [ -w "$WAKE_HERE_FILE" ] || die "--fuse-wake-here: no $WAKE_HERE_FILE (this kernel's fuse has no wake_here parameter)"
  WAKE_HERE_WAS=$(cat "$WAKE_HERE_FILE")
  echo "$WAKE_HERE" >"$WAKE_HERE_FILE"
fi

# --- tools and data ---------------------------------------------------------------------------
mkdir -p "$W/bin" "$D"
gcc -O2 -Wall -o "$W/bin/openread" "$SRC/bench/fs_openread.c"
OPENREAD=$W/bin/openread
python3 - "$D" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(f"{d}/f{i}", "wb") as f:
        f.write(os.urandom(4096))
PY
# Probes for fapolicyd: an untrusted file, and a trusted path whose content is not the trusted
# content (same size, other sha256): both opens must fail with EPERM.
mkdir -p "$W/probe/untrusted" "$W/probe/tampered"
head -c 4096 /dev/urandom >"$W/probe/untrusted/f0"
head -c 4096 /dev/urandom >"$W/probe/tampered/f0"
other_sha=$(head -c 4096 /dev/urandom | sha256sum | cut -d' ' -f1)
# fapolicyd's trust file: "PATH SIZE SHA256" per line (fapolicyd.trust(5)).
{
  echo "# digestfs bench (bench/fapolicyd_bench.sh); removed at the end of the run"
  (cd "$D" && find . -type f -printf '%P\n' | sort | xargs sha256sum) |
    awk -v d="$D" '{ print d "/" $2 " 4096 " $1 }'
  echo "$W/probe/tampered/f0 4096 $other_sha"
} >"$W/fapolicyd.trust"
[ "$(grep -c "^$D/" "$W/fapolicyd.trust")" = "$N" ] || die "trust file lacks some files"
# The installed configuration with trust = file and integrity = sha256. uid/gid 0: here (a container
# without CAP_SYS_RESOURCE in its capability set) the daemon fails "Cannot change to uid" otherwise.
sed -e 's/^\(trust *=\).*/\1 file/' -e 's/^\(integrity *=\).*/\1 sha256/' \
  -e 's/^\(uid *=\).*/\1 0/' -e 's/^\(gid *=\).*/\1 0/' \
  "$ETC/fapolicyd.conf" >"$W/fapolicyd.conf"
grep -q '^integrity = sha256' "$W/fapolicyd.conf" || echo "integrity = sha256" >>"$W/fapolicyd.conf"
grep -q '^trust = file' "$W/fapolicyd.conf" || echo "trust = file" >>"$W/fapolicyd.conf"
cat >"$W/compiled.rules" <<EOF
allow perm=open exe=$OPENREAD : dir=$W/ trust=1
deny perm=open exe=$OPENREAD : dir=$W/
allow perm=any all : all
EOF

# digestfs: a store holding a signed manifest of the same files.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=dfs-bench \
  -keyout "$W/key.pem" -out "$W/cert.pem" -days 2 2>/dev/null
"$DIGESTCTL" --store "$W/store" init >/dev/null
"$DIGESTCTL" --store "$W/store" keys add "$W/cert.pem" >/dev/null
"$DIGESTCTL" manifest create "$D" --key "$W/key.pem" --cert "$W/cert.pem" -o "$W/manifest" \
  --name bench >/dev/null
"$DIGESTCTL" --store "$W/store" import manifest "$W/manifest" >/dev/null
echo "appraise op=read" >"$W/policy"
sync

# --- helpers ----------------------------------------------------------------------------------
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
pass() { "$OPENREAD" "$1" "$N" 1; }  # DIR -> files/s
wait_mounted() {
  local i
  for i in $(seq 100); do mountpoint -q "$1" && return 0; sleep 0.1; done
  die "$1 did not mount"
}
mount_off() { mkdir -p "$MOFF"; "$DIGESTFS" "$D" "$MOFF" -o mode=off,loglevel=warn; wait_mounted "$MOFF"; }
mount_enf() {
  mkdir -p "$MENF"
  "$DIGESTFS" "$D" "$MENF" -o "store=$W/store,policy=$W/policy,mode=enforce,loglevel=warn"
  wait_mounted "$MENF"
}
umount_enf() {
  fusermount3 -u "$MENF"
  local i
  for i in $(seq 50); do mountpoint -q "$MENF" || return 0; sleep 0.1; done
}
# expect_eperm DIR WHAT: the benchmark binary's open of DIR/f0 must fail with EPERM.
expect_eperm() {
  local out
  if out=$("$OPENREAD" "$1" 1 1 2>&1); then die "fapolicyd allowed the $2 file $1/f0"; fi
  case $out in
    *"Operation not permitted"*) ;;
    *) die "open of the $2 file $1/f0 failed, but not with EPERM: $out" ;;
  esac
}
FAPO_STARTS=0
start_fapolicyd() {
  pgrep -x fapolicyd >/dev/null && die "another fapolicyd appeared"
  install -m 644 "$W/fapolicyd.conf" "$ETC/fapolicyd.conf"
  install -m 644 "$W/compiled.rules" "$ETC/compiled.rules"
  rm -f "$ETC/fapolicyd.rules"
  install -m 644 "$W/fapolicyd.trust" "$ETC/trust.d/dfs-bench.trust"
  local log=$W/fapolicyd.$FAPO_STARTS.log
  "$FAPOLICYD" --debug-deny 2>"$log" &
  FAPO_PID=$!
  # Watchdog: if this script goes away without its trap (e.g. SIGKILL), kills the daemon and puts
  # the configuration back (the work directory with the originals is still there then).
  (
    trap - EXIT INT TERM HUP
    set +e
    exec </dev/null >/dev/null 2>&1
    while kill -0 $$ 2>/dev/null; do sleep 1; done
    kill -TERM "$FAPO_PID"
    for _ in $(seq 50); do kill -0 "$FAPO_PID" || break; sleep 0.1; done
    kill -KILL "$FAPO_PID"
    restore_fapolicyd_files all
  ) &
  WATCHDOG_PID=$!
  local i
  for i in $(seq 300); do
    grep -q "Starting to listen for events" "$log" && break
    kill -0 "$FAPO_PID" 2>/dev/null || { cat "$log" >&2; die "fapolicyd exited at start"; }
    sleep 0.1
  done
  grep -q "Starting to listen for events" "$log" || { tail "$log" >&2; die "fapolicyd not ready after 30 s"; }
  restore_fapolicyd_files  # the daemon has read them; nothing is left modified while it runs
  expect_eperm "$W/probe/untrusted" untrusted
  expect_eperm "$W/probe/tampered" "trusted-path-but-wrong-sha256"
  FAPO_STARTS=$((FAPO_STARTS + 1))
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A COLD FIRST WARM RUNS FIRSTS

# --- cold: first pass after drop_caches, each checker freshly started --------------------------
drop
COLD[native]=$(pass "$D")
mount_off
drop
COLD[dfs-off]=$(pass "$MOFF")
mount_enf
drop
COLD[dfs-enf]=$(pass "$MENF")
start_fapolicyd
drop
COLD[fapolicyd]=$(pass "$D")
stop_fapolicyd
echo "fapolicyd enforced: the benchmark binary's opens of an untrusted file and of a trusted path with" \
  "other content (same size, other sha256) failed with EPERM; the 5000 trusted files opened"

# --- warm: ROUNDS interleaved rounds ----------------------------------------------------------
# Each round: native, dfs-off and dfs-enf warm passes; then a fresh digestfs enforce mount and a
# fresh fapolicyd, each with a first pass (page cache warm: hashing cost) and a warm pass.
pass "$D" >/dev/null
pass "$MOFF" >/dev/null
pass "$MENF" >/dev/null
for ((r = 1; r <= ROUNDS; r++)); do
  RUNS[native]+="$(pass "$D") "
  RUNS[dfs-off]+="$(pass "$MOFF") "
  umount_enf
  mount_enf
  FIRSTS[dfs-enf]+="$(pass "$MENF") "
  RUNS[dfs-enf]+="$(pass "$MENF") "
  start_fapolicyd
  FIRSTS[fapolicyd]+="$(pass "$D") "
  RUNS[fapolicyd]+="$(pass "$D") "
  stop_fapolicyd
done
for name in native dfs-off dfs-enf fapolicyd; do WARM[$name]=$(echo "${RUNS[$name]}" | median); done
for name in dfs-enf fapolicyd; do FIRST[$name]=$(echo "${FIRSTS[$name]}" | median); done
FIRST[native]=-
FIRST[dfs-off]=-

# The last daemon's own statistics (written when it stops).
if [ /var/log/fapolicyd-access.log -nt "$W/fapolicyd.conf" ]; then
  echo "last fapolicyd's report: $(grep -E '^(Allowed|Denied) accesses' /var/log/fapolicyd-access.log | tr '\n' ' ')"
fi

echo
echo "load average before the run: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -r "$WAKE_HERE_FILE" ] && echo "fuse wake_here: $(cat "$WAKE_HERE_FILE")${WAKE_HERE:+ (set for this run; was $WAKE_HERE_WAS)}"
echo "open+read 4 KiB+close, $N files, files/s (warm: median of $ROUNDS interleaved rounds)"
printf '%-11s %10s %18s %10s   %s\n' "" cold "first pass (hash)" warm "warm runs"
for name in native fapolicyd dfs-off dfs-enf; do
  printf '%-11s %10s %18s %10s   %s\n' "$name" "${COLD[$name]}" "${FIRST[$name]}" "${WARM[$name]}" "${RUNS[$name]}"
done
echo
printf '%-34s %6s %6s %18s\n' ratio cold warm "first pass (hash)"
printf '%-34s %6s %6s %18s\n' "digestfs-enforce / fapolicyd" "$(ratio "${COLD[dfs-enf]}" "${COLD[fapolicyd]}")" \
  "$(ratio "${WARM[dfs-enf]}" "${WARM[fapolicyd]}")" "$(ratio "${FIRST[dfs-enf]}" "${FIRST[fapolicyd]}")"
printf '%-34s %6s %6s %18s\n' "digestfs-enforce / native" "$(ratio "${COLD[dfs-enf]}" "${COLD[native]}")" \
  "$(ratio "${WARM[dfs-enf]}" "${WARM[native]}")" -
printf '%-34s %6s %6s %18s\n' "digestfs-off / native" "$(ratio "${COLD[dfs-off]}" "${COLD[native]}")" \
  "$(ratio "${WARM[dfs-off]}" "${WARM[native]}")" -
printf '%-34s %6s %6s %18s\n' "fapolicyd / native" "$(ratio "${COLD[fapolicyd]}" "${COLD[native]}")" \
  "$(ratio "${WARM[fapolicyd]}" "${WARM[native]}")" -
