# manifest create / import manifest: a golden tree (hostile names, symlinks, a fifo) round-trips
# through a signed manifest; a tampered manifest and one signed by an unknown certificate are
# refused; the key store records every change.
. "$(dirname "$0")/../lib/common.sh" "$@"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
need_cmd openssl jq

S=$T/store
dctl() { "$DIGESTCTL" --store "$S" "$@"; }
expect_rc() {
  local want=$1 rc=0; shift
  dctl --json "$@" >"$T/out.json" 2>"$T/err" || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/err" "$T/out.json" >&2; fail "digestctl $* exited $rc, expected $want"; }
}

for n in a b; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=dfs manifest $n" -keyout "$T/$n.key" -out "$T/$n.crt" 2>/dev/null || fail "openssl req"
done
G=$T/golden
mkdir -p "$G/usr/bin" "$G/etc/app" "$G/var/empty"
printf 'binary\n' >"$G/usr/bin/tool"; chmod 755 "$G/usr/bin/tool"
printf 'config\n' >"$G/etc/app/app.conf"
printf 'spaces\n' >"$G/etc/app/with space"
printf 'newline\n' >"$G/etc/app/new
line"
printf 'percent\n' >"$G/etc/app/100%"
ln -s /etc/shadow "$G/etc/app/link"
ln -s / "$G/rootlink"
mkfifo "$G/var/fifo"

dctl init >/dev/null
# A manifest signed by a key that does not match its certificate is refused at creation.
rc=0; dctl manifest create "$G" --key "$T/b.key" --cert "$T/a.crt" -o "$T/m.bad" >/dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "manifest create with a mismatched key/cert succeeded"
dctl --json manifest create "$G" --key "$T/a.key" --cert "$T/a.crt" -o "$T/golden.manifest" --name golden >"$T/create.json" ||
  fail "manifest create"
assert_eq "$(jq -r '.files' "$T/create.json")" 5 "regular files in the manifest"
assert_eq "$(jq -r '.skipped' "$T/create.json")" 3 "symlinks and fifo skipped"
grep -q '^digestfs-manifest 1$' "$T/golden.manifest" || fail "manifest header"
grep -q 'BEGIN CMS' "$T/golden.manifest" || fail "manifest signature block"
[ "$(grep -c '^file ' "$T/golden.manifest")" = 5 ] || fail "one line per file (the newline name is escaped)"
pass "manifest create"

# Unknown certificate first, then with the certificate configured.
expect_rc 4 import manifest "$T/golden.manifest"
assert_eq "$(jq -r '.refused[0].code' "$T/out.json")" NO_KEY "manifest before its certificate is added"
dctl keys add "$T/a.crt" >/dev/null
expect_rc 0 import manifest "$T/golden.manifest"
assert_eq "$(jq -r '.files' "$T/out.json")" 5 "files imported from the manifest"
for f in usr/bin/tool etc/app/app.conf "etc/app/with space" "etc/app/new
line" "etc/app/100%"; do
  dctl lookup "$G/$f" >/dev/null || fail "lookup $f after manifest import"
done
dctl --json dump | jq -s -e 'any(.[]; .type == "file" and .path == "/etc/app/new\nline")' >/dev/null ||
  fail "hostile name not recorded exactly"
dctl --json dump | jq -s -e 'any(.[]; .type == "file" and .path == "/usr/bin/tool" and .mode == "100755")' >/dev/null ||
  fail "mode not recorded"
pass "manifest round trip"

# Tampering: a digest changed, a line added, the signature removed, a signature by another key.
awk '/^file / && !done { c = substr($2, 1, 1); $2 = (c == "0" ? "1" : "0") substr($2, 2); done = 1 } { print }' \
  "$T/golden.manifest" >"$T/tampered.manifest"
cmp -s "$T/golden.manifest" "$T/tampered.manifest" && fail "test could not tamper the manifest"
expect_rc 4 import manifest "$T/tampered.manifest"
assert_eq "$(jq -r '.refused[0].code' "$T/out.json")" BAD_SIGNATURE "tampered digest"
jq -r '.refused[0].reason' "$T/out.json" | grep -q tampered.manifest || fail "refusal does not name the file"
awk -v d="$(printf 'evil' | sha256sum | cut -d' ' -f1)" '/^file / && !done {print "file " d " 100755 /bin/evil"; done=1} {print}' \
  "$T/golden.manifest" >"$T/added.manifest"
expect_rc 4 import manifest "$T/added.manifest"
assert_eq "$(jq -r '.refused[0].code' "$T/out.json")" BAD_SIGNATURE "added line"
sed '/BEGIN CMS/,$d' "$T/golden.manifest" >"$T/unsigned.manifest"
expect_rc 4 import manifest "$T/unsigned.manifest"
assert_eq "$(jq -r '.refused[0].code' "$T/out.json")" UNSIGNED "unsigned manifest"
"$DIGESTCTL" --store "$S" manifest create "$G" --key "$T/b.key" --cert "$T/b.crt" -o "$T/other.manifest" >/dev/null
expect_rc 4 import manifest "$T/other.manifest"
assert_eq "$(jq -r '.refused[0].code' "$T/out.json")" NO_KEY "manifest signed by an unknown certificate"
printf 'garbage\n' >"$T/garbage.manifest"
expect_rc 4 import manifest "$T/garbage.manifest"
pass "tampered, added, unsigned and foreign manifests refused"

# The tree changes, a new manifest replaces nothing silently: both are sources; removing the old
# one makes its old content unknown.
printf 'binary v2\n' >"$G/usr/bin/tool"
"$DIGESTCTL" --store "$S" manifest create "$G" --key "$T/a.key" --cert "$T/a.crt" -o "$T/golden2.manifest" --name golden2 >/dev/null
expect_rc 0 import manifest "$T/golden2.manifest"
dctl lookup "$G/usr/bin/tool" >/dev/null || fail "new manifest content unknown"
pass "second manifest"

# keys: list shows both types; remove logs; a removed certificate no longer verifies.
dctl keys add "$T/b.crt" >/dev/null
dctl --json keys list | jq -e 'length == 2 and all(.[]; .type == "x509")' >/dev/null || fail "keys list"
id_b=$(dctl --json keys list | jq -r '.[] | select(.description | contains("manifest b")) | .id')
dctl keys remove "$id_b" >/dev/null || fail "keys remove"
grep -c ' add x509 ' "$S/keys/keys.log" | grep -q '^2$' || fail "keys.log adds: $(cat "$S/keys/keys.log")"
grep -q " remove x509 $id_b " "$S/keys/keys.log" || fail "keys.log remove"
expect_rc 4 import manifest "$T/other.manifest"
rc=0; dctl keys remove "$id_b" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "removing an absent key"
rc=0; dctl keys add "$T/a.key" >/dev/null 2>"$T/err" || rc=$?
assert_eq "$rc" 4 "adding a private key"
pass "keys list/remove/log"
