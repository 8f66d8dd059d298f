#!/bin/bash
# The read after a listing's last entry (docs/mount.md, "Caching and consistency"): the kernel
# asks READDIR again at the offset the last entry gave, until a read lists nothing. On ext4 that
# offset is the end-of-listing position, where nothing is ever listed, and the daemon answers it
# without opening the lower directory. Checked on the default mount (the lower-tree watch: the
# kernel opens directories itself, so each read without a handle would open the lower one) and
# with watch=off (OPENDIR handles):
# - listings that take many READDIRs (3,000 names of 200 bytes), read through the mount, are the
#   lower directory's, names added or removed beneath the mount after a listing included;
# - a walk of 21 fresh small directories opens each lower directory once (the daemon's openat
#   calls, by strace): it was twice, once for the read that found the end;
# - on a tmpfs lower tree (not ext4: reads at that offset still go to the lower directory) a
#   3,000-name listing is the lower one.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd strace
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ "$(stat -f -c %T "$T")" = ext2/ext3 ] || skip "the test's directory $T is not on ext4 ($(stat -f -c %T "$T"))"

L=$T/lower
mkdir -p "$L/big" "$L/tree"
pad=$(printf 'n%.0s' $(seq 200))
(cd "$L/big" && for i in $(seq 3000); do : >"$i.$pad"; done)
for i in $(seq 20); do
  mkdir -p "$L/tree/d$i"
  touch "$L/tree/d$i/a" "$L/tree/d$i/b"
done

# same_listing MNT DIR WHAT: DIR's names through the mount are those beneath it.
same_listing() {
  local got want
  got=$(ls -fA "$1/$2" | sort | md5sum)
  want=$(ls -fA "$L/$2" | sort | md5sum)
  assert_eq "$got" "$want" "$3"
}

for opts in "mode=off" "mode=off,watch=off"; do
  M=$T/m_${opts//[=,]/_}
  dfs_mount_fg "$L" "$M" "$T/log.${opts//[=,]/_}" "$opts,status_interval=0"
  pid=$DFS_PID
  assert_eq "$(ls -fA "$M/big" | wc -l)" 3000 "names listed in big/ ($opts)"
  same_listing "$M" big "big/ ($opts)"
  same_listing "$M" big "big/ listed again ($opts)"
  # Changed beneath the mount after the listings: names added at both ends of the hash order and
  # one removed. The watch drops the kernel's listing (the default), an opendir finds the changed
  # times (watch=off); the listing may lag the change by the watch's few milliseconds.
  for i in $(seq 3001 3040); do : >"$L/big/$i.$pad"; done
  rm "$L/big/17.$pad"
  for _ in $(seq 50); do
    [ "$(ls -fA "$M/big" | wc -l)" = 3039 ] && break
    sleep 0.1
  done
  same_listing "$M" big "big/ after names were added and removed beneath ($opts)"

  # The walk of fresh directories: the daemon's opens of lower directories.
  # A fresh file: the previous round's still holds its "absent." lines until strace reopens it.
  rm -f "$T/strace"
  strace -f -qq -e trace=openat -o "$T/strace" -p "$pid" &
  spid=$!
  # Traced once the LOOKUP of a name never asked before shows (strace attaches to every thread
  # before it traces any).
  for k in $(seq 100); do
    stat "$M/absent.$k" >/dev/null 2>&1 || true
    grep -q '"absent\.' "$T/strace" 2>/dev/null && break
    sleep 0.1
  done
  grep -q '"absent\.' "$T/strace" || fail "strace did not trace the daemon ($opts)"
  find "$M/tree" >"$T/walk" || fail "find through the mount ($opts)"
  sleep 0.2
  kill -INT "$spid"
  wait "$spid" 2>/dev/null || true  # strace ends on the signal
  assert_eq "$(wc -l <"$T/walk")" "$(find "$L/tree" | wc -l)" "names the walk found ($opts)"
  opens=$(grep -c 'openat([0-9]*, "\.", O_RDONLY|O_CLOEXEC|O_DIRECTORY)' "$T/strace")
  assert_eq "$opens" 21 "lower directories opened by a walk of 21 fresh directories ($opts)"
  unmount "$M"
  # The next mount starts from the same trees.
  for i in $(seq 3001 3040); do rm "$L/big/$i.$pad"; done
  : >"$L/big/17.$pad"
  rm -rf "$L/tree"
  for i in $(seq 20); do
    mkdir -p "$L/tree/d$i"
    touch "$L/tree/d$i/a" "$L/tree/d$i/b"
  done
done

# Elsewhere the largest offset is not known to end a listing, and reads there go to the lower
# directory as before: a 3,000-name listing on a tmpfs lower tree is the lower one.
mkdir -p "$T/tlower"
mount -t tmpfs tmpfs "$T/tlower" || fail "mounting a tmpfs"
at_exit "umount '$T/tlower'"
mkdir "$T/tlower/big"
(cd "$T/tlower/big" && for i in $(seq 3000); do : >"$i.$pad"; done)
dfs_mount_fg "$T/tlower" "$T/mt" "$T/log.tmpfs" "mode=off,status_interval=0"
assert_eq "$(ls -fA "$T/mt/big" | sort | md5sum)" "$(ls -fA "$T/tlower/big" | sort | md5sum)" \
  "big/ on a tmpfs lower tree"
unmount "$T/mt"
pass "listing ends"
