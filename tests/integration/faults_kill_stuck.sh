#!/bin/bash
# A daemon killed with SIGKILL while one of its threads waits uninterruptibly in the kernel must
# not leave its mount hung (fs/conn_watchdog.h). The kernel aborts a FUSE connection only when
# its /dev/fuse is closed, and a thread that cannot die keeps it open: requests to the mount then
# wait for ever. In CI this happened once under integ_faults_daemon_kill, at random: the
# invalidation thread, dropping the cached pages of a file written through the mount, waited for
# a page that a reader had locked while its READ was outstanding. Made certain here: the lower
# tree is tests/tools/fuse_slow_read, whose READs wait until the test lets them go. A reader
# locks page 0 of f through the mount (its READ waits in the lower file system), a writer writes
# page 15 through the mount, the daemon's invalidation thread then waits for page 0; the daemon
# is killed. A stat through the mount must then fail with ENOTCONN within seconds, not hang.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd python3 timeout
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
SLOW=$BUILD/tests/fuse_slow_read
[ -x "$SLOW" ] || skip "fuse_slow_read not built"

L=$T/lower M=$T/mnt
mkdir -p "$L" "$M"
"$SLOW" "$L" "$T/release" &
SP=$!
at_exit "touch '$T/release'; umount -l '$L' 2>/dev/null; kill $SP 2>/dev/null; wait $SP 2>/dev/null"
wait_mounted "$L"
"$DIGESTCTL" --store "$T/store" init >/dev/null
echo 'appraise op=read path=/usr/**' >"$T/policy"
dfs_mount_fg "$L" "$M" "$T/d1.log" "store=$T/store,policy=$T/policy,mt_loop"
D1=$DFS_PID
grep -q "event=watchdog_started" "$T/d1.log" || fail "no watchdog started: $(cat "$T/d1.log")"
# If the test fails with the daemon stuck, its connection is aborted at exit (while the daemon's
# process is there, the device number is still this mount's).
MINOR=$(mountpoint -d "$M" | cut -d: -f2)
CTL=/sys/fs/fuse/connections

# W: opens f through the mount now; writes its page 15 when told (fifo go).
mkfifo "$T/go"
python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
open(sys.argv[2], "w").close()
open(sys.argv[3]).read()
os.pwrite(fd, b"b" * 4096, 15 * 4096)' "$M/f" "$T/w.ready" "$T/go" &
W=$!
at_exit "kill -9 $W 2>/dev/null; umount -l '$M' 2>/dev/null"
for i in $(seq 50); do [ -e "$T/w.ready" ] && break; sleep 0.1; done
[ -e "$T/w.ready" ] || fail "the writer did not open f"
# R: reads page 0 alone (no readahead); its READ waits in the lower file system. (After W's
# open: an open that drops cached pages would itself wait for the page R locks.)
python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
os.pread(fd, 4096, 0)' "$M/f" &
R=$!
at_exit "kill -9 $R 2>/dev/null"
at_exit "[ -d /proc/$D1 ] && { mountpoint -q $CTL || mount -t fusectl none $CTL; echo 1 >$CTL/$MINOR/abort; }"
sleep 0.5
echo >"$T/go"
stuck=
for i in $(seq 100); do
  for t in /proc/"$D1"/task/*; do
    st=$(sed 's/.*) //' "$t/stat" 2>/dev/null | cut -d' ' -f1)
    if [ "$st" = D ] && grep -q folio "$t/wchan" 2>/dev/null; then stuck="$t ($(cat "$t/wchan"))"; break 2; fi
  done
  sleep 0.05
done
[ -n "$stuck" ] || fail "no thread of the daemon waits for a locked page: the setup did not work"
pass "a thread of the daemon waits uninterruptibly for a page: $stuck"

kill -9 "$D1"
rc=0
out=$(timeout -s KILL 10 stat "$M/f" 2>&1) || rc=$?
[ "$rc" != 137 ] || fail "stat through the mount of the killed daemon hung for 10 s"
[ "$rc" != 0 ] || fail "stat through the mount of the killed daemon succeeded: $out"
grep -q "not connected" <<<"$out" || fail "stat failed, but not with ENOTCONN: $out"
for i in $(seq 100); do [ -d /proc/"$D1" ] || break; sleep 0.1; done
[ ! -d /proc/"$D1" ] || fail "the killed daemon is still there after 10 s"
pass "after SIGKILL with a thread stuck, the mount fails with ENOTCONN and the daemon is gone"
umount -l "$M"
