#!/bin/bash
# bench/workload_bench.sh BUILD_DIR [OPTIONS]: real programs on the real Debian 12 rootfs of
# tests/lib/rootfs.sh (not a test). A copy of the rootfs is made (workloads write into it); each
# workload runs in `chroot ROOT` where ROOT is, per configuration:
#   native    the copy itself;
#   off       `digestfs -o mode=off` over the copy;
#   enf       `digestfs -o mode=enforce` (the shipped default policy; a store that trusts the copy:
#             `digestctl import apt` plus a signed manifest of the files no package ships), warm;
#   enfmt0    the same with `mt_loop,poll_us=0` (the busy-host comparison of the polling default);
#   enfmt     the same with `mt_loop` and the default polling (a candidate default for busy hosts);
#   ll        libfuse 3.14's passthrough_ll example (default options), built from libfuse3-dev;
#   enf1st    a fresh `mode=enforce` mount for every run: cold verdicts (first pass, hashing),
#             and cold names, attributes and pages in the kernel's caches of the mount;
#   enfv1st   a fresh `mode=enforce` mount whose names and attributes are walked first (`find
#             -xdev -ls` over the mount, which opens no file): only the verdicts are cold, as
#             fapo1st's are while the native tree's names stay in the kernel's caches;
#   off1st    a fresh `mode=off` mount for every run: what a fresh mount costs without any
#             verdict (names, attributes and pages through FUSE for the first time);
#   fapo1st   the copy under a freshly started fapolicyd (integrity = sha256, trust = file with
#             every file of the copy): its first pass;
#   fapo      the same fapolicyd right after, warm.
#   With --alt BUILD2, also off2, enf2 and enf21st: the same from the other build (before/after).
#   With --enf NAME=OPTS (repeatable), also NAME: a warm enforce mount with OPTS added to its
#   options (say --enf enfp0=poll_us=0: the default loop without polling).
#   With --cold NAME=OPTS (repeatable; NAME ends in 1st), also NAME: a fresh enforce mount per run
#   with OPTS added (say --cold enfw1st=watch=on).
# Workloads: python3 -c 1; python3 importing 12 modules; ls -l /usr/bin; dpkg -l; 10 x sh -c true;
# a script of those five; dpkg -V; find / -xdev | wc -l; python3 -m compileall -q of a fresh copy
# of the email package (writes .pyc files; the copy is made untimed, through the same root); a runc
# container on ROOT to its first line of output.
# Rounds: in each round every warm configuration runs every workload once (configurations in
# rotating order), then per workload the cold ones (a fresh enforce mount; a fresh fapolicyd). Each
# configuration's output (stdout and exit status) is first checked against native's; a workload
# whose output differs is reported as "differs" and not timed.
# Prints the median ms per workload and configuration, ratios to native and to fapolicyd, the
# geometric mean per configuration; the FUSE requests per workload by opcode (warm, under enforce:
# counted from the daemon's debug trace, -d), warm and in a first pass; the round trip a request
# costs the caller (bench/fs_roundtrip.c) and the floor it sets per workload (native time +
# requests waited for x round trip; for a first pass also + its bytes hashed at one core's
# openssl SHA-256 rate), with geometric means; a large-file warm sequential read (dd, 1 MiB reads) under
# enforce against native, and the folio sizes of its page cache (bench/page_folios.py); the round
# trip and a warm `ls -l` with the daemon pinned to CPU 0 and the caller on CPU 0 or 1 (where the
# scheduler puts the two decides much of the floor on a small VM). --busy
# repeats the table while two busy loops keep both cores busy.
#
# Options: -n N rounds (default 10); --busy; --alt BUILD2; --enf NAME=OPTS; --cold NAME=OPTS; --no-fapolicyd; --no-ops; --big-mib M
# (default 1024; 0: skip); --drop (drop_caches before every cold run, then rewarm); --fuse-wake-here Y|N; --only "W..."
# (workload names: py pyimp ls dpkgl sh10 script dpkgV find compile runc); --guest-halt-poll NS
# (a KVM guest with the haltpoll cpuidle driver: let an idle CPU poll for up to NS ns before it
# halts, for this run only, by /sys/module/haltpoll/parameters/guest_halt_poll_ns; put back at
# exit. Waking a halted virtual CPU is what most of a FUSE round trip costs on such a guest);
# --fuse-wake-here Y|N (a kernel whose fuse module has the wake_here parameter: set it for this
# run only, put back at exit; Y wakes the task a request or its reply is for on the waker's CPU).
# fapolicyd is handled as in bench/fapolicyd_bench.sh (its service kept off; its configuration
# installed only while it starts; stopped by pid; a watchdog). Needs root, /dev/fuse, runc,
# debootstrap (or the cached rootfs), libfuse3-dev's examples.
set -euo pipefail
BUILD=$(cd "${1:?usage: workload_bench.sh BUILD_DIR [-n N] [--busy] [--alt BUILD2] ...}" && pwd)
shift
SRC=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=10 BUSY=0 ALT= FAPO=1 OPS=1 BIG_MIB=1024 DROP=0 HALT_POLL= WAKE_HERE=
EXTRA_ENF=() EXTRA_COLD=()
ONLY="py pyimp ls dpkgl sh10 script dpkgV find compile runc"
while [ $# -gt 0 ]; do
  case $1 in
    -n) ROUNDS=$2; shift 2 ;;
    --busy) BUSY=1; shift ;;
    --alt) ALT=$(cd "$2" && pwd); shift 2 ;;
    --enf) [[ $2 =~ ^[a-z][a-z0-9]*=.+$ ]] || { echo "workload_bench: --enf takes NAME=OPTS" >&2; exit 2; }
           EXTRA_ENF+=("$2"); shift 2 ;;
    --cold) [[ $2 =~ ^[a-z][a-z0-9]*1st=.+$ ]] || { echo "workload_bench: --cold takes NAME=OPTS, NAME ending in 1st" >&2; exit 2; }
            EXTRA_COLD+=("$2"); shift 2 ;;
    --no-fapolicyd) FAPO=0; shift ;;
    --no-ops) OPS=0; shift ;;
    --big-mib) BIG_MIB=$2; shift 2 ;;
    --drop) DROP=1; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --guest-halt-poll) [[ $2 =~ ^[0-9]+$ ]] || { echo "workload_bench: --guest-halt-poll takes nanoseconds" >&2; exit 2; }
                       HALT_POLL=$2; shift 2 ;;
    --fuse-wake-here) [[ $2 =~ ^[YN]$ ]] || { echo "workload_bench: --fuse-wake-here takes Y or N" >&2; exit 2; }
                      WAKE_HERE=$2; shift 2 ;;
    *) echo "workload_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
