#!/bin/bash
# Issue 14, bypass 1: content changed beneath the mount without a stamp change. A writer of the
# lower tree maps a listed library MAP_SHARED read-write and dirties a page before the library is
# first verified through the mount (the kernel updates mtime/ctime at that first write fault
# only). The library is then hashed and allowed. The writer now changes bytes through the same,
# still dirty, mapping: size, mtime and ctime stay those the daemon hashed, so the stamp says
# "unchanged". A later read through the mount (a new open, the mount's page cache for the file
# dropped with fadvise) must not be served the new bytes. A second round rewrites the file with
# plain write(2) while a reader holds it open and restores mtime with touch -d. Mounted with
# mode=enforce and the default policy; verify=$DFS_VERIFY (default: blocks). With DFS_VERIFY=open
# this test fails: verify=open trusts the stamp and serves the swapped bytes. About 5 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd python3
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/enforce.sh"
VERIFY=${DFS_VERIFY:-blocks}

ef_key
s=$(ef_stage sw)
mkdir -p "$s/usr/lib/sw"
head -c 300000 /dev/urandom > "$T/orig"
cp "$T/orig" "$s/usr/lib/sw/libsw.so"
PKG=$(ef_package sw 1.0 "$s")
ROOT=$T/root
ef_install "$ROOT" "$PKG"
ef_store "$T/store" "$ROOT"
M=$T/mnt
mkdir -p "$M"
L=$ROOT/usr/lib/sw/libsw.so
F=$M/usr/lib/sw/libsw.so

# The writer: maps the lower file shared and dirties the page at offset 70000 (same bytes), then waits for "go" on
# stdin, then writes a marker at offset 70000 through the mapping (no msync: no new time stamp).
mkfifo "$T/ctl"
cat > "$T/writer.py" <<'PY'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[70000:70016] = m[70000:70016]
print("dirty", flush=True)
sys.stdin.readline()
m[70000:70000 + 16] = b"SWAPPED-BENEATH!"
print("swapped", flush=True)
sys.stdin.readline()
PY
python3 "$T/writer.py" "$L" < "$T/ctl" > "$T/writer.out" 2>&1 &
wpid=$!
exec 5> "$T/ctl"
at_exit "exec 5>&-; kill $wpid 2>/dev/null; wait $wpid 2>/dev/null"
for i in $(seq 50); do grep -q dirty "$T/writer.out" && break; sleep 0.1; done
grep -q dirty "$T/writer.out" || fail "writer did not start: $(cat "$T/writer.out")"

"$DIGESTFS" "$ROOT" "$M" -f -o "store=$T/store,mode=enforce,verify=$VERIFY,loglevel=info" 2> "$T/log" &
pid=$!
at_exit "unmount '$M'; wait $pid 2>/dev/null"
wait_mounted "$M"

cmp -s "$F" "$T/orig" || { cat "$T/log" >&2; fail "the listed library is not served before the swap"; }
pass "listed library verified and served (verify=$VERIFY)"

st1=$(stat -c '%s %Y.%y %Z.%z' "$L")
echo go >&5
for i in $(seq 50); do grep -q swapped "$T/writer.out" && break; sleep 0.1; done
grep -q swapped "$T/writer.out" || fail "writer did not swap: $(cat "$T/writer.out")"
st2=$(stat -c '%s %Y.%y %Z.%z' "$L")
[ "$st1" == "$st2" ] || skip "the mapping write changed the stamp ($st1 -> $st2): not this attack"
grep -q SWAPPED-BENEATH "$L" || fail "the lower file does not hold the swapped bytes"

# Drop the mount's cached pages of the file, so the kernel must ask the daemon for bytes again.
python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)' "$F" 2>/dev/null || true
cat "$F" > "$T/got" 2> "$T/err" || true
grep -q SWAPPED-BENEATH "$T/got" && fail "verify=$VERIFY: bytes swapped beneath the mount without a stamp change were served"
cmp -s "$T/got" "$T/orig" || [ -s "$T/err" ] || fail "read returned other bytes without an error"
pass "swap through a shared mapping (stamp unchanged): the new bytes are not served"
echo done >&5

# Round 2: a reader holds the library open; the file is rewritten with write(2) and its mtime put
# back with touch -d. The held descriptor must not be served the new bytes either.
cp "$T/orig" "$L"
rm -f "$T/ctl"
python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)' "$F" 2>/dev/null || true
exec 3< "$F"
dd bs=4096 count=1 status=none <&3 > /dev/null || fail "first read of the restored library"
mt=$(stat -c %y "$L")
printf 'REWRITTEN-BENEATH' | dd of="$L" bs=1 seek=200000 conv=notrunc status=none
touch -d "$mt" "$L"
python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)' "$F" 2>/dev/null || true
cat <&3 > "$T/got2" 2> "$T/err2" || true
exec 3<&-
grep -q REWRITTEN-BENEATH "$T/got2" && fail "verify=$VERIFY: a rewrite beneath (mtime restored) was served to a held reader"
pass "rewrite beneath with mtime restored: a held reader is not served the new bytes"
cat "$F" > "$T/got3" 2> /dev/null || true
grep -q REWRITTEN-BENEATH "$T/got3" && fail "verify=$VERIFY: a rewrite beneath was served to a new open"
pass "enforce_swap_beneath (verify=$VERIFY)"
