#!/bin/bash
# POSIX ACLs through the mount (issue 15 item 2), as a differential against the native tree: the
# same script runs on a native directory and through a digestfs mount (mode=off), and its output
# (each command's result, modes, getfacl) must be identical. Covers: a u:1000:--- entry denies
# uid 1000 what the mode bits allow; a u:1000:rw entry lets it append to a 0600 file; default ACLs
# are inherited by files and directories made beneath (whatever the umask); chmod rewrites the
# mask; setfacl -b; a group entry; access(2) (test -r/-w). And over a lower file system without
# ACLs (ramfs), permission checks stay those of the mode bits (the kernel asks for ACLs there
# too). About 3 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd setfacl getfacl setpriv
[ -x "$DIGESTFS" ] || skip "digestfs not built"
chmod 755 "$T"
mkdir -p "$T/native" "$T/lower" "$T/mnt"
setfacl -m u:1000:r "$T/native" 2>/dev/null || skip "no ACL support in $T"
setfacl -b "$T/native"

cat > "$T/ops.sh" <<'EOF'
# Runs in DIR (the first argument); prints one line per step.
cd "$1"
as1000() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
r() { local what=$1; shift; if "$@" >/dev/null 2>&1; then echo "$what -> ok"; else echo "$what -> fail"; fi; }
acl() { echo "acl $1:"; getfacl -cpn "$1" 2>&1 | sed 's/^/  /'; }
mode() { echo "mode $1 $(stat -c '%a %u:%g' "$1")"; }
chmod 755 .
echo secret > deny; chmod 644 deny; setfacl -m u:1000:--- deny
r "uid 1000 reads deny (u:1000:---)" as1000 cat deny
r "uid 1000 access(R_OK) deny" as1000 test -r deny
r "uid 2000 reads deny" setpriv --reuid=2000 --regid=2000 --clear-groups cat deny
echo data > grant; chmod 600 grant; setfacl -m u:1000:rw grant
r "uid 1000 appends to grant (u:1000:rw)" as1000 sh -c 'echo more >> grant'
r "uid 1000 access(W_OK) grant" as1000 test -w grant
r "uid 2000 reads grant" setpriv --reuid=2000 --regid=2000 --clear-groups cat grant
echo "grant: $(cat grant | tr '\n' ' ')"
acl deny; acl grant; mode deny; mode grant
echo g > gfile; chmod 640 gfile; setfacl -m g:1000:--- gfile
r "gid 1000 reads gfile (g:1000:---)" as1000 cat gfile
chmod 604 gfile; acl gfile; mode gfile
setfacl -b grant; acl grant; mode grant
r "uid 1000 reads grant after setfacl -b" as1000 cat grant
mkdir dflt; chmod 750 dflt; setfacl -m d:u:1000:rw,d:g::rw,d:o::r,u:1000:rwx dflt
(umask 077; touch dflt/new; mkdir dflt/sub; mknod dflt/fifo p)
(umask 022; echo x > dflt/new2)
acl dflt; acl dflt/new; acl dflt/sub; acl dflt/fifo; acl dflt/new2
mode dflt/new; mode dflt/sub; mode dflt/fifo; mode dflt/new2
r "uid 1000 writes dflt/new" as1000 sh -c 'echo y >> dflt/new'
r "uid 1000 creates in dflt" as1000 touch dflt/by1000
mode dflt/by1000; acl dflt/by1000
# No default ACL: the umask applies as usual.
mkdir plain
(umask 027; touch plain/a; mkdir plain/b)
(umask 0; touch plain/c)
mode plain/a; mode plain/b; mode plain/c; acl plain/a
EOF

bash "$T/ops.sh" "$T/native" > "$T/native.out" 2>&1
dfs_mount "$T/lower" "$T/mnt" -o mode=off
bash "$T/ops.sh" "$T/mnt" > "$T/mount.out" 2>&1
grep -q "uid 1000 reads deny (u:1000:---) -> fail" "$T/native.out" || fail "native run did not deny (ACL support?)"
if ! diff -u "$T/native.out" "$T/mount.out" > "$T/diff"; then
  cat "$T/diff" >&2
  fail "ACL behaviour differs between native and mount"
fi
pass "$(wc -l < "$T/native.out") lines identical on native and mount (deny, grant, inheritance, mask)"
# What the mount made beneath carries the same ACLs in the lower tree.
assert_eq "$(getfacl -cpn "$T/lower/dflt/new")" "$(getfacl -cpn "$T/native/dflt/new")" "lower ACL of an inherited file"

# A lower file system without ACLs: the group and other classes are checked natively.
mkdir -p "$T/ram" "$T/rmnt"
if mount -t ramfs ramfs "$T/ram" 2>/dev/null; then
  at_exit "umount '$T/ram'"
  chmod 755 "$T/ram"
  echo hi > "$T/ram/f"; chmod 640 "$T/ram/f"; chown 0:1000 "$T/ram/f"
  dfs_mount "$T/ram" "$T/rmnt" -o mode=off
  probe() { # DIR: uid 1000 (group member) and 2000 (other) read f
    local d=$1
    setpriv --reuid=1000 --regid=1000 --clear-groups cat "$d/f" 2>&1 | sed "s|$d/||"
    setpriv --reuid=2000 --regid=2000 --clear-groups cat "$d/f" 2>&1 | sed "s|$d/||"
  }
  assert_eq "$(probe "$T/rmnt")" "$(probe "$T/ram")" "reads over a ramfs lower (no ACL support)"
  pass "a lower without ACLs: mode bits checked as natively"
else
  echo "note: ramfs not mountable here; the no-ACL lower case is not checked"
fi
pass "fs_acl"
