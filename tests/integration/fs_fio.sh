#!/bin/bash
# Data integrity under load: fio random writes with crc32c verification, then verifying reads,
# several jobs at once, through a digestfs mount (mode=off). Any verify error fails.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd fio
[ -x "$DIGESTFS" ] || skip "digestfs not built"
mkdir -p "$T/lower"
dfs_mount "$T/lower" "$T/mnt" -o "${DFS_FS_OPTS:-mode=off}"
cd "$T"  # fio writes its verify state files into the working directory
run_fio() {
  local name=$1; shift
  fio --name="$name" --directory="$T/mnt" --ioengine=psync --size=48m --numjobs=4 \
      --verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting "$@" \
      --output="$T/$name.out" || { cat "$T/$name.out" >&2; fail "fio $name failed"; }
  if grep "err=" "$T/$name.out" | grep -vq "err= 0"; then fail "fio $name reported errors"; fi
  grep -q "err= 0" "$T/$name.out" || { cat "$T/$name.out" >&2; fail "fio $name: no clean result"; }
  pass "fio $name: $(grep -m1 -E 'WRITE:|READ:' "$T/$name.out" | sed 's/^ *//')"
}
run_fio randwrite --rw=randwrite --bs=4k
run_fio randwrite-mixed-bs --rw=randwrite --bsrange=512-64k
run_fio mmap --rw=randwrite --bs=16k --ioengine=mmap --size=16m
# Verify again from a fresh open (page cache kept) and after dropping caches.
fio --name=randwrite --directory="$T/mnt" --ioengine=psync --size=48m --numjobs=4 --rw=randwrite \
    --bs=4k --verify=crc32c --verify_only --verify_fatal=1 --output="$T/reverify.out" \
    || { cat "$T/reverify.out" >&2; fail "re-verification failed"; }
sync; echo 3 > /proc/sys/vm/drop_caches
fio --name=randwrite --directory="$T/mnt" --ioengine=psync --size=48m --numjobs=4 --rw=randwrite \
    --bs=4k --verify=crc32c --verify_only --verify_fatal=1 --output="$T/reverify2.out" \
    || { cat "$T/reverify2.out" >&2; fail "re-verification after drop_caches failed"; }
pass "fs_fio"
