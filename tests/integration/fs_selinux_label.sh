#!/bin/bash
# SELinux labels through the mount (selinux_xattr=; docs/mount.md, "SELinux labels"). Where no
# module of the kernel reads security.selinux (neither SELinux nor EVM), a label the lower file
# lacks is answered "not supported" (EOPNOTSUPP) by default, so that coreutils' `ls -l` asks once
# per listing instead of once per entry; a label the lower file has is returned as it is, one set
# or removed through the mount reaches the lower file, and every other attribute name
# (security.capability, security.ima, security.evm, POSIX ACLs, user.*, trusted.*) is answered as
# natively; selinux_xattr=native answers "no such attribute" (ENODATA) as the lower file system
# does. Checked with the calls themselves (python's os.getxattr, and the size probe), `ls -l`,
# `ls -lZ` and `ls -la` output against the native tree's, and strace counting the label lookups of
# `ls -l`. Without securityfs (a daemon in a mount namespace without it) the daemon must say it
# cannot tell and answer ENODATA. Where SELinux or EVM is in the kernel the daemon must say it keeps
# ENODATA, and the rest is SKIPPED (with SELinux the kernel answers the label itself). A few
# seconds.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd strace setfattr python3 unshare fusermount3
[ -x "$DIGESTFS" ] || skip "digestfs not built"
mkdir -p "$T/lower/dir" "$T/lower/lab"
for i in $(seq 300); do echo "$i" >"$T/lower/dir/f$i"; done
echo x >"$T/lower/lab/labeled"

# What getxattr(NAME) gives: the errno's name, or the value.
get() {
  python3 - "$1" "${2:-security.selinux}" <<'PY'
import errno, os, sys
try:
    print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}
export -f get

# Without securityfs (a daemon started in a mount namespace without it) nothing tells whether EVM
# reads labels: the daemon says so and answers as the lower file system does.
if [ -r /sys/kernel/security/lsm ]; then
  mkdir -p "$T/nosec"
  unshare -m --propagation private bash -c '
    umount -l /sys/kernel/security || exit 3
    [ ! -e /sys/kernel/security/lsm ] || exit 4
    "$1" "$2" "$3" -f -o mode=off 2>"$4" &
    pid=$!
    for i in $(seq 100); do mountpoint -q "$3" && break; sleep 0.05; done
    mountpoint -q "$3" || exit 5
    get "$3/dir/f1" >"$5"
    fusermount3 -u "$3"
    wait $pid' _ "$DIGESTFS" "$T/lower" "$T/nosec" "$T/nosec.log" "$T/nosec.out" ||
    fail "the mount without securityfs failed (exit $?)"
  grep -q "event=selinux_readers_unknown" "$T/nosec.log" ||
    fail "without securityfs the daemon does not say it cannot tell"
  grep -q "event=selinux_xattr option=auto readers=- absent_label=ENODATA" "$T/nosec.log" ||
    fail "without securityfs the daemon does not keep ENODATA"
  assert_eq "$(cat "$T/nosec.out")" ENODATA "an absent label without securityfs"
  pass "without securityfs: logged as unknown, absent labels answered ENODATA"
fi

dfs_mount_fg "$T/lower" "$T/auto" "$T/auto.log" mode=off
dfs_mount_fg "$T/lower" "$T/native" "$T/native.log" mode=off,selinux_xattr=native
grep -q "event=selinux_xattr option=native readers=- absent_label=ENODATA" "$T/native.log" ||
  fail "the log of selinux_xattr=native does not name it"
[ -r /sys/kernel/security/lsm ] || {
  grep -q "event=selinux_xattr option=auto readers=- absent_label=ENODATA" "$T/auto.log" ||
    fail "without securityfs the daemon does not keep ENODATA"
  skip "securityfs is not mounted here: absent labels keep ENODATA (logged); the rest needs it"
}
readers=none
tr ',' '\n' </sys/kernel/security/lsm | grep -qx selinux && readers=selinux
if tr ',' '\n' </sys/kernel/security/lsm | grep -qxE 'evm|integrity' ||
  [ -e /sys/kernel/security/evm ] || [ -e /sys/kernel/security/integrity/evm/evm ]; then
  [ $readers = selinux ] && readers=selinux,evm || readers=evm
fi
echo "modules that read security.selinux in this kernel: $readers"
if [ $readers != none ]; then
  grep -q "event=selinux_xattr option=auto readers=$readers absent_label=ENODATA" "$T/auto.log" ||
    fail "with $readers in the kernel the log does not say that absent labels stay ENODATA"
  skip "$readers in this kernel: absent labels keep ENODATA (logged); the rest needs a kernel without them"