DIGESTFS=$BUILD/fs/digestfs
DIGESTCTL=$BUILD/cli/digestctl
die() { echo "workload_bench: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root"
[ -e /dev/fuse ] || die "needs /dev/fuse"
[ -x "$DIGESTFS" ] && [ -x "$DIGESTCTL" ] || die "build digestfs and digestctl first"
[ -z "$ALT" ] || [ -x "$ALT/fs/digestfs" ] || die "no $ALT/fs/digestfs"
RUNC=$(command -v runc) || die "runc is not installed"
. "$SRC/tests/lib/rootfs.sh"
dfs_rootfs || die "no rootfs (tests/lib/rootfs.sh)"
if [ $FAPO = 1 ]; then
  . "$SRC/bench/install_baselines.sh"
  install_baselines fapolicyd
  FAPOLICYD=$(command -v fapolicyd) || die "fapolicyd is not installed (or run with --no-fapolicyd)"
  pgrep -x fapolicyd >/dev/null && die "a fapolicyd is already running; stop it first"
fi

W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/dfs-workload.XXXXXX")
chmod 755 "$W"
T=$W  # for tests/lib/rootfs.sh's store helpers
ROOT=$W/root
MOUNTS=()
DAEMONS=()  # pids of daemons started in the foreground (the -d trace)
HOGS=()
# --- fapolicyd state: what exists before, put back at exit (bench/lib/fapolicyd.sh) -----------
. "$SRC/bench/lib/fapolicyd.sh"
fapo_init workload_bench dfs-workload.trust
[ $FAPO = 1 ] && fapo_save
stop_hogs() {
  local p
  for p in "${HOGS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  HOGS=()
}
umount_one() {
  local m=$1 i
  mountpoint -q "$m" || return 0
  fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  for i in $(seq 100); do mountpoint -q "$m" || return 0; sleep 0.05; done
}
cleanup() {
  local rc=$?
  set +e
  stop_hogs
  if [ $FAPO = 1 ]; then
    stop_fapolicyd
    restore_fapolicyd_files all
  fi
  local m p
  for m in "${MOUNTS[@]}"; do umount_one "$m"; done
  for p in "${DAEMONS[@]}"; do wait "$p" 2>/dev/null; done
  if [ $FAPO = 1 ]; then fapo_restore || rc=1; fi
  if [ -n "$HALT_POLL_WAS" ]; then echo "$HALT_POLL_WAS" >"$HALT_POLL_FILE" || rc=1; fi
  if [ -n "$WAKE_HERE_WAS" ]; then echo "$WAKE_HERE_WAS" >"$WAKE_HERE_FILE" || rc=1; fi
  rm -rf "$W"
  exit $rc
}
HALT_POLL_FILE=/sys/module/haltpoll/parameters/guest_halt_poll_ns HALT_POLL_WAS=
WAKE_HERE_FILE=/sys/module/fuse/parameters/wake_here WAKE_HERE_WAS=
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
if [ -n "$HALT_POLL" ]; then
  [ -w "$HALT_POLL_FILE" ] || die "--guest-halt-poll: no $HALT_POLL_FILE (not a KVM guest with the haltpoll driver)"
  HALT_POLL_WAS=$(cat "$HALT_POLL_FILE")
  echo "$HALT_POLL" >"$HALT_POLL_FILE"
fi
if [ -n "$WAKE_HERE" ]; then
  [ -w "$WAKE_HERE_FILE" ] || die "--fuse-wake-here: no $WAKE_HERE_FILE (this kernel's fuse has no wake_here parameter)"
  WAKE_HERE_WAS=$(cat "$WAKE_HERE_FILE")
  echo "$WAKE_HERE" >"$WAKE_HERE_FILE"
fi

# --- the tree, its store, the tools -------------------------------------------------------------
echo "workload_bench: copying $DFS_ROOTFS" >&2
dfs_rootfs_copy "$ROOT"
mkdir -p "$ROOT/usr/share/dfs-bench"
if [ "$BIG_MIB" -gt 0 ]; then
  dd if=/dev/urandom of="$ROOT/usr/share/dfs-bench/big" bs=1M count="$BIG_MIB" status=none
fi
cat >"$ROOT/tmp/dfs-script.sh" <<'EOF'
python3 -c 1
python3 -c 'import json,ssl,sqlite3,asyncio,email,http.client,xml.etree.ElementTree,unittest,argparse,logging,decimal,csv'
ls -l /usr/bin
dpkg -l
for i in 1 2 3 4 5 6 7 8 9 10; do sh -c true; done
EOF
echo "workload_bench: building the store (import apt)" >&2
dfs_rootfs_store "$W/store" "$ROOT" 2>/dev/null || die "could not build the store (see $W/import-apt.log)"
if [ "$BIG_MIB" -gt 0 ]; then  # the large file is not a package's: sign it (hard link, no copy)
  mkdir -p "$W/bigsign/usr/share/dfs-bench"
  ln "$ROOT/usr/share/dfs-bench/big" "$W/bigsign/usr/share/dfs-bench/big"
  dfs_rootfs_sign "$W/store" "$W/bigsign" big || die "could not sign the large file"
fi
EX=/usr/share/doc/libfuse3-dev/examples
mkdir -p "$W/bin"
for f in passthrough_ll.c passthrough_helpers.h; do
  if [ -f "$EX/$f" ]; then cp "$EX/$f" "$W/bin/"; elif [ -f "$EX/$f.gz" ]; then zcat "$EX/$f.gz" >"$W/bin/$f"; fi
done
[ -f "$W/bin/passthrough_ll.c" ] || die "no passthrough_ll.c in $EX"
gcc -O2 -Wall -o "$W/bin/passthrough_ll" "$W/bin/passthrough_ll.c" $(pkg-config fuse3 --cflags --libs)
gcc -O2 -Wall -o "$W/bin/roundtrip" "$SRC/bench/fs_roundtrip.c"
sync

# --- mounts -------------------------------------------------------------------------------------
wait_mounted() {
  local i
  for i in $(seq 200); do mountpoint -q "$1" && return 0; sleep 0.05; done
  die "$1 did not mount"
}
ENF_OPTS="store=$W/store,mode=enforce,loglevel=warn"
declare -A ROOTS=([native]=$ROOT [fapo1st]=$ROOT [fapo]=$ROOT)
declare -A MOUNT_BIN MOUNT_OPTS
# add_mount NAME BINARY OPTIONS: a digestfs mount at $W/m_NAME over the copy.
add_mount() {
  local m=$W/m_$1
  mkdir -p "$m"
  MOUNT_BIN[$1]=$2 MOUNT_OPTS[$1]=$3 ROOTS[$1]=$m
  "$2" "$ROOT" "$m" -o "$3"
  MOUNTS+=("$m")
  wait_mounted "$m"
}
remount() {
  umount_one "${ROOTS[$1]}"
  "${MOUNT_BIN[$1]}" "$ROOT" "${ROOTS[$1]}" -o "${MOUNT_OPTS[$1]}"
  wait_mounted "${ROOTS[$1]}"
}
add_mount off "$DIGESTFS" mode=off,loglevel=warn
add_mount enf "$DIGESTFS" "$ENF_OPTS"
add_mount enfmt0 "$DIGESTFS" "$ENF_OPTS,mt_loop,poll_us=0"
add_mount enfmt "$DIGESTFS" "$ENF_OPTS,mt_loop"
add_mount enf1st "$DIGESTFS" "$ENF_OPTS"
add_mount enfv1st "$DIGESTFS" "$ENF_OPTS"
add_mount off1st "$DIGESTFS" mode=off,loglevel=warn
mkdir -p "$W/m_ll"
"$W/bin/passthrough_ll" -o source="$ROOT" "$W/m_ll"
MOUNTS+=("$W/m_ll")
wait_mounted "$W/m_ll"
ROOTS[ll]=$W/m_ll
WARM_CFGS="native off enf enfmt0 enfmt ll"
for e in ${EXTRA_ENF[@]+"${EXTRA_ENF[@]}"}; do
  add_mount "${e%%=*}" "$DIGESTFS" "$ENF_OPTS,${e#*=}"
  WARM_CFGS+=" ${e%%=*}"
done
COLD_CFGS="enf1st enfv1st off1st"
for e in ${EXTRA_COLD[@]+"${EXTRA_COLD[@]}"}; do
  add_mount "${e%%=*}" "$DIGESTFS" "$ENF_OPTS,${e#*=}"
  COLD_CFGS+=" ${e%%=*}"
done
if [ -n "$ALT" ]; then
  add_mount off2 "$ALT/fs/digestfs" mode=off,loglevel=warn
  add_mount enf2 "$ALT/fs/digestfs" "$ENF_OPTS"
  add_mount enf21st "$ALT/fs/digestfs" "$ENF_OPTS"
  WARM_CFGS+=" off2 enf2"
  COLD_CFGS+=" enf21st"
fi
[ $FAPO = 1 ] && COLD_CFGS+=" fapo1st"
ALL_CFGS="$WARM_CFGS $COLD_CFGS"
[ $FAPO = 1 ] && ALL_CFGS+=" fapo"

# --- fapolicyd ----------------------------------------------------------------------------------
if [ $FAPO = 1 ]; then
  echo "workload_bench: hashing the copy for fapolicyd's trust file" >&2
  echo "untrusted" >"$ROOT/opt/dfs-probe"
  {
    echo "# digestfs bench (bench/workload_bench.sh); removed at the end of the run"
    (cd "$ROOT" && find . -xdev -type f ! -path ./opt/dfs-probe -printf '%P\0' | xargs -0 sha256sum) |
      while read -r sum p; do echo "$ROOT/$p $(stat -c %s "$ROOT/$p") $sum"; done
  } >"$W/fapolicyd.trust"
  sed -e 's/^\(trust *=\).*/\1 file/' -e 's/^\(integrity *=\).*/\1 sha256/' \
    -e 's/^\(uid *=\).*/\1 0/' -e 's/^\(gid *=\).*/\1 0/' \
    "$ETC/fapolicyd.conf" >"$W/fapolicyd.conf"
  grep -q '^integrity = sha256' "$W/fapolicyd.conf" || echo "integrity = sha256" >>"$W/fapolicyd.conf"
  grep -q '^trust = file' "$W/fapolicyd.conf" || echo "trust = file" >>"$W/fapolicyd.conf"
  # Everything the workloads open in the copy must be trusted, except what they write (/tmp) and
  # the devices; everything else on the machine is allowed.
  cat >"$W/compiled.rules" <<EOF
allow perm=any all : dir=$ROOT/tmp/
allow perm=any all : dir=$ROOT/dev/
allow perm=any all : dir=$ROOT/proc/
allow perm=any all : dir=$ROOT/ trust=1
deny perm=any all : dir=$ROOT/
allow perm=any all : all
EOF
fi
start_fapolicyd() {
  pgrep -x fapolicyd >/dev/null && die "another fapolicyd appeared"
  install -m 644 "$W/fapolicyd.conf" "$ETC/fapolicyd.conf"
  install -m 644 "$W/compiled.rules" "$ETC/compiled.rules"
  rm -f "$ETC/fapolicyd.rules"
  install -m 644 "$W/fapolicyd.trust" "$ETC/trust.d/dfs-workload.trust"
  local log=$W/fapolicyd.log
  "$FAPOLICYD" --debug-deny 2>"$log" &
  FAPO_PID=$!
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
  for i in $(seq 600); do
    grep -q "Starting to listen for events" "$log" && break
    kill -0 "$FAPO_PID" 2>/dev/null || { cat "$log" >&2; die "fapolicyd exited at start"; }
    sleep 0.05
  done
  grep -q "Starting to listen for events" "$log" || { tail "$log" >&2; die "fapolicyd not ready after 30 s"; }
  restore_fapolicyd_files
  # Its marks can take effect a moment after it says it listens (seen once in a busy-host round):
  # the untrusted file must be refused within 2 s, not necessarily at the first read.
  for i in $(seq 40); do
    cat "$ROOT/opt/dfs-probe" >/dev/null 2>&1 || return 0
    sleep 0.05
  done
  die "fapolicyd allowed an untrusted file (for 2 s after it started listening)"
}

# --- workloads: each takes the root; its stdout is compared with native's -------------------------
PYIMP='import json,ssl,sqlite3,asyncio,email,http.client,xml.etree.ElementTree,unittest,argparse,logging,decimal,csv'
w_py() { chroot "$1" /usr/bin/python3 -c 1; }
w_pyimp() { chroot "$1" /usr/bin/python3 -c "$PYIMP"; }
w_ls() { chroot "$1" /bin/ls -l /usr/bin; }
w_dpkgl() { chroot "$1" /usr/bin/dpkg -l; }
w_sh10() { chroot "$1" /bin/sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do /bin/sh -c true; done'; }
w_script() { chroot "$1" /bin/sh /tmp/dfs-script.sh; }
w_dpkgV() { chroot "$1" /usr/bin/dpkg -V; }
w_find() { chroot "$1" /usr/bin/find / -xdev | wc -l; }
# Each root has its own scratch directory: a mount does not see names changed beneath it (by
# another mount of the same tree) until timeout= (docs/mount.md).
prep_compile() {
  local d=/tmp/cc-$(basename "$1")
  chroot "$1" /bin/sh -c "rm -rf $d && cp -a /usr/lib/python3.11/email $d &&
    find $d -name __pycache__ -prune -exec rm -rf {} +"
}
w_compile() { chroot "$1" /usr/bin/python3 -m compileall -q "/tmp/cc-$(basename "$1")"; }
RUNC_N=0
prep_runc() {  # a bundle per root
  local b=$W/bundle/$(basename "$1")
  [ -f "$b/config.json" ] && return 0
  mkdir -p "$b"
  (cd "$b" && "$RUNC" spec)
  python3 - "$b/config.json" "$1" <<'PY'
import json, sys
path, root = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["root"] = {"path": root, "readonly": True}
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/echo", "ready"]
c["linux"].pop("resources", None)
c["linux"].pop("cgroupsPath", None)
json.dump(c, open(path, "w"))
PY
}
# Sets ELAPSED_US to the time to the container's first line of output.
w_runc() {
  local b=$W/bundle/$(basename "$1") t0 t1 line
  RUNC_N=$((RUNC_N + 1))
  t0=$EPOCHREALTIME
  { read -r line; t1=$EPOCHREALTIME; cat >/dev/null; } < <("$RUNC" --root "$W/runc-state" run --bundle "$b" "dfsw$$-$RUNC_N" 2>&1)
  echo "$line"
  ELAPSED_US=$(( ${t1/./} - ${t0/./} ))
}
prep() {  # untimed preparation of workload $2 on root $1
  case $2 in
    compile) prep_compile "$1" ;;
    runc) prep_runc "$1" ;;
  esac
}
# timed ROOT W -> prints ms (3 decimals)
timed() {
  local t0 t1
  ELAPSED_US=
  prep "$1" "$2"
  t0=$EPOCHREALTIME
  "w_$2" "$1" >/dev/null 2>&1 || true
  t1=$EPOCHREALTIME
  [ -n "$ELAPSED_US" ] || ELAPSED_US=$(( ${t1/./} - ${t0/./} ))
  awk -v u="$ELAPSED_US" 'BEGIN { printf "%.3f", u / 1000 }'
}
# signature ROOT W: exit status and a digest of the output.
signature() {
  local out rc=0
  prep "$1" "$2"
  out=$("w_$2" "$1" 2>&1) || rc=$?
  [ "$2" = compile ] && out=$(cd "$ROOT/tmp/cc-$(basename "$1")" && find . -name "*.pyc" | sort)
  echo "$rc $(printf '%s' "$out" | md5sum | cut -c1-12)"
}
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# --- one table ----------------------------------------------------------------------------------
declare -A RES BAD SIG
rotate() {  # rotate N WORDS...: the words rotated left by N
  local n=$1
  shift
  local a=("$@") k=${#a[@]} i
  for ((i = 0; i < k; i++)); do printf '%s ' "${a[$(((i + n) % k))]}"; done
}
check_outputs() {
  local w c s
  for w in $ONLY; do
    SIG[$w]=$(signature "$ROOT" "$w")
    for c in $WARM_CFGS $COLD_CFGS; do
      [ "${c#fapo}" != "$c" ] && continue
      [ "$c" = native ] && continue
      s=$(signature "${ROOTS[$c]}" "$w")
      if [ "$s" != "${SIG[$w]}" ]; then
        BAD[$c/$w]=1
        echo "note: $w through $c: output differs from native ($s, native ${SIG[$w]}); not timed" >&2
      fi
    done
    if [ $FAPO = 1 ]; then
      start_fapolicyd
      s=$(signature "$ROOT" "$w")
      stop_fapolicyd
      if [ "$s" != "${SIG[$w]}" ]; then
        BAD[fapo1st/$w]=1 BAD[fapo/$w]=1
        echo "note: $w under fapolicyd: output differs from native ($s, native ${SIG[$w]}); not timed" >&2
      fi
    fi
  done
}
table() {  # table LABEL
  local label=$1 r w c ms load0
  RES=()
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  local wl=($ONLY) wc=($WARM_CFGS) cc=($COLD_CFGS)
  for ((r = 0; r < ROUNDS; r++)); do
    for w in $(rotate $r "${wl[@]}"); do
      for c in $(rotate $r "${wc[@]}"); do
        [ -n "${BAD[$c/$w]:-}" ] && continue
        RES[$c/$w]+="$(timed "${ROOTS[$c]}" "$w") "
      done
    done
    for w in $(rotate $r "${wl[@]}"); do
      for c in $(rotate $r "${cc[@]}"); do
        [ -n "${BAD[$c/$w]:-}" ] && continue
        if [ "$c" = fapo1st ]; then  # a fresh fapolicyd: its first pass, then warm
          start_fapolicyd
          [ $DROP = 1 ] && drop
          RES[fapo1st/$w]+="$(timed "$ROOT" "$w") "
          RES[fapo/$w]+="$(timed "$ROOT" "$w") "
          stop_fapolicyd
        else  # a fresh mount: cold verdicts (enforce), cold names and pages
          remount "$c"
          [ $DROP = 1 ] && drop
          # enfv1st: names and attributes walked first, no file opened
          [ "$c" = enfv1st ] && find "${ROOTS[$c]}/" -xdev -ls >/dev/null 2>&1
          RES[$c/$w]+="$(timed "${ROOTS[$c]}" "$w") "
        fi
      done
      if [ $DROP = 1 ]; then for c in $WARM_CFGS; do timed "${ROOTS[$c]}" "$w" >/dev/null; done; fi
    done
    echo "  round $((r + 1))/$ROUNDS done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  done
  print_table "$label" "$load0"
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
declare -A MED  # median ms per configuration/workload of the last table (floor_table reads it)
print_table() {
  local label=$1 load0=$2 w c
  MED=()
  for w in $ONLY; do
    for c in $ALL_CFGS; do
      if [ -n "${BAD[$c/$w]:-}" ]; then MED[$c/$w]=differs; else MED[$c/$w]=$(echo "${RES[$c/$w]:-}" | median); fi
    done
  done
  echo
  echo "== $label: median ms of $ROUNDS interleaved rounds; load average before $load0, after $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-8s' workload; for c in $ALL_CFGS; do printf ' %9s' "$c"; done; echo
  for w in $ONLY; do
    printf '%-8s' "$w"; for c in $ALL_CFGS; do printf ' %9s' "${MED[$c/$w]}"; done; echo
  done
  # ratios: to native (all), to fapolicyd (enforce warm to fapo, first passes to fapo1st)
  local ref
  for ref in native fapo; do
    [ $ref = fapo ] && [ $FAPO = 0 ] && continue
    echo "-- ratio to $ref (time / $ref time; fapolicyd: first passes to fapo1st, the rest to fapo); geomean over the workloads"
    printf '%-8s' workload; for c in $ALL_CFGS; do printf ' %9s' "$c"; done; echo
    local rows=""
    for w in $ONLY; do
      printf '%-8s' "$w"
      for c in $ALL_CFGS; do
        local base=$ref
        [ $ref = fapo ] && case $c in *1st) base=fapo1st ;; esac
        local a=${MED[$c/$w]} b=${MED[$base/$w]}
        if [[ $a =~ ^[0-9.]+$ && $b =~ ^[0-9.]+$ ]]; then
          local x
          x=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
          printf ' %9s' "$x"
          rows+="$c $x"$'\n'
        else
          printf ' %9s' -
        fi
      done
      echo
    done
    printf '%-8s' geomean
    for c in $ALL_CFGS; do
      printf ' %9s' "$(printf '%s' "$rows" | awk -v c="$c" '$1 == c { s += log($2); n++ } END { if (n) printf "%.2f", exp(s / n); else print "-" }')"
    done
    echo
    printf '%-8s' max
    for c in $ALL_CFGS; do
      printf ' %9s' "$(printf '%s' "$rows" | awk -v c="$c" '$1 == c && $2 > m { m = $2 } END { if (m) printf "%.2f", m; else print "-" }')"
    done
    echo
  done
}

# --- FUSE requests per workload by opcode (libfuse's debug trace of a -d mount) ------------------
# ops_summary W: reads the trace lines of one run on stdin; prints the workload's line and writes
# the number of requests the caller waits for (all but the asynchronous RELEASE, RELEASEDIR,
# FORGET, BATCH_FORGET and INTERRUPT) and how many of them open something (OPEN, OPENDIR, CREATE:
# each followed by an asynchronous release the daemon also serves) to $OPSF.
ops_summary() {
  awk -v w="$1" -v out="$OPSF" '
    /opcode: / { match($0, /unique: [0-9]+/); u = substr($0, RSTART + 8, RLENGTH - 8)
                 match($0, /opcode: [A-Z_]+/); op = substr($0, RSTART + 8, RLENGTH - 8)
                 opof[u] = op; n[op]++; total++
                 if (op !~ /^(RELEASE|RELEASEDIR|FORGET|BATCH_FORGET|INTERRUPT)$/) sync++ }
    /error: -2 / { match($0, /unique: [0-9]+/); u = substr($0, RSTART + 8, RLENGTH - 8)
                   if (opof[u] == "LOOKUP") neg++ }
    /error: -(25|61) / { match($0, /unique: [0-9]+/); u = substr($0, RSTART + 8, RLENGTH - 8)
                   e[opof[u]]++ }
    END { printf "%-8s total %6d, waited for %6d:", w, total, sync
          for (op in n) printf " %s %d", op, n[op]
          printf " | LOOKUP-ENOENT %d", neg
          for (op in e) printf " | %s-ENODATA/ENOTTY %d", op, e[op]
          printf "\n"; print sync + 0, n["OPEN"] + n["OPENDIR"] + n["CREATE"] + 0 > out }'
}
declare -A SYNC_WARM SYNC_COLD HASHED
# The bytes the daemon `pid` of mount `m` has hashed (its runtime status file, rewritten at
# SIGUSR1; docs/mount.md, "Runtime status"), or nothing if it cannot tell.
hashed_bytes() {
  local m=$1 pid=$2 f i old
  f=/run/digestfs/$(mountpoint -d "$m").json
  old=$(stat -c %i "$f" 2>/dev/null) || return 0
  kill -USR1 "$pid" 2>/dev/null || return 0
  # Each write is a new file renamed over the old one: wait for the new inode.
  for i in $(seq 50); do
    [ "$(stat -c %i "$f" 2>/dev/null)" != "$old" ] && break
    sleep 0.1
  done
  [ "$(stat -c %i "$f" 2>/dev/null)" != "$old" ] || return 0
  jq -r '.counters.bytes_hashed // empty' "$f" 2>/dev/null || true
}

count_ops() {
  local m=$W/m_dbg log=$W/dbg.log w before pid
  OPSF=$W/ops.count
  mkdir -p "$m"
  "$DIGESTFS" "$ROOT" "$m" -d -o "$ENF_OPTS" 2>"$log" &
  pid=$!
  DAEMONS+=($pid)
  MOUNTS+=("$m")
  wait_mounted "$m"
  echo
  echo "== FUSE requests per warm run under mode=enforce, by opcode (libfuse -d trace; the run after two warm-up runs)"
  for w in $ONLY; do
    [ -n "${BAD[enf/$w]:-}" ] && continue
    timed "$m" "$w" >/dev/null
    timed "$m" "$w" >/dev/null  # twice: a directory read uncached invalidates its atime once
    prep "$m" "$w" >/dev/null 2>&1
    before=$(wc -l <"$log")
    "w_$w" "$m" >/dev/null 2>&1 || true
    sleep 0.2  # asynchronous RELEASE/FORGET
    tail -n +"$((before + 1))" "$log" | ops_summary "$w"
    SYNC_WARM[$w]=$(cat "$OPSF")
  done
  umount_one "$m"
  wait "$pid" 2>/dev/null || true
  echo
  echo "== FUSE requests of a first pass under mode=enforce (a fresh -d mount per workload, its first run)"
  for w in $ONLY; do
    [ -n "${BAD[enf1st/$w]:-}" ] && continue
    "$DIGESTFS" "$ROOT" "$m" -d -o "$ENF_OPTS" 2>"$log" &
    pid=$!
    DAEMONS+=($pid)
    wait_mounted "$m"
    prep "$m" "$w" >/dev/null 2>&1
    before=$(wc -l <"$log")
    "w_$w" "$m" >/dev/null 2>&1 || true
    sleep 0.2
    tail -n +"$((before + 1))" "$log" | ops_summary "$w"
    SYNC_COLD[$w]=$(cat "$OPSF")
    HASHED[$w]=$(hashed_bytes "$m" "$pid")
    umount_one "$m"
    wait "$pid" 2>/dev/null || true
  done
}

# --- the round-trip floor ------------------------------------------------------------------------
# What a FUSE request costs the caller here, and what each workload would take if the only cost
# digestfs added were its round trips: native time + opens x (open+close through the mount - the
# same natively) + other requests waited for x (GETXATTR through the mount - natively). A
# configuration at its floor is limited by the number of requests the kernel sends, not by the
# daemon's work per request.
floor_table() {
  local f=usr/bin/python3 nat enf rtt rtt_open w
  nat=$("$W/bin/roundtrip" "$ROOT/$f" 20000)
  enf=$("$W/bin/roundtrip" "${ROOTS[enf]}/$f" 20000)
  local ll
  ll=$("$W/bin/roundtrip" "${ROOTS[ll]}/$f" 20000)
  echo
  echo "== round trip seen by the caller, us per call (bench/fs_roundtrip.c, 20000 calls; load $(cut -d' ' -f1 /proc/loadavg))"
  printf '%-10s %s\n' native "$(echo $nat)" enf "$(echo $enf)" ll "$(echo $ll)"
  local get='{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' rtt_oc
  rtt=$(awk -v a="$(echo $enf | awk -v k=getxattr_us "$get")" \
    -v b="$(echo $nat | awk -v k=getxattr_us "$get")" 'BEGIN { printf "%.2f", a - b }')
  rtt_oc=$(awk -v a="$(echo $enf | awk -v k=openclose_us "$get")" \
    -v b="$(echo $nat | awk -v k=openclose_us "$get")" 'BEGIN { printf "%.2f", a - b }')
  echo "added per request through enf: $rtt us (GETXATTR), $rtt_oc us per open + close"
  # The first pass must also hash what it opens; at best at openssl's one-core SHA-256 rate (the
  # daemon's own hashing is 0.86-0.89x of it: bench/enforce_open.sh).
  local rate
  rate=$(openssl speed -mr -evp sha256 -bytes 65536 -seconds 2 2>/dev/null |
    awk -F: '/^\+F:/ { printf "%.0f", $4 }')
  echo "one core's SHA-256, openssl speed, 64 KiB blocks: $(awk -v r="${rate:-0}" 'BEGIN { printf "%.0f", r / 1e6 }') MB/s"
  echo "-- floor = native + opens x $rtt_oc us + other requests waited for x $rtt us; ratios to native"
  echo "   (first pass: enf1st's requests, and its floor against fapolicyd's first pass; floor1h adds"
  echo "   the first pass's bytes hashed at openssl's rate, work fapolicyd's first pass does too;"
  echo "   off1h: a fresh mode=off mount's measured first run (off1st) plus that hashing, the floor"
  echo "   of a first pass that must also fill a fresh mount's names and pages)"
  printf '%-8s %8s %8s %8s %8s %8s | %8s %8s %8s %8s %8s %9s %8s %9s %8s %9s\n' workload native enf reqs floor \
    "enf/flr" enf1st reqs1 floor1 "1st/flr" "flr/fapo1" "hashedMB" floor1h "flh/fapo1" off1h "ofh/fapo1"
  for w in $ONLY; do
    printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$w" "${MED[native/$w]:-}" "${MED[enf/$w]:-}" \
      "${MED[enf1st/$w]:-}" "${MED[fapo1st/$w]:-}" "${SYNC_WARM[$w]:-}" "${SYNC_COLD[$w]:-}" \
      "${HASHED[$w]:-}" "${MED[off1st/$w]:-}"
  done | awk -F'|' -v t="$rtt" -v to="$rtt_oc" -v rate="${rate:-0}" '
    function gm(sum, k) { return k ? sprintf("%.2f", exp(sum / k)) : "-" }
    { w = $1; n = $2; e = $3; c = $4; fa = $5; rw = $6; rc = $7; hb = $8; o1 = $9
      num = "^[0-9.]+$"
      if (n !~ num || e !~ num || rw == "") { printf "%-8s (not measured)\n", w; next }
      split(rw, a, " "); split(rc, b, " ")
      fl = n + (a[2] * to + (a[1] - a[2]) * t) / 1000
      printf "%-8s %8.1f %8.1f %8d %8.1f %8.2f |", w, n, e, a[1], fl, e / fl
      gfl += log(fl / n); gefl += log(e / fl); k++
      if (c ~ num && rc != "") {
        f1 = n + (b[2] * to + (b[1] - b[2]) * t) / 1000
        printf " %8.1f %8d %8.1f %8.2f", c, b[1], f1, c / f1
        if (fa ~ num) { printf " %8.2f", f1 / fa; gf1 += log(f1 / fa); k1++ } else printf " %8s", "-"
        if (hb ~ num && rate > 0) {
          fh = f1 + hb / rate * 1000
          printf " %9.1f %8.1f", hb / 1e6, fh
          if (fa ~ num) { printf " %9.2f", fh / fa; gfh += log(fh / fa); kh++ }
          if (o1 ~ num) {
            oh = o1 + hb / rate * 1000
            printf " %8.1f", oh
            if (fa ~ num) { printf " %9.2f", oh / fa; goh += log(oh / fa); ko++ }
          }
        }
      }
      printf "\n" }
    END {
      printf "geomean: floor/native %s, enf/floor %s; first pass floor1/fapo1st %s, floor1h/fapo1st %s, off1h/fapo1st %s (%d workloads)\n",
        gm(gfl, k), gm(gefl, k), gm(gf1, k1), gm(gfh, kh), gm(goh, ko), kh }'
  echo "(floor/native is the best ratio a FUSE mount making these requests can reach on this machine)"
}

# --- where the round trip goes: the CPUs of the daemon and of the caller ------------------------
# The same round trips with the daemon pinned to CPU 0 (taskset) and the caller on CPU 0 (the
# daemon's) or on CPU 1, with the default polling and with poll_us=0, and `ls -l /usr/bin`
# (warm; hundreds of GETXATTRs in a row) the same ways. Unpinned, the kernel's scheduler decides
# where the woken daemon and the woken caller run; this shows what each placement costs.
placement_table() {
  [ "$(nproc)" -ge 2 ] || { echo; echo "== placement: skipped (one CPU)"; return 0; }
  local m=$W/m_pin f=usr/bin/python3 o cc i s e
  mkdir -p "$m"
  echo
  echo "== round trip by placement (daemon on CPU 0; bench/fs_roundtrip.c 5000 calls, ls -l /usr/bin warm ms per run, median of 9; load $(cut -d' ' -f1 /proc/loadavg))"
  for o in "" ",poll_us=0"; do
    taskset -c 0 "$DIGESTFS" "$ROOT" "$m" -o "$ENF_OPTS$o"
    MOUNTS+=("$m")
    wait_mounted "$m"
    for cc in 0 1; do
      taskset -c "$cc" "$W/bin/roundtrip" "$m/$f" 1000 >/dev/null
      local rt ls_ms=""
      rt=$(taskset -c "$cc" "$W/bin/roundtrip" "$m/$f" 5000)
      for i in 1 2 3; do taskset -c "$cc" chroot "$m" /bin/ls -l /usr/bin >/dev/null; done
      for i in $(seq 9); do
        s=$(date +%s%N)
        taskset -c "$cc" chroot "$m" /bin/ls -l /usr/bin >/dev/null
        e=$(date +%s%N)
        ls_ms+="$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.2f", (b - a) / 1e6 }') "
      done
      printf '%-22s caller on CPU %s: %s ls_ms %s\n' "enforce${o:-,poll_us=default}" "$cc" \
        "$(echo $rt)" "$(echo "$ls_ms" | median)"
    done
    umount_one "$m"
  done
}

