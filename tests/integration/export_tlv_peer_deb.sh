#!/bin/bash
# export tlv against the peer for Debian sources: a store filled by `import apt --root` from the
# real Debian 12 rootfs (tests/lib/rootfs.sh, trusted from Debian's archive key) exports one list
# per package (tlv-deb-NAME), and manage_digest_lists (built from $SRC/../shared/peers) parses every
# one and shows exactly the store's (digest, path) pairs for that package. About a minute.
. "$(dirname "$0")/../lib/common.sh" "$@"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
need_cmd jq
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$KEYRING" ] || skip "no $KEYRING (debian-archive-keyring)"
. "$SRC/tests/lib/peers.sh"
dfs_peers || skip "peers not built (needs $SRC/../shared/peers, autoconf, automake, libtool)"
MDL=$DFS_PEERS_OUT/manage_digest_lists
. "$SRC/tests/lib/rootfs.sh"
dfs_rootfs || skip "no Debian mirror"

S=$T/store
dctl() { "$DIGESTCTL" --store "$S" "$@"; }
dctl init >/dev/null
dctl keys add "$KEYRING" >/dev/null || fail "keys add $KEYRING"
dctl import apt --root "$DFS_ROOTFS" >"$T/import.out" 2>&1 || fail "import apt: $(tail -3 "$T/import.out")"
dctl --json dump >"$T/dump.json" || fail "dump"
ndeb=$(jq -r 'select(.type == "source" and .kind == "deb") | .id' "$T/dump.json" | wc -l)
[ "$ndeb" -ge 50 ] || fail "only $ndeb deb sources imported"
mkdir -p "$T/out"
dctl --json export tlv --all -o "$T/out" >"$T/written.json" || fail "export tlv --all"
assert_eq "$(jq length "$T/written.json")" "$ndeb" "lists written (one per package)"
# One jq pass: "file<TAB>source id" for every list written.
jq -r --slurpfile d "$T/dump.json" '.[] as $w | ($d[] | select(.type == "source" and .name == $w.source) | .id) as $id
  | "\($w.file)\t\($id)"' "$T/written.json" >"$T/map"
n=0
while IFS=$'\t' read -r f id; do
  case "$(basename "$f")" in tlv-deb-*) ;; *) fail "list $(basename "$f") is not named tlv-deb-*" ;; esac
  rc=0; "$MDL" -o show -i "$f" >"$T/show.out" 2>&1 || rc=$?
  [ "$rc" = 0 ] || fail "manage_digest_lists refuses $(basename "$f") (exit $rc): $(head -3 "$T/show.out")"
  LC_ALL=C sort "$T/show.out" >"$T/got"
  jq -r --argjson id "$id" 'select(.type == "file" and .source == $id and .digest != "") | "\(.digest) \(.path)"' \
    "$T/dump.json" | LC_ALL=C sort >"$T/want"
  diff "$T/want" "$T/got" >"$T/diff" || fail "$(basename "$f") shows other entries than the store holds: $(head -5 "$T/diff")"
  n=$((n + 1))
done <"$T/map"
assert_eq "$n" "$ndeb" "lists checked"
pass "all $n lists exported from Debian packages parse in manage_digest_lists with the store's entries"
