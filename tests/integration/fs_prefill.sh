#!/bin/bash
# An open pushes a small file's bytes into the kernel's page cache itself (docs/mount.md,
# "Caching and consistency"), so that the first read costs no READ round trip. Under
# mode=enforce with verify=blocks, over a signed manifest store, on a fresh mount:
# - files of 1 to 131072 bytes (page and block edges) read back exactly, by read(2) and by mmap,
#   and cost no READ request (the daemon's counters); a file of 131073 bytes does cost READs
#   (above prefill's limit), which shows that the count can fail; each first open pushed the
#   bytes its own hash read (counter hashed_bytes_reused), not a second read of the file;
# - a file replaced beneath the mount by the content of another listed file, shorter, is served
#   as the new content at the next open (the pages of the old one are not kept), and one replaced
#   by unlisted content is refused;
# - a reader holding a prefilled file open while its bytes change beneath the mount never
#   receives the changed bytes: once its pages are dropped, its next read is EIO;
# - many readers opening the same small files at once on a fresh mount (prefills racing with
#   other opens of the same inode) all read the exact bytes, within a time limit (no hang);
# - mode=off: the same exact bytes and no READ request.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd openssl jq python3 timeout
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

S=$T/store
L=$T/lower
D=$L/usr/lib/pf
mkdir -p "$D" "$T/orig"
SIZES="1 100 4095 4096 4097 65535 65536 65537 100000 131072"
for n in $SIZES 131073; do head -c "$n" /dev/urandom >"$D/f$n"; cp "$D/f$n" "$T/orig/f$n"; done
for i in $(seq 40); do head -c $((i * 1000 + 7)) /dev/urandom >"$D/many$i"; done
cp "$D"/many* "$T/orig/"
dfs_manifest_store "$S" "$L" pf
echo 'appraise op=read path=/usr/**' >"$T/policy"

# reads MNT: the daemon's READ count, once its published status has settled (SIGUSR1 publishes).
reads() {
  local pid=$1 mnt=$2 n=-1 prev=-2 i
  for i in $(seq 30); do
    kill -USR1 "$pid"
    sleep 0.1
    prev=$n
    n=$("$DIGESTCTL" status "$mnt" --json | jq -r '.daemon.fuse_requests.read // 0')
    [ "$n" = "$prev" ] && break
  done
  echo "$n"
}

M=$T/mnt
dfs_mount_fg "$L" "$M" "$T/log" "store=$S,policy=$T/policy,verify=blocks,status_interval=0"
PID=$DFS_PID
P=$M/usr/lib/pf
for n in $SIZES; do
  cmp "$P/f$n" "$T/orig/f$n" || { cat "$T/log" >&2; fail "f$n not served exactly"; }
done
assert_eq "$(reads "$PID" "$M")" 0 "READ requests for the first reads of files up to 128 KiB"
# Each was hashed on the session thread as its open was decided (small, in the lower page cache),
# and its prefill pushed those very bytes: no second open, read or block check of the lower file.
assert_eq "$("$DIGESTCTL" status "$M" --json | jq -r '.daemon.counters.hashed_bytes_reused // 0')" \
  10 "prefills served from the bytes their open's hash read"
for n in $SIZES; do
  python3 -c 'import mmap,sys
with open(sys.argv[1], "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
    sys.stdout.buffer.write(m[:])' "$P/f$n" | cmp -s - "$T/orig/f$n" || fail "mmap of f$n differs"
done
cmp "$P/f131073" "$T/orig/f131073" || fail "f131073 not served exactly"
r=$(reads "$PID" "$M")
[ "$r" -ge 1 ] || fail "a file above the prefill limit cost no READ ($r): the count cannot see READs"
pass "prefilled first reads: exact bytes, no READ round trip (a larger file: $r READs)"

# Replaced beneath the mount by a shorter listed content (same inode: written in place).
cat "$T/orig/f4097" >"$D/f65537"
cmp "$P/f65537" "$T/orig/f4097" || fail "f65537 rewritten beneath as f4097's bytes: not served so"
python3 -c 'import mmap,sys
with open(sys.argv[1], "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
    sys.stdout.buffer.write(m[:])' "$P/f65537" | cmp -s - "$T/orig/f4097" ||
  fail "mmap of f65537 after the rewrite beneath differs"
# Unlisted content: refused at the next open.
head -c 4096 /dev/urandom >"$D/f4096"
if cat "$P/f4096" >/dev/null 2>&1; then fail "unlisted content beneath served"; fi
pass "changes beneath the mount between opens: new listed content served exactly, unlisted refused"

# A reader holds a prefilled file open; its bytes change beneath the mount (same size);
# its pages are dropped, so its next read is a fill, checked against the open's block digests:
# EIO, never the changed bytes.
exec 3<"$P/f100000"
at_exit "exec 3<&-"
head -c 10 <&3 >/dev/null || fail "first read of f100000"
printf 'CHANGED-BENEATH' | dd of="$D/f100000" bs=1 seek=70000 conv=notrunc status=none
python3 -c 'import os; os.posix_fadvise(3, 0, 0, os.POSIX_FADV_DONTNEED)' <&3 || fail "fadvise"
# Short reads are looped over: the verified first block comes back, then the changed one is EIO.
if python3 -c 'import os,sys
off = 0
while True:
    d = os.pread(3, 100000 - off, off)
    if not d:
        break
    sys.stdout.buffer.write(d)
    off += len(d)' <&3 >"$T/got" 2>"$T/err"; then
  fail "a read of bytes changed beneath an open reader succeeded"
fi
grep -q "Input/output error" "$T/err" || fail "expected EIO, got: $(cat "$T/err")"
grep -q CHANGED-BENEATH "$T/got" && fail "the reader received the changed bytes"
exec 3<&-
pass "a change beneath an open prefilled reader: EIO, never the changed bytes"
unmount "$M"

# Many readers at once on a fresh mount: prefills race with other opens of the same inodes.
for opts in "" ",mt_loop"; do
  M2=$T/mnt2
  dfs_mount_fg "$L" "$M2" "$T/log2" "store=$S,policy=$T/policy,verify=blocks$opts"
  readers=()
  for j in 1 2 3 4 5 6 7 8; do
    (for i in $(seq 40); do
      timeout 60 cmp -s "$M2/usr/lib/pf/many$i" "$T/orig/many$i" || echo "many$i" >>"$T/bad"
    done) &
    readers+=($!)
  done
  wait "${readers[@]}"  # not the daemon, also a child of this shell
  [ -e "$T/bad" ] && fail "concurrent first reads ($opts) differ: $(sort -u "$T/bad" | head -3)"
  unmount "$M2"
done
pass "8 concurrent readers of 40 files on fresh mounts (default loop and mt_loop): exact"

M3=$T/mnt3
dfs_mount_fg "$L" "$M3" "$T/log3" "mode=off,status_interval=0"
for n in 1 4097 65536 131072; do
  cmp "$M3/usr/lib/pf/f$n" "$D/f$n" || fail "mode=off: f$n not served exactly"
done
assert_eq "$(reads "$DFS_PID" "$M3")" 0 "mode=off: READ requests for files up to 128 KiB"
pass "fs_prefill"
