#!/bin/bash
# bench/fs_bench.sh BUILD_DIR: the passthrough benchmark (not a test). Compares native ext4,
# libfuse's passthrough_ll example (built here from libfuse3-dev's examples, default options) and
# `digestfs -o mode=off`:
#   - open + read 4 KiB + close over 5000 files, cold (after drop_caches) and warm (five interleaved
#     rounds: median and best);
#   - a 1 GiB sequential read (dd, 1 MiB reads), cold (after drop_caches) and warm (median of 3),
#     plus the reader's CPU time for one warm pass (robust against other load on the machine).
# digestfs runs with its defaults (passthrough=auto: the 4 KiB files through the FUSE page cache,
# the 1 GiB file in the kernel's passthrough where offered; one session thread that polls the
# device for 50 us after each request), as "digestfs_pc" with passthrough=off (everything through
# the page cache), and as "digestfs_mt" with libfuse's multi-threaded loop and no polling
# (mt_loop,poll_us=0). The daemons' CPU time over the warm open rounds is printed too.
# Prints absolute numbers and ratios from this one run. Needs root (drop_caches, mounts).
set -euo pipefail
BUILD=$(cd "${1:?usage: fs_bench.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
DIGESTFS=$BUILD/fs/digestfs
[ "$(id -u)" = 0 ] || { echo "fs_bench: needs root" >&2; exit 2; }
[ -x "$DIGESTFS" ] || { echo "fs_bench: build digestfs first" >&2; exit 2; }
W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/dfs-bench.XXXXXX")
mounts=()
cleanup() {
  local m
  for m in "${mounts[@]}"; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT

# Tools: passthrough_ll from the installed examples, and the open/read loop.
EX=/usr/share/doc/libfuse3-dev/examples
mkdir -p "$W/bin"
for f in passthrough_ll.c passthrough_helpers.h; do
  if [ -f "$EX/$f" ]; then cp "$EX/$f" "$W/bin/"; elif [ -f "$EX/$f.gz" ]; then zcat "$EX/$f.gz" > "$W/bin/$f"; fi
done
[ -f "$W/bin/passthrough_ll.c" ] || { echo "fs_bench: no passthrough_ll.c in $EX" >&2; exit 2; }
gcc -O2 -Wall -o "$W/bin/passthrough_ll" "$W/bin/passthrough_ll.c" $(pkg-config fuse3 --cflags --libs)
gcc -O2 -Wall -o "$W/bin/openread" "$SRC/bench/fs_openread.c"

# Data: 5000 small files and one 1 GiB file.
D=$W/data
mkdir -p "$D/small"
head -c 4096 /dev/urandom > "$W/block"
for i in $(seq 0 4999); do cp "$W/block" "$D/small/f$i"; done
dd if=/dev/urandom of="$D/big" bs=1M count=1024 status=none
sync

mkdir -p "$W/m_ll" "$W/m_dfs" "$W/m_pc" "$W/m_mt"
"$W/bin/passthrough_ll" -o source="$D" "$W/m_ll"
mounts+=("$W/m_ll")
"$DIGESTFS" "$D" "$W/m_dfs" -o mode=off,loglevel=warn
mounts+=("$W/m_dfs")
"$DIGESTFS" "$D" "$W/m_pc" -o mode=off,passthrough=off,loglevel=warn
mounts+=("$W/m_pc")
"$DIGESTFS" "$D" "$W/m_mt" -o mode=off,mt_loop,poll_us=0,loglevel=warn
mounts+=("$W/m_mt")
for m in "$W/m_ll" "$W/m_dfs" "$W/m_pc" "$W/m_mt"; do
  for i in $(seq 100); do mountpoint -q "$m" && break; sleep 0.1; done
done

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
median() { sort -n | sed -n 2p; }
# seqread FILE -> MB/s (dd, 1 MiB reads)
seqread() {
  dd if="$1" of=/dev/null bs=1M 2>&1 | awk '/copied/ { for (i=1;i<=NF;i++) if ($i=="s,") t=$(i-1); print int(1073741824/t/1e6) }'
}
# cpuread FILE -> CPU milliseconds (user+sys) the reader spends on one warm pass; less sensitive to
# other load on the machine than wall-clock rates.
cpuread() {
  /usr/bin/time -f "%U %S" dd if="$1" of=/dev/null bs=1M 2>&1 >/dev/null | tail -1 | awk '{ printf "%d", ($1 + $2) * 1000 }'
}

declare -A OPEN_COLD OPEN_WARM OPEN_BEST SEQ_COLD SEQ_WARM SEQ_CPU
declare -A roots=([native]=$D [passthrough_ll]=$W/m_ll [digestfs]=$W/m_dfs [digestfs_pc]=$W/m_pc
  [digestfs_mt]=$W/m_mt)
names="native passthrough_ll digestfs digestfs_pc digestfs_mt"
# The daemon serving each mount, and its CPU time (user+system) in milliseconds.
declare -A PIDS
PIDS[passthrough_ll]=$(pgrep -f -x "$W/bin/passthrough_ll -o source=$D $W/m_ll")
for name in digestfs digestfs_pc digestfs_mt; do
  PIDS[$name]=$(pgrep -f -x "$DIGESTFS $D ${roots[$name]} .*" | head -1)  # not its watchdog
done
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
# Cold: each after dropping every cache.
for name in $names; do
  drop
  OPEN_COLD[$name]=$("$W/bin/openread" "${roots[$name]}/small" 5000 1)
done
# Warm: after one pass each, five interleaved rounds (so background load hits all alike);
# median and best pass per file system.
for name in $names; do "$W/bin/openread" "${roots[$name]}/small" 5000 1 > /dev/null; done
declare -A RUNS CPU0 CPU1
for name in "${!PIDS[@]}"; do CPU0[$name]=$(cpu_ms "${PIDS[$name]}"); done
for round in 1 2 3 4 5; do
  for name in $names; do
    RUNS[$name]+="$("$W/bin/openread" "${roots[$name]}/small" 5000 1) "
  done
done
for name in "${!PIDS[@]}"; do CPU1[$name]=$(cpu_ms "${PIDS[$name]}"); done
for name in $names; do
  OPEN_WARM[$name]=$(echo ${RUNS[$name]} | tr ' ' '\n' | sort -n | sed -n 3p)
  OPEN_BEST[$name]=$(echo ${RUNS[$name]} | tr ' ' '\n' | sort -n | tail -1)
done
for name in $names; do
  root=${roots[$name]}
  drop
  SEQ_COLD[$name]=$(seqread "$root/big")
  seqread "$root/big" > /dev/null
  SEQ_WARM[$name]=$(for i in 1 2 3; do seqread "$root/big"; done | median)
  SEQ_CPU[$name]=$(cpuread "$root/big")
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "load average before the run: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n%-16s %11s %11s %11s %13s %13s %15s\n' "" "open/s cold" "open/s warm" "(best of 5)" "seq MB/s cold" "seq MB/s warm" "warm GiB cpu ms"
for name in $names; do
  printf '%-16s %11s %11s %11s %13s %13s %15s\n' "$name" "${OPEN_COLD[$name]}" "${OPEN_WARM[$name]}" \
    "${OPEN_BEST[$name]}" "${SEQ_COLD[$name]}" "${SEQ_WARM[$name]}" "${SEQ_CPU[$name]}"
done
echo
printf 'daemon CPU over the 5 warm open rounds (25000 opens):'
for name in passthrough_ll digestfs digestfs_pc digestfs_mt; do
  printf ' %s %d ms;' "$name" $((CPU1[$name] - CPU0[$name]))
done
echo
echo "digestfs / passthrough_ll, warm open rate: $(ratio "${OPEN_WARM[digestfs]}" "${OPEN_WARM[passthrough_ll]}")x median, $(ratio "${OPEN_BEST[digestfs]}" "${OPEN_BEST[passthrough_ll]}")x best (target >= 3)"
echo "digestfs_mt / passthrough_ll, warm open rate: $(ratio "${OPEN_WARM[digestfs_mt]}" "${OPEN_WARM[passthrough_ll]}")x median (mt_loop,poll_us=0)"
echo "digestfs / passthrough_ll, cold open rate: $(ratio "${OPEN_COLD[digestfs]}" "${OPEN_COLD[passthrough_ll]}")x"
echo "digestfs / native, warm open rate:         $(ratio "${OPEN_WARM[digestfs]}" "${OPEN_WARM[native]}")x"
echo "digestfs / native, warm sequential read:   $(ratio "${SEQ_WARM[digestfs]}" "${SEQ_WARM[native]}")x (target >= 0.95)"
echo "digestfs / native, cold sequential read:   $(ratio "${SEQ_COLD[digestfs]}" "${SEQ_COLD[native]}")x"
echo "digestfs_pc / native, warm sequential read: $(ratio "${SEQ_WARM[digestfs_pc]}" "${SEQ_WARM[native]}")x (passthrough=off: the FUSE page cache)"
echo "native / digestfs_pc, CPU per warm GiB:    $(ratio "${SEQ_CPU[native]}" "${SEQ_CPU[digestfs_pc]}")x"
echo "passthrough_ll / native, warm sequential:  $(ratio "${SEQ_WARM[passthrough_ll]}" "${SEQ_WARM[native]}")x"
echo "native / digestfs, CPU per warm GiB:       $(ratio "${SEQ_CPU[native]}" "${SEQ_CPU[digestfs]}")x"
