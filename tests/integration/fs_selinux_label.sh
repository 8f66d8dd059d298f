#!/bin/bash
# SELinux labels through the mount (selinux_xattr=; docs/mount.md, "SELinux labels"). While
# SELinux is not active on the host, a security.selinux that the lower file lacks is answered "not
# supported" (EOPNOTSUPP) by default, so that `ls -l` asks once per listing instead of once per
# entry (coreutils remembers "not supported" per file system); a label the lower file has is
# returned as it is, and one set through the mount lands in the lower file; selinux_xattr=native
# answers "no such attribute" (ENODATA) as the lower file system does. Checked with the calls
# themselves (python's os.getxattr), `ls -l`/`ls -lZ` output against the native tree's, and strace
# counting the label lookups `ls -l` makes. Where SELinux is active, the default must answer as the
# lower file system does. The daemon's log names the choice. A few seconds.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd strace setfattr getfattr python3
[ -x "$DIGESTFS" ] || skip "digestfs not built"

mkdir -p "$T/lower/dir" "$T/lower/lab"
for i in $(seq 300); do echo "$i" >"$T/lower/dir/f$i"; done
echo x >"$T/lower/lab/labeled"
setfattr -n security.selinux -v system_u:object_r:bin_t:s0 "$T/lower/lab/labeled" 2>/dev/null ||
  skip "the lower file system under $T cannot hold security.selinux"
selinux=no
if [ -r /sys/kernel/security/lsm ]; then
  tr ',' '\n' </sys/kernel/security/lsm | grep -qx selinux && selinux=yes
elif [ -d /sys/fs/selinux ]; then
  selinux=yes
fi
echo "SELinux active on this host: $selinux"

dfs_mount_fg "$T/lower" "$T/auto" "$T/auto.log" mode=off
dfs_mount_fg "$T/lower" "$T/native" "$T/native.log" mode=off,selinux_xattr=native

# What getxattr(security.selinux) gives: the errno's name, or the value.
label() {
  python3 - "$1" <<'PY'
import errno, os, sys
try:
    print(os.getxattr(sys.argv[1], "security.selinux", follow_symlinks=False).decode())
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}
lower=$(label "$T/lower/dir/f1")
assert_eq "$lower" ENODATA "the lower file's answer"
assert_eq "$(label "$T/native/dir/f1")" ENODATA "selinux_xattr=native"
if [ $selinux = no ]; then
  # EOPNOTSUPP and ENOTSUP are one number on Linux; python names it ENOTSUP.
  assert_eq "$(label "$T/auto/dir/f1")" ENOTSUP "default, SELinux not active"
  grep -q "event=selinux_xattr option=auto absent_label=EOPNOTSUPP" "$T/auto.log" ||
    fail "the log does not say that an absent label is answered EOPNOTSUPP"
else
  assert_eq "$(label "$T/auto/dir/f1")" ENODATA "default, SELinux active"
  grep -q "event=selinux_xattr option=auto absent_label=ENODATA" "$T/auto.log" ||
    fail "the log does not say that an absent label is answered ENODATA"
fi
grep -q "event=selinux_xattr option=native absent_label=ENODATA" "$T/native.log" ||
  fail "the log of selinux_xattr=native does not name it"
# The size probe (getxattr with no buffer) answers alike.
probe=$(python3 -c 'import ctypes, ctypes.util, os, sys
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
n = libc.lgetxattr(sys.argv[1].encode(), b"security.selinux", None, 0)
print(n if n >= 0 else os.strerror(ctypes.get_errno()))' "$T/auto/dir/f1")
[ $selinux = no ] && want="Operation not supported" || want="No data available"
assert_eq "$probe" "$want" "size probe of an absent label"
pass "an absent label: ENODATA natively and with selinux_xattr=native, $(label "$T/auto/dir/f1") by default"

# A label the lower file has, and one set through the mount.
for m in auto native; do
  assert_eq "$(label "$T/$m/lab/labeled")" "system_u:object_r:bin_t:s0" "an existing label ($m)"
done
setfattr -n security.selinux -v system_u:object_r:etc_t:s0 "$T/auto/dir/f2" || fail "setting a label"
assert_eq "$(label "$T/lower/dir/f2")" "system_u:object_r:etc_t:s0" "a label set through the mount, lower"
assert_eq "$(label "$T/auto/dir/f2")" "system_u:object_r:etc_t:s0" "a label set through the mount"
setfattr -x security.selinux "$T/auto/dir/f2" || fail "removing a label"
assert_eq "$(label "$T/lower/dir/f2")" ENODATA "a label removed through the mount, lower"
pass "existing labels are returned; labels set and removed through the mount reach the lower file"

# ls -l and ls -lZ print what they print natively.
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
n_native=$(lookups "$T/native/dir")
n_auto=$(lookups "$T/auto/dir")
echo "label lookups by ls -l of 300 files: lower $n_lower, selinux_xattr=native $n_native, default $n_auto"
[ "$n_lower" -ge 300 ] || fail "ls -l natively asked for $n_lower labels, expected one per file"
[ "$n_native" -ge 300 ] || fail "ls -l through selinux_xattr=native asked for $n_native labels"
if [ $selinux = no ]; then
  [ "$n_auto" -le 2 ] || fail "ls -l through the default mount asked for $n_auto labels, expected 1"
else
  [ "$n_auto" -ge 300 ] || fail "ls -l with SELinux active asked for $n_auto labels"
fi
pass "ls -l asks for $n_auto label(s) through the default mount, $n_native with selinux_xattr=native"
