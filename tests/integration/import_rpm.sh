# import rpm: every corpus package gets its README verdict (with the keys rpm 4.18 can import),
# packages built and signed here import with their paths/modes/flags, rollback works, and the
# overrides are recorded.
. "$(dirname "$0")/../lib/common.sh" "$@"
CORPUS=${DFS_CORPUS:-$CORPUS}
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
[ -d "$CORPUS/RPMS" ] || skip "corpus not found at $CORPUS"
. "$SRC/tests/lib/rpmbuild.sh"
need_cmd jq

S=$T/store
dctl() { "$DIGESTCTL" --store "$S" "$@"; }
# Runs an import and checks its exit code; the JSON summary goes to $T/out.json.
expect_rc() {
  local want=$1 rc=0; shift
  dctl --json "$@" >"$T/out.json" 2>"$T/err" || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/err" "$T/out.json" >&2; fail "digestctl $* exited $rc, expected $want"; }
}
refusal_code() { jq -r --arg f "$1" '.refused[] | select(.input == $f) | .code' "$T/out.json"; }
active_names() { dctl --json list | jq -r '.[] | select(.state == "active") | .name' | sort | tr '\n' ' '; }

dctl init >/dev/null
dctl keys add "$CORPUS/keys/rpm.org-rsa-2048-test.pub" >/dev/null
dctl keys add "$CORPUS/keys/rpm.org-ed25519-test.pub" >/dev/null

