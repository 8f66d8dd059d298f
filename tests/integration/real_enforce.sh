#!/bin/bash
# Real enforcement on a real Debian 12 rootfs (a writable copy of tests/lib/rootfs.sh's tree),
# mounted with mode=enforce and the default policy over a store that trusts the rootfs
# (dfs_rootfs_store: `digestctl import apt --root`). Each of these is refused while python3, sh and
# ls keep running from the mount:
#   - a real binary (xz) changed in place beneath the mount after it ran once;
#   - a real library (libzstd) changed beneath the mount: apt-get cannot load it;
#   - an unlisted ELF (a listed binary with one byte appended) dropped beneath the mount;
#   - rollback: liblzma5 upgraded to the newer version the host's apt lists offer (bookworm-security;
#     its .deb imported with the host's signed indexes), then the rootfs's older .deb unpacked over
#     it (needs the mirror; SKIPPED for that check alone when it cannot be reached);
#   - with `appraise op=exec bind=path`, a listed binary copied to another path.
# And a runc container whose rootfs is the enforcing mount runs python3 from the real rootfs.
# Takes about 1 minute.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd chroot openssl
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/rootfs.sh"
dfs_rootfs || skip "no Debian rootfs (mirror unreachable?)"
chmod 755 "$T"

ROOT=$T/root
dfs_rootfs_copy "$ROOT"
S=$T/store
dfs_rootfs_store "$S" "$ROOT" || fail "could not build a store for the rootfs"
echo "store: $DFS_STORE_KIND"

mount_dfs() { # MNT LOG OPTIONS
  local mnt=$1 log=$2 opts=$3
  mkdir -p "$mnt"
  dfs_mount_fg "$ROOT" "$mnt" "$log" "$opts"
}
# Runs a command in a chroot of the mount; prints its rc and output.
in_mnt() { (cd / && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C chroot "$M" "$@") 2>&1; }
# The rest of the system keeps working.
system_works() {
  local out
  out=$(in_mnt python3 -c 'import json, ssl, hashlib, sqlite3; print("python ok")') ||
    fail "python3 refused ($1): $out"
  assert_eq "$out" "python ok" "python3 ($1)"
  out=$(in_mnt sh -c 'echo sh ok') || fail "sh refused ($1): $out"
  assert_eq "$out" "sh ok" "sh ($1)"
  in_mnt ls -l /usr/bin >/dev/null || fail "ls refused ($1)"
}
# Asserts that CMD... fails in the mount's chroot, and that the mount's LOG has a refusal of PATH
# for OP.
refused() {
  local what=$1 log=$2 path=$3 op=$4 rc=0 out i
  shift 4
  out=$(in_mnt "$@") || rc=$?
  [ "$rc" != 0 ] || fail "$what was not refused: $out"
  for i in $(seq 20); do
    grep -q "refused path=\"$path\" op=$op" "$log" && break
    sleep 0.1
  done
  grep -q "refused path=\"$path\" op=$op" "$log" || fail "$what: no refusal of $path op=$op logged (rc=$rc: $out)"
  echo "refused as expected: $what (rc=$rc: $(echo "$out" | head -n 1))"
}

M=$T/mnt
# timeout=0: names replaced beneath the mount (dpkg-deb -x renames over) are looked up again.
mount_dfs "$M" "$T/log" "store=$S,mode=enforce,timeout=0,loglevel=info"
system_works "at start"
in_mnt xz --version >/dev/null || fail "listed xz refused"
in_mnt apt-get --version >/dev/null || fail "listed apt-get refused"
pass "listed binaries run from the real rootfs under enforcement"

# A real binary changed in place beneath the mount (same size, same inode), after it ran once.
printf 'DFS' | dd of="$ROOT/usr/bin/xz" bs=1 seek=4096 conv=notrunc status=none
refused "xz changed beneath the mount" "$T/log" /usr/bin/xz exec xz --version
system_works "after xz changed"
pass "a real binary changed beneath the mount is refused"