fi
grep -q "event=selinux_xattr option=auto readers=none absent_label=EOPNOTSUPP" "$T/auto.log" ||
  fail "the log does not say that an absent label is answered EOPNOTSUPP"
setfattr -n security.selinux -v system_u:object_r:bin_t:s0 "$T/lower/lab/labeled" 2>/dev/null ||
  skip "the lower file system under $T cannot hold security.selinux"

assert_eq "$(get "$T/lower/dir/f1")" ENODATA "the lower file's answer"
assert_eq "$(get "$T/native/dir/f1")" ENODATA "selinux_xattr=native"
# EOPNOTSUPP and ENOTSUP are one number on Linux; python names it ENOTSUP.
assert_eq "$(get "$T/auto/dir/f1")" ENOTSUP "the default"
# The size probe (getxattr with no buffer) answers alike.
probe() {
  python3 -c 'import ctypes, ctypes.util, os, sys
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
n = libc.lgetxattr(sys.argv[1].encode(), b"security.selinux", None, 0)
print(n if n >= 0 else os.strerror(ctypes.get_errno()))' "$1"
}
assert_eq "$(probe "$T/auto/dir/f1")" "Operation not supported" "size probe, default"
assert_eq "$(probe "$T/native/dir/f1")" "No data available" "size probe, selinux_xattr=native"
# Every other name is answered as natively.
for name in security.capability security.ima security.evm system.posix_acl_access user.none trusted.none; do
  assert_eq "$(get "$T/auto/dir/f1" $name)" "$(get "$T/lower/dir/f1" $name)" "$name through the default mount"
done
pass "an absent label: ENODATA natively and with selinux_xattr=native, ENOTSUP by default; other names native"

# A label the lower file has, and one set and removed through the mount.
for m in auto native; do
  assert_eq "$(get "$T/$m/lab/labeled")" "system_u:object_r:bin_t:s0" "an existing label ($m)"
  assert_eq "$(probe "$T/$m/lab/labeled")" 26 "size probe of an existing label ($m)"
done
setfattr -n security.selinux -v system_u:object_r:etc_t:s0 "$T/auto/dir/f2" || fail "setting a label"
assert_eq "$(get "$T/lower/dir/f2")" "system_u:object_r:etc_t:s0" "a label set through the mount, lower"
assert_eq "$(get "$T/auto/dir/f2")" "system_u:object_r:etc_t:s0" "a label set through the mount"
setfattr -x security.selinux "$T/auto/dir/f2" || fail "removing a label"
assert_eq "$(get "$T/lower/dir/f2")" ENODATA "a label removed through the mount, lower"
assert_eq "$(get "$T/auto/dir/f2")" ENOTSUP "a label removed through the mount"
pass "existing labels are returned; labels set and removed through the mount reach the lower file"

# ls -l, ls -lZ and ls -la print what they print natively.
for args in "-l" "-lZ" "-la"; do
  (cd "$T/lower/dir" && ls $args) >"$T/ls.native" 2>&1
  for m in auto native; do
    (cd "$T/$m/dir" && ls $args) >"$T/ls.$m" 2>&1
    diff -u "$T/ls.native" "$T/ls.$m" >&2 || fail "ls $args differs through the mount ($m)"
  done
done
assert_eq "$(cd "$T/auto/lab" && ls -Z labeled)" "$(cd "$T/lower/lab" && ls -Z labeled)" "ls -Z of a labeled file"
pass "ls -l, -lZ and -la of 300 files print as natively"

# How many label lookups ls -l makes for the 300 entries.
lookups() {
  strace -f -qq -e trace=lgetxattr,getxattr -o "$T/strace" ls -l "$1" >/dev/null 2>&1 ||
    fail "strace ls -l $1 failed"
  grep -c '"security.selinux"' "$T/strace" || true
}
n_lower=$(lookups "$T/lower/dir")
[ "$n_lower" -ge 300 ] ||
  skip "this ls asked natively for $n_lower labels of 300 files (coreutils 9.6+ lists attributes first): nothing to save"
n_native=$(lookups "$T/native/dir")
n_auto=$(lookups "$T/auto/dir")
echo "label lookups by ls -l of 300 files: lower $n_lower, selinux_xattr=native $n_native, default $n_auto"
[ "$n_native" -ge 300 ] || fail "ls -l through selinux_xattr=native asked for $n_native labels"
[ "$n_auto" -le 2 ] || fail "ls -l through the default mount asked for $n_auto labels, expected 1"
pass "ls -l asks for $n_auto label(s) through the default mount, $n_native with selinux_xattr=native"
