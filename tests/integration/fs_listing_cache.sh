#!/bin/bash
# A directory whose listing the kernel has cached is opened without a handle (docs/mount.md,
# "Caching and consistency"): the opendir only compares the lower directory's size and times with
# those of the cached listing. When the kernel still sends READDIR for such an open (its cached
# pages were reclaimed), each one opens the lower directory and starts at the offset the kernel
# asks for. Checked on a fresh mount, with a directory of 1,500 long names (several READDIRPLUS
# replies of this kernel):
# - the first listing, and one after the kernel's cached pages were dropped (drop_caches), list
#   exactly the lower directory's names, each once, and the second one was read through READDIRs;
# - telldir/seekdir within one such open (perl) go back to the same place;
# - a listing cached again is served with no READDIR at all, and a name created beneath is
#   listed at the next opendir.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd jq perl
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
[ -w /proc/sys/vm/drop_caches ] || skip "cannot write /proc/sys/vm/drop_caches"

L=$T/lower
mkdir -p "$L/big"
pad=$(printf 'x%.0s' $(seq 80))
for i in $(seq 1500); do : >"$L/big/name-$i-$pad"; done
mkdir "$L/big/sub"
M=$T/mnt
dfs_mount_fg "$L" "$M" "$T/log" "mode=off,timeout=86400,status_interval=0"
PID=$DFS_PID

# The daemon's count of READDIR + READDIRPLUS requests so far: published (SIGUSR1) until two
# publications 0.2 s apart agree (every request of a listing that has returned is counted).
reads_now() {
  local prev=-1 n i
  for i in $(seq 50); do
    kill -USR1 "$PID"
    sleep 0.2
    n=$("$DIGESTCTL" status "$M" --json |
      jq -r '(.daemon.fuse_requests.readdir // 0) + (.daemon.fuse_requests.readdirplus // 0)')
    [ "$n" = "$prev" ] && break
    prev=$n
  done
  echo "$n"
}
want=$(ls -a "$L/big" | sort)
listing() { ls -a "$M/big" | sort; }

assert_eq "$(listing)" "$want" "first listing"
first=$(reads_now)
[ "$first" -ge 4 ] || fail "the first listing took $first READDIR/READDIRPLUS requests (expected several)"

# Cached: the next listing makes no request (a fresh status makes the count current).
assert_eq "$(listing)" "$want" "cached listing"
assert_eq "$(reads_now)" "$first" "READDIRs of the cached listing"

# The kernel's cached pages dropped: its READDIRs come for an open made without a handle.
sync
echo 1 >/proc/sys/vm/drop_caches
assert_eq "$(listing)" "$want" "listing after the kernel's cached pages were dropped"
again=$(reads_now)
[ "$again" -ge $((first + 4)) ] ||
  fail "no READDIRs after drop_caches ($first before, $again after): the handle-less path was not used"
dups=$(ls -a "$M/big" | sort | uniq -d | wc -l)
assert_eq "$dups" 0 "names listed twice"

# telldir/seekdir in one open, once more after the cached pages were dropped.
echo 1 >/proc/sys/vm/drop_caches
out=$(perl -e '
  opendir(my $d, $ARGV[0]) or die "opendir: $!";
  my @head; push @head, scalar readdir($d) for 1 .. 700;
  my $pos = telldir($d);
  my @a = readdir($d);
  seekdir($d, $pos);
  my @b = readdir($d);
  print scalar(@head) + scalar(@a), " ", (join("/", @a) eq join("/", @b) ? "same" : "differ"), "\n";
' "$M/big")
assert_eq "$out" "1503 same" "entries read, and the rest read again after seekdir"

# A change beneath is listed at the next opendir (the stamp differs: a new handle).
: >"$L/big/created-beneath"
assert_eq "$(listing)" "$(ls -a "$L/big" | sort)" "listing after a create beneath"
n=$(reads_now)
assert_eq "$(listing)" "$(ls -a "$L/big" | sort)" "cached listing after the create"
assert_eq "$(reads_now)" "$n" "READDIRs of the listing cached again"
pass "listing cache"