# A real library changed beneath the mount: the loader cannot open it for apt-get.
lib=$(readlink -f "$ROOT/usr/lib/x86_64-linux-gnu/libzstd.so.1")
lib=${lib#"$ROOT"}
printf 'DFS' | dd of="$ROOT$lib" bs=1 seek=8192 conv=notrunc status=none
refused "apt-get with a changed libzstd" "$T/log" "$lib" read apt-get --version
system_works "after libzstd changed"
pass "a real library changed beneath the mount is refused"
# Both put back (natively, dpkg needs libzstd below), and served again.
cp "$DFS_ROOTFS$lib" "$ROOT$lib"
cp "$DFS_ROOTFS/usr/bin/xz" "$ROOT/usr/bin/xz"
in_mnt apt-get --version >/dev/null || fail "apt-get refused after libzstd was put back"
in_mnt xz --version >/dev/null || fail "xz refused after it was put back"

# An unlisted ELF: a listed binary with one byte appended, dropped beneath the mount.
cp "$ROOT/usr/bin/true" "$ROOT/usr/local/bin/evil" && printf 'x' >>"$ROOT/usr/local/bin/evil"
chroot "$ROOT" /usr/local/bin/evil || fail "the unlisted ELF does not run natively"
refused "an unlisted ELF" "$T/log" /usr/local/bin/evil exec /usr/local/bin/evil
cp "$ROOT/usr/local/bin/evil" "$ROOT/tmp/evil"
refused "an unlisted ELF in /tmp" "$T/log" /tmp/evil exec /tmp/evil
system_works "after the unlisted ELF"
pass "an unlisted ELF is refused, in /usr/local/bin and in /tmp"

# Rollback: upgrade liblzma5 to the newer version the host's signed apt lists offer, import it,
# then unpack the older .deb over it.
rollback() {
  [ "$DFS_STORE_KIND" = apt ] || { echo "SKIPPED rollback: needs digestctl import apt"; return; }
  need_cmd apt-get dpkg-deb
  local old new dl=$T/debs lists=$T/lists f
  old=$(chroot "$ROOT" dpkg-query -W -f '${Version}' liblzma5)
  mkdir -p "$dl" "$lists"
  if ! (cd "$dl" && timeout 120 apt-get -q download liblzma5 >"$T/download.log" 2>&1); then
    echo "SKIPPED rollback: apt-get download liblzma5 failed (mirror unreachable?)"
    return
  fi
  new=$(dpkg-deb -f "$dl"/liblzma5_*.deb Version)
  if ! dpkg --compare-versions "$new" gt "$old"; then
    echo "SKIPPED rollback: the host's apt lists offer no liblzma5 newer than $old"
    return
  fi
  # The host's signed indexes. apt keeps Packages recompressed (lz4 here), which no Release lists:
  # decompressed, they are the plain Packages files the Release lists.
  for f in /var/lib/apt/lists/*_InRelease /var/lib/apt/lists/*_Packages*; do
    [ -f "$f" ] || continue
    case $f in
      *_InRelease) cp "$f" "$lists/" ;;
      *.lz4 | *.gz | *.xz | *.zst | *.bz2) /usr/lib/apt/apt-helper cat-file "$f" >"$lists/$(basename "${f%.*}")" ;;
      *) cp "$f" "$lists/" ;;
    esac
  done
  cp "$dl"/liblzma5_*.deb "$ROOT/tmp/"
  chroot "$ROOT" sh -c 'dpkg -i /tmp/liblzma5_*.deb' >"$T/dpkg-up.log" 2>&1 ||
    { cat "$T/dpkg-up.log" >&2; fail "dpkg -i liblzma5 $new"; }
  "$DIGESTCTL" --store "$S" import deb --lists "$lists" "$dl"/liblzma5_*.deb >"$T/import-deb.log" 2>&1 ||
    { cat "$T/import-deb.log" >&2; fail "import deb liblzma5 $new"; }
  in_mnt python3 -c 'import lzma; lzma.compress(b"x")' || fail "liblzma5 $new refused after its import"
  # The older version's files, unpacked over the newer one's beneath the mount (as dpkg does:
  # a new inode renamed over; through the root's own /lib -> usr/lib alias).
  mkdir -p "$T/old"
  dpkg-deb -x "$ROOT"/var/cache/apt/archives/liblzma5_"${old//:/%3a}"_*.deb "$T/old" ||
    fail "dpkg-deb -x liblzma5 $old"
  local f lib
  while IFS= read -r f; do
    cp -p "$T/old/$f" "$ROOT/$f.dfs-new" && mv -f "$ROOT/$f.dfs-new" "$ROOT/$f"
  done < <(cd "$T/old" && find . -type f -name '*.so*')
  lib=$(readlink -f "$ROOT/usr/lib/x86_64-linux-gnu/liblzma.so.5")
  lib=${lib#"$ROOT"}
  refused "liblzma5 $old unpacked over $new" "$T/log" "$lib" read python3 -c 'import lzma'
  system_works "after the rollback"
  pass "rollback: liblzma5 $old unpacked over the imported $new is refused"
}
rollback
unmount "$M"

# Path binding: a listed binary copied to another path runs under the default (content-only)
# policy and is refused with bind=path.
cp -p "$ROOT/usr/bin/id" "$ROOT/usr/local/bin/id-copy"
sed 's/^appraise op=exec$/appraise op=exec bind=path/' "$SRC/policy/default.policy" >"$T/bind.policy"
grep -q '^appraise op=exec bind=path$' "$T/bind.policy" || fail "could not make the bind=path policy"
mount_dfs "$M" "$T/log-content" "store=$S,mode=enforce"
in_mnt /usr/local/bin/id-copy -u >/dev/null || fail "a listed binary copied elsewhere refused by content-only"
unmount "$M"
mount_dfs "$M" "$T/log-bind" "store=$S,mode=enforce,policy=$T/bind.policy"
in_mnt id -u >/dev/null || fail "listed id refused at its own path with bind=path"
refused "a listed binary copied to another path, bind=path" "$T/log-bind" /usr/local/bin/id-copy exec \
  /usr/local/bin/id-copy -u
grep -q 'refused path="/usr/local/bin/id-copy".*listed only at another path' "$T/log-bind" ||
  fail "bind=path refusal not logged with its reason"
system_works "with bind=path"
pass "a listed binary copied to another path is refused with bind=path"
unmount "$M"

# A runc container on the enforcing mount runs python3 from the real rootfs; the unlisted ELF
# is refused inside it.
if command -v runc >/dev/null; then
  mount_dfs "$M" "$T/log-runc" "store=$S,mode=enforce"
  B=$T/bundle
  mkdir -p "$B"
  (cd "$B" && runc spec) || fail "runc spec"
  python3 - "$B/config.json" "$M" <<'PY'
import json, sys
path, rootfs = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["root"] = {"path": rootfs, "readonly": False}
c["process"]["terminal"] = False
c["process"]["env"] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]
c["process"]["args"] = ["/bin/sh", "-c",
    "python3 -c 'import json, ssl, sqlite3, ctypes; print(\"python3 in runc\")'; /usr/local/bin/evil; echo evil-rc=$?"]
c["linux"].pop("resources", None)
c["linux"].pop("cgroupsPath", None)
json.dump(c, open(path, "w"), indent=1)
PY
  id=dfs-real-enforce-$$
  at_exit "runc delete -f $id >/dev/null 2>&1"
  (cd "$B" && timeout 60 runc run "$id") >"$T/runc.out" 2>"$T/runc.err" || true
  grep -qx "python3 in runc" "$T/runc.out" || { cat "$T/runc.out" "$T/runc.err" >&2; fail "python3 did not run in runc"; }
  grep -qx "evil-rc=126" "$T/runc.out" || { cat "$T/runc.out" "$T/runc.err" >&2; fail "the unlisted ELF ran in runc"; }
  unmount "$M"
  pass "runc: python3 from the real rootfs runs on the enforcing mount, an unlisted ELF is refused"
else
  skip "runc is not installed"
fi
pass "real_enforce"
