#!/bin/bash
# FUSE INTERRUPT honoured while an open is being hashed (issue 14 item 6): a process opening a
# 3 GiB sparse file (under the 4 GiB max_hash_size, so it is hashed) is killed with SIGKILL a
# moment after its open started. It is gone before the hash could have finished: the daemon logs
# hash_interrupted with fewer bytes hashed than the file has. A second opener of the same file
# that was not killed still gets its answer (the hash is redone for it). Before the fix the killed
# opener stayed in D state until the whole file was hashed (80 s for 20 GiB here).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
G=$T/lower
mkdir -p "$G/usr/share"
truncate -s 3G "$G/usr/share/big"
"$DIGESTCTL" --store "$T/store" init >/dev/null
M=$T/mnt
mkdir -p "$M"
dfs_mount_fg "$G" "$M" "$T/log" "store=$T/store,mode=enforce,loglevel=info"
PID=$DFS_PID

# 1. The only opener is killed.
head -c1 "$M/usr/share/big" >/dev/null 2>&1 &
opener=$!
sleep 1
kill -9 "$opener"
wait "$opener" 2>/dev/null || true
# The opener is reaped; the hash must have stopped early, not run to the end.
for i in $(seq 100); do grep -q hash_interrupted "$T/log" && break; sleep 0.1; done
line=$(grep -m1 hash_interrupted "$T/log") || fail "no hash_interrupted line: $(tail -3 "$T/log")"
hashed=$(sed -n 's/.*stopped after \([0-9]*\) bytes.*/\1/p' <<<"$line")
[ -n "$hashed" ] && [ "$hashed" -lt $((3 << 30)) ] || fail "the hash was not stopped early: $line"
kill -0 "$PID" || fail "the daemon died"
pass "a killed opener leaves at once: its hash stopped after $hashed of $((3 << 30)) bytes"

# 2. Two openers; the one that started the hash is killed, the other still gets its answer.
head -c1 "$M/usr/share/big" >/dev/null 2>&1 &
first=$!
sleep 0.5
rc=0
head -c1 "$M/usr/share/big" >/dev/null 2>"$T/err2" &
second=$!
sleep 0.5
kill -9 "$first"
wait "$first" 2>/dev/null || true
wait "$second" || rc=$?
grep -q "Permission denied" "$T/err2" || fail "the second opener got rc $rc: $(cat "$T/err2") (expected EACCES: unknown content under /usr)"
kill -0 "$PID" || fail "the daemon died"
pass "another opener of the same file still gets its verdict (EACCES for unknown content)"
