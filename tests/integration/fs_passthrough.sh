#!/bin/bash
# Kernel FUSE passthrough (mode=off, passthrough=auto|always|off): the mount negotiates it, files
# opened in passthrough are read from the lower file itself (not from FUSE page-cache copies), and
# the file behaves exactly as natively when readers, writers, appenders, mmap and truncation mix
# on one inode (the kernel allows one I/O mode per inode). A lower file the daemon cannot open for
# writing (immutable) still reads, and refuses writers as natively. passthrough=auto serves small
# files through the page cache and large ones in passthrough, with the right content when one
# inode changes mode between opens. Then the fsx, fio, POSIX differential and lower-change tests
# run again with every file in passthrough.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd fincore chattr python3 xxd
[ -x "$DIGESTFS" ] || skip "digestfs not built"
mkdir -p "$T/lower" "$T/mnt"

# Resident pages of FILE's page cache (for a file in passthrough, mmap and so fincore see the
# lower file's).
resident() { fincore -n -b -o RES "$1" | tr -d ' '; }
# Whether MNTFILE is read from its lower file LOWERFILE while open (passthrough), rather than from
# pages the FUSE inode cached: reads it (so a page-cache file is cached), opens it, changes the
# lower file's first bytes, and reads them through the open descriptor; then restores them.
passes_through() {
  local old seen
  cat "$1" > /dev/null
  exec 5< "$1"
  old=$(head -c 8 "$2" | xxd -p)
  printf 'PTPROBE!' | dd of="$2" conv=notrunc status=none
  seen=$(head -c 8 <&5)
  exec 5<&-
  printf '%s' "$old" | xxd -r -p | dd of="$2" conv=notrunc status=none
  [ "$seen" = "PTPROBE!" ]
}

# --- Negotiation: the daemon says whether the kernel offered passthrough.
"$DIGESTFS" "$T/lower" "$T/mnt" -f -o mode=off,passthrough=always,loglevel=debug 2> "$T/log" &
at_exit "unmount '$T/mnt'"
wait_mounted "$T/mnt"
for i in $(seq 50); do grep -q 'event=init' "$T/log" && break; sleep 0.1; done
grep -q 'kernel_passthrough=offered' "$T/log" || {
  cat "$T/log" >&2
  skip "this kernel does not offer FUSE passthrough (needs Linux 6.9+ with CONFIG_FUSE_PASSTHROUGH)"
}
pass "kernel offered passthrough"

# --- Reads come from the lower file: the FUSE inode caches nothing.
head -c 3000000 /dev/urandom > "$T/lower/big"
cmp "$T/mnt/big" "$T/lower/big" || fail "passthrough read differs"
passes_through "$T/mnt/big" "$T/lower/big" || fail "passthrough=always: read from the FUSE page cache"
cmp "$T/mnt/big" "$T/lower/big" || fail "passthrough read differs after the probe"
pass "reads pass through"

# --- Readers, writers, appenders, mmap and truncate on one inode at once.
python3 - "$T/mnt/mix" "$T/lower/mix" <<'EOF' || fail "mixed opens on one inode"
import mmap, os, sys
fn, lower = sys.argv[1], sys.argv[2]
with open(lower, "wb") as f:                  # made beneath: no handle of the mount is open yet
    f.write(b"a" * 8192)
r = os.open(fn, os.O_RDONLY)                  # first opener: a reader
# In passthrough: a read after a change beneath sees it (a page-cache reader keeps its pages).
assert os.pread(r, 4, 0) == b"aaaa"
with open(lower, "r+b") as f:
    f.write(b"z")
assert os.pread(r, 4, 0) == b"zaaa", "not in passthrough: " + repr(os.pread(r, 4, 0))
w = os.open(fn, os.O_RDWR)                    # then a writer joins the same inode
a = os.open(fn, os.O_WRONLY | os.O_APPEND)    # and an appender
os.pwrite(w, b"BBBB", 0)
assert os.pread(r, 8, 0) == b"BBBBaaaa", os.pread(r, 8, 0)
os.write(a, b"TAIL")
assert os.fstat(r).st_size == 8196, os.fstat(r).st_size
assert os.pread(r, 4, 8192) == b"TAIL"
m = mmap.mmap(w, 8192)
m[4:8] = b"CCCC"
m.flush()
assert os.pread(r, 8, 0) == b"BBBBCCCC", os.pread(r, 8, 0)
m.close()
# A CREATE that finds the inode open in passthrough must join it: its reply carries the backing
# file too. The kernel sends CREATE for a name it holds a negative entry for (cached for up to
# 1 s): look the name up while it does not exist, then make it a hard link beneath the mount.
assert not os.path.exists(fn + ".link")
os.link(lower, lower + ".link")
c = os.open(fn + ".link", os.O_CREAT | os.O_RDWR, 0o644)
os.pwrite(c, b"DD", 8)
assert os.pread(r, 10, 0) == b"BBBBCCCCDD", os.pread(r, 10, 0)
os.close(c)
os.unlink(fn + ".link")
os.ftruncate(w, 100)
assert os.fstat(r).st_size == 100 and os.stat(fn).st_size == 100
os.fsync(w)
os.close(a); os.close(w); os.close(r)
with open(lower, "rb") as f:
    assert f.read() == b"BBBBCCCCDD" + b"a" * 90
