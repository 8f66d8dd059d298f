#!/bin/bash
# digestctl import apt / import deb on the real Debian 12 rootfs (tests/lib/rootfs.sh), trusted from
# Debian's own archive key (/usr/share/keyrings/debian-archive-keyring.gpg):
# - every installed package (dpkg's own list) is imported, none refused, and `lookup` of real
#   files names the package dpkg says owns them;
# - a tampered .deb and a .deb that no signed index lists are refused, naming the file;
# - issue 15 item 3: on a writable copy where netbase and ucf were removed natively, after
#   `import apt --root` and `import deb` of their signed .debs, `dpkg -i` inside a mode=enforce
#   mount with the default policy runs their maintainer scripts and installs them; a locally built
#   unsigned .deb with a postinst is refused, with a log line naming the script.
# Takes about a minute on a quiet 2-core machine (most of it the rootfs copy and the import).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_cmd chroot dpkg-deb
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$KEYRING" ] || skip "no $KEYRING (debian-archive-keyring)"
. "$SRC/tests/lib/rootfs.sh"
dfs_rootfs || skip "no Debian mirror"
R=$DFS_ROOTFS

# ---- the real rootfs, read-only ----
S=$T/store
"$DIGESTCTL" --store "$S" init >/dev/null
"$DIGESTCTL" --store "$S" keys add "$KEYRING" >"$T/keys.out" || fail "keys add $KEYRING"
nkeys=$(grep -c '^added openpgp key' "$T/keys.out")
[ "$nkeys" -ge 3 ] || fail "the archive keyring gave $nkeys keys: $(cat "$T/keys.out")"
# Adding it again adds nothing and fails nothing.
"$DIGESTCTL" --store "$S" keys add "$KEYRING" >"$T/keys2.out" || fail "keys add again"
assert_eq "$(grep -c '^already configured' "$T/keys2.out")" "$nkeys" "keys already configured"

start=$(date +%s.%N)
"$DIGESTCTL" --store "$S" --json import apt --root "$R" >"$T/import.json" 2>"$T/import.err" ||
  { cat "$T/import.err" >&2; fail "import apt --root $R"; }
end=$(date +%s.%N)
installed=$(awk '/^Package:/ {p=$2} /^Status:/ && $4 ~ /^(installed|triggers-pending|triggers-awaited)$/ {n++} END {print n}' \
  "$R/var/lib/dpkg/status")
dpkg_count=$(chroot "$R" dpkg-query -W -f '${db:Status-Status}\n' | grep -c '^installed$')
assert_eq "$installed" "$dpkg_count" "installed packages by status file and by dpkg-query"
python3 - "$T/import.json" "$dpkg_count" <<'PY' || fail "import summary"
import json, sys
j = json.load(open(sys.argv[1])); want = int(sys.argv[2])
assert j["refused_count"] == 0, j["refused"][:3]
assert j["packages"] == want, (j["packages"], want)
assert all(i["kind"] == "deb" for i in j["imported"])
assert j["files"] > 5000, j["files"]
print(f"imported {j['packages']} packages, {j['files']} files, {j['new_digests']} digests")
PY
echo "import apt: $(echo "$end - $start" | bc) s"
# The imported names are dpkg's (package, version, arch), every one.
chroot "$R" dpkg-query -W -f '${Package}_${Version}_${Architecture}\n' | sort >"$T/dpkg.names"
python3 -c 'import json,sys; [print(i["name"]) for i in json.load(open(sys.argv[1]))["imported"]]' \
  "$T/import.json" | sort >"$T/store.names"
diff "$T/dpkg.names" "$T/store.names" || fail "imported names differ from dpkg's list"

