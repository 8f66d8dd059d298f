#!/bin/bash
# Issue 14, bypass 1: content changed beneath the mount without a stamp change. Mounted with the
# DEFAULT options (mode=enforce, the default policy, no verify=): every page the kernel fills from
# the lower file must be checked against the block digests of the verified content, so bytes
# changed beneath the mount are never served, whatever the stamps say.
#  1. A writer of the lower tree maps a listed library MAP_SHARED read-write and dirties a page
#     before the library is first verified (the kernel updates mtime/ctime at that first write
#     fault only). The library is hashed and allowed; the writer then changes bytes through the
#     same dirty mapping: size, mtime and ctime stay those hashed. A new open (the mount's pages
#     dropped) must not be served the new bytes.
#  2. The same with a listed program: swapped through a shared mapping after a verified exec, then
#     `echo 3 > /proc/sys/vm/drop_caches`: exec and read through the mount fail or serve the
#     verified bytes, never the new ones.
#  3. A reader holds the library open; it is rewritten with write(2) and its mtime put back.
#  4. A rewrite racing opens: for 3 s the program is rewritten in place beneath the mount,
#     alternating listed and unlisted content, while it is executed through the mount: no run
#     prints the unlisted content.
#  5. A legitimate change beneath WITH a stamp change is decided again: listed content is served,
#     unlisted content refused.
# DFS_VERIFY=open runs the same against verify=open, which fails (it trusts the stamp). About 15 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd python3 cc
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/enforce.sh"
OPTS="store=$T/store,loglevel=info"
[ -n "${DFS_VERIFY:-}" ] && OPTS="$OPTS,verify=$DFS_VERIFY"
LABEL="default options${DFS_VERIFY:+ + verify=$DFS_VERIFY}"

# A program that prints a marker kept in a 300 KB read-only array (so it lies in a later 64 KiB
# block than the ELF headers). Its unlisted twin differs only in the marker.
cat > "$T/prog.c" <<'C'
#include <stdio.h>
static const char blob[300000] = "MARK:ORIGINAL-PROGRAM-BYTES";
int main(void) { puts(blob); return 0; }
C
cc -O1 -o "$T/prog" "$T/prog.c" || skip "cannot compile a test program"
moff=$(grep -abo 'MARK:ORIGINAL-PROGRAM-BYTES' "$T/prog" | head -1 | cut -d: -f1)
[ -n "$moff" ] || fail "marker not found in the test program"
cp "$T/prog" "$T/prog.evil"
printf 'MARK:SWAPPEDPROGRAM-BYTES!!' | dd of="$T/prog.evil" bs=1 seek="$moff" conv=notrunc status=none
"$T/prog" | grep -q ORIGINAL || fail "the test program does not run natively"

ef_key
s=$(ef_stage sw)
mkdir -p "$s/usr/lib/sw" "$s/usr/bin"
head -c 300000 /dev/urandom > "$T/orig"
head -c 200000 /dev/urandom > "$T/other"
cp "$T/orig" "$s/usr/lib/sw/libsw.so"
cp "$T/other" "$s/usr/lib/sw/other.so"
cp "$T/prog" "$s/usr/bin/swprog"
chmod 755 "$s/usr/bin/swprog"
PKG=$(ef_package sw 1.0 "$s")
ROOT=$T/root
ef_install "$ROOT" "$PKG"
ef_store "$T/store" "$ROOT"
M=$T/mnt
mkdir -p "$M"
L=$ROOT/usr/lib/sw/libsw.so
F=$M/usr/lib/sw/libsw.so
LP=$ROOT/usr/bin/swprog
FP=$M/usr/bin/swprog

# The writer: maps each lower file shared and dirties the page at the given offset (same bytes),
# prints "dirty", then on each line "go" from stdin writes the marker through the mapping (no
# msync: no new time stamp) and prints "swapped".
mkfifo "$T/ctl"
cat > "$T/writer.py" <<'PY'
import mmap, os, sys
maps = []
for spec in sys.argv[1:]:
    path, off, marker = spec.split(":", 2)
    fd = os.open(path, os.O_RDWR)
    m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    off = int(off)
    m[off:off + len(marker)] = m[off:off + len(marker)]
    maps.append((m, off, marker.encode()))
