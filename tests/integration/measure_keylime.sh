#!/bin/bash
# digestctl export keylime-policy over a real store built from the signed corpus RPM: every file
# digest of the package (as rpm itself reports it) is in the policy under its path, and every entry
# of a measurement log written by the real Measurer (the store's sources, measured with
# MeasureAllSources, plus one unknown file) is accepted by the policy the way Keylime checks ima-ng
# entries (digest hex listed for the path, or the path excluded), except the unknown file.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_cmd rpm
TOOL=$BUILD/tests/measure_tool
[ -x "$TOOL" ] || skip "measure_tool not built"
PKG=$CORPUS/RPMS/hello-2.0-1.x86_64-signed.rpm
[ -f "$PKG" ] || skip "corpus package missing: $PKG"
S=$T/store
"$DIGESTCTL" --store "$S" init >/dev/null || fail "init"
"$DIGESTCTL" --store "$S" keys add "$CORPUS/keys/rpm.org-rsa-2048-test.pub" >/dev/null || fail "keys add"
"$DIGESTCTL" --store "$S" import rpm "$PKG" >/dev/null || fail "import rpm"

rc=0; "$DIGESTCTL" --store "$S" export keylime-policy -o "$T/policy.json" --exclude '^digestfs_aggregate$' \
  2>"$T/err" || rc=$?
assert_eq "$rc" 0 "export keylime-policy exit code ($(cat "$T/err"))"
P=$T/policy.json
grep -q '"version": 1' "$P" || fail "no meta.version 1"
for key in '"digests"' '"excludes"' '"keyrings"' '"ima"' '"ima-buf"' '"verification-keys"' '"log_hash_alg"'; do
  grep -q "$key" "$P" || fail "policy lacks $key"
done
# listed(PATH, HEX): the policy lists HEX for PATH.
listed() { awk -v p="\"$1\": [" -v h="\"$2\"" 'index($0, p) { f = 1; next } f && /\]/ { f = 0 } f && index($0, h) { ok = 1 } END { exit !ok }' "$P"; }
n=0
while read -r path hex; do
  [ "$hex" = "" ] && continue
  listed "$path" "$hex" || fail "policy lacks $path -> $hex"
  n=$((n + 1))
done < <(rpm -qp --nosignature --qf '[%{FILENAMES} %{FILEDIGESTS}\n]' "$PKG" 2>/dev/null)
[ "$n" -ge 1 ] || fail "rpm reported no file digests"
pass "policy lists all $n file digests rpm reports for the package"

# A digestfs log (log only) of the store's sources plus one unknown file, checked like Keylime does.
"$TOOL" --log "$T/log" --store "$S" --all-sources --files 1 --aggregate k >"$T/tool.out" 2>&1 ||
  fail "measure_tool --store failed: $(cat "$T/tool.out")"
accepted=0 rejected=0
while read -r pcr th tmpl dig path; do
  if [ "$path" = digestfs_aggregate ]; then accepted=$((accepted + 1)); continue; fi  # excluded
  if listed "$path" "${dig#*:}"; then accepted=$((accepted + 1)); else rejected=$((rejected + 1)); fi
done <"$T/log/ascii_runtime_measurements"
grep -q " rpm-hello-2.0-1.x86_64$" "$T/log/ascii_runtime_measurements" || fail "source entry missing from the log"
assert_eq "$accepted" 2 "log entries accepted by the policy (aggregate + rpm-hello)"
assert_eq "$rejected" 1 "log entries rejected by the policy (the unknown file)"
pass "a digestfs log checks against the exported policy (source accepted, unknown file rejected)"

rc=0; "$DIGESTCTL" --store "$T/nostore" export keylime-policy >/dev/null 2>"$T/err" || rc=$?
assert_eq "$rc" 3 "export from a missing store"
grep -q "nostore" "$T/err" || fail "error does not name the store: $(cat "$T/err")"
pass "a missing store is exit 3 with the store named"