# O_TRUNC on open, read-only and write-only.
fd = os.open(fn, os.O_RDONLY | os.O_TRUNC)
assert os.fstat(fd).st_size == 0
os.close(fd)
with open(fn, "wb") as f:
    f.write(b"x" * 5000)
fd = os.open(fn, os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"new")
os.close(fd)
with open(lower, "rb") as f:
    assert f.read() == b"new"
# SEEK_DATA/SEEK_HOLE, fallocate and fsync still reach the daemon: a writer's own descriptor,
# and a reader's opened when first needed. Holes as the lower file has them.
fd = os.open(fn, os.O_RDWR)
os.ftruncate(fd, 0)
os.pwrite(fd, b"D" * 4096, 1 << 20)
os.posix_fallocate(fd, 4 << 20, 4096)
rd = os.open(fn, os.O_RDONLY)
lo = os.open(lower, os.O_RDONLY)
for h in (fd, rd):
    assert os.lseek(h, 0, os.SEEK_DATA) == os.lseek(lo, 0, os.SEEK_DATA) == 1 << 20
    assert os.lseek(h, 1 << 20, os.SEEK_HOLE) == os.lseek(lo, 1 << 20, os.SEEK_HOLE)
    os.fsync(h)
os.close(lo); os.close(rd); os.close(fd)
print("mixed opens ok")
EOF
pass "mixed opens on one inode"

# A running program through the mount, while others hold the file open.
cp /bin/echo "$T/lower/prog"
exec 8< "$T/mnt/prog"
assert_eq "$("$T/mnt/prog" hello)" "hello" "exec through the mount"
exec 8<&-
pass "exec in passthrough"

# --- A lower file the daemon cannot open for writing: reads pass through, writers are refused
# with the lower file's own error (as natively).
echo "immutable content" > "$T/lower/imm"
chattr +i "$T/lower/imm" || fail "chattr +i on $T/lower (the test needs a file system with inode flags)"
{
  at_exit "chattr -i '$T/lower/imm'"
  exec 9< "$T/mnt/imm"
  assert_eq "$(cat "$T/mnt/imm")" "immutable content" "read of an immutable file"
  open_err() {
    python3 -c 'import errno, os, sys
try:
    os.close(os.open(sys.argv[1], int(sys.argv[2])))
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])' "$@"
  }
  for fl in $((0x401)) $((0x2)) $((0x0)); do  # O_WRONLY|O_APPEND, O_RDWR, O_RDONLY
    assert_eq "$(open_err "$T/mnt/imm" $fl)" "$(open_err "$T/lower/imm" $fl)" "open flags $fl"
  done
  [ "$(open_err "$T/mnt/imm" 2)" = EPERM ] || fail "immutable file opened for writing"
  chattr -i "$T/lower/imm"
  exec 9<&-
  # Append-only, set while a reader holds the file open in passthrough: every writer is checked
  # at its own open, as natively (an appender may, a plain writer may not).
  exec 9< "$T/mnt/imm"
  chattr +a "$T/lower/imm"
  for fl in $((0x401)) $((0x1)) $((0x2)); do  # O_WRONLY|O_APPEND, O_WRONLY, O_RDWR
    assert_eq "$(open_err "$T/mnt/imm" $fl)" "$(open_err "$T/lower/imm" $fl)" "append-only, open flags $fl"
  done
  [ "$(open_err "$T/mnt/imm" $((0x401)))" = ok ] || fail "append-only file refused an appender"
  [ "$(open_err "$T/mnt/imm" 1)" = EPERM ] || fail "append-only file opened for overwriting"
  echo more >> "$T/mnt/imm" || fail "append through the mount"
  chattr -a "$T/lower/imm"
  # Immutable, set while the reader holds it open: a new writer is refused.
  chattr +i "$T/lower/imm"
  [ "$(open_err "$T/mnt/imm" $((0x401)))" = EPERM ] || fail "immutable (set after open) file opened for writing"
  exec 9<&-
  chattr -i "$T/lower/imm"
  assert_eq "$(cat "$T/lower/imm")" "immutable content