# --- large-file warm sequential read ------------------------------------------------------------
seqread() {  # FILE -> MB/s
  dd if="$1" of=/dev/null bs=1M 2>&1 | awk -v b=$((BIG_MIB * 1048576)) '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") t = $(i - 1); print int(b / t / 1e6) }'
}
bigread() {
  local f=usr/share/dfs-bench/big c i
  local cfgs="native enf off ${ALT:+enf2}"
  declare -A S
  for c in $cfgs; do seqread "${ROOTS[$c]}/$f" >/dev/null; done  # warm (and verify)
  for i in 1 2 3 4 5; do
    for c in $cfgs; do S[$c]+="$(seqread "${ROOTS[$c]}/$f") "; done
  done
  echo
  echo "== ${BIG_MIB} MiB warm sequential read (dd bs=1M), MB/s, 5 interleaved runs; load $(cut -d' ' -f1-3 /proc/loadavg)"
  local nat
  nat=$(echo "${S[native]}" | median)
  for c in $cfgs; do
    local med
    med=$(echo "${S[$c]}" | median)
    printf '%-8s median %6s  (%s) ratio to native %s\n' "$c" "$med" "${S[$c]% }" \
      "$(awk -v a="$med" -v b="$nat" 'BEGIN { printf "%.2f", a / b }')"
  done
  echo "-- how the page cache holds the file (first 64 MiB; bench/page_folios.py): the copy to the"
  echo "   reader is the warm read's cost, and it is slower from order-0 folios"
  for c in native enf off; do
    printf '%-8s ' "$c"
    python3 "$SRC/bench/page_folios.py" "${ROOTS[$c]}/$f" 64 2>&1 | sed "s|^${ROOTS[$c]}/||"
  done
}

