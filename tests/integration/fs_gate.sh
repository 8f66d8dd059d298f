#!/bin/bash
# The Gate hooks of fs/ through a real mount, with a scripted test Gate (tests/tools/fs_gate_mount):
# opens are checked with the right op (read, write, exec via __FMODE_EXEC), path from the mount
# root and caller uid; a refusal is EACCES; writes, truncates, O_TRUNC, fallocate, rename-over and
# unlink report Changed; the last writer's close reports WriterClosed; with verify=blocks a failed
# CheckRead is EIO; writing a file that runs from the mount is ETXTBSY.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd setpriv fusermount3
TOOL=$BUILD/tests/fs_gate_mount
[ -x "$TOOL" ] || skip "fs_gate_mount not built"
chmod 755 "$T"
EV=$T/events
mkdir -p "$T/lower/dir" "$T/lower/secret" "$T/mnt"
echo hello > "$T/lower/dir/file"
echo nope > "$T/lower/secret/x"
cp /bin/true "$T/lower/dir/prog"
chmod 755 "$T/lower/dir/prog"
head -c 100000 /dev/urandom > "$T/lower/dir/corrupt.bin"
chmod 777 "$T/lower/dir"

start() {
  : > "$EV"
  "$TOOL" "$T/lower" "$T/mnt" "$EV" /secret/ "$@" 2> "$T/tool.err" &
  wait_mounted "$T/mnt"
}
stop() {
  fusermount3 -u "$T/mnt"
  wait
}
at_exit "unmount '$T/mnt'"
expect_event() { grep -qF -- "$1" "$EV" || { cat "$EV" >&2; fail "no Gate event '$1'"; }; }
ino() { stat -c %i "$T/lower/$1"; }

start
cat "$T/mnt/dir/file" > /dev/null
expect_event "open read /dir/file uid=0 gid=0"
setpriv --reuid=65534 --regid=65534 --clear-groups cat "$T/mnt/dir/file" > /dev/null
expect_event "open read /dir/file uid=65534 gid=65534"
if cat "$T/mnt/secret/x" 2> "$T/err"; then fail "a refused open succeeded"; fi
grep -q "Permission denied" "$T/err" || fail "refusal is not EACCES: $(cat "$T/err")"
expect_event "open read /secret/x"
"$T/mnt/dir/prog" || fail "exec through the mount"
expect_event "open exec /dir/prog"
grep -q bad_fd "$EV" && fail "the Gate got an unreadable descriptor"
pass "CheckOpen: read/exec ops, path, caller, EACCES"

f_ino=$(ino dir/file)
echo more >> "$T/mnt/dir/file"
expect_event "open write /dir/file"
expect_event "changed $f_ino"
expect_event "writer_closed $f_ino /dir/file reopened"
: > "$EV"
truncate -s 2 "$T/mnt/dir/file"
expect_event "changed $f_ino"
: > "$EV"
echo x > "$T/mnt/dir/file"   # O_TRUNC
expect_event "changed $f_ino"
: > "$EV"
fallocate -l 1M "$T/mnt/dir/file"
expect_event "changed $f_ino"
echo new > "$T/mnt/dir/new"
: > "$EV"
mv "$T/mnt/dir/new" "$T/mnt/dir/file"
expect_event "changed $f_ino"
n_ino=$(ino dir/file)
: > "$EV"
rm "$T/mnt/dir/file"
expect_event "changed $n_ino"
pass "Changed on write, truncate, O_TRUNC, fallocate, rename over, unlink; WriterClosed"

# ETXTBSY: a file executing from the mount cannot be opened for writing through it.
cp /bin/sleep "$T/lower/dir/sleeper"
"$T/mnt/dir/sleeper" 2 & sp=$!
sleep 0.5
if (echo x >> "$T/mnt/dir/sleeper") 2> "$T/err"; then kill $sp; fail "wrote to a running program"; fi
grep -q "Text file busy" "$T/err" || fail "expected ETXTBSY, got: $(cat "$T/err")"
wait $sp
pass "ETXTBSY for a running program"
stop

# verify=blocks: every read goes through CheckRead.
start blocks
cmp "$T/mnt/dir/prog" "$T/lower/dir/prog" || fail "verified reads differ from the lower file"
if cat "$T/mnt/dir/corrupt.bin" > /dev/null 2> "$T/err"; then fail "read of a corrupt file succeeded"; fi
grep -q "Input/output error" "$T/err" || fail "expected EIO, got: $(cat "$T/err")"
expect_event "read_refused /dir/corrupt.bin"
stop
pass "fs_gate"
