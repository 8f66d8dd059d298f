#!/bin/bash
# fsx-style exerciser through a digestfs mount (mode=off): 20,000+ seeded random writes, truncates,
# hole punches, mmap writes and reads, each read checked against an in-memory model. Also run on the
# native tree first, so a failure can be told apart from a bug in the exerciser.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
FSX=$BUILD/tests/fsx
[ -x "$FSX" ] || skip "fsx not built"
[ -x "$DIGESTFS" ] || skip "digestfs not built"
mkdir -p "$T/lower" "$T/native"
"$FSX" -N 20000 -S 1 "$T/native/f" || fail "fsx on the native tree"
dfs_mount "$T/lower" "$T/mnt" -o "${DFS_FS_OPTS:-mode=off}"
for seed in 1 2; do
  out=$("$FSX" -N 20000 -S $seed "$T/mnt/f$seed") || fail "fsx through the mount, seed $seed"
  echo "$out"
  case $out in *"no mismatch"*) ;; *) fail "fsx did not report success" ;; esac
done
# Two exercisers at once on different files (multi-threaded daemon).
"$FSX" -N 10000 -S 3 "$T/mnt/f3" & p1=$!
"$FSX" -N 10000 -S 4 "$T/mnt/f4" & p2=$!
wait $p1 || fail "concurrent fsx seed 3"
wait $p2 || fail "concurrent fsx seed 4"
# What the mount wrote is what the lower file holds.
cmp "$T/mnt/f1" "$T/lower/f1" || fail "lower file differs from the mount's view"
pass "fs_fsx"