more" "content after the append-only case"
  pass "immutable and append-only lower files"
}
unmount "$T/mnt"

# --- passthrough=auto: small files through the page cache, large ones passed through; an inode
# that changes mode between opens never serves stale cached pages.
dfs_mount "$T/lower" "$T/mnt" -o mode=off,passthrough=auto
head -c 4096 /dev/urandom > "$T/lower/small"
cat "$T/mnt/small" > /dev/null
assert_eq "$(resident "$T/mnt/small")" 4096 "auto: small file in the page cache"
passes_through "$T/mnt/small" "$T/lower/small" && fail "auto: small file passed through"
passes_through "$T/mnt/big" "$T/lower/big" || fail "auto: large file not passed through"
# One inode through both modes: cache page 0 of a small file, grow it through the mount past the
# threshold, overwrite page 0 in passthrough, shrink it again: the next (page-cache) open must
# show the new bytes. (Crossing the threshold changes the size, and the kernel drops an inode's
# pages on a size change itself; the daemon also forgets its page-cache stamp on a passthrough
# write.)
printf 'OLD!' | dd of="$T/lower/switch" bs=4096 count=1 conv=sync status=none
head -c 4 "$T/mnt/switch" > /dev/null
head -c 2000000 /dev/zero >> "$T/mnt/switch"
stat "$T/mnt/switch" > /dev/null
printf 'NEW!' | dd of="$T/mnt/switch" conv=notrunc status=none
truncate -s 4096 "$T/mnt/switch"
assert_eq "$(head -c 4 "$T/mnt/switch")" "NEW!" "auto: page cache after a passthrough write"
cmp "$T/mnt/switch" "$T/lower/switch" || fail "auto: content differs after mode switches"
unmount "$T/mnt"
pass "passthrough=auto"

# --- passthrough=off: nothing passes through.
dfs_mount "$T/lower" "$T/mnt" -o mode=off,passthrough=off
passes_through "$T/mnt/big" "$T/lower/big" && fail "passthrough=off: large file passed through"
cat "$T/mnt/big" > /dev/null
[ "$(resident "$T/mnt/big")" -gt 0 ] || fail "passthrough=off: expected the page cache"
unmount "$T/mnt"
pass "passthrough=off"

# --- An overlayfs lower (a container root): the kernel cannot stack passthrough on it at depth
# 1, so its files go through the page cache; reading one must not copy it up.
mkdir -p "$T/ovl/lo" "$T/ovl/up" "$T/ovl/work" "$T/ovl/merged" "$T/ovlmnt"
head -c 2000000 /dev/urandom > "$T/ovl/lo/f"
mount -t overlay overlay -o "lowerdir=$T/ovl/lo,upperdir=$T/ovl/up,workdir=$T/ovl/work" \
  "$T/ovl/merged" || fail "cannot mount overlayfs"
{
  at_exit "umount '$T/ovl/merged'"
  dfs_mount "$T/ovl/merged" "$T/ovlmnt" -o mode=off,passthrough=always
  cmp "$T/ovlmnt/f" "$T/ovl/lo/f" || fail "overlay lower: content"
  [ -z "$(ls -A "$T/ovl/up")" ] || fail "overlay lower: a read copied the file up"
  echo appended >> "$T/ovlmnt/f"
  [ -e "$T/ovl/up/f" ] || fail "overlay lower: a write did not reach the upper layer"
  unmount "$T/ovlmnt"
  pass "overlayfs lower"
}

# --- The data-integrity and POSIX tests again, every file in passthrough.
for t in fs_fsx fs_fio fs_posix fs_lower_changes; do
  rc=0
  DFS_FS_OPTS=mode=off,passthrough=always bash "$(dirname "$0")/$t.sh" "$BUILD" > "$T/$t.out" 2>&1 || rc=$?
  tail -3 "$T/$t.out"
  [ $rc = 77 ] && skip "$t skipped (see above)"
  [ $rc = 0 ] || { cat "$T/$t.out" >&2; fail "$t with passthrough=always (exit $rc)"; }
done
pass "fs_passthrough"
