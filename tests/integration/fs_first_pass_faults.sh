#!/bin/bash
# A fresh enforce mount's first opens and reads take no page faults on the daemon's buffers.
# On the 2-vCPU VMs each first touch of a page costs about 10 us, and a first `python3 -c 1` took
# 600-1000 of them (docs/benchmarks.md): the buffers that hash and read were new memory, and the
# connection watchdog, a fork of the daemon, left every page the daemon had touched before it
# shared copy-on-write. Now the buffers are faulted in when each thread starts (Prefault) and
# the watchdog is a new image (posix_spawn), so the daemon's minor faults over a first pass that
# hashes files inline and on a worker, with verify=blocks reads, stay small. Either change undone
# brings back hundreds (measured: 800 without the prefault, 600+ with a forked watchdog).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd python3
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

L=$T/lower M=$T/mnt
mkdir -p "$L/usr/lib"
# A small file (hashed inline on the session thread), two larger ones (hashed on workers), all
# read whole through the mount (verify=blocks: every READ through the session thread's buffer).
head -c 200000 /dev/urandom >"$L/usr/lib/small"
head -c 3000000 /dev/urandom >"$L/usr/lib/mid"
head -c 6000000 /dev/urandom >"$L/usr/lib/big"
dfs_manifest_store "$T/store" "$L" tree
sync
cat "$L"/usr/lib/* >/dev/null  # the lower pages cached: the faults counted are the daemon's own

minflt() { awk '{print $10}' "/proc/$1/stat"; }
dfs_mount_fg "$L" "$M" "$T/d.log" "store=$T/store,mode=enforce,verify=blocks"
grep -q "event=watchdog_started" "$T/d.log" || fail "no watchdog started: $(cat "$T/d.log")"
WD=$(sed -n 's/.*event=watchdog_started pid=\([0-9]*\).*/\1/p' "$T/d.log" | head -n 1)
[ -n "$WD" ] && [ -d "/proc/$WD" ] || fail "watchdog pid not found in the log"
# The watchdog is a new image of the binary, not a fork that shares the daemon's memory.
tr '\0' ' ' <"/proc/$WD/cmdline" | grep -q -- '--digestfs-connection-watchdog' ||
  fail "watchdog $WD is not the spawned image: $(tr '\0' ' ' <"/proc/$WD/cmdline")"
pass "watchdog $WD is a spawned image"

before=$(minflt "$DFS_PID")
for f in small mid big; do
  cmp "$L/usr/lib/$f" "$M/usr/lib/$f" || fail "$f read through the mount differs"
done
after=$(minflt "$DFS_PID")
faults=$((after - before))
grep -q 'event=open_refused\|event=read_refused' "$T/d.log" && fail "a refusal: $(cat "$T/d.log")"
echo "daemon minor faults over the first pass: $faults (before: $before at start)"
[ "$faults" -lt 150 ] || fail "the first pass took $faults page faults in the daemon (expected < 150)"
pass "first pass: $faults page faults in the daemon"
