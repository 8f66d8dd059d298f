#!/bin/bash
# Polling that follows the kernel (docs/mount.md, poll_us=). Everywhere: a mount without poll_us=
# reports polling that follows the kernel (status file, event=polling at mount with the
# parameter's state), one with poll_us= given does not, poll_us=0 never polls; the daemon's
# counts of device reads (polled, not polled because the host was busy, not polled because of
# wake_here) appear in `digestctl status` text and Prometheus output. On a kernel whose fuse
# module has the wake_here parameter, also: a mount without poll_us= does not poll the FUSE
# device while the parameter is Y (the kernel then wakes the daemon on its caller's CPU, where
# polling only costs) and polls again once it is N, without a remount; a mount with poll_us=
# given polls whatever the parameter says. Files read through each mount are served exactly. The
# parameter is put back at exit (ctest: RESOURCE_LOCK fuse_wake_here).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd jq python3
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
P=/sys/module/fuse/parameters/wake_here
FLIP=1
if [ ! -e "$P" ]; then
  FLIP=0
  echo "SKIPPED (part): this kernel's fuse has no wake_here parameter ($P); its flips are not tested" >&2
else
  WAS=$(cat "$P")
  if ! echo "$WAS" >"$P" 2>/dev/null; then
    FLIP=0
    echo "SKIPPED (part): $P cannot be written; its flips are not tested" >&2
  else
    at_exit "echo '$WAS' >'$P'"
  fi
fi

L=$T/lower
mkdir -p "$L"
head -c 5000 /dev/urandom >"$L/f"

# status PID MNT: the daemon's status (JSON), once it has published one (SIGUSR1 publishes).
status() {
  local i js
  for i in $(seq 50); do
    js=$("$DIGESTCTL" status "$2" --json 2>/dev/null || true)
    if [ "$(jq -r '.daemon.polling.poll_us // empty' <<<"$js" 2>/dev/null)" != "" ]; then
      echo "$js"
      return 0
    fi
    kill -USR1 "$1"
    sleep 0.1
  done
  fail "no status with polling for $2: $js"
}
# reads PID MNT: the daemon's device_reads as "polled busy wake_here", once its published status
# has settled.
reads() {
  local pid=$1 mnt=$2 n=x prev i
  for i in $(seq 30); do
    kill -USR1 "$pid"
    sleep 0.1
    prev=$n
    n=$(status "$pid" "$mnt" |
      jq -r '.daemon.polling.device_reads | "\(.polled) \(.not_polled_busy) \(.not_polled_wake_here)"')
    [ "$n" = "$prev" ] && break
  done
  echo "$n"
}
# requests MNT N: N getxattr requests (never cached by the kernel) and a read of f, checked.
requests() {
  python3 - "$1/f" "$2" <<'PY' || fail "requests through $1"
import os, sys
f, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    try:
        os.getxattr(f, "user.dfs_absent", follow_symlinks=False)
    except OSError:
        pass
PY
  cmp "$1/f" "$L/f" || fail "f not served exactly through $1"
}
# delta BEFORE AFTER: the three differences, space-separated.
delta() {
  local -a a b
  read -r -a a <<<"$1"
  read -r -a b <<<"$2"
  echo "$((b[0] - a[0])) $((b[1] - a[1])) $((b[2] - a[2]))"
}

# counted PID MNT [VALUE]: with the parameter set to VALUE first (if given), 300 requests through
# MNT; prints the device reads they added, as "polled busy wake_here".
counted() {
  local before after
  if [ -n "${3:-}" ]; then
    echo "$3" >"$P"
    sleep 0.05 # past the threads' look-again interval (4 ms)
  fi
  before=$(reads "$1" "$2")
  requests "$2" 300
  after=$(reads "$1" "$2")
  delta "$before" "$after"
}