print("dirty", flush=True)
for m, off, marker in maps:
    sys.stdin.readline()
    m[off:off + len(marker)] = marker
    print("swapped", flush=True)
sys.stdin.readline()
PY
python3 "$T/writer.py" "$L:70000:SWAPPED-BENEATH!" "$LP:$moff:MARK:SWAPPEDPROGRAM-BYTES!!" \
  < "$T/ctl" > "$T/writer.out" 2>&1 &
wpid=$!
exec 5> "$T/ctl"
at_exit "exec 5>&-; kill $wpid 2>/dev/null; wait $wpid 2>/dev/null"
for i in $(seq 50); do grep -q dirty "$T/writer.out" && break; sleep 0.1; done
grep -q dirty "$T/writer.out" || fail "writer did not start: $(cat "$T/writer.out")"

"$DIGESTFS" "$ROOT" "$M" -f -o "$OPTS" 2> "$T/log" &
pid=$!
# Cleanup, last registered first: close every descriptor this shell may hold on the mount (a
# failed read leaves one open and keeps the mount busy), unmount, then wait at most 10 s for the
# daemon before killing it.
at_exit "unmount '$M'; for i in \$(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null"
at_exit "exec 3<&- 4<&-"
wait_mounted "$M"
drop_mount_pages() {
  python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)' "$1" 2>/dev/null || true
}

cmp -s "$F" "$T/orig" || { cat "$T/log" >&2; fail "the listed library is not served before the swap"; }
out=$(timeout 10 "$FP" 2>&1) || { cat "$T/log" >&2; fail "the listed program does not run: $out"; }
[[ $out == *ORIGINAL-PROGRAM* ]] || fail "the listed program printed '$out'"
pass "listed library and program verified and served ($LABEL)"

# --- 1. library swapped through a shared mapping, stamp unchanged -------------------------------
st1=$(stat -c '%s %Y.%y %Z.%z' "$L")
echo go >&5
for i in $(seq 50); do [ "$(grep -c swapped "$T/writer.out")" -ge 1 ] && break; sleep 0.1; done
[ "$(grep -c swapped "$T/writer.out")" -ge 1 ] || fail "writer did not swap: $(cat "$T/writer.out")"
st2=$(stat -c '%s %Y.%y %Z.%z' "$L")
[ "$st1" == "$st2" ] || skip "the mapping write changed the stamp ($st1 -> $st2): not this attack"
grep -q SWAPPED-BENEATH "$L" || fail "the lower file does not hold the swapped bytes"
drop_mount_pages "$F"
cat "$F" > "$T/got" 2> "$T/err" || true
grep -q SWAPPED-BENEATH "$T/got" && fail "$LABEL: library bytes swapped beneath the mount without a stamp change were served"
cmp -s "$T/got" "$T/orig" || [ -s "$T/err" ] || fail "read returned other bytes without an error"
pass "library swapped through a shared mapping (stamp unchanged): the new bytes are not served"

# --- 2. program swapped through a shared mapping, then drop_caches ------------------------------
st1=$(stat -c '%s %Y.%y %Z.%z' "$LP")
echo go >&5
for i in $(seq 50); do [ "$(grep -c swapped "$T/writer.out")" -ge 2 ] && break; sleep 0.1; done
[ "$(grep -c swapped "$T/writer.out")" -ge 2 ] || fail "writer did not swap the program: $(cat "$T/writer.out")"
st2=$(stat -c '%s %Y.%y %Z.%z' "$LP")
[ "$st1" == "$st2" ] || skip "the mapping write changed the program's stamp ($st1 -> $st2)"
grep -q SWAPPEDPROGRAM "$LP" || fail "the lower program does not hold the swapped bytes"
sync
echo 3 > /proc/sys/vm/drop_caches
out=$(timeout 10 "$FP" 2>&1) || true
[[ $out == *SWAPPEDPROGRAM* ]] && fail "$LABEL: a program swapped beneath the mount without a stamp change ran after drop_caches"
cat "$FP" > "$T/gotp" 2> /dev/null || true
grep -q SWAPPEDPROGRAM "$T/gotp" && fail "$LABEL: swapped program bytes were served to a read"
pass "program swapped through a shared mapping + drop_caches: exec and read never get the new bytes ($(printf %q "${out:0:60}"))"
echo done >&5
wait $wpid 2>/dev/null || true

