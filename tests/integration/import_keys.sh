# keys add/list/remove with the corpus keys: the ones rpm 4.18 can use are accepted, malformed,
# adversarial, secret and unsupported keys are refused with a reason, and keys.log records every
# change.
. "$(dirname "$0")/../lib/common.sh" "$@"
CORPUS=${DFS_CORPUS:-$CORPUS}
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
[ -d "$CORPUS/keys" ] || skip "corpus not found at $CORPUS"
need_cmd jq
S=$T/store
K=$CORPUS/keys
dctl() { "$DIGESTCTL" --store "$S" "$@"; }
dctl init >/dev/null

for k in rpm.org-rsa-2048-test.pub rpm.org-ed25519-test.pub keyidcollision1.pub privkey-selfsigned-cert.der; do
  dctl keys add "$K/$k" >/dev/null || fail "keys add $k"
done
for k in rpm.org-rsa-2048-add-subkey.asc alice.asc alice-expired-subkey.asc alice-revoked-subkey.asc \
  rpm.org-nistp256-test.pub rpm.org-v6-ed25519-test.asc rpm.org-v6-rsa4k-test.asc \
  unknown/rpm.org-v6-mldsa87-test.asc CVE-2021-3521-badbind.asc CVE-2021-3521-nosubsig-last.asc \
  CVE-2021-3521-nosubsig.asc type-confusion.asc rpm.org-rsa-2048-test.secret privkey.pem \
  keyidcollision2.pub; do
  rc=0
  dctl keys add "$K/$k" >/dev/null 2>"$T/err" || rc=$?
  assert_eq "$rc" 4 "keys add $k"
  grep -q "^digestctl: [A-Z_]*: key $K/$k: ." "$T/err" || fail "refusal of $k does not name the key: $(cat "$T/err")"
done
grep -q "collision" <(dctl keys add "$K/keyidcollision2.pub" 2>&1) || fail "key id collision not explained"
grep -q "V6" <(dctl keys add "$K/rpm.org-v6-ed25519-test.asc" 2>&1) || fail "v6 key reason"
grep -q "secret" <(dctl keys add "$K/rpm.org-rsa-2048-test.secret" 2>&1) || fail "secret key reason"
rc=0; dctl keys add "$K/rpm.org-rsa-2048-test.pgp" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 4 "adding the same key twice (binary form)"
pass "corpus keys accepted/refused"

dctl --json keys list >"$T/keys.json"
assert_eq "$(jq -r 'map(.id) | sort | join(" ")' "$T/keys.json")" \
  "42655a75156b3de0 4344591e1964c5fc b0645aec757bf69e e7083786d07556cf" "keys list ids"
jq -e '.[] | select(.id == "4344591e1964c5fc" and .fingerprint == "771b18d3d7baa28734333c424344591e1964c5fc" and .type == "openpgp")' "$T/keys.json" >/dev/null || fail "rsa key entry"
jq -e '.[] | select(.type == "x509" and .description == "CN=rpm-test-ima")' "$T/keys.json" >/dev/null || fail "x509 entry"
dctl keys remove 771b18d3 >/dev/null || fail "remove by fingerprint prefix"
rc=0; dctl keys remove 4344591e1964c5fc >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "removing it again"
[ "$(grep -c ' add ' "$S/keys/keys.log")" = 4 ] || fail "keys.log adds: $(cat "$S/keys/keys.log")"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z remove openpgp 4344591e1964c5fc 771b18d3d7baa28734333c424344591e1964c5fc' "$S/keys/keys.log" ||
  fail "keys.log remove line: $(cat "$S/keys/keys.log")"
# The removed key no longer verifies packages.
rc=0; dctl import rpm "$CORPUS/RPMS/hello-2.0-1.x86_64-signed.rpm" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 4 "import after the key was removed"
pass "keys list/remove/log"
