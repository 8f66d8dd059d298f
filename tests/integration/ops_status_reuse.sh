#!/bin/bash
# The runtime status file is named after the mount's device number (/run/digestfs/MAJ:MIN.json),
# and the kernel gives a freed FUSE device number to the next mount. A daemon whose mount is gone
# but which has not yet exited (slow to stop, or stopped) must not, when it does exit, remove the
# file that the next mount's daemon wrote under the same name: `digestctl status` would then call a
# live mount "no status file" (integ_ops_status failed in CI that way, with a previous test's
# daemon exiting late). Here daemon A is stopped (SIGSTOP), its mount unmounted, mount B made
# (same device number), and A let go: B's file must still be there, B's, and status must say
# running. Then the reverse: a file left by a killed daemon under a device number a live mount now
# has is ignored if it names another mount point, and makes status say GONE if it names this one.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd jq python3
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

G=$T/lower
mkdir -p "$G"
echo hi >"$G/f"
dev_of() { "$DIGESTCTL" status "$1" --json | jq -r .device; }

mkdir -p "$T/a" "$T/b"
"$DIGESTFS" "$G" "$T/a" -f -o mode=off,status_interval=0 2>"$T/a.log" &
PA=$!
at_exit "kill -CONT $PA 2>/dev/null; unmount '$T/a'; wait $PA 2>/dev/null"
wait_mounted "$T/a"
DA=$(dev_of "$T/a")
[ -n "$DA" ] && [ "$DA" != null ] || fail "no device for mount A"
[ -f "/run/digestfs/$DA.json" ] || fail "daemon A wrote no status file"

# A stops; its mount goes, which frees the device number.
kill -STOP "$PA"
# umount(8) would stat the mount point first and wait on the stopped daemon: the system call alone.
python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.umount2(sys.argv[1].encode(), 0) != 0:
    sys.exit("umount2: " + os.strerror(ctypes.get_errno()))' "$T/a" || fail "umount of A (daemon stopped)"

dfs_mount_fg "$G" "$T/b" "$T/b.log" mode=off,status_interval=0
PB=$DFS_PID
DB=$(dev_of "$T/b")
[ "$DB" = "$DA" ] || skip "the kernel gave mount B device $DB, not A's $DA: the reuse cannot be arranged here"
assert_eq "$(jq -r .pid "/run/digestfs/$DB.json")" "$PB" "pid in the status file after B mounted"

# A runs on, finds its mount gone and exits.
kill -CONT "$PA"
wait "$PA" 2>/dev/null || true
[ -f "/run/digestfs/$DB.json" ] || fail "daemon A, exiting, removed mount B's status file"
assert_eq "$(jq -r .pid "/run/digestfs/$DB.json")" "$PB" "pid in the status file after A exited"
assert_eq "$("$DIGESTCTL" status "$T/b" --json | jq -r .daemon_alive)" true "B's daemon_alive"
# Other digestfs mounts on the host may be dead (exit 1); only B's entry is checked.
{ "$DIGESTCTL" status --json || true; } | jq -e --arg m "$T/b" 'map(select(.mountpoint == $m and .daemon_alive)) | length == 1' >/dev/null ||
  fail "status --json without an argument lacks mount B"
pass "a late-exiting daemon leaves the next mount's status file (device $DB) alone"

# B's own exit still removes its file.
fusermount3 -u "$T/b"
wait "$PB" 2>/dev/null || true
[ ! -e "/run/digestfs/$DB.json" ] || fail "B's status file left after B unmounted"
pass "a daemon still removes its own status file when it unmounts"

# The other way round: a file left by a daemon killed before it could remove it (kill -9), under
# a device number a later mount now has. If it names another mount point it says nothing about
# this mount (whose daemon may not write one: not root) and is ignored; if it names this mount
# point, its daemon is gone as far as status can tell (GONE, exit 1).
dfs_mount_fg "$G" "$T/c" "$T/c.log" mode=off,status_interval=0
DC=$(dev_of "$T/c")
F=/run/digestfs/$DC.json
at_exit "rm -f '$F'"
dead=$(sh -c 'echo $$')
jq --argjson p "$dead" '.pid = $p | .mountpoint = "/srv/elsewhere"' "$F" >"$T/stale.json"
mv "$T/stale.json" "$F"
rc=0; "$DIGESTCTL" status "$T/c" >"$T/c.status" 2>&1 || rc=$?
assert_eq "$rc" 0 "exit code of status with another mount's stale file"
grep -q "stale one left by an earlier mount" "$T/c.status" || fail "status text: $(cat "$T/c.status")"
assert_eq "$("$DIGESTCTL" status "$T/c" --json | jq -c '[.daemon, .stale_status_file]')" '[null,true]' "status --json with a stale file"
{ "$DIGESTCTL" status --prometheus || true; } | grep -F 'digestfs_up{' | grep -F "$T/c\"" | grep -q ' 1$' ||
  fail "--prometheus does not give digestfs_up 1 for the mount with a stale file"
jq --arg m "$T/c" '.mountpoint = $m' "$F" >"$T/stale.json"
mv "$T/stale.json" "$F"
rc=0; "$DIGESTCTL" status "$T/c" >"$T/c.status" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit code of status when the file names this mount point and a dead pid"
grep -q GONE "$T/c.status" || fail "status does not say GONE: $(cat "$T/c.status")"
pass "a dead daemon's file naming another mount point is ignored as stale; naming this one: GONE"
