#!/bin/bash
# One user's hashing cannot starve another user's opens (issue 14 item 6, fairness). User
# `nobody` opens six 3 GiB sparse files at once where the policy appraises reads (each is hashed,
# seconds of CPU each); then uid 1000 opens a small file there. With threads=4 the workers are
# shared round-robin per uid and one uid holds at most three (fs/worker_pool.h), so the second
# user's open is decided while nobody's hashes still run. With one FIFO queue (before) it waited
# behind them: 3 of 6 had finished when it returned (8.7 s; with the fair pool 0 had, 0.08 s).
# The check is an order, not a time:
# how many of nobody's opens had finished when uid 1000's open returned.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd setpriv
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

S=$T/store
"$DIGESTCTL" --store "$S" init >/dev/null || fail "init"
G=$T/lower
mkdir -p "$G/scratch"
chmod 1777 "$G/scratch"
echo small >"$G/scratch/small"
chmod 644 "$G/scratch/small"
printf 'appraise op=read path=/scratch/**\n' >"$T/policy"
chmod 755 "$T"
M=$T/mnt
mkdir -p "$M"
dfs_mount_fg "$G" "$M" "$T/log" "store=$S,mode=enforce,policy=$T/policy,threads=4"

N=6
for i in $(seq $N); do truncate -s 3G "$G/scratch/big$i"; chmod 644 "$G/scratch/big$i"; done
HOGS=()
for i in $(seq $N); do
  (setpriv --reuid=65534 --regid=65534 --clear-groups head -c1 "$M/scratch/big$i" >/dev/null 2>&1 || true
   date +%s.%N >"$T/done.$i") &
  HOGS+=($!)
done
kill_hogs() { local p; for p in "${HOGS[@]}"; do pkill -9 -P "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done; return 0; }
at_exit kill_hogs
sleep 1  # every hog's OPEN is queued or hashing (3 GiB takes seconds)
start=$(date +%s.%N)
rc=0
setpriv --reuid=1000 --regid=1000 --clear-groups cat "$M/scratch/small" >"$T/out" 2>"$T/err" || rc=$?
end=$(date +%s.%N)
done_hogs=$(ls "$T" | grep -c '^done\.' || true)
echo "B start $start end $end; hogs done at: $(cat "$T"/done.* 2>/dev/null | tr '\n' ' ')"
echo "uid 1000's open returned after $(echo "$end - $start" | bc) s (rc $rc) with $done_hogs of $N hashes by nobody finished"
grep -q "Permission denied" "$T/err" || fail "the unlisted small file was not refused: rc $rc $(cat "$T/err")"
[ "$done_hogs" -le 1 ] || fail "uid 1000's open waited for $done_hogs of nobody's $N hashes"
pass "another user's open is decided while one user's $N huge hashes run"

# The hogs' opens are killed: their hashes stop (INTERRUPT) and the mount stays responsive.
t0=$(date +%s.%N)
kill_hogs
wait "${HOGS[@]}" 2>/dev/null || true
assert_eq "$(ls "$M/scratch" | wc -l)" "$((N + 1))" "listing after the hogs were killed"
echo "the killed openers left after $(echo "$(date +%s.%N) - $t0" | bc) s"
pass "the mount answers after the hashing user's openers were killed"
