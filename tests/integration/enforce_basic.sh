#!/bin/bash
# Enforcement through a real mount over a rootfs built from signed RPMs (rpm --root) and a store
# imported from its rpmdb: a listed binary runs; an unlisted one is refused for exec and, under
# /usr, for read; a listed file modified beneath the mount or through it is refused at its next
# open; a mutable file is re-trusted when written through the mount and refused when edited
# beneath it; a listed binary copied elsewhere passes a content-only check and is refused with
# bind=path; after an upgrade import the older binary is refused; deny-listed content is refused;
# a refusal is logged once with path, digest and rule; a symlink swapped in beneath the mount
# cannot lead out of the tree.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd busybox chroot
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/enforce.sh"
BB=$(command -v busybox)
file "$BB" 2>/dev/null | grep -q "statically linked" || skip "busybox is not static"

# The packages: bbox 1.0 ships busybox, data files and a %config file.
ef_key
s=$(ef_stage bbox1)
mkdir -p "$s/usr/bin" "$s/usr/lib/bbox" "$s/etc"
cp "$BB" "$s/usr/bin/busybox"
ln -s busybox "$s/usr/bin/sh"
echo "listed data one" >"$s/usr/lib/bbox/data1"
echo "listed data two" >"$s/usr/lib/bbox/data2"
echo "listed data three" >"$s/usr/lib/bbox/data3"
echo "setting=1" >"$s/etc/bbox.conf"
PKG1=$(ef_package bbox 1.0 "$s" /etc/bbox.conf)
ROOT=$T/root
ef_install "$ROOT" "$PKG1"
ef_store "$T/store" "$ROOT"
mkdir -p "$ROOT/opt" "$ROOT/tmp"

# Unlisted content, dropped in beneath the mount: busybox with one extra byte still runs natively.
cp "$BB" "$ROOT/usr/bin/busybox-evil" && printf 'x' >>"$ROOT/usr/bin/busybox-evil"
cp "$ROOT/usr/bin/busybox-evil" "$ROOT/opt/busybox-evil"
"$ROOT/opt/busybox-evil" true || fail "the modified busybox does not run natively"

# Mounts run in the foreground so that their log can be read.
mount_dfs() {  # MNT LOG OPTIONS
  local mnt=$1 log=$2 opts=$3
  mkdir -p "$mnt"
  dfs_mount_fg "$ROOT" "$mnt" "$log" "$opts"
}
M=$T/mnt
# timeout=0: the kernel re-looks names up, so files replaced beneath the mount (rpm -U) are seen.
mount_dfs "$M" "$T/log" "store=$T/store,log=$T/mlog,loglevel=info,timeout=0"

# A listed binary runs (exec and the dynamic-less static binary's reads go through the mount).
out=$("$M/usr/bin/busybox" echo hello) || fail "listed busybox refused"
assert_eq "$out" "hello" "listed busybox output"
"$M/usr/bin/sh" -c true || fail "listed busybox through its symlink refused"
pass "a listed binary runs"

# An unlisted binary is refused for exec anywhere (EACCES: the shell says 126) and for read
# under /usr (the default policy appraises reads there), but may be read elsewhere.
set +e
"$M/usr/bin/busybox-evil" true 2>/dev/null; rc_exec=$?
"$M/opt/busybox-evil" true 2>/dev/null; rc_opt=$?
cat "$M/usr/bin/busybox-evil" >/dev/null 2>"$T/err"; rc_read=$?
set -e
assert_eq "$rc_exec" 126 "exec of an unlisted binary under /usr"
assert_eq "$rc_opt" 126 "exec of an unlisted binary under /opt"
[ "$rc_read" -ne 0 ] || fail "read of an unlisted file under /usr allowed"
grep -q "Permission denied" "$T/err" || fail "read refusal is not EACCES: $(cat "$T/err")"
cmp -s "$M/opt/busybox-evil" "$ROOT/opt/busybox-evil" || fail "read of an unlisted file under /opt refused"
pass "an unlisted binary is refused for exec, and for read under /usr"

