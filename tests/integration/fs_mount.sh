#!/bin/bash
# The digestfs command line and mounting: --help/--version, option errors that name the option,
# a mount from an fstab line through mount(8)/mount.fuse3 and umount, a mount over its own source,
# hostile names in SOURCE, and the daemon's exit codes.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd mount umount fusermount3 flock
[ -x "$DIGESTFS" ] || skip "digestfs not built"

# --help, --version
"$DIGESTFS" --help | grep -q "usage: digestfs SOURCE MOUNTPOINT" || fail "--help"
"$DIGESTFS" --version | grep -q "^digestfs [0-9]" || fail "--version"
# The commit a build came from (the bench and bug reports rely on it): the source tree's, if a
# git checkout.
if head=$(git -C "$SRC" rev-parse --short=12 HEAD 2>/dev/null); then
  "$DIGESTFS" --version | grep -q "(commit $head[-a-z]*, libfuse" ||
    fail "digestfs --version does not name commit $head: $("$DIGESTFS" --version)"
  "$DIGESTCTL" --version | grep -q "(commit $head[-a-z]*)" ||
    fail "digestctl --version does not name commit $head: $("$DIGESTCTL" --version)"
fi
pass "--help and --version"

# Bad command lines exit 2 and name the culprit.
mkdir -p "$T/src" "$T/mnt"
expect_usage() {
  local want=$1; shift
  set +e
  "$DIGESTFS" "$@" > "$T/err" 2>&1
  local rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "digestfs $* succeeded"
  grep -q -- "$want" "$T/err" || { cat "$T/err" >&2; fail "error for '$*' does not name '$want'"; }
  mountpoint -q "$T/mnt" && fail "digestfs $* mounted anyway"
  echo "$rc"
}
rc=$(expect_usage "no_such_option" "$T/src" "$T/mnt" -o mode=off,no_such_option); assert_eq "$rc" 2 "exit code for an unknown -o option"
rc=$(expect_usage "mode=sideways" "$T/src" "$T/mnt" -o mode=sideways); assert_eq "$rc" 2 "exit code for a bad mode"
rc=$(expect_usage "pcr=99" "$T/src" "$T/mnt" -o mode=off,pcr=99); assert_eq "$rc" 2 "exit code for a bad pcr"
rc=$(expect_usage "loglevel=loud" "$T/src" "$T/mnt" -o mode=off,loglevel=loud); assert_eq "$rc" 2 "exit code for a bad loglevel"
rc=$(expect_usage "passthrough=sometimes" "$T/src" "$T/mnt" -o mode=off,passthrough=sometimes); assert_eq "$rc" 2 "exit code for a bad passthrough"
rc=$(expect_usage "--frobnicate" "$T/src" "$T/mnt" --frobnicate); assert_eq "$rc" 2 "exit code for an unknown flag"
rc=$(expect_usage "MOUNTPOINT" "$T/src"); assert_eq "$rc" 2 "exit code for a missing mountpoint"
rc=$(expect_usage "SOURCE" "$T/nonexistent" "$T/mnt" -o mode=off); [ "$rc" -ne 0 ] || fail "missing SOURCE"
pass "option errors name the option and exit 2"

# Foreground and background mounts; SOURCE with spaces, a comma and a leading dash.
src="$T/-my src, dir"
mkdir -p "$src"
echo data > "$src/file"
"$DIGESTFS" -o mode=off,loglevel=warn -- "$src" "$T/mnt"
wait_mounted "$T/mnt"
assert_eq "$(cat "$T/mnt/file")" "data" "content through the mount"
fstype=$(findmnt -no FSTYPE "$T/mnt")
assert_eq "$fstype" "fuse.digestfs" "file system type"
opts=$(findmnt -no OPTIONS "$T/mnt")
case $opts in *allow_other*default_permissions*|*default_permissions*allow_other*) ;; *) fail "options $opts lack allow_other/default_permissions" ;; esac
pid=$(pgrep -f "^$DIGESTFS -o mode=off,loglevel=warn" | head -1)
[ -n "$pid" ] || fail "daemon process not found"
if [ -x "$DIGESTCTL" ]; then
  "$DIGESTCTL" status "$T/mnt" > "$T/status" || { cat "$T/status"; fail "digestctl status of a live mount"; }
  grep -q "pid $pid (running)" "$T/status" || { cat "$T/status"; fail "status does not name daemon $pid"; }
  grep -q "mode:       off" "$T/status" || { cat "$T/status"; fail "status does not show mode=off"; }
