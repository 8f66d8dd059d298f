#!/bin/bash
# Issue 14, bypass 4: reads through a read-write descriptor. An open with read access (O_RDONLY or
# O_RDWR) is appraised for its read side like a read (docs/policy.md, "Opens for reading and
# writing"): an unlisted library opened O_RDWR in an appraised tree is refused, so it can be
# neither read nor mapped executable through it; a listed one is served; a write-only open, an
# O_RDWR open that creates or truncates the file, and mutable paths keep working, and content
# written through the mount at a mutable path is trusted afterwards (re-trust). About 10 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd python3
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/enforce.sh"

ef_key
s=$(ef_stage rdwr)
mkdir -p "$s/usr/lib/rdwr"
head -c 20000 /dev/urandom > "$s/usr/lib/rdwr/liblisted.so"
PKG=$(ef_package rdwr 1.0 "$s")
ROOT=$T/root
ef_install "$ROOT" "$PKG"
ef_store "$T/store" "$ROOT"
head -c 20000 /dev/urandom > "$ROOT/usr/lib/rdwr/libunlisted.so"
echo "unlisted data" > "$ROOT/usr/lib/rdwr/wo.dat"
echo "unlisted data" > "$ROOT/usr/lib/rdwr/trunc.dat"
mkdir -p "$ROOT/etc" "$ROOT/srv"
echo "a=1" > "$ROOT/etc/app.conf"
echo "changed beneath" > "$ROOT/srv/state.db"
# /srv is appraised and mutable: a first-match family decision needs the /srv rule first.
{ echo "appraise op=read path=/srv/** mutable"; "$DIGESTCTL" policy default; } > "$T/policy"
mkdir -p "$T/mnt"
dfs_mount_fg "$ROOT" "$T/mnt" "$T/log" "store=$T/store,policy=$T/policy,mode=enforce,loglevel=info"
M=$T/mnt

# Prints "ok" or the errno name. OPS: rdwr-exec (O_RDWR, read, mmap PROT_EXEC), rdonly,
# wronly (write a byte), rdwr-create, rdwr-trunc, rdwr-write (write the second argument), rdwr-read.
fop() {
  python3 - "$@" <<'PY'
import errno, mmap, os, sys
op, path = sys.argv[1], sys.argv[2]
try:
    if op == "rdwr-exec":
        fd = os.open(path, os.O_RDWR)
        assert len(os.read(fd, 4096)) > 0
        m = mmap.mmap(fd, 4096, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_EXEC)
        m.close(); os.close(fd)
    elif op == "rdonly":
        os.close(os.open(path, os.O_RDONLY))
    elif op == "wronly":
        fd = os.open(path, os.O_WRONLY | os.O_APPEND); os.write(fd, b"x"); os.close(fd)
    elif op == "rdwr-create":
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, sys.argv[3].encode()); os.lseek(fd, 0, 0)
        assert os.read(fd, 100) == sys.argv[3].encode(); os.close(fd)
    elif op == "rdwr-trunc":
        fd = os.open(path, os.O_RDWR | os.O_TRUNC); os.write(fd, b"new"); os.close(fd)
    elif op == "rdwr-read":
        fd = os.open(path, os.O_RDWR); os.read(fd, 100); os.close(fd)
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PY
}

assert_eq "$(fop rdwr-exec "$M/usr/lib/rdwr/libunlisted.so")" EACCES \
  "O_RDWR open + read + mmap PROT_EXEC of an unlisted library in /usr/lib"
grep -q 'refused path="/usr/lib/rdwr/libunlisted.so" op=write .*verdict=unknown' "$T/log" ||
  { cat "$T/log" >&2; fail "no refusal line for the O_RDWR open"; }
assert_eq "$(fop rdonly "$M/usr/lib/rdwr/libunlisted.so")" EACCES "O_RDONLY of the unlisted library"
assert_eq "$(fop rdwr-exec "$M/usr/lib/rdwr/liblisted.so")" ok "O_RDWR + mmap PROT_EXEC of a listed library"
pass "O_RDWR of an unlisted library in an appraised tree is refused, of a listed one served"

assert_eq "$(fop wronly "$M/usr/lib/rdwr/wo.dat")" ok "O_WRONLY of an unlisted file in /usr/lib"
assert_eq "$(fop rdwr-create "$M/usr/lib/rdwr/new.dat" fresh)" ok "O_RDWR|O_CREAT of a new file in /usr/lib"
assert_eq "$(fop rdwr-trunc "$M/usr/lib/rdwr/trunc.dat")" ok "O_RDWR|O_TRUNC of an unlisted file in /usr/lib"
assert_eq "$(fop rdwr-read "$M/etc/app.conf")" ok "O_RDWR of an unlisted file under /etc (audited, mutable)"
pass "write-only, creating and truncating opens, and mutable audited paths keep working"

assert_eq "$(fop rdwr-read "$M/srv/state.db")" EACCES "O_RDWR of content changed beneath at an appraised mutable path"
assert_eq "$(fop rdwr-create "$M/srv/new.db" written-through-the-mount)" ok "O_RDWR|O_CREAT at /srv"
for i in $(seq 50); do grep -q 'retrusted path="/srv/new.db"' "$T/log" && break; sleep 0.1; done
assert_eq "$(fop rdwr-read "$M/srv/new.db")" ok "O_RDWR of content written through the mount at a mutable path"
pass "a mutable appraised path: changes beneath refused, content written through the mount trusted"
pass "enforce_rdwr"