# --- the corpus, one package at a time: verdict = exit code + refusal code ---
declare -A want=(
  [RPMS/hello-2.0-1.x86_64-signed.rpm]=OK
  [RPMS/hello-2.0-1.x86_64-v3-signed.rpm]=OK
  [RPMS/hello-2.0-1.x86_64-badima.rpm]=OK
  [RPMS/hello-2.0-1.x86_64-signed-mldsa87.rpm]=OK
  [RPMS/hlinktest-1.0-1.noarch-v3sig.rpm]=OK
  [RPMS/hello-2.0-1.x86_64-signed-with-subkey.rpm]=NO_KEY
  [RPMS/hello-2.0-1.x86_64-signed-with-new-subkey.rpm]=NO_KEY
  [RPMS/mwe-rpm-lua-problem-1.0.0-1.noarch.rpm]=NO_KEY
  [RPMS/hello-2.0-1.x86_64-corrupted.rpm]=CORRUPT
  [derived/hello-2.0-1.x86_64-signed-TAMPERED-header.rpm]=BAD_SIGNATURE
  [derived/hello-2.0-1.x86_64-signed-TAMPERED-payload.rpm]=CORRUPT
  [RPMS/hello-2.0-1.x86_64.rpm]=UNSIGNED [RPMS/hello-2.0-1.i686.rpm]=UNSIGNED
  [RPMS/capstest-1.0-1.noarch.rpm]=UNSIGNED [RPMS/imatest-1.0-1.fc34.noarch.rpm]=UNSIGNED
  [RPMS/hlinktest-1.0-1.noarch.rpm]=UNSIGNED [RPMS/foo-1.0-1.noarch.rpm]=UNSIGNED
  [RPMS/obsolete-foo-1.0-1.noarch.rpm]=UNSIGNED [RPMS/luafork-1.0-1.noarch.rpm]=UNSIGNED
  [RPMS/luafork-1.0-1-deprecated.noarch.rpm]=UNSIGNED [RPMS/hello-1.0-1.i386.rpm]=UNSIGNED
  [RPMS/hello-1.0-1.ppc64.rpm]=UNSIGNED [RPMS/hello-1.0-1.x86_64.rpm-v3]=UNSIGNED
  [SRPMS/foo-1.0-1.src.rpm]=UNSIGNED [SRPMS/hello-1.0-1.src.rpm]=UNSIGNED
)
n=0
for f in "$CORPUS"/RPMS/* "$CORPUS"/SRPMS/* "$CORPUS"/derived/*; do
  rel=${f#"$CORPUS"/}
  v=${want[$rel]:-}
  [ -n "$v" ] || fail "corpus file $rel has no expected verdict in this test"
  case $v in
    OK) expect_rc 0 import rpm "$f" ;;
    CORRUPT) expect_rc 1 import rpm "$f" ;;
    *) expect_rc 4 import rpm "$f" ;;
  esac
  if [ "$v" != OK ]; then
    assert_eq "$(refusal_code "$f")" "$v" "verdict of $rel"
    jq -e --arg f "$f" '.refused[] | select(.input == $f) | .reason | contains($f)' "$T/out.json" >/dev/null ||
      fail "refusal of $rel does not name the file"
  fi
  n=$((n + 1))
done
[ "$n" = "${#want[@]}" ] || fail "expected ${#want[@]} corpus packages, saw $n"
pass "corpus verdicts ($n packages)"
# The payload refusal says why.
expect_rc 1 import rpm "$CORPUS/RPMS/hello-2.0-1.x86_64-corrupted.rpm"
jq -r '.refused[0].reason' "$T/out.json" | grep -q "payload sha256 digest BAD" || fail "corrupted: no payload reason"
# Mixed batch: the good ones are imported, the exit code reports the worst refusal.
expect_rc 4 import rpm "$CORPUS/RPMS/hello-2.0-1.x86_64-signed.rpm" "$CORPUS/RPMS/hello-2.0-1.x86_64.rpm"
assert_eq "$(jq -r '.packages' "$T/out.json")" 1 "packages imported from a mixed batch"
assert_eq "$(jq -r '.refused_count' "$T/out.json")" 1 "refused in a mixed batch"
# The imported corpus package vouches for its files.
hello_digest=$(dctl --json dump | jq -r 'select(.type == "file" and .path == "/usr/bin/hello") | .digest' | head -1)
[ -n "$hello_digest" ] || fail "/usr/bin/hello not in the store"
dctl lookup --digest "$hello_digest" >/dev/null || fail "lookup of hello's digest failed"
pass "mixed batch and lookup"

# --- overrides ---
expect_rc 0 import rpm --allow-unsigned "$CORPUS/RPMS/foo-1.0-1.noarch.rpm"
dctl --json list | jq -e '.[] | select(.name == "foo-1.0-1.noarch") | .flags | index("unsigned")' >/dev/null ||
  fail "--allow-unsigned not recorded on the source"
expect_rc 1 import rpm --allow-unsigned "$CORPUS/RPMS/hello-1.0-1.ppc64.rpm"
assert_eq "$(refusal_code "$CORPUS/RPMS/hello-1.0-1.ppc64.rpm")" UNSUPPORTED "MD5 package without --allow-weak"
expect_rc 0 import rpm --allow-unsigned --allow-weak "$CORPUS/RPMS/hello-1.0-1.ppc64.rpm"
dctl --json list | jq -e '.[] | select(.name == "hello-1.0-1.ppc64") | .flags | index("weak-algo")' >/dev/null ||
  fail "--allow-weak not recorded"
expect_rc 4 import rpm --allow-unsigned "$CORPUS/derived/hello-2.0-1.x86_64-signed-TAMPERED-header.rpm"
pass "overrides recorded; tampered still refused with --allow-unsigned"

# --- packages built and signed here ---
rpm_make_key one
KEY1=$RPM_KEY_ASC KEY1_HOME=$RPM_GNUPGHOME KEY1_FPR=$RPM_KEY_FPR
p1=$(rpm_build_signed demo 1.0 1 '/usr/bin/demo:0755=demo v1' '%config /etc/demo.conf=setting=1' \
  '%ghost /var/log/demo.log' '%dir /usr/share/demo' '/usr/bin/demo-link->demo' '/usr/share/demo/a file=x')
expect_rc 4 import rpm "$p1"
assert_eq "$(refusal_code "$p1")" NO_KEY "own package before its key is added"
dctl keys add "$KEY1" >/dev/null
expect_rc 0 import rpm "$p1"
dump=$(dctl --json dump)
files=$(echo "$dump" | jq -r 'select(.type == "file" and .source == '"$(jq '.imported[0].source_id' "$T/out.json")"') | "\(.path) \(.mode) \(.flags | join(","))"' | sort)
assert_eq "$files" "/etc/demo.conf 100644 mutable,config
/usr/bin/demo 100755 
/usr/share/demo/a file 100644 " "files of demo-1.0-1 (ghost, dir and symlink not recorded)"
dctl --json list | jq -e --arg k "$RPM_KEY_ID" '.[] | select(.name == "demo-1.0-1.noarch") | select(.signer == $k and .version == "1.0-1" and .package == "demo" and .arch == "noarch")' >/dev/null ||
  fail "source fields of demo-1.0-1"
printf 'demo v1' >"$T/demo1"
dctl lookup "$T/demo1" >/dev/null || fail "demo v1 content not known"
pass "own signed package: paths, modes, flags, signer"

# Unsigned build of the same name is refused; a package signed by another gpg key is NOKEY.
pu=$(rpm_build demo-unsigned 1.0 1 '/usr/bin/du=x')
expect_rc 4 import rpm "$pu"
assert_eq "$(refusal_code "$pu")" UNSIGNED "unsigned own build"
rpm_make_key two
p_other=$(rpm_build_signed other 1.0 1 '/usr/bin/other=o')
expect_rc 4 import rpm "$p_other"
assert_eq "$(refusal_code "$p_other")" NO_KEY "package by a key not configured"
# Bit flip in the signed header of our own package: BAD_SIGNATURE; in the payload: CORRUPT.
# (Locate the header immutable region by the file name string, which lives in it.)
cp "$p1" "$T/flip-header.rpm"
off=$(grep -abo 'demo.conf' "$T/flip-header.rpm" | head -1 | cut -d: -f1)
printf 'X' | dd of="$T/flip-header.rpm" bs=1 seek="$off" conv=notrunc 2>/dev/null
expect_rc 4 import rpm "$T/flip-header.rpm"
assert_eq "$(refusal_code "$T/flip-header.rpm")" BAD_SIGNATURE "header bit flip"
cp "$p1" "$T/flip-payload.rpm"
size=$(stat -c %s "$T/flip-payload.rpm")
printf '\x00\x00\x00\x00' | dd of="$T/flip-payload.rpm" bs=1 seek=$((size - 40)) conv=notrunc 2>/dev/null
expect_rc 1 import rpm "$T/flip-payload.rpm"
assert_eq "$(refusal_code "$T/flip-payload.rpm")" CORRUPT "payload bit flip"
pass "own packages: unsigned, unknown key, header and payload tampering refused"

# --- rollback ---
RPM_GNUPGHOME=$KEY1_HOME RPM_KEY_FPR=$KEY1_FPR   # sign with key one again
p2=$(rpm_build_signed demo 2.0 1 '/usr/bin/demo:0755=demo v2' '%config /etc/demo.conf=setting=2')
expect_rc 0 import rpm "$p2"
[ "$(jq -r '.superseded' "$T/out.json")" = 1 ] || fail "demo-2.0 did not supersede demo-1.0"
dctl lookup "$T/demo1" >/dev/null 2>&1 && fail "demo v1 content still vouched for after upgrade"
printf 'demo v2' >"$T/demo2"
dctl lookup "$T/demo2" >/dev/null || fail "demo v2 content not known"
# Re-importing the old version does not roll back.
expect_rc 0 import rpm "$p1"
dctl lookup "$T/demo1" >/dev/null 2>&1 && fail "re-importing demo-1.0 rolled back"
dctl lookup "$T/demo2" >/dev/null || fail "demo v2 lost after re-importing v1"
# --keep-old keeps both.
p3=$(rpm_build_signed demo 3.0 1 '/usr/bin/demo:0755=demo v3')
expect_rc 0 import rpm --keep-old "$p3"
dctl lookup "$T/demo2" >/dev/null || fail "--keep-old dropped demo-2.0"
pass "rollback: upgrade supersedes, old version does not come back, --keep-old keeps both"

# --- progress and the text summary ---
dctl import rpm "$CORPUS/RPMS/hello-2.0-1.x86_64-signed.rpm" >"$T/out.txt" 2>"$T/err.txt"
grep -q '^packages: 1, files: ' "$T/out.txt" || fail "text summary missing: $(cat "$T/out.txt")"
pass "summary"

# --- a missing store is exit 3, and nothing is created ---
rc=0; "$DIGESTCTL" --store "$T/nostore" import rpm "$CORPUS/RPMS/hello-2.0-1.x86_64-signed.rpm" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 3 "import into a missing store"
[ ! -e "$T/nostore" ] || fail "import created a store"
rc=0; dctl import >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "import without a subcommand"
pass "store unusable and usage exit codes"
