#!/bin/bash
# A dead daemon is GONE even when its process ID runs again (issue 13, "Watch"): the daemon's
# runtime status file records its start time (`pid_start_ticks`, field 22 of /proc/PID/stat), so
# `digestctl status` tells it from a later process given the same ID, and a zombie (killed, not yet
# reaped) does not count as running. The attacks: after the daemon is killed, its status file is
# made to name (1) a live unrelated process with the daemon's start time, (2) a zombie. Control: a
# file without `pid_start_ticks` (written by an older daemon) naming a live process reads as
# running, so the checks above can tell the two apart. And no live daemon is called dead where
# status cannot see it: from another PID namespace, from another time namespace (start times read
# there are shifted), and by a user /proc hides it from (hidepid=2): running, and in the first and
# last case marked unverified.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd jq python3 unshare setpriv
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

G=$T/lower M=$T/mnt
mkdir -p "$G"
echo hi >"$G/f"
dfs_mount_fg "$G" "$M" "$T/log" "mode=off,status_interval=0"
PID=$DFS_PID
for i in $(seq 50); do "$DIGESTCTL" status "$M" --json >"$T/st.json" 2>/dev/null && break; sleep 0.1; done
assert_eq "$(jq -r .daemon_alive "$T/st.json")" true "daemon_alive of the live mount"
DEV=$(jq -r .device "$T/st.json")
F=/run/digestfs/$DEV.json
ticks=$(python3 -c 'import sys; s=open("/proc/%s/stat" % sys.argv[1]).read(); print(s[s.rindex(")")+2:].split()[19])' "$PID")
assert_eq "$(jq -r .pid_start_ticks "$F")" "$ticks" "pid_start_ticks in the status file (field 22 of /proc/PID/stat)"
pass "the status file records the daemon's start time"

# Where status cannot check the process, a live daemon is not reported dead.
alive_as() { jq -c '[.daemon_alive, .daemon_alive_verified]' "$1"; }
unshare -p -f --mount-proc "$DIGESTCTL" status "$M" --json >"$T/ns-pid.json" ||
  fail "status from another PID namespace exits $?: $(cat "$T/ns-pid.json")"
assert_eq "$(alive_as "$T/ns-pid.json")" '[true,false]' "alive, verified from another PID namespace"
unshare -T --boottime 1000 "$DIGESTCTL" status "$M" --json >"$T/ns-time.json" ||
  fail "status from another time namespace exits $?: $(cat "$T/ns-time.json")"
assert_eq "$(alive_as "$T/ns-time.json")" '[true,true]' "alive, verified from another time namespace"
# hidepid=2 on a private /proc, status run as nobody (a copy of digestctl it may execute).
mkdir -p "$T/bin" && cp "$DIGESTCTL" "$T/bin/" && chmod 755 "$T" "$T/bin"
chmod 644 "$F"  # readable by nobody whatever the daemon's umask was
unshare -m --propagation private sh -c 'mount -t proc -o hidepid=2 proc /proc &&
  exec setpriv --reuid=65534 --regid=65534 --clear-groups "$1" status "$2" --json' \
  sh "$T/bin/digestctl" "$M" >"$T/hidden.json" || fail "status as nobody with hidepid=2 exits $?: $(cat "$T/hidden.json")"
assert_eq "$(alive_as "$T/hidden.json")" '[true,false]' "alive, verified as nobody with hidepid=2"
assert_eq "$(alive_as <("$DIGESTCTL" status "$M" --json))" '[true,true]' "alive, verified as root"
pass "a live daemon status cannot check is running, unverified; from another time namespace, verified"

kill -9 "$PID"
wait "$PID" 2>/dev/null || true
at_exit "rm -f '$F'; umount -l '$M' 2>/dev/null"
cp "$F" "$T/dead.json"
# Rewrite the dead daemon's file as if its ID now named PID2 (keeping its fields, mountpoint and
# start time); written after the connection was made, so it is this mount's file, not a stale one.
rewrite() { jq "$1" "$T/dead.json" >"$F.new" && mv "$F.new" "$F"; }

sleep 300 &
OTHER=$!
at_exit "kill $OTHER 2>/dev/null"
rewrite ".pid = $OTHER"
rc=0; "$DIGESTCTL" status "$M" >"$T/o1" 2>&1 || rc=$?
assert_eq "$rc" 1 "status exit code when the dead daemon's ID runs another process"
grep -q GONE "$T/o1" || fail "a dead daemon whose ID runs again is reported alive: $(cat "$T/o1")"
assert_eq "$( { "$DIGESTCTL" status --json || true; } | jq --arg m "$M" '.[] | select(.mountpoint == $m) | .daemon_alive')" \
  false "daemon_alive without an argument"
{ "$DIGESTCTL" status --prometheus || true; } | grep -F 'digestfs_up{' | grep -F "\"$M\"" | grep -q ' 0$' ||
  fail "--prometheus does not give digestfs_up 0 for a dead daemon whose ID runs again"
pass "a process given the dead daemon's ID does not make it alive (GONE, exit 1, digestfs_up 0)"

# A zombie: the child of a process that never reaps it.
bash -c 'sleep 0.1 & exec sleep 300' &
PARENT=$!
at_exit "kill $PARENT 2>/dev/null"
ZOMBIE=
for i in $(seq 50); do
  ZOMBIE=$(ps -o pid=,stat= --ppid "$PARENT" | awk '$2 ~ /^Z/ {print $1}')
  [ -n "$ZOMBIE" ] && break
  sleep 0.05
done
[ -n "$ZOMBIE" ] || fail "could not make a zombie process"
rewrite ".pid = $ZOMBIE | del(.pid_start_ticks)"
rc=0; "$DIGESTCTL" status "$M" >"$T/o2" 2>&1 || rc=$?
assert_eq "$rc" 1 "status exit code when the daemon's ID is a zombie"
grep -q GONE "$T/o2" || fail "a zombie is reported as a running daemon: $(cat "$T/o2")"
pass "a zombie is not a running daemon"

# Control: without pid_start_ticks, a live process is all status can check.
rewrite ".pid = $OTHER | del(.pid_start_ticks)"
rc=0; "$DIGESTCTL" status "$M" >"$T/o3" 2>&1 || rc=$?
assert_eq "$rc" 0 "status exit code for a file without pid_start_ticks naming a live process"
grep -q running "$T/o3" || fail "control: $(cat "$T/o3")"
pass "control: a file without pid_start_ticks naming a live process reads as running"