# Logged once, with path, digest and rule, however often it is refused.
for i in 1 2 3; do "$M/usr/bin/busybox-evil" true 2>/dev/null || true; done
digest=sha256:$(sha256sum "$ROOT/usr/bin/busybox-evil" | cut -d' ' -f1)
n=$(grep -c 'refused path="/usr/bin/busybox-evil" op=exec' "$T/log" || true)
assert_eq "$n" 1 "refusal log lines for 4 refused execs"
grep 'refused path="/usr/bin/busybox-evil" op=exec' "$T/log" | grep -q "digest=$digest .*rule=[0-9]" ||
  fail "refusal line lacks digest or rule: $(grep evil "$T/log")"
pass "a refusal is logged once with path, digest and rule"

# A listed file modified beneath the mount is refused at its next open.
assert_eq "$(cat "$M/usr/lib/bbox/data1")" "listed data one" "listed data read"
echo "tampered beneath" >"$ROOT/usr/lib/bbox/data1"
cat "$M/usr/lib/bbox/data1" >/dev/null 2>&1 && fail "file modified beneath the mount still served"
# Same size, mtime restored: ctime still moves.
assert_eq "$(cat "$M/usr/lib/bbox/data3")" "listed data three" "listed data read"
touch -r "$ROOT/usr/lib/bbox/data3" "$T/stamp"
printf 'LISTED data three\n' | dd of="$ROOT/usr/lib/bbox/data3" conv=notrunc status=none
touch -r "$T/stamp" "$ROOT/usr/lib/bbox/data3"
cat "$M/usr/lib/bbox/data3" >/dev/null 2>&1 && fail "same-size edit beneath the mount still served"
pass "a listed file modified beneath the mount is refused"

# A listed file modified through the mount (not mutable) is refused at its next open.
assert_eq "$(cat "$M/usr/lib/bbox/data2")" "listed data two" "listed data read"
echo "appended through the mount" >>"$M/usr/lib/bbox/data2"
cat "$M/usr/lib/bbox/data2" >/dev/null 2>&1 && fail "file modified through the mount still served"
pass "a listed file modified through the mount is refused"

# Deny list: a listed file whose digest is denied is refused by the running mount.
cp "$M/usr/bin/busybox" /dev/null
"$DIGESTCTL" --store "$T/store" deny add "sha256:$(sha256sum "$ROOT/usr/bin/busybox" | cut -d' ' -f1)" >/dev/null
set +e; "$M/usr/bin/busybox" true 2>/dev/null; rc=$?; set -e
assert_eq "$rc" 126 "exec of a deny-listed binary"
"$DIGESTCTL" --store "$T/store" deny remove "sha256:$(sha256sum "$ROOT/usr/bin/busybox" | cut -d' ' -f1)" >/dev/null
"$M/usr/bin/busybox" true || fail "busybox still refused after deny remove"
grep -q 'verdict=denied' "$T/log" || fail "deny refusal not logged"
pass "a deny-listed digest is refused, and allowed again when removed"

# A symlink swapped in beneath the mount cannot lead out of the tree: inside the tree (chroot,
# as a container sees it) it resolves within the mount, and the daemon never follows it.
mkdir -p "$T/outside"
echo "outside secret" >"$T/outside/secret"
rm "$ROOT/usr/lib/bbox/data1"
ln -s "$T/outside/secret" "$ROOT/usr/lib/bbox/data1"
out=$(chroot "$M" /usr/bin/busybox cat /usr/lib/bbox/data1 2>&1) && fail "symlink out of the tree was followed: $out"
case $out in *"outside secret"*) fail "content outside the tree served" ;; esac
out=$(cat "$M/usr/lib/bbox/data1" 2>&1) || true
[ -L "$M/usr/lib/bbox/data1" ] || fail "the swapped-in symlink is not seen as a symlink"
python3 -c 'import os,sys; os.open(sys.argv[1], os.O_RDONLY|os.O_NOFOLLOW)' "$M/usr/lib/bbox/data1" 2>/dev/null &&
  fail "O_NOFOLLOW open of the symlink succeeded"
pass "a symlink swapped in beneath the mount does not escape the tree"

