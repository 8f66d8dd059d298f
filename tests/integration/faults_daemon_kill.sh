#!/bin/bash
# The daemon killed with SIGKILL during heavy I/O (issue 14, "Faults and load"): fio writes
# verified files through an enforce mount and fsyncs them; a second fio load (random writes and
# reads) runs when the daemon is killed. Its I/O fails (ENOTCONN) instead of hanging; the dead mount
# unmounts; a remount works; the fsynced files verify both on the lower tree and through the new
# mount, and a new fio run with verification passes through it.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd fio
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

G=$T/lower
mkdir -p "$G/data"
"$DIGESTCTL" --store "$T/store" init >/dev/null
M=$T/mnt
mkdir -p "$M"
mount_fg() {  # LOG
  "$DIGESTFS" "$G" "$M" -f -o "store=$T/store,mode=enforce" 2>"$1" &
  PID=$!
  at_exit "unmount '$M'; kill -9 $PID 2>/dev/null; wait $PID 2>/dev/null"
  wait_mounted "$M"
}
cd "$T"  # fio writes its verify state files into the working directory
# The files that must survive: written, verified and fsynced before the kill.
keep() {  # DIR EXTRA-FIO-ARGS
  local dir=$1; shift
  fio --name=keep --directory="$dir" --ioengine=psync --rw=randwrite --bs=16k --size=16m \
    --numjobs=2 --verify=crc32c --verify_fatal=1 --fsync_on_close=1 "$@" --output="$T/keep.out"
}
mount_fg "$T/log1"
keep "$M/data" --do_verify=1 || { cat "$T/keep.out" >&2; fail "fio keep before the kill"; }
pass "fio wrote and verified 32 MiB through the mount"

# The load the kill interrupts.
fio --name=load --directory="$M/data" --ioengine=psync --rw=randrw --bs=4k --size=32m --numjobs=3 \
  --time_based --runtime=60 --verify=crc32c --fsync=64 --output="$T/load.out" >/dev/null 2>&1 &
FIO=$!
sleep 3
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
# fio must stop on its own within seconds (ENOTCONN), not hang in the kernel.
for i in $(seq 100); do kill -0 "$FIO" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$FIO" 2>/dev/null; then kill -9 "$FIO"; fail "fio still runs 10 s after the daemon was killed"; fi
wait "$FIO" 2>/dev/null && fail "fio did not notice the daemon's death"
stat "$M" >/dev/null 2>&1 && fail "the dead mount still answers"
fusermount3 -u "$M" 2>/dev/null || umount -l "$M" || fail "cannot unmount the dead mount"
pass "SIGKILL mid-load: fio fails at once, the dead mount unmounts"

keep "$G/data" --verify_only || { cat "$T/keep.out" >&2; fail "fsynced files do not verify on the lower tree"; }
pass "the fsynced files verify on the lower tree"
mount_fg "$T/log2"
keep "$M/data" --verify_only || { cat "$T/keep.out" >&2; fail "fsynced files do not verify through the remount"; }
fio --name=after --directory="$M/data" --ioengine=psync --rw=randwrite --bs=4k --size=8m \
  --verify=crc32c --verify_fatal=1 --do_verify=1 --output="$T/after.out" ||
  { cat "$T/after.out" >&2; fail "fio through the remount"; }
pass "remounted: the fsynced files verify through it and a new verified fio run passes"
