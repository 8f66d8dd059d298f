#!/bin/bash
# Issue 14, bypass 3: FIFOs, sockets and device nodes at appraised paths. FUSE sends no OPEN for
# them (the kernel serves them itself), so the Gate never sees their use: a FIFO at
# /usr/share/x.txt served whatever its writer sent, a device node there whatever its device
# holds. Under an enforcing mount with the default policy (reads under /usr are appraised), such
# a node is refused by name (LOOKUP, mknod, link and rename answer EACCES), made beneath the mount
# or through it by root; the same nodes under /tmp and /dev (not appraised) keep working. About 5 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd python3 mkfifo mknod timeout
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
ROOT=$T/root
mkdir -p "$ROOT/usr/share" "$ROOT/tmp" "$ROOT/dev" "$T/mnt"
chmod 1777 "$ROOT/tmp"
echo "a listed-looking text" > "$ROOT/usr/share/plain.txt"
# Beneath the mount, at an appraised path.
mkfifo "$ROOT/usr/share/fifo.txt"
mknod "$ROOT/usr/share/null.txt" c 1 3
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$ROOT/usr/share/sock"
"$DIGESTCTL" --store "$T/store" init > /dev/null || fail "digestctl init"
dfs_mount_fg "$ROOT" "$T/mnt" "$T/log" "store=$T/store,mode=enforce,loglevel=info"
M=$T/mnt

# Python prints the errno name of an operation's failure, or "ok".
pyop() {
  python3 - "$@" <<'PY'
import errno, os, socket, sys
op, path = sys.argv[1], sys.argv[2]
try:
    if op == "bind":
        socket.socket(socket.AF_UNIX).bind(path)
    elif op == "connect":
        socket.socket(socket.AF_UNIX).connect(path)
    elif op == "serve":  # bind, connect to it through the same path, exchange a byte
        s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(1)
        c = socket.socket(socket.AF_UNIX); c.connect(path); a, _ = s.accept()
        c.send(b"x"); assert a.recv(1) == b"x"
    elif op == "stat":
        os.stat(path)
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PY
}

# A FIFO fed through the mount, read through the mount: prints what the reader got.
fifo_feed() {
  ( timeout 5 sh -c "echo evil > '$1'" 2> /dev/null & )
  timeout 5 cat "$1" 2> "$T/err" || true
}

ls "$M/usr/share" > "$T/ls" || fail "ls of /usr/share failed"
for n in fifo.txt null.txt sock plain.txt; do
  grep -qx "$n" "$T/ls" || { cat "$T/ls" >&2; fail "ls no longer lists /usr/share/$n"; }
done
pass "ls lists the special nodes under /usr/share (stat of them is refused)"

# 1. Made beneath the mount, at appraised paths.
got=$(fifo_feed "$M/usr/share/fifo.txt")
[ -z "$got" ] || fail "a FIFO beneath the mount at /usr/share/fifo.txt served '$got'"
grep -q "Permission denied" "$T/err" || fail "the FIFO at /usr/share/fifo.txt: not EACCES: $(cat "$T/err")"
if head -c 16 "$M/usr/share/null.txt" > /dev/null 2> "$T/err"; then
  fail "a char device (1,3) beneath the mount at /usr/share/null.txt was readable"
fi
grep -q "Permission denied" "$T/err" || fail "the device at /usr/share/null.txt: not EACCES: $(cat "$T/err")"
assert_eq "$(pyop connect "$M/usr/share/sock")" EACCES "connect to a socket at /usr/share/sock"
grep -q 'refused path="/usr/share/fifo.txt" op=read .*rule=[0-9]' "$T/log" ||
  { cat "$T/log" >&2; fail "no refusal line naming /usr/share/fifo.txt and its rule"; }
pass "FIFO, device and socket made beneath the mount at appraised paths are refused"

# 2. Made through the mount by root, at appraised paths.
mkfifo "$M/usr/share/fifo2.txt" 2> "$T/err" && fail "mkfifo through the mount at /usr/share succeeded"
grep -q "Permission denied" "$T/err" || fail "mkfifo at /usr/share: not EACCES: $(cat "$T/err")"
mknod "$M/usr/share/null2" c 1 3 2> "$T/err" && fail "mknod c 1 3 through the mount at /usr/share succeeded"
grep -q "Permission denied" "$T/err" || fail "mknod at /usr/share: not EACCES: $(cat "$T/err")"
assert_eq "$(pyop bind "$M/usr/share/sock2")" EACCES "bind of a socket through the mount at /usr/share"
[ ! -e "$ROOT/usr/share/fifo2.txt" ] && [ ! -e "$ROOT/usr/share/null2" ] && [ ! -e "$ROOT/usr/share/sock2" ] ||
  fail "a refused mknod left its node in the lower tree"
# Made where it is allowed, then moved or linked to an appraised path through the mount.
mkfifo "$M/tmp/f3" || fail "mkfifo through the mount at /tmp"
mv "$M/tmp/f3" "$M/usr/share/f3.txt" 2> "$T/err" && fail "rename of a FIFO from /tmp to /usr/share succeeded"
grep -q "Permission denied" "$T/err" || fail "rename to /usr/share: not EACCES: $(cat "$T/err")"
ln "$M/tmp/f3" "$M/usr/share/f4.txt" 2> "$T/err" && fail "link of a FIFO from /tmp to /usr/share succeeded"
grep -q "Permission denied" "$T/err" || fail "link to /usr/share: not EACCES: $(cat "$T/err")"
pass "mknod, socket bind, rename and link of special nodes to appraised paths are refused"

# 3. A directory moved beneath the mount carries its FIFO into an appraised tree.
mkdir "$ROOT/tmp/d" && mkfifo "$ROOT/tmp/d/pipe"
got=$(fifo_feed "$M/tmp/d/pipe")
assert_eq "$got" evil "a FIFO under /tmp (not appraised) through the mount"
mv "$ROOT/tmp/d" "$ROOT/usr/share/d"
got=$(fifo_feed "$M/usr/share/d/pipe")
[ -z "$got" ] || fail "a FIFO moved beneath the mount into /usr/share served '$got'"
pass "a FIFO moved beneath the mount into /usr/share is refused"

# 4. The same where the policy does not appraise reads (/tmp, /dev): everything works.
mkfifo "$M/tmp/fifo" || fail "mkfifo through the mount at /tmp"
assert_eq "$(fifo_feed "$M/tmp/fifo")" evil "a FIFO at /tmp through the mount"
mknod "$M/dev/null" c 1 3 || fail "mknod c 1 3 through the mount at /dev"
head -c 16 "$M/dev/null" > /dev/null || fail "reading /dev/null through the mount"
echo x > "$M/dev/null" || fail "writing /dev/null through the mount"
mknod "$ROOT/tmp/null" c 1 3
head -c 16 "$M/tmp/null" > /dev/null || fail "reading a device made beneath at /tmp"
assert_eq "$(pyop serve "$M/tmp/sock")" ok "a socket bound and connected through the mount at /tmp"
assert_eq "$(pyop stat "$M/usr/share/plain.txt")" ok "stat of a regular file at /usr/share"
pass "FIFOs, sockets and devices under /tmp and /dev work"
pass "enforce_special_files"