# lookup of real files names the package dpkg says owns them.
for f in /usr/bin/ls /usr/bin/dpkg /usr/bin/perl /usr/lib/x86_64-linux-gnu/libc.so.6 \
  /usr/bin/python3.11 /etc/services /var/lib/dpkg/info/netbase.postinst; do
  real=$(readlink -f "$R$f")
  rel=${real#"$R"}
  owner=$(chroot "$R" dpkg -S "$rel" 2>/dev/null | head -1 | cut -d: -f1 || true)
  if [ -z "$owner" ] && [[ "$rel" == /usr/* ]]; then
    owner=$(chroot "$R" dpkg -S "${rel#/usr}" 2>/dev/null | head -1 | cut -d: -f1 || true)
  fi
  [[ "$rel" == /var/lib/dpkg/info/* ]] && owner=$(basename "$rel" | cut -d. -f1)
  [ -n "$owner" ] || fail "dpkg -S knows no owner of $rel"
  "$DIGESTCTL" --store "$S" --json lookup "$real" >"$T/lookup.json" || fail "lookup $f: not known"
  python3 - "$T/lookup.json" "$owner" "$rel" <<'PY' || fail "lookup $f"
import json, sys
j = json.load(open(sys.argv[1])); owner, path = sys.argv[2], sys.argv[3]
assert j["verdict"] == "known", j
names = [p["source_name"] for p in j["provenance"]]
assert any(n.startswith(owner + "_") for n in names), (owner, names)
assert any(p["path"] == path for p in j["provenance"]), (path, j["provenance"])
PY
done
pass "import apt --root: $dpkg_count packages, every one imported with dpkg's name"

# Conffiles are recorded as config (mutable) files.
"$DIGESTCTL" --store "$S" --json lookup "$R/etc/services" | grep -q '"config"' ||
  fail "/etc/services is not recorded as a conffile"

# ---- refusals on real data ----
L=$R/var/lib/apt/lists
cp "$R"/var/cache/apt/archives/netbase_*.deb "$T/netbase-tampered.deb"
printf 'x' | dd of="$T/netbase-tampered.deb" bs=1 seek=2000 conv=notrunc status=none
set +e
"$DIGESTCTL" --store "$S" import deb --lists "$L" "$T/netbase-tampered.deb" >"$T/tamper.out" 2>"$T/tamper.err"
rc=$?
set -e
assert_eq "$rc" 1 "exit code for a tampered .deb"
grep -q "refused: \"$T/netbase-tampered.deb\": NOT_FOUND: .*no signed index lists a .deb with SHA-256" \
  "$T/tamper.err" || fail "tampered .deb refusal: $(cat "$T/tamper.err")"
# A store without the archive key: every package is refused for its signature (exit 4).
"$DIGESTCTL" --store "$T/nokey" init >/dev/null
set +e
"$DIGESTCTL" --store "$T/nokey" import deb --lists "$L" "$R"/var/cache/apt/archives/netbase_*.deb \
  >/dev/null 2>"$T/nokey.err"
rc=$?
set -e
assert_eq "$rc" 4 "exit code without the archive key"
grep -q "NO_KEY: .*not in the store's keyring" "$T/nokey.err" || fail "no-key refusal: $(cat "$T/nokey.err")"
pass "tampered .deb and unknown key refused"

# ---- issue 15 item 3: dpkg -i of signed packages inside an enforced mount ----
need_fuse
[ -x "$DIGESTFS" ] || skip "digestfs not built"
ROOT=$T/root
dfs_rootfs_copy "$ROOT"
chroot "$ROOT" dpkg -r netbase ucf >"$T/remove.log" 2>&1 || { cat "$T/remove.log" >&2; fail "dpkg -r natively"; }
[ "$(chroot "$ROOT" dpkg-query -W -f '${db:Status-Status}' netbase)" != installed ] || fail "netbase still installed"
S2=$T/store2
"$DIGESTCTL" --store "$S2" init >/dev/null
"$DIGESTCTL" --store "$S2" keys add "$KEYRING" >/dev/null
"$DIGESTCTL" --store "$S2" import apt --root "$ROOT" >"$T/import2.out" 2>&1 || { cat "$T/import2.out" >&2; fail "import apt"; }
"$DIGESTCTL" --store "$S2" import deb --lists "$ROOT/var/lib/apt/lists" \
  "$ROOT"/var/cache/apt/archives/netbase_*.deb "$ROOT"/var/cache/apt/archives/ucf_*.deb \
  >"$T/import3.out" 2>&1 || { cat "$T/import3.out" >&2; fail "import deb netbase ucf"; }

# An unsigned local package with a postinst.
mkdir -p "$T/local/DEBIAN" "$T/local/usr/share/doc/localpkg"
cat >"$T/local/DEBIAN/control" <<CTL
Package: localpkg
Version: 1.0
Architecture: all
Maintainer: test <test@example.invalid>
Description: an unsigned local package
CTL
printf '#!/bin/sh\necho localpkg postinst ran >/tmp/localpkg-ran\n' >"$T/local/DEBIAN/postinst"
chmod 755 "$T/local/DEBIAN/postinst"
echo doc >"$T/local/usr/share/doc/localpkg/README"
dpkg-deb -b "$T/local" "$ROOT/tmp/localpkg.deb" >/dev/null

M=$T/mnt
mkdir -p "$M"
dfs_mount_fg "$ROOT" "$M" "$T/mount.log" "store=$S2,mode=enforce,loglevel=info"
for p in netbase ucf; do
  deb=$(cd "$ROOT" && ls var/cache/apt/archives/${p}_*.deb)
  chroot "$M" dpkg -i "/$deb" >"$T/dpkg-$p.log" 2>&1 ||
    { cat "$T/dpkg-$p.log" >&2; grep refused "$T/mount.log" | tail -5 >&2; fail "dpkg -i $p in the enforced mount"; }
  st=$(chroot "$M" dpkg-query -W -f '${db:Status-Status}' "$p")
  assert_eq "$st" installed "dpkg status of $p after dpkg -i under enforcement"
done
if grep 'refused.*op=exec' "$T/mount.log" | grep -q 'dpkg/info/\(netbase\|ucf\)'; then
  fail "a signed maintainer script was refused: $(grep 'refused.*op=exec' "$T/mount.log" | head -3)"
fi
pass "dpkg -i of signed netbase and ucf ran their maintainer scripts under mode=enforce"

set +e
chroot "$M" dpkg -i /tmp/localpkg.deb >"$T/dpkg-local.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "dpkg -i of an unsigned package with a postinst succeeded under enforcement"
[ ! -e "$ROOT/tmp/localpkg-ran" ] || fail "the unsigned postinst ran"
st=$(chroot "$ROOT" dpkg-query -W -f '${db:Status-Status}' localpkg 2>/dev/null || true)
[ "$st" != installed ] || fail "the unsigned package is installed"
grep -q 'refused path="/var/lib/dpkg/info/localpkg.postinst" op=exec' "$T/mount.log" ||
  fail "no log line for the refused postinst: $(grep refused "$T/mount.log" | tail -3)"
pass "an unsigned package's postinst is refused ($st), with a log line"
