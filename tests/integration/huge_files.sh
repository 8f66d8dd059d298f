#!/bin/bash
# Huge sparse files cannot stall a mount (issue 14 item 6, the size cap): an unprivileged user
# makes four 20 GiB sparse files (apparent size counts) and executes them, and reads them where the
# policy appraises, audits or measures. With max_hash_size=1G (the default is 4 GiB) each is
# decided without being hashed: exec and appraised reads refused (EACCES, reason "larger than
# max_hash_size"), audited reads allowed and logged, measured reads refused (nothing to measure);
# the refusal reasons show they were not hashed, and a listed file is still allowed.
# Before the cap every open hashed 20 GiB of zeros (minutes each).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd openssl jq setpriv
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

S=$T/store
dctl() { "$DIGESTCTL" --store "$S" "$@"; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=dfs huge" -keyout "$T/k.key" -out "$T/k.crt" 2>/dev/null || fail "openssl req"
G=$T/lower
mkdir -p "$G/usr/lib/app" "$G/scratch" "$G/audited" "$G/measured"
chmod 1777 "$G/scratch" "$G/audited" "$G/measured" "$G/usr/lib/app"
echo "listed" >"$G/usr/lib/app/listed"
dctl init >/dev/null
dctl keys add "$T/k.crt" >/dev/null
dctl manifest create "$G" --key "$T/k.key" --cert "$T/k.crt" -o "$T/m" --name app >/dev/null || fail "manifest create"
dctl import manifest "$T/m" >/dev/null || fail "import manifest"
cat >"$T/policy" <<'P'
appraise op=exec
appraise op=read path=/usr/**
audit op=read path=/audited/**
measure op=read path=/measured/**
P
chmod 755 "$T"
M=$T/mnt
mkdir -p "$M"
dfs_mount_fg "$G" "$M" "$T/log" "store=$S,mode=enforce,policy=$T/policy,log=$T/mlog,max_hash_size=1G"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

for d in scratch usr/lib/app audited measured; do
  for i in 1 2 3 4; do as_nobody truncate -s 20G "$M/$d/big$i" || fail "truncate $d/big$i"; done
done
as_nobody chmod 755 "$M/scratch/big1" "$M/scratch/big2" "$M/scratch/big3" "$M/scratch/big4"
for i in 1 2 3 4; do
  rc=0; as_nobody "$M/scratch/big$i" 2>"$T/err" || rc=$?
  grep -q "Permission denied" "$T/err" || fail "exec of a 20 GiB sparse file: rc $rc, $(cat "$T/err")"
  rc=0; as_nobody head -c1 "$M/usr/lib/app/big$i" >/dev/null 2>"$T/err" || rc=$?
  grep -q "Permission denied" "$T/err" || fail "appraised read of a 20 GiB file not refused: $(cat "$T/err")"
  as_nobody head -c1 "$M/audited/big$i" >/dev/null || fail "audited read of a 20 GiB file refused"
  rc=0; as_nobody head -c1 "$M/measured/big$i" >/dev/null 2>"$T/err" || rc=$?
  [ "$rc" != 0 ] || fail "measured read of a 20 GiB file allowed without a measurement"
done
grep -q 'refused path="/scratch/big1" op=exec.*larger than max_hash_size' "$T/log" ||
  fail "the exec refusal does not give the reason: $(grep big1 "$T/log" | head -3)"
grep -q 'audit path="/audited/big1".*larger than max_hash_size' "$T/log" || fail "the audited read is not logged"
pass "20 GiB sparse files: exec and appraised or measured reads refused, audited reads logged"

assert_eq "$(cat "$M/usr/lib/app/listed")" "listed" "a listed file"
pass "a listed file is still allowed"
