#!/bin/bash
# Issue 14 item 6: a size cap the policy sets per rule (max_size=, docs/policy.md). Files larger
# than the cap of the rule deciding them are not hashed: under `appraise ... max_size=1M` they are
# refused (EACCES), under `audit ... max_size=1M` allowed and logged, each with the reason naming
# the rule; smaller files are decided as usual, and other trees keep the mount's max_hash_size=.
# Sparse files of 2 GiB: hashing them would take seconds each, the cap answers at once. About 2 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
ROOT=$T/root
mkdir -p "$ROOT/scratch" "$ROOT/logs" "$T/mnt"
truncate -s 2G "$ROOT/scratch/big" "$ROOT/logs/big"
head -c 2000000 /dev/zero > "$ROOT/scratch/two-mb"
echo small > "$ROOT/logs/small"
cat > "$T/policy" <<'P'
appraise op=read path=/scratch/** max_size=1M
audit op=read path=/logs/** max_size=1M
P
"$DIGESTCTL" policy check "$T/policy" > /dev/null || fail "digestctl policy check refuses max_size="
printf 'dont_appraise max_size=1M\n' > "$T/bad"
"$DIGESTCTL" policy check "$T/bad" > /dev/null 2> "$T/err" && fail "max_size= on a dont_ rule was accepted"
grep -q "bad:1:.*max_size= has no effect on dont_appraise" "$T/err" || fail "error: $(cat "$T/err")"
"$DIGESTCTL" --store "$T/store" init > /dev/null || fail "digestctl init"
dfs_mount_fg "$ROOT" "$T/mnt" "$T/log" "store=$T/store,policy=$T/policy,mode=enforce,loglevel=info"
M=$T/mnt

head -c1 "$M/scratch/big" > /dev/null 2> "$T/err" && fail "a 2 GiB file under an appraise rule with max_size=1M was served"
grep -q "Permission denied" "$T/err" || fail "not EACCES: $(cat "$T/err")"
grep -q 'refused path="/scratch/big" .*reason="larger than max_size=1048576 of rule 1 (2147483648 bytes; not hashed)"' "$T/log" ||
  { cat "$T/log" >&2; fail "no refusal naming max_size= and rule 1"; }
head -c1 "$M/scratch/two-mb" > /dev/null 2>&1 && fail "a 2 MB file under max_size=1M was served"
pass "appraise max_size=1M: larger files refused unhashed"
head -c1 "$M/logs/big" > /dev/null || fail "a 2 GiB file under an audit rule with max_size=1M was refused"
grep -q 'audit path="/logs/big" .*rule=2 reason="larger than max_size=1048576 of rule 2' "$T/log" ||
  { cat "$T/log" >&2; fail "no audit line naming max_size= and rule 2"; }
cat "$M/logs/small" > /dev/null || fail "a small file under /logs"
pass "audit max_size=1M: larger files allowed and logged unhashed"
"$DIGESTCTL" --store "$T/store" verify-tree "$ROOT" --policy "$T/policy" > "$T/vt" 2>&1 || true
grep -q "max_size=1048576 of rule 1" "$T/vt" || { cat "$T/vt" >&2; fail "verify-tree does not decide as the mount"; }
pass "verify-tree gives the same reasons"
pass "policy_max_size"