# --- 3. a held reader; rewrite with write(2), mtime restored ------------------------------------
cp "$T/orig" "$L"
drop_mount_pages "$F"
cmp -s "$F" "$T/orig" || fail "the restored library is not served"
drop_mount_pages "$F"
exec 3< "$F"
dd bs=4096 count=1 status=none <&3 > /dev/null || fail "first read of the restored library"
mt=$(stat -c %y "$L")
printf 'REWRITTEN-BENEATH' | dd of="$L" bs=1 seek=200000 conv=notrunc status=none
touch -d "$mt" "$L"
drop_mount_pages "$F"
cat <&3 > "$T/got2" 2> "$T/err2" || true
exec 3<&-
grep -q REWRITTEN-BENEATH "$T/got2" && fail "$LABEL: a rewrite beneath (mtime restored) was served to a held reader"
pass "rewrite beneath with mtime restored: a held reader is not served the new bytes"
cat "$F" > "$T/got3" 2> /dev/null || true
grep -q REWRITTEN-BENEATH "$T/got3" && fail "$LABEL: a rewrite beneath was served to a new open"
pass "rewrite beneath with mtime restored: a new open is not served the new bytes"

# --- 4. a rewrite racing opens ------------------------------------------------------------------
cp "$T/prog" "$LP"
out=$(timeout 10 "$FP" 2>&1) || fail "the restored program does not run: $out"
( end=$((SECONDS + 3))
  while [ $SECONDS -lt $end ]; do
    dd if="$T/prog.evil" of="$LP" bs=64k conv=notrunc status=none
    dd if="$T/prog" of="$LP" bs=64k conv=notrunc status=none
  done ) &
rpid=$!
at_exit "kill $rpid 2>/dev/null; wait $rpid 2>/dev/null"
runs=0 ok=0 bad=0
end=$((SECONDS + 3))
while [ $SECONDS -lt $end ]; do
  out=$(timeout 5 "$FP" 2>/dev/null) || true
  runs=$((runs + 1))
  case $out in
    *SWAPPEDPROGRAM*) bad=$((bad + 1)) ;;
    *ORIGINAL-PROGRAM*) ok=$((ok + 1)) ;;
  esac
done
wait $rpid 2>/dev/null || true
[ "$bad" -eq 0 ] || fail "$LABEL: a rewrite racing opens ran the unlisted program $bad times of $runs"
[ "$runs" -ge 5 ] || fail "only $runs runs in 3 s"
pass "rewrite racing opens: $runs runs, $ok of the listed program, 0 of the unlisted one"

# --- 5. a legitimate change beneath, with a stamp change ----------------------------------------
cp "$T/prog" "$LP"
timeout 10 "$FP" | grep -q ORIGINAL-PROGRAM || fail "the listed program does not run after the race"
cp "$T/other" "$L"   # listed content (other.so's): served
touch "$L"
cmp -s "$F" "$T/other" || { tail -5 "$T/log" >&2; fail "listed content changed beneath with a new stamp is not served"; }
head -c 300000 /dev/urandom > "$L"   # unlisted content: refused
cat "$F" > /dev/null 2> "$T/err5" && fail "$LABEL: unlisted content changed beneath with a new stamp was served"
grep -q "Permission denied" "$T/err5" || fail "expected EACCES for unlisted content, got: $(cat "$T/err5")"
cp "$T/prog.evil" "$LP"
out=$(timeout 10 "$FP" 2>&1) && fail "the unlisted program copied beneath ran: $out"
pass "a change beneath with a stamp change is decided again (listed served, unlisted refused)"
pass "enforce_swap_beneath ($LABEL)"
