#!/bin/bash
# bench/soak.sh: a soak of an enforce mount (issue 14, "Faults and load"). Not a test: run it by hand
# (10 minutes by default); tests/integration/soak_short.sh runs a 60 s variant in CI.
#   bash bench/soak.sh BUILD_DIR [SECONDS] [FILES]
# For SECONDS (default 600), on one enforce mount with the default policy over a scratch tree:
#   - fio jobs mixing random reads and writes with crc32c verification, file creation and stat
#     (metadata), run with --time_based for the whole time;
#   - `digestctl import manifest` and `digestctl remove` in a loop against the mount's store (each
#     a new store generation, so the mount redoes its lookups);
#   - FILES distinct listed files (default 100000) under /usr/share/soak opened and read, twice
#     (the verdict cache is bounded, EnforcerOptions::max_cache_entries = 1M entries), and opened
#     again in a loop until the time is up.
# Prints the daemon's RSS after mounting, after the first and the second pass over the files, and at
# the end, the imports done, fio's results. Exits 1 on any error: fio verify or I/O errors, a refused
# listed file, a failed import, the daemon dead, or RSS after the run more than 64 MiB above its
# value after the first pass (the files pass is what the verdict cache holds).
set -euo pipefail
BUILD=$(cd "${1:?usage: soak.sh BUILD_DIR [SECONDS] [FILES]}" && pwd)
DUR=${2:-600}
NFILES=${3:-100000}
SRC=$(cd "$(dirname "$0")/.." && pwd)
DIGESTFS=$BUILD/fs/digestfs
DIGESTCTL=$BUILD/cli/digestctl
for c in fio openssl split; do command -v $c >/dev/null || { echo "SKIPPED: missing $c"; exit 77; }; done
[ -x "$DIGESTFS" ] && [ -x "$DIGESTCTL" ] || { echo "SKIPPED: not built"; exit 77; }
W=$(mktemp -d /tmp/dfs-soak.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if mountpoint -q "$W/mnt"; then fusermount3 -u "$W/mnt" 2>/dev/null || umount -l "$W/mnt"; fi
  rm -rf "$W"
}
trap cleanup EXIT
die() { echo "SOAK FAIL: $*" >&2; exit 1; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$DFS/status"; }  # KiB
dctl() { "$DIGESTCTL" --store "$W/store" "$@"; }

echo "soak: ${DUR}s, $NFILES files, in $W"
G=$W/lower
mkdir -p "$G/usr/share/soak" "$G/data" "$G/extra/a" "$G/extra/b" "$G/tmp"
chmod 1777 "$G/tmp"
(cd "$G/usr/share/soak" && seq 1 "$NFILES" | split -l 1 -a 6 - f)
for i in $(seq 1 200); do echo "a $i" >"$G/extra/a/x$i"; echo "b $i" >"$G/extra/b/x$i"; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=dfs soak" -keyout "$W/k.key" -out "$W/k.crt" 2>/dev/null
dctl init >/dev/null
dctl keys add "$W/k.crt" >/dev/null
mkm() { dctl manifest create "$1" --key "$W/k.key" --cert "$W/k.crt" -o "$2" --name "$3" >/dev/null; }
mkm "$G/usr" "$W/usr.m" usr
mkm "$G/extra/a" "$W/a.m" extra-a
mkm "$G/extra/b" "$W/b.m" extra-b
dctl import manifest "$W/usr.m" >/dev/null

mkdir -p "$W/mnt"
"$DIGESTFS" "$G" "$W/mnt" -f -o "store=$W/store,mode=enforce,loglevel=warn" 2>"$W/daemon.log" &
DFS=$!
PIDS+=("$DFS")
for i in $(seq 100); do mountpoint -q "$W/mnt" && break; sleep 0.1; done
mountpoint -q "$W/mnt" || die "did not mount"
M=$W/mnt
rss0=$(rss)
t0=$(date +%s)

# The load, for the whole time.
cd "$W"
fio --name=rw --directory="$M/data" --ioengine=psync --rw=randrw --bs=4k --size=64m --numjobs=2 \
  --time_based --runtime="$DUR" --verify=crc32c --verify_fatal=1 --fsync=256 \
  --name=meta --directory="$M/tmp" --ioengine=filecreate --nrfiles=2000 --filesize=4k --numjobs=1 \
  --time_based --runtime="$DUR" --openfiles=1 \
  --name=stat --directory="$M/tmp" --ioengine=filestat --nrfiles=2000 --filesize=4k --numjobs=1 \
  --time_based --runtime="$DUR" --openfiles=1 \
  --output="$W/fio.out" >/dev/null 2>&1 &
FIO=$!
PIDS+=("$FIO")
(
  n=0
  while [ $(($(date +%s) - t0)) -lt "$DUR" ]; do
    dctl import manifest "$W/a.m" >/dev/null && dctl import manifest "$W/b.m" >/dev/null &&
      dctl remove extra-a >/dev/null && dctl remove extra-b >/dev/null || { echo "import failed" >"$W/import.err"; exit 1; }
    n=$((n + 1))
    echo "$n" >"$W/imports"
    sleep 1
  done
) &
IMP=$!
PIDS+=("$IMP")

# Distinct files: two passes, then again until the time is up.
pass_files() {
  find "$M/usr/share/soak" -type f -print0 | xargs -0 -n 2000 cat >/dev/null 2>"$W/cat.err" ||
    die "a listed file was refused or unreadable: $(head -3 "$W/cat.err")"
}
pass_files
rss1=$(rss)
pass_files
rss2=$(rss)
passes=2
while [ $(($(date +%s) - t0)) -lt "$DUR" ]; do
  pass_files
  passes=$((passes + 1))
  kill -0 "$DFS" 2>/dev/null || die "the daemon died"
done
wait "$FIO" || { tail -30 "$W/fio.out" >&2; die "fio failed"; }
wait "$IMP" || die "imports failed: $(cat "$W/import.err" 2>/dev/null)"
kill -0 "$DFS" 2>/dev/null || die "the daemon died"
rss3=$(rss)
grep -q "err= 0" "$W/fio.out" || die "fio: no clean result"
if grep "err=" "$W/fio.out" | grep -vq "err= 0"; then die "fio reported errors"; fi
echo "soak: $passes passes over $NFILES files, $(cat "$W/imports" 2>/dev/null || echo 0) import/remove rounds in $(($(date +%s) - t0)) s"
grep -E "^ *(READ|WRITE):" "$W/fio.out" | sed 's/^ */soak: fio /'
echo "soak: RSS KiB: mounted $rss0, after pass 1 $rss1, after pass 2 $rss2, at the end $rss3"
[ "$rss3" -le $((rss1 + 65536)) ] || die "RSS grew from $rss1 KiB (after the first pass) to $rss3 KiB"
grep -E "error|critical" "$W/daemon.log" | head -5 >&2 || true
echo "soak: ok"
