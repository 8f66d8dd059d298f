#!/bin/bash
# Regressions from the fs/ security review, through a real mount with the scripted test Gate
# (tests/tools/fs_gate_mount, which refuses paths or aliases containing /secret/):
#  - hard links: an open is decided on every known name of the inode (path + aliases), so a link
#    made elsewhere neither replaces the name the Gate sees, nor leaves it empty once removed;
#  - O_TRUNC: a refused open leaves the file's content alone;
#  - create: a refused create leaves no file behind;
#  - a read open while the inode has writers through the mount logs open_writers;
#  - a directory or file moved beneath the mount is decided by its true path, never by the name it
#    was first seen by (issue 14, bypass 2), also when reached through the kernel's cached name.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd fusermount3
TOOL=$BUILD/tests/fs_gate_mount
[ -x "$TOOL" ] || skip "fs_gate_mount not built"
EV=$T/events
mkdir -p "$T/lower/dir" "$T/lower/secret" "$T/mnt"
echo protected > "$T/lower/secret/lib"
echo precious > "$T/lower/secret/keep"
echo plain > "$T/lower/dir/plain"

"$TOOL" "$T/lower" "$T/mnt" "$EV" /secret/ 2> "$T/tool.err" &
wait_mounted "$T/mnt"
at_exit "unmount '$T/mnt'"
expect_event() { grep -qF -- "$1" "$EV" || { cat "$EV" >&2; fail "no Gate event '$1'"; }; }
refused() { ! cat "$1" > /dev/null 2>&1; }

# 1. Hard-link aliasing.
refused "$T/mnt/secret/lib" || fail "the test Gate does not refuse /secret/"
ln "$T/mnt/secret/lib" "$T/mnt/dir/alias"
: > "$EV"
refused "$T/mnt/secret/lib" || { cat "$EV" >&2; fail "open of /secret/lib decided as its new link /dir/alias"; }
expect_event "open read /secret/lib "
expect_event "aliases=/dir/alias"
refused "$T/mnt/dir/alias" || fail "open through the link /dir/alias escaped /secret/lib's decision"
rm "$T/mnt/dir/alias"
: > "$EV"
refused "$T/mnt/secret/lib" || { cat "$EV" >&2; fail "open of /secret/lib allowed after its link was removed"; }
expect_event "open read /secret/lib "
# Renamed: the old name is gone, the new one known.
mv "$T/mnt/dir/plain" "$T/mnt/dir/plain2"
: > "$EV"
cat "$T/mnt/dir/plain2" > /dev/null || fail "renamed file refused"
expect_event "open read /dir/plain2 "
grep -q "/dir/plain " "$EV" && fail "stale name after rename"
# Every name unlinked while open: a reopen carries no path (the Gate must be strictest).
exec 3< "$T/mnt/dir/plain2"
rm "$T/mnt/dir/plain2"
: > "$EV"
cat /proc/self/fd/3 > /dev/null || fail "reopen through /proc of an unlinked file"
exec 3<&-
expect_event "open read  uid=0"
pass "hard links: path + aliases; no stale or lost names"

# 2. O_TRUNC is applied only after the Gate allows the open.
if (echo x > "$T/mnt/secret/keep") 2> /dev/null; then fail "refused O_TRUNC open succeeded"; fi
assert_eq "$(cat "$T/lower/secret/keep")" precious "content after a refused O_TRUNC open"
echo y > "$T/mnt/dir/trunc"
echo z > "$T/mnt/dir/trunc"
assert_eq "$(cat "$T/lower/dir/trunc")" z "allowed O_TRUNC open"
pass "refused O_TRUNC leaves the file alone"

# 3. A refused create removes the file it created.
if (echo x > "$T/mnt/secret/new") 2> /dev/null; then fail "refused create succeeded"; fi
[ -e "$T/lower/secret/new" ] && fail "a refused create left the file behind"
if (set -o noclobber; echo x > "$T/mnt/secret/new2") 2> /dev/null; then fail "refused O_EXCL create succeeded"; fi
[ -e "$T/lower/secret/new2" ] && fail "a refused O_EXCL create left the file behind"
[ -e "$T/lower/secret/keep" ] || fail "a refused open removed an existing file"
pass "refused create leaves nothing behind"
# 4. A read open while the file is open for writing through the mount is logged (open_writers).
grep -q open_writers "$T/tool.err" && fail "open_writers logged without writers"
exec 4>> "$T/mnt/dir/trunc"
cat "$T/mnt/dir/trunc" > /dev/null || fail "read while a writer holds the file"
exec 4>&-
grep -q "event=open_writers" "$T/tool.err" || fail "no open_writers event for a read open with a writer"
pass "open_writers logged"

# 5. Moves beneath the mount (issue 14, bypass 2).
mkdir -p "$T/lower/tmp/d"
echo lib > "$T/lower/tmp/d/libx.so"
echo moved > "$T/lower/dir/moved"
cat "$T/mnt/tmp/d/libx.so" > /dev/null || fail "/tmp/d/libx.so refused before the move"
cat "$T/mnt/dir/moved" > /dev/null || fail "/dir/moved refused before the move"
mv "$T/lower/tmp/d" "$T/lower/secret/d"
mv "$T/lower/dir/moved" "$T/lower/secret/moved"
: > "$EV"
# Through the name the kernel still caches (/tmp/d): decided at the true path.
refused "$T/mnt/tmp/d/libx.so" || { cat "$EV" >&2; fail "a moved directory's file reached through its cached old name was allowed"; }
expect_event "open read /secret/d/libx.so "
grep -q "/tmp/d/libx.so" "$EV" && { cat "$EV" >&2; fail "the old path of a moved directory was given to the Gate"; }
# Through its new name (the kernel then moves its cached directory entry there).
: > "$EV"
refused "$T/mnt/secret/d/libx.so" || { cat "$EV" >&2; fail "a directory moved beneath: its file decided by the directory's old name"; }
expect_event "open read /secret/d/libx.so "
grep -q "/tmp/d/libx.so" "$EV" && { cat "$EV" >&2; fail "the old path of a moved directory was given to the Gate"; }
# A file moved beneath, reached through its cached old name: the old name is not presented as its
# path (path empty: the Gate decides as strictly as any path could).
: > "$EV"
cat "$T/mnt/dir/moved" > /dev/null 2>&1 || true
expect_event "open read  uid=0"
expect_event "aliases=/dir/moved"
# Its new name looked up: the only path of a single-link file.
: > "$EV"
refused "$T/mnt/secret/moved" || { cat "$EV" >&2; fail "a file moved beneath into /secret/ was allowed"; }
expect_event "open read /secret/moved uid=0 gid=0 ino=$(stat -c %i "$T/lower/secret/moved") aliases="
pass "moves beneath the mount: decided by the true path"
pass "fs_gate_security"
