#!/bin/bash
# POSIX differential test: the same sequence of operations (tests/tools/fs_posix_ops.cc) on a native
# ext4/tmp tree and through a digestfs mount (mode=off), as root and as an unprivileged user
# (65534, without and with supplementary group 100). Return values, errno, resulting stat (mode, uid, gid, size, nlink, explicitly set
# times), directory listings and content must be identical.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd setpriv fusermount3
OPS=$BUILD/tests/fs_posix_ops
[ -x "$OPS" ] || skip "fs_posix_ops not built"
[ -x "$DIGESTFS" ] || skip "digestfs not built"
chmod 755 "$T"

# Prepares one tree (native or lower): per-user work dirs and root-owned fixtures.
prepare() {
  local base=$1 who
  for who in root nobody member; do
    mkdir -p "$base/$who"
    echo secret > "$base/$who/rootfile"
    chmod 600 "$base/$who/rootfile"
    mkdir -p "$base/$who/sticky"
    chmod 1777 "$base/$who/sticky"
    echo x > "$base/$who/sticky/rootowned"
    mkdir -p "$base/$who/sgdir"
    chown 0:100 "$base/$who/sgdir"
    chmod 2777 "$base/$who/sgdir"
  done
  chown 65534:65534 "$base/nobody" "$base/member"
}
prepare "$T/native"
prepare "$T/lower"
# Every answer must be the native one: selinux_xattr=native. The default's one chosen difference
# (an absent security.selinux answered EOPNOTSUPP where neither SELinux nor EVM is in the kernel)
# is fs_selinux_label.sh's to check.
dfs_mount "$T/lower" "$T/mnt" -o "${DFS_FS_OPTS:-mode=off},selinux_xattr=native"

run_as() {
  local who=$1 dir=$2
  case $who in
    root) "$OPS" "$dir" ;;
    nobody) setpriv --reuid=65534 --regid=65534 --clear-groups "$OPS" "$dir" ;;
    # A member of group 100 (the setgid fixture's group): checks supplementary groups are used.
    member) setpriv --reuid=65534 --regid=65534 --groups=100 "$OPS" "$dir" ;;
  esac
}

status=0
for who in root nobody member; do
  run_as $who "$T/native/$who" > "$T/native-$who.out" 2>&1 || fail "native run as $who failed"
  run_as $who "$T/mnt/$who" > "$T/mount-$who.out" 2>&1 || fail "mount run as $who failed"
  n=$(grep -c ' -> ' "$T/native-$who.out")
  [ "$n" -gt 150 ] || fail "too few operations ran as $who ($n)"
  if diff -u "$T/native-$who.out" "$T/mount-$who.out" > "$T/diff-$who"; then
    pass "$n operations as $who: identical results on native and mount"
  else
    echo "FAIL: results differ as $who (native vs mount):" >&2
    cat "$T/diff-$who" >&2
    status=1
  fi
done
# The lower tree holds what the mount wrote, with the caller's ownership.
owner=$(stat -c %u:%g "$T/lower/nobody/f2")
assert_eq "$owner" "65534:65534" "owner of a file created through the mount by uid 65534"
[ "$status" = 0 ] || fail "POSIX differences found"
pass "fs_posix"