# --- run ----------------------------------------------------------------------------------------
echo "workload_bench: checking every configuration's output against native's" >&2
check_outputs
echo "workload_bench: warming up" >&2
for w in $ONLY; do for c in $WARM_CFGS; do timed "${ROOTS[$c]}" "$w" >/dev/null; done; done
# The binaries' own commit (digestfs --version), not the source tree's: a build may be older.
echo "machine: $(nproc) CPUs; $("$DIGESTFS" --version); $(date -u '+%F %T UTC')"
[ -r "$HALT_POLL_FILE" ] && echo "guest halt polling: $(cat "$HALT_POLL_FILE") ns${HALT_POLL:+ (set for this run; was $HALT_POLL_WAS)}"
[ -r "$WAKE_HERE_FILE" ] && echo "fuse wake_here: $(cat "$WAKE_HERE_FILE")${WAKE_HERE:+ (set for this run; was $WAKE_HERE_WAS)}"
[ -z "$ALT" ] || echo "alt: $("$ALT/fs/digestfs" --version)"
table "no added load"
[ $OPS = 1 ] && count_ops && floor_table && placement_table
[ "$BIG_MIB" -gt 0 ] && bigread
if [ $BUSY = 1 ]; then
  for i in 1 2; do
    (trap - EXIT INT TERM HUP; while :; do :; done) &
    HOGS+=($!)
  done
  table "busy host (two busy loops, one per core)"
  stop_hogs
fi
