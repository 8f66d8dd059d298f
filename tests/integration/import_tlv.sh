# import tlv / export tlv: kernel digest_cache v6 lists with the module-style appended PKCS#7
# signature (the layout of the kernel's sign-file, made here with openssl cms). Lists exported from
# the store round-trip; each v6 parser error is refused as a whole; a bad signature, an unknown
# certificate and a missing signature are refused.
. "$(dirname "$0")/../lib/common.sh" "$@"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
need_cmd openssl jq xxd
. "$SRC/tests/lib/rpmbuild.sh"

S=$T/store
dctl() { "$DIGESTCTL" --store "$S" "$@"; }
expect_rc() {
  local want=$1 rc=0; shift
  dctl --json "$@" >"$T/out.json" 2>"$T/err" || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/err" "$T/out.json" >&2; fail "digestctl $* exited $rc, expected $want"; }
}
first_refusal() { jq -r '.refused[0] | "\(.code) \(.reason)"' "$T/out.json"; }

# Big-endian helpers writing raw bytes to stdout.
be16() { printf "\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
be32() { be16 $(($1 >> 16 & 65535)); be16 $(($1 & 65535)); }
# field ID FILE: one TLV record whose value is FILE's bytes.
field() { be16 "$1"; be32 "$(stat -c %s "$2")"; cat "$2"; }
val() { local f=$T/v.$RANDOM$RANDOM; cat >"$f"; echo "$f"; }  # stdin -> temp file name
hexval() { echo -n "$1" | xxd -r -p | val; }
entry() {  # entry DIGEST_HEX PATH -> file with the nested TLV
  local d p
  d=$(hexval "$1")
  p=$(printf '%s\0' "$2" | val)
  { field 0 "$d"; field 1 "$p"; } | val
}
# Signs LIST into OUT in the kernel's sign-file layout with certificate NAME.
sign_list() {
  local list=$1 out=$2 name=${3:-a}
  openssl cms -sign -binary -noattr -nocerts -keyid -md sha256 -outform DER \
    -in "$list" -signer "$T/$name.crt" -inkey "$T/$name.key" -out "$T/sig.p7s" 2>/dev/null || fail "openssl cms -sign"
  { cat "$list" "$T/sig.p7s"
    printf '\x00\x00\x02\x00\x00\x00\x00\x00'; be32 "$(stat -c %s "$T/sig.p7s")"
    printf '~Module signature appended~\n'; } >"$out"
}

for n in a b; do
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=dfs tlv $n" \
    -keyout "$T/$n.key" -out "$T/$n.crt" 2>/dev/null || fail "openssl req"
done
dctl init >/dev/null
dctl keys add "$T/a.crt" >/dev/null

# --- a hand-made valid list, signed ---
D1=$(printf 'file one' | sha256sum | cut -d' ' -f1)
D2=$(printf 'file two' | sha256sum | cut -d' ' -f1)
good() { field 0 "$(be16 4 | val)"; field 1 "$(be32 2 | val)"; field 2 "$(entry "$D1" /usr/bin/one)"; field 2 "$(entry "$D2" /usr/lib/two)"; }
good >"$T/tlv-good"
sign_list "$T/tlv-good" "$T/tlv-good.signed"
expect_rc 0 import tlv "$T/tlv-good.signed"
assert_eq "$(jq -r '.lists' "$T/out.json")" 1 "lists imported"
assert_eq "$(jq -r '.files' "$T/out.json")" 2 "entries imported"
printf 'file one' >"$T/one"
dctl lookup "$T/one" >/dev/null || fail "digest from the list not known"
dctl --json list | jq -e '.[] | select(.kind == "tlv" and .name == "tlv-good.signed" and .signer != "")' >/dev/null ||
  fail "tlv source not recorded with its signer"
pass "signed hand-made list imports"

# --- signature failures ---
cp "$T/tlv-good.signed" "$T/tlv-badsig"
printf '\xff' | dd of="$T/tlv-badsig" bs=1 seek=30 conv=notrunc 2>/dev/null
expect_rc 4 import tlv "$T/tlv-badsig"
first_refusal | grep -q '^BAD_SIGNATURE ' || fail "bad signature: $(first_refusal)"
sign_list "$T/tlv-good" "$T/tlv-otherkey" b
expect_rc 4 import tlv "$T/tlv-otherkey"
first_refusal | grep -q '^NO_KEY ' || fail "unknown certificate: $(first_refusal)"
expect_rc 4 import tlv "$T/tlv-good"
first_refusal | grep -q '^UNSIGNED ' || fail "unsigned: $(first_refusal)"
{ field 0 "$(be16 4 | val)"; field 1 "$(be32 1 | val)"; field 2 "$(entry "$D2" /opt/unsigned)"; } >"$T/tlv-unsigned"
expect_rc 4 import tlv "$T/tlv-unsigned"
expect_rc 0 import tlv --allow-unsigned "$T/tlv-unsigned"
dctl --json list | jq -e '.[] | select(.name == "tlv-unsigned") | .flags | index("unsigned")' >/dev/null ||
  fail "--allow-unsigned not recorded"
# A damaged module_signature block (id_type 1 = X.509, not PKCS#7).
cp "$T/tlv-good.signed" "$T/tlv-idtype"
size=$(stat -c %s "$T/tlv-idtype")
printf '\x01' | dd of="$T/tlv-idtype" bs=1 seek=$((size - 28 - 12 + 2)) conv=notrunc 2>/dev/null
expect_rc 1 import tlv "$T/tlv-idtype"
first_refusal | grep -q 'PKCS#7' || fail "id_type: $(first_refusal)"
pass "bad signature, unknown key, unsigned, damaged signature block"

# --- each v6 parser error, signed with the right key: refused as a whole ---
check_bad() {  # NAME EXPECTED_TEXT  (list on stdin)
  cat >"$T/bad-$1"
  sign_list "$T/bad-$1" "$T/tlv-bad-$1"
  expect_rc 1 import tlv "$T/tlv-bad-$1"
  first_refusal | grep -q "^INVALID_ARGUMENT .*$2" || fail "$1: $(first_refusal)"
  dctl --json list | jq -e --arg n "tlv-bad-$1" '.[] | select(.name == $n)' >/dev/null && fail "$1 entered the store"
  return 0
}
E1=$(entry "$D1" /usr/bin/one)
{ field 0 "$(printf '\x00\x00\x04' | val)"; field 1 "$(be32 1 | val)"; field 2 "$E1"; } | check_bad algolen "ALGO length 3"
{ field 0 "$(be16 2 | val)"; field 1 "$(be32 1 | val)"; field 2 "$E1"; } | check_bad digestlen "digest length 32 does not match sha1"
{ field 0 "$(be16 4 | val)"; field 1 "$(be32 3 | val)"; field 2 "$E1"; } | check_bad numentries "NUM_ENTRIES says 3, list has 1"
{ field 0 "$(be16 4 | val)"; field 1 "$(be32 1 | val)"; field 2 "$E1"; field 9 "$(printf 'x' | val)"; } | check_bad unknownid "unknown field id 9"
{ field 2 "$E1"; field 0 "$(be16 4 | val)"; field 1 "$(be32 1 | val)"; } | check_bad digestbeforealgo "entry before ALGO"
{ field 0 "$(be16 4 | val)"; field 1 "$(be32 1 | val)"; field 2 "$E1"; } | head -c -7 | check_bad truncated "exceeds the remaining"
{ field 0 "$(be16 4 | val)"; field 1 "$(be32 0 | val)"; printf '\x00\x02\x00'; } | check_bad truncheader "truncated field header"
{ field 0 "$(be16 4 | val)"; field 1 "$(be32 1 | val)"; be16 2; be32 4000000000; cat "$E1"; } | check_bad oversized "exceeds the remaining"
{ field 0 "$(be16 99 | val)"; field 1 "$(be32 0 | val)"; } | check_bad badalgo "unknown hash algorithm id 99"
pass "each v6 parser error refused (9 cases)"

# --- export tlv round trip: RPM -> store -> kernel list -> another store ---
rpm_make_key tlv
p=$(rpm_build_signed exported 1.0 1 '/usr/bin/exported:0755=exported content' '/etc/x=y')
dctl keys add "$RPM_KEY_ASC" >/dev/null
expect_rc 0 import rpm "$p"
mkdir -p "$T/out"
dctl export tlv exported-1.0-1.noarch -o "$T/out" >/dev/null || fail "export tlv SOURCE"
[ -f "$T/out/tlv-rpm-exported-1.0-1.noarch" ] || fail "export did not write tlv-rpm-exported-1.0-1.noarch: $(ls "$T/out")"
dctl export tlv --all -o "$T/out" --key "$T/a.key" --cert "$T/a.crt" >/dev/null || fail "export tlv --all --key"
ls "$T/out" | grep -q '^tlv-good.signed$' || fail "export --all missed the tlv source: $(ls "$T/out")"
S2=$T/store2
"$DIGESTCTL" --store "$S2" init >/dev/null
"$DIGESTCTL" --store "$S2" keys add "$T/a.crt" >/dev/null
"$DIGESTCTL" --store "$S2" --json import tlv "$T"/out/* >"$T/out2.json" || { cat "$T/out2.json"; fail "re-import of exported signed lists"; }
printf 'exported content' >"$T/exported"
"$DIGESTCTL" --store "$S2" lookup "$T/exported" >/dev/null || fail "exported digest not known after round trip"
"$DIGESTCTL" --store "$S2" --json dump | jq -s -e 'any(.[]; .type == "file" and .path == "/usr/bin/exported")' >/dev/null ||
  { "$DIGESTCTL" --store "$S2" --json dump >&2; fail "path lost in the round trip"; }
# The unsigned export (written first, then overwritten by the signed one) parses as a list too.
dctl export tlv exported-1.0-1.noarch -o "$T" >/dev/null
expect_rc 0 import tlv --allow-unsigned "$T/tlv-rpm-exported-1.0-1.noarch"
rc=0; dctl export tlv >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "export tlv without SOURCE or --all"
pass "export tlv round trip (unsigned and signed)"
