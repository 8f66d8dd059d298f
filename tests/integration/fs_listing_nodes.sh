#!/bin/bash
# What a directory listing (READDIRPLUS) hands the kernel (docs/mount.md, "Caching and
# consistency"): subdirectories and symlinks come with their attributes and a node, regular files
# do not, so the kernel asks LOOKUP at a regular file's first use and sees the file as it is then.
# On a fresh mount (timeout=86400: nothing expires during the test), after one listing of d/:
# - a regular file replaced beneath the mount after the listing is seen with its new size and
#   inode number at once (a node made by the listing would have shown the old file for a day);
# - each regular file's first stat costs exactly one LOOKUP (the daemon's counters), the stats of
#   the subdirectories and the symlink none;
# - every stat through the mount matches the lower file's (type, mode, size, inode).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd jq
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

L=$T/lower
mkdir -p "$L/d/sub1" "$L/d/sub2"
for i in $(seq 10); do head -c $((i * 100)) /dev/urandom >"$L/d/f$i"; done
ln -s f1 "$L/d/link"
M=$T/mnt
dfs_mount_fg "$L" "$M" "$T/log" "mode=off,timeout=86400,status_interval=0"
PID=$DFS_PID

# The daemon's LOOKUP count once its published status has reached at least $1 (SIGUSR1 publishes).
lookups_reach() {
  local n=0 i
  for i in $(seq 50); do
    kill -USR1 "$PID"
    sleep 0.1
    n=$("$DIGESTCTL" status "$M" --json | jq -r '.daemon.fuse_requests.lookup // 0')
    [ "$n" -ge "$1" ] && break
  done
  echo "$n"
}

ls -f "$M/d" >/dev/null || fail "listing d"
# Replaced beneath the mount after the listing: a new inode, 5000 bytes.
head -c 5000 /dev/urandom >"$L/d/f3.new"
mv "$L/d/f3.new" "$L/d/f3"
assert_eq "$(stat -c '%s %i' "$M/d/f3")" "$(stat -c '%s %i' "$L/d/f3")" \
  "f3 replaced beneath the mount after the listing"

# So far: LOOKUP of d (the listing's walk) and of f3.
assert_eq "$(lookups_reach 2)" 2 "LOOKUPs after the listing and one stat"
for i in 1 2 4 5 6 7 8 9 10; do stat "$M/d/f$i" >/dev/null || fail "stat f$i"; done
assert_eq "$(lookups_reach 11)" 11 "LOOKUPs after the first stats of 9 more listed regular files"
stat "$M/d/sub1" "$M/d/sub2" >/dev/null || fail "stat subdirectories"
stat -c %N "$M/d/link" >/dev/null || fail "lstat link"
# One more known LOOKUP (a name created beneath the mount, never looked up) makes the published
# count fresh: 12 if the subdirectories and the symlink cost none.
touch "$L/d/g"
stat "$M/d/g" >/dev/null || fail "stat g"
assert_eq "$(lookups_reach 12)" 12 "LOOKUPs for the listed subdirectories and symlink (none) + g"

for n in f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 sub1 sub2 link; do
  assert_eq "$(stat -c '%F %a %s %i' "$M/d/$n")" "$(stat -c '%F %a %s %i' "$L/d/$n")" "stat of d/$n"
done
pass "listing nodes"