fi
fusermount3 -u "$T/mnt"
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "daemon still running after fusermount3 -u"
if [ -x "$DIGESTCTL" ]; then
  if "$DIGESTCTL" status "$T/mnt" > /dev/null; then fail "digestctl status of an unmounted dir exits 0"; fi
fi
pass "background mount, fusermount3 -u ends the daemon"

# A mount over its own source keeps seeing (and writing) the lower tree.
self="$T/self"
mkdir -p "$self/sub"
echo lower > "$self/sub/a"
"$DIGESTFS" "$self" "$self" -o mode=off
wait_mounted "$self"
at_exit "unmount '$self'"
assert_eq "$(cat "$self/sub/a")" "lower" "lower content through a self-mount"
echo written > "$self/sub/b"
mkdir "$self/newdir"
findmnt -no FSTYPE "$self" | grep -q fuse.digestfs || fail "self-mount not in place"
unmount "$self"
for i in $(seq 50); do mountpoint -q "$self" || break; sleep 0.1; done
assert_eq "$(cat "$self/sub/b")" "written" "file written through the self-mount, seen in the lower tree"
[ -d "$self/newdir" ] || fail "directory made through the self-mount missing below"
pass "mount over its own source"

# libfuse options that init() must repeat (max_read) mount and serve.
mkdir -p "$T/mr"
head -c 300000 /dev/urandom > "$T/src/mr"
"$DIGESTFS" "$T/src" "$T/mr" -o mode=off,max_read=65536
wait_mounted "$T/mr"
at_exit "unmount '$T/mr'"
cmp "$T/mr/mr" "$T/src/mr" || fail "read through a max_read=65536 mount"
findmnt -no OPTIONS "$T/mr" | grep -q 'max_read=65536' || fail "max_read not applied"
unmount "$T/mr"
pass "max_read"

# fstab: mount(8) -> mount.fuse3 -> digestfs SOURCE MOUNTPOINT -o OPTS. mount.fuse3 runs the
# helper through /bin/sh with the default PATH, so a symlink in /usr/local/sbin points at this build
# for the duration (serialised with other runs, restored afterwards).
exec 9>/tmp/digestfs-fstab-test.lock
flock 9
link=/usr/local/sbin/digestfs
if [ -e "$link" ] || [ -L "$link" ]; then
  if [ -L "$link" ]; then
    old=$(readlink "$link")
    at_exit "ln -sfn '$old' '$link'"
  else
    skip "$link exists and is not a symlink; not replacing it"
  fi
else
  at_exit "rm -f '$link'"
fi
mkdir -p /usr/local/sbin
ln -sfn "$DIGESTFS" "$link"
mkdir -p "$T/fsrc" "$T/fmnt"
echo fstab > "$T/fsrc/x"
printf '%s %s fuse.digestfs mode=off,loglevel=info,tpm=swtpm:host=127.0.0.1\\,port=2321,pcr=12,rw,nodev,nosuid,noatime 0 0\n' \
    "$T/fsrc" "$T/fmnt" > "$T/fstab"
mount -T "$T/fstab" "$T/fmnt" || fail "mount -T fstab failed"
at_exit "unmount '$T/fmnt'"
mountpoint -q "$T/fmnt" || fail "fstab mount not mounted"
assert_eq "$(cat "$T/fmnt/x")" "fstab" "content through the fstab mount"
findmnt -no OPTIONS "$T/fmnt" | grep -q nodev || fail "nodev from fstab not applied"
umount "$T/fmnt" || fail "umount of the fstab mount failed"
for i in $(seq 50); do mountpoint -q "$T/fmnt" || break; sleep 0.1; done
mountpoint -q "$T/fmnt" && fail "still mounted after umount"
# A bad option in fstab makes mount fail.
printf '%s %s fuse.digestfs mode=off,not_an_option 0 0\n' "$T/fsrc" "$T/fmnt" > "$T/fstab"
if mount -T "$T/fstab" "$T/fmnt" 2> "$T/merr"; then fail "mount with a bad option succeeded"; fi
grep -q not_an_option "$T/merr" || { cat "$T/merr" >&2; fail "mount error does not name the option"; }
pass "fstab mount, umount, and a bad fstab option"
pass "fs_mount"
