# import rpmdb: a root tree's installed packages (a Fedora-style rpmdb made with rpm --root) enter
# the store with their signatures checked; after upgrades and removals a re-import makes the store
# match exactly what is installed.
. "$(dirname "$0")/../lib/common.sh" "$@"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
need_root
need_cmd rpm jq
. "$SRC/tests/lib/rpmbuild.sh"

S=$T/store
R=$T/root
dctl() { "$DIGESTCTL" --store "$S" "$@"; }
active() { dctl --json list | jq -r '.[] | select(.state == "active" and .kind == "rpm") | .name' | sort | tr '\n' ' '; }
rpmr() { rpm --root "$R" --dbpath /usr/lib/sysimage/rpm --nodeps --nosignature "$@" >/dev/null 2>"$T/rpm.err" || { cat "$T/rpm.err" >&2; fail "rpm $*"; }; }
import_db() {
  local want=$1 rc=0; shift
  dctl --json import rpmdb --root "$R" "$@" >"$T/out.json" 2>"$T/err" || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/err" "$T/out.json" >&2; fail "import rpmdb exited $rc, expected $want"; }
}

rpm_make_key dbtest
mkdir -p "$R"
a1=$(rpm_build_signed alpha 1.0 1 '/usr/bin/alpha:0755=alpha one' '%config /etc/alpha.conf=a=1')
a2=$(rpm_build_signed alpha 1.1 1 '/usr/bin/alpha:0755=alpha two' '%config /etc/alpha.conf=a=2')
b1=$(rpm_build_signed beta 1.0 1 '/usr/lib/beta.so=beta one')
c1=$(rpm_build_signed gamma 2.0 3 '/usr/share/gamma/data=gamma')
u1=$(rpm_build unsig 1.0 1 '/usr/bin/unsig=unsigned content')

dctl init >/dev/null
dctl keys add "$RPM_KEY_ASC" >/dev/null

# No database yet: a clear error, not an empty import.
rc=0; dctl import rpmdb --root "$R" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "import rpmdb without a database exited $rc"
grep -q "no rpm database" "$T/err" || fail "missing-database message: $(cat "$T/err")"

rpmr -i "$a1"
rpmr -i "$b1"
[ -f "$R/usr/lib/sysimage/rpm/rpmdb.sqlite" ] || [ -f "$R/usr/lib/sysimage/rpm/Packages" ] ||
  [ -f "$R/usr/lib/sysimage/rpm/Packages.db" ] || fail "rpm did not create a database"
import_db 0
assert_eq "$(active)" "alpha-1.0-1.noarch beta-1.0-1.noarch " "store after first import"
printf 'alpha one' >"$T/a1"
dctl lookup "$T/a1" >/dev/null || fail "alpha 1.0 content not known"
# The installed header is the same signed blob as the package file's.
dctl --json import rpm "$a1" >"$T/pkg.json" || fail "import of alpha-1.0 file"
assert_eq "$(jq -r '.imported[0].unchanged' "$T/pkg.json")" true "rpmdb header and package file blob digests"
pass "first rpmdb import"

# Upgrade alpha, remove beta, install gamma and an unsigned package.
rpmr -U "$a2"
rpmr -e beta
rpmr -i "$c1"
rpmr -i "$u1"
import_db 4
assert_eq "$(active)" "alpha-1.1-1.noarch gamma-2.0-3.noarch " "store after upgrade/remove"
jq -e '.refused[] | select(.input == "unsig-1.0-1.noarch" and .code == "UNSIGNED")' "$T/out.json" >/dev/null ||
  fail "unsigned installed package not reported: $(cat "$T/out.json")"
dctl lookup "$T/a1" >/dev/null 2>&1 && fail "alpha 1.0 content still vouched for after upgrade"
printf 'alpha two' >"$T/a2"
dctl lookup "$T/a2" >/dev/null || fail "alpha 1.1 content not known"
printf 'beta one' >"$T/b1"
dctl lookup "$T/b1" >/dev/null 2>&1 && fail "removed beta still vouched for"
printf 'unsigned content' >"$T/u1"
dctl lookup "$T/u1" >/dev/null 2>&1 && fail "unsigned installed package entered the store"
[ "$(jq -r '.removed' "$T/out.json")" -ge 1 ] || fail "summary does not count the removal"
pass "re-import after upgrade, removal, unsigned install: store matches"

# Two installed versions of one package (kernel style, no file conflicts): both stay active.
k1=$(rpm_build_signed kern 1.0 1 '/boot/kern-1.0=kernel one')
k2=$(rpm_build_signed kern 2.0 1 '/boot/kern-2.0=kernel two')
rpmr -i "$k1"
rpmr -i "$k2"
import_db 4
assert_eq "$(active)" "alpha-1.1-1.noarch gamma-2.0-3.noarch kern-1.0-1.noarch kern-2.0-1.noarch " "two installed versions"
rpmr -e kern-1.0-1
import_db 4
assert_eq "$(active)" "alpha-1.1-1.noarch gamma-2.0-3.noarch kern-2.0-1.noarch " "older kernel erased"
rpmr -e kern-2.0-1
pass "parallel-installed versions"

# --allow-unsigned brings it in, flagged.
import_db 0 --allow-unsigned
dctl --json list | jq -e '.[] | select(.name == "unsig-1.0-1.noarch" and .state == "active") | .flags | index("unsigned")' >/dev/null ||
  fail "--allow-unsigned rpmdb import not recorded"
pass "--allow-unsigned"

# A foreign key: with the key removed, every installed package is NOKEY and the store drops them.
dctl keys remove "$RPM_KEY_ID" >/dev/null
import_db 4
assert_eq "$(active)" "" "store after the signing key was removed"
jq -e '[.refused[] | select(.code == "NO_KEY")] | length == 2' "$T/out.json" >/dev/null ||
  fail "expected two NO_KEY refusals: $(cat "$T/out.json")"
dctl keys add "$RPM_KEY_ASC" >/dev/null
pass "unknown key refused"

# Older layout: /var/lib/rpm, found by itself; and an explicit --dbpath.
R2=$T/root2
mkdir -p "$R2"
rpm --root "$R2" --dbpath /var/lib/rpm -i --nodeps --nosignature "$b1" >/dev/null 2>&1 || fail "install into /var/lib/rpm"
S2=$T/store2
"$DIGESTCTL" --store "$S2" init >/dev/null
"$DIGESTCTL" --store "$S2" keys add "$RPM_KEY_ASC" >/dev/null
"$DIGESTCTL" --store "$S2" import rpmdb --root "$R2" >/dev/null || fail "import from /var/lib/rpm"
"$DIGESTCTL" --store "$S2" lookup "$T/b1" >/dev/null || fail "beta from /var/lib/rpm not known"
rc=0; "$DIGESTCTL" --store "$S2" import rpmdb --root "$R2" --dbpath /nonexistent >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "bad --dbpath exited $rc"
"$DIGESTCTL" --store "$S2" import rpmdb --root "$R2" --dbpath /var/lib/rpm >/dev/null || fail "explicit --dbpath"
pass "/var/lib/rpm and --dbpath"