# expect_polled WHAT "POLLED BUSY HERE": the reads of 300 requests were all polled or skipped
# only because the host was busy, none for wake_here; passes with WHAT.
expect_polled() {
  local polled busy here
  read -r polled busy here <<<"$2"
  assert_eq "$here" 0 "$1: reads not polled for wake_here"
  [ $((polled + busy)) -ge 300 ] || fail "$1: only $((polled + busy)) reads counted for 300 requests"
  pass "$1: $polled reads polled, $busy not (host busy), none for wake_here"
}

# The default: follows the kernel.
M=$T/mnt
dfs_mount_fg "$L" "$M" "$T/log" "mode=off,status_interval=0"
PID=$DFS_PID
js=$(status "$PID" "$M")
assert_eq "$(jq -r '.daemon.polling.poll_us' <<<"$js")" 50 "default poll_us in the status file"
assert_eq "$(jq -r '.daemon.polling.follows_kernel' <<<"$js")" true "default polling follows the kernel"
state=absent
[ -e "$P" ] && state="$(cat "$P")"
grep -q "event=polling poll_us=50 fuse_wake_here=$state" "$T/log" ||
  { cat "$T/log" >&2; fail "no event=polling with fuse_wake_here=$state at mount"; }
requests "$M" 50
r=$(reads "$PID" "$M")
read -r polled busy here <<<"$r"
[ $((polled + busy + here)) -ge 50 ] || fail "only $r device reads counted for 50+ requests"
txt=$("$DIGESTCTL" status "$M")
grep -q '^polling: *up to 50 us before each read, none while fuse.wake_here=Y; reads: [0-9]* polled' <<<"$txt" ||
  { echo "$txt" >&2; fail "digestctl status text lacks the polling line"; }
prom=$("$DIGESTCTL" status "$M" --prometheus)
for k in polled not_polled_busy not_polled_wake_here; do
  grep -q "^digestfs_device_reads_total{mountpoint=\"$M\",poll=\"$k\"} [0-9]*$" <<<"$prom" ||
    { echo "$prom" >&2; fail "no Prometheus sample for device reads $k"; }
done
pass "default mount: polling follows the kernel (wake_here $state); reads counted ($r); status text and Prometheus"

if [ $FLIP = 1 ]; then
  read -r polled busy here <<<"$(counted "$PID" "$M" Y)"
  [ "$here" -ge 300 ] || fail "wake_here=Y: only $here of 300+ reads went without polling for wake_here"
  assert_eq "$polled" 0 "reads polled while wake_here=Y"
  pass "default mount, wake_here=Y: $here reads without polling, none polled"

  expect_polled "the same mount, wake_here=N again" "$(counted "$PID" "$M" N)"
fi
unmount "$M"

# poll_us= given: kept whatever the kernel says.
M2=$T/mnt2
dfs_mount_fg "$L" "$M2" "$T/log2" "mode=off,status_interval=0,poll_us=50"
PID=$DFS_PID
assert_eq "$(status "$PID" "$M2" | jq -r '.daemon.polling.follows_kernel')" false \
  "poll_us=50 given: follows_kernel"
if grep -q 'event=polling' "$T/log2"; then fail "event=polling logged for a given poll_us="; fi
expect_polled "poll_us=50 given$([ $FLIP = 1 ] && echo ', wake_here=Y')" \
  "$(counted "$PID" "$M2" "$([ $FLIP = 1 ] && echo Y)")"
unmount "$M2"

# poll_us=0: no polling, no hooks, no counts.
M3=$T/mnt3
dfs_mount_fg "$L" "$M3" "$T/log3" "mode=off,status_interval=0,poll_us=0"
PID=$DFS_PID
requests "$M3" 10
assert_eq "$(status "$PID" "$M3" | jq -c '.daemon.polling')" '{"follows_kernel":false,"poll_us":0}' "poll_us=0 status"
grep -q '^polling: *off (poll_us=0)$' <<<"$("$DIGESTCTL" status "$M3")" || fail "status text for poll_us=0"
pass "poll_us=0: never polls"
