#!/bin/bash
# A daemon killed with SIGKILL leaves its runtime status file (/run/digestfs/MAJ:MIN.json, naming
# its mount point and its pid). When the same mount point is mounted again, the kernel may give the
# new mount the same device number; if the new daemon writes no file of its own (it does not run
# as root), `digestctl status` finds the old file, which names this very mount point and a dead
# pid. That file predates the new mount's FUSE connection, so it says nothing about it: status
# must call the live mount live (exit 0, the file reported stale), not GONE.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd jq python3 setpriv fusermount3
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
if ! mountpoint -q /sys/fs/fuse/connections; then
  mount -t fusectl none /sys/fs/fuse/connections || skip "fusectl cannot be mounted"
fi

chmod 755 "$T"  # the unprivileged daemon below walks to its mount point and lower tree
G=$T/lower
mkdir -p "$G"
echo hi >"$G/f"
M=$T/m
dev_of() { { "$DIGESTCTL" status "$1" --json || true; } | jq -r .device; }  # status exits 1 for GONE

# Daemon D, root: writes its file, then is killed before it can remove it.
dfs_mount_fg "$G" "$M" "$T/d.log" mode=off,status_interval=0
PD=$DFS_PID
DD=$(dev_of "$M")
F=/run/digestfs/$DD.json
at_exit "rm -f '$F'"
assert_eq "$(jq -r .pid "$F")" "$PD" "pid in D's status file"
kill -9 "$PD"
wait "$PD" 2>/dev/null || true
python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.umount2(sys.argv[1].encode(), 0) != 0:
    sys.exit("umount2: " + os.strerror(ctypes.get_errno()))' "$M" || fail "umount of D's dead mount"
[ -f "$F" ] || fail "the killed daemon's status file is gone; nothing to test"

# Daemon E, uid 1000, same mount point: fusermount3 mounts it; it cannot write /run/digestfs.
chown 1000:1000 "$M"
setpriv --reuid=1000 --regid=1000 --clear-groups "$DIGESTFS" "$G" "$M" -f -o mode=off,status_interval=0 \
  2>"$T/e.log" &
PE=$!
at_exit "fusermount3 -u '$M' 2>/dev/null || umount -l '$M' 2>/dev/null; wait $PE 2>/dev/null"
# Without allow_other only uid 1000 may look into the mount (root's stat would be refused), so
# wait for it in mountinfo and read through it as uid 1000.
for _ in $(seq 100); do
  awk -v m="$M" '$5 == m && $0 ~ / - fuse\.digestfs / {f = 1} END {exit !f}' /proc/self/mountinfo && break
  sleep 0.1
done
assert_eq "$(setpriv --reuid=1000 --regid=1000 --clear-groups cat "$M/f")" hi "read through E's mount"
DE=$(dev_of "$M")
[ "$DE" = "$DD" ] || skip "the kernel gave mount E device $DE, not D's $DD: the reuse cannot be arranged here"
assert_eq "$(jq -r .pid "$F")" "$PD" "the file is still D's (E wrote none)"
assert_eq "$(jq -r .mountpoint "$F")" "$M" "D's file names this mount point"

rc=0
"$DIGESTCTL" status "$M" >"$T/status.txt" 2>&1 || rc=$?
assert_eq "$rc" 0 "exit code of status for E's live mount with D's file left behind"
grep -q "stale one left by an earlier mount" "$T/status.txt" || fail "status text: $(cat "$T/status.txt")"
assert_eq "$("$DIGESTCTL" status "$M" --json | jq -c '[.daemon, .stale_status_file]')" '[null,true]' \
  "status --json with D's file"
# Other digestfs mounts on the host may be dead (exit 1); only this one's sample is checked.
{ "$DIGESTCTL" status --prometheus || true; } | grep -F 'digestfs_up{' | grep -F "\"$M\"" | grep -q ' 1$' ||
  fail "--prometheus does not give digestfs_up 1 for E's mount"
pass "a killed daemon's file under a reused device number and the same mount point is stale, not GONE"

# The same file touched now (after E's connection was made) is as if E's daemon had written it and
# died: GONE.
touch "$F"
rc=0
"$DIGESTCTL" status "$M" >"$T/status.txt" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit code when a dead daemon's file is newer than the connection"
grep -q GONE "$T/status.txt" || fail "status does not say GONE: $(cat "$T/status.txt")"
pass "a dead daemon's file written after the mount's connection was made: GONE"
