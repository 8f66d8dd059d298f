#!/bin/bash
# verify=blocks with the real enforcer over a signed store: a listed file of odd size reads back
# exactly, whole and at unaligned offsets (dd bs=4097); when the lower file is modified beneath
# the mount while a reader holds it open, the reader's next read of the changed block is EIO and
# it never receives the changed bytes (every page the kernel fills from the lower file is checked
# against the block digests before it is served; pages it cached earlier are verified bytes, so
# the test drops them to make the reader's next read a fill; short preads are looped over).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/enforce.sh"

ef_key
s=$(ef_stage vb)
mkdir -p "$s/usr/lib/vb"
head -c 1000003 /dev/urandom > "$T/orig"   # 15.26 blocks of 64 KiB: the last one partial
cp "$T/orig" "$s/usr/lib/vb/file"
PKG=$(ef_package vb 1.0 "$s")
ROOT=$T/root
ef_install "$ROOT" "$PKG"
ef_store "$T/store" "$ROOT"
printf 'appraise op=read path=/usr/**\n' > "$T/policy"
M=$T/mnt
mkdir -p "$M"
"$DIGESTFS" "$ROOT" "$M" -f -o "store=$T/store,policy=$T/policy,verify=blocks" 2> "$T/log" &
pid=$!
at_exit "unmount '$M'; for i in \$(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null"
at_exit "exec 3<&-"  # a failed check must not leave the mount busy
wait_mounted "$M"
F=$M/usr/lib/vb/file

cmp "$F" "$T/orig" || { cat "$T/log" >&2; fail "listed file not served exactly"; }
for skip in 0 1 15 16 17 31 63 200 243 244; do
  dd if="$F" bs=4097 skip=$skip count=5 status=none > "$T/got" || fail "dd skip=$skip failed"
  dd if="$T/orig" bs=4097 skip=$skip count=5 status=none > "$T/want"
  cmp -s "$T/got" "$T/want" || fail "unaligned read bs=4097 skip=$skip differs"
done
# Odd sizes and offsets through one descriptor (tail -c +N: reads from an unaligned position).
tail -c +65537 "$F" | cmp -s - <(tail -c +65537 "$T/orig") || fail "tail from offset 65536"
tail -c +99999 "$F" | cmp -s - <(tail -c +99999 "$T/orig") || fail "tail from offset 99998"
pass "verify=blocks: whole and unaligned reads are exact"

# A reader holds the file open; the lower file changes beneath the mount (block 8 onwards).
exec 3< "$F"
dd bs=65536 count=2 status=none <&3 > "$T/head" || fail "first reads"
cmp -s "$T/head" <(head -c 131072 "$T/orig") || fail "first blocks differ"
printf 'CHANGED-BENEATH-%.0s' $(seq 1 64) > "$T/marker"
dd if="$T/marker" of="$ROOT/usr/lib/vb/file" bs=1 seek=$((8 * 65536 + 100)) conv=notrunc status=none
python3 -c 'import os; os.posix_fadvise(3, 0, 0, os.POSIX_FADV_DONTNEED)' <&3 || fail "fadvise"
if cat <&3 > "$T/rest" 2> "$T/err"; then
  exec 3<&-
  fail "a read of the block changed beneath the mount succeeded"
fi
exec 3<&-
grep -q "Input/output error" "$T/err" || fail "expected EIO, got: $(cat "$T/err")"
grep -q CHANGED-BENEATH "$T/rest" && fail "the reader received the changed bytes"
n=$(stat -c %s "$T/rest")
cmp -s "$T/rest" <(tail -c +131073 "$T/orig" | head -c "$n") || fail "bytes served before the EIO differ"
[ "$n" -le $((6 * 65536)) ] || fail "served $n bytes, past the changed block"
pass "verify=blocks: a change beneath an open reader is EIO, never the changed bytes"
# A fresh open is refused too (the content is no longer listed).
cat "$F" > /dev/null 2>&1 && fail "the changed file is served to a new open"
pass "fs_verify_blocks"
