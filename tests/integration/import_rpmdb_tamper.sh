# import rpmdb from an untrusted root: the installed header of a vendor-signed package is rewritten
# (tests/tools/rpmdb_tamper) so that a FILEDIGESTS entry appended after the signed region names an
# attacker's binary. rpm itself now reports the attacker's digest; the import must refuse the
# package and never vouch for that content.
. "$(dirname "$0")/../lib/common.sh" "$@"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
TAMPER=$BUILD/tests/rpmdb_tamper
[ -x "$TAMPER" ] || skip "rpmdb_tamper not built"
need_root
need_cmd rpm jq sha256sum
. "$SRC/tests/lib/rpmbuild.sh"

S=$T/store
R=$T/root
DB=/usr/lib/sysimage/rpm
dctl() { "$DIGESTCTL" --store "$S" "$@"; }

rpm_make_key tamper
mkdir -p "$R"
a=$(rpm_build_signed alpha 1.0 1 '/usr/bin/alpha:0755=alpha signed' '/usr/bin/other=other signed')
rpm --root "$R" --dbpath $DB -i --nodeps --nosignature "$a" >/dev/null 2>"$T/rpm.err" ||
  fail "rpm -i: $(cat "$T/rpm.err")"
dctl init >/dev/null
dctl keys add "$RPM_KEY_ASC" >/dev/null

# Untampered: imported, the signed content is known.
dctl --json import rpmdb --root "$R" >"$T/out.json" 2>"$T/err" || fail "clean import: $(cat "$T/err")"
printf 'alpha signed' >"$T/good"
dctl lookup "$T/good" >/dev/null || fail "signed alpha content not known after a clean import"
pass "clean installed header imported"

printf 'attacker binary' >"$T/evil"
evil=$(sha256sum "$T/evil" | cut -d' ' -f1)
"$TAMPER" "$R" $DB alpha /usr/bin/alpha "$evil" || fail "rpmdb_tamper failed"
rpm --root "$R" --dbpath $DB -q --qf '[%{FILENAMES} %{FILEDIGESTS}\n]' alpha >"$T/q" 2>&1
grep -q "^/usr/bin/alpha $evil\$" "$T/q" || fail "the tamper did not take effect in rpm's view: $(cat "$T/q")"
# rpm still considers the header signed: the region and its signature are untouched.
rpm --root "$R" --dbpath $DB -q --qf '%{RSAHEADER:pgpsig}\n' alpha | grep -q "Key ID" ||
  fail "tampered header lost its signature"

# The untrusted image imported into a fresh store, then into the store that knew the clean header
# (where the signed blob is unchanged, so nothing may be skipped as "unchanged" either).
for st in "$T/fresh" "$S"; do
  [ -d "$st" ] || { "$DIGESTCTL" --store "$st" init >/dev/null; "$DIGESTCTL" --store "$st" keys add "$RPM_KEY_ASC" >/dev/null; }
  rc=0
  "$DIGESTCTL" --store "$st" --json import rpmdb --root "$R" >"$T/out.json" 2>"$T/err" || rc=$?
  "$DIGESTCTL" --store "$st" lookup "$T/evil" >/dev/null 2>&1 && fail "attacker content vouched for from a tampered rpmdb ($st)"
  [ "$rc" = 1 ] || { cat "$T/err" "$T/out.json" >&2; fail "import of tampered rpmdb exited $rc ($st)"; }
  jq -e '.refused[] | select(.input == "alpha-1.0-1.noarch" and .code == "CORRUPT") | .reason | test("FILEDIGESTS")' \
    "$T/out.json" >/dev/null || fail "tampered package not refused as CORRUPT naming FILEDIGESTS: $(cat "$T/out.json")"
  "$DIGESTCTL" --store "$st" lookup "$T/good" >/dev/null 2>&1 && fail "refused package's content still vouched for ($st)"
done
pass "dribble FILEDIGESTS override refused, attacker content unknown"