# An upgrade import retires the older version: its binary, kept elsewhere, is refused.
cp "$ROOT/usr/bin/busybox" "$ROOT/opt/busybox-1.0"
"$M/opt/busybox-1.0" true || fail "a copy of the listed busybox refused before the upgrade"
s2=$(ef_stage bbox2)
mkdir -p "$s2/usr/bin" "$s2/usr/lib/bbox" "$s2/etc"
cp "$BB" "$s2/usr/bin/busybox" && printf 'v2' >>"$s2/usr/bin/busybox"
ln -s busybox "$s2/usr/bin/sh"
echo "listed data one" >"$s2/usr/lib/bbox/data1"
echo "listed data two" >"$s2/usr/lib/bbox/data2"
echo "listed data three" >"$s2/usr/lib/bbox/data3"
echo "setting=1" >"$s2/etc/bbox.conf"
PKG2=$(ef_package bbox 2.0 "$s2" /etc/bbox.conf)
ef_install "$ROOT" "$PKG2"
"$DIGESTCTL" --store "$T/store" import rpmdb --root "$ROOT" >/dev/null || fail "import rpmdb after upgrade"
set +e; "$M/opt/busybox-1.0" true 2>/dev/null; rc=$?; set -e
assert_eq "$rc" 126 "exec of the superseded version's binary"
"$M/usr/bin/busybox" true || fail "upgraded busybox refused"
pass "after an upgrade import the older binary is refused, the new one runs"
unmount "$M"

# Path binding: a listed binary copied to another path passes a content-only check (above: the
# default policy) and is refused with bind=path.
cp "$ROOT/usr/bin/busybox" "$ROOT/opt/busybox-copy"
cat >"$T/bind.policy" <<POL
appraise op=exec bind=path
POL
M2=$T/mnt-bind
mount_dfs "$M2" "$T/log-bind" "store=$T/store,policy=$T/bind.policy"
"$M2/usr/bin/busybox" true || fail "listed busybox at its own path refused with bind=path"
set +e; "$M2/opt/busybox-copy" true 2>/dev/null; rc=$?; set -e
assert_eq "$rc" 126 "exec of a listed binary copied elsewhere, bind=path"
grep -q 'refused path="/opt/busybox-copy".*listed only at another path' "$T/log-bind" ||
  fail "bind=path refusal not logged with its reason"
unmount "$M2"
M3=$T/mnt-content
mount_dfs "$M3" "$T/log-content" "store=$T/store,policy=$SRC/policy/default.policy,log=$T/mlog"
"$M3/opt/busybox-copy" true || fail "listed binary copied elsewhere refused by a content-only check"
unmount "$M3"
pass "a listed binary copied elsewhere passes content-only and is refused with bind=path"

# Mutable files: written through the mount they are re-trusted for their path; edited beneath
# the mount they are refused.
cat >"$T/mutable.policy" <<POL
appraise op=read path=/etc/** mutable
POL
M4=$T/mnt-mutable
mount_dfs "$M4" "$T/log-mutable" "store=$T/store,policy=$T/mutable.policy"
assert_eq "$(cat "$M4/etc/bbox.conf")" "setting=1" "shipped config read"
echo "setting=2" >"$M4/etc/bbox.conf"
assert_eq "$(cat "$M4/etc/bbox.conf")" "setting=2" "config read after a write through the mount"
echo "fresh file" >"$M4/etc/new.conf"
assert_eq "$(cat "$M4/etc/new.conf")" "fresh file" "new file re-trusted after its creation"
# The re-trust happens at the writer's release, which FUSE sends after close(2) returned.
for i in $(seq 50); do grep -q 'retrusted path="/etc/bbox.conf"' "$T/log-mutable" && break; sleep 0.1; done
grep -q 'retrusted path="/etc/bbox.conf"' "$T/log-mutable" || fail "re-trust not logged"
unmount "$M4"
mount_dfs "$M4" "$T/log-mutable2" "store=$T/store,policy=$T/mutable.policy"
assert_eq "$(cat "$M4/etc/bbox.conf")" "setting=2" "re-trusted config read by a new mount"
echo "setting=3" >"$ROOT/etc/bbox.conf"
cat "$M4/etc/bbox.conf" >/dev/null 2>&1 && fail "config edited beneath the mount still served"
unmount "$M4"
pass "a mutable file is re-trusted when written through the mount, refused when edited beneath"
