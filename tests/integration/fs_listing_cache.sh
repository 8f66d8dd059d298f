#!/bin/bash
# With watch=off (with the watch the kernel opens directories itself): a directory whose listing
# the kernel has cached is opened without a handle (docs/mount.md, "Caching and consistency"): the
# opendir only compares the lower directory's size and times with those of the cached listing.
# When the kernel still sends READDIR for such an open (its cached pages were reclaimed), each one
# opens the lower directory and starts at the offset the kernel asks for. Checked on a fresh
# mount, with a directory of 1,500 long names (several READDIRPLUS replies of this kernel):
# - the first listing, and one after the kernel's cached pages were dropped (drop_caches), list
#   exactly the lower directory's names, each once, and the second one was read through READDIRs;
# - telldir/seekdir within one such open (perl), with the cached pages dropped in between, go
#   back to the same place (a READDIR at that offset);
# - a cached listing is served with no READDIR at all, and its opendir holds no lower directory
#   open (/proc/PID/fdinfo); a name created beneath is listed at the next opendir, which does;
# - over tmpfs (offsets that may not survive a new open) every opendir keeps its handle.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd perl
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -w /proc/sys/vm/drop_caches ] || skip "cannot write /proc/sys/vm/drop_caches"

L=$T/lower
mkdir -p "$L/big"
pad=$(printf 'x%.0s' $(seq 80))
for i in $(seq 1500); do : >"$L/big/name-$i-$pad"; done
mkdir "$L/big/sub"
M=$T/mnt
mkdir -p "$M"
# -d: libfuse's trace of every request, written before the request is answered (so complete once
# the listing that made it has returned).
"$DIGESTFS" "$L" "$M" -d -o "mode=off,timeout=86400,status_interval=0,watch=off" 2>"$T/trace" &
DFS_PID=$!
at_exit "unmount '$M'; wait $DFS_PID 2>/dev/null"
wait_mounted "$M"

# READDIR + READDIRPLUS requests so far.
reads_now() { grep -c 'opcode: READDIR' "$T/trace" || true; }
# How many lower directories daemon $1 holds open for reading (not O_PATH) at $2.
lower_dir_handles() {
  local fd n=0 flags
  for fd in /proc/"$1"/fd/*; do
    [ "$(readlink "$fd")" = "$2" ] || continue
    flags=$(awk '/^flags:/ { print $2 }' /proc/"$1"/fdinfo/"${fd##*/}")
    ((8#$flags & 8#10000000)) || n=$((n + 1))  # O_PATH
  done
  echo "$n"
}
# How many more of those daemon $1 holds at lower directory $2 while this shell holds $3 (the
# same directory through the mount) open. (The daemon also keeps one open directory per lower
# mount, for open_by_handle_at.)
handles_for_open() {
  local base n
  base=$(lower_dir_handles "$1" "$2")
  exec 7<"$3"
  n=$(lower_dir_handles "$1" "$2")
  exec 7<&-
  echo $((n - base))
}
want=$(ls -a "$L/big" | sort)
listing() { ls -a "$M/big" | sort; }

assert_eq "$(listing)" "$want" "first listing"
first=$(reads_now)
[ "$first" -ge 4 ] || fail "the first listing took $first READDIR/READDIRPLUS requests (expected several)"

# Cached: the next listing makes no request. The kernel may reclaim the cached pages at any time
# (a clean-clone CI run once saw the second listing read the directory again: 7 -> 13), so a
# listing that did read is followed by one more, up to three; one of them must make no request.
prev=$first
cached=0
for try in 1 2 3; do
  assert_eq "$(listing)" "$want" "cached listing ($try)"
  now=$(reads_now)
  [ "$now" = "$prev" ] && { cached=1; break; }
  echo "listing $try read the directory again ($prev -> $now READDIRs)"
  prev=$now
done
[ $cached = 1 ] || fail "READDIRs of the cached listing: each of three listings read the directory again"
# ... and its opendir opens no lower directory.
assert_eq "$(handles_for_open "$DFS_PID" "$L/big" "$M/big")" 0 "lower directories opened for an open of a cached listing"

# The kernel's cached pages dropped: its READDIRs come for an open made without a handle.
sync
echo 1 >/proc/sys/vm/drop_caches
assert_eq "$(listing)" "$want" "listing after the kernel's cached pages were dropped"
again=$(reads_now)
[ "$again" -ge $((now + 4)) ] ||
  fail "no READDIRs after drop_caches ($now before, $again after): the handle-less path was not used"
dups=$(ls -a "$M/big" | sort | uniq -d | wc -l)
assert_eq "$dups" 0 "names listed twice"

# telldir/seekdir in one open: the rest of the listing read, the kernel's cached pages dropped,
# then back to the middle: the kernel asks READDIR at that offset, for an open without a handle.
before=$(reads_now)
out=$(perl -e '
  opendir(my $d, $ARGV[0]) or die "opendir: $!";
  my @head; push @head, scalar readdir($d) for 1 .. 700;
  my $pos = telldir($d);
  my @a = readdir($d);
  open(my $dc, ">", "/proc/sys/vm/drop_caches") or die "drop_caches: $!";
  print $dc "1\n"; close($dc);
  seekdir($d, $pos);
  my @b = readdir($d);
  print scalar(@head) + scalar(@a), " ", (join("/", @a) eq join("/", @b) ? "same" : "differ"), "\n";
' "$M/big")
assert_eq "$out" "1503 same" "entries read, and the rest read again after seekdir"
after=$(reads_now)
[ "$after" -gt "$before" ] || fail "seekdir after drop_caches sent no READDIR ($before before and after)"

# A change beneath is listed at the next opendir (the stamp differs: a new handle).
: >"$L/big/created-beneath"
assert_eq "$(handles_for_open "$DFS_PID" "$L/big" "$M/big")" 1 "lower directories opened for an open after a change beneath"
assert_eq "$(listing)" "$(ls -a "$L/big" | sort)" "listing after a create beneath"
n=$(reads_now)
assert_eq "$(listing)" "$(ls -a "$L/big" | sort)" "cached listing after the create"
assert_eq "$(reads_now)" "$n" "READDIRs of the listing cached again"

# On a file system whose directory offsets may count the entries of one open (tmpfs here; also
# overlayfs, NFS, CIFS, FUSE), every opendir keeps a lower handle, cached listing or not.
TL=$T/tmpfs-lower
mkdir -p "$TL"
mount -t tmpfs dfs-test "$TL" || fail "mount tmpfs"
at_exit "umount -l '$TL'"
mkdir "$TL/d"
for i in $(seq 100); do : >"$TL/d/f$i"; done
TM=$T/tmpfs-mnt
mkdir -p "$TM"
"$DIGESTFS" "$TL" "$TM" -f -o "mode=off,timeout=86400,status_interval=0,watch=off" 2>"$T/tmpfs-log" &
TPID=$!
at_exit "unmount '$TM'; wait $TPID 2>/dev/null"
wait_mounted "$TM"
assert_eq "$(ls -a "$TM/d" | sort)" "$(ls -a "$TL/d" | sort)" "tmpfs: first listing"
assert_eq "$(ls -a "$TM/d" | sort)" "$(ls -a "$TL/d" | sort)" "tmpfs: cached listing"
assert_eq "$(handles_for_open "$TPID" "$TL/d" "$TM/d")" 1 "tmpfs: lower directories opened for an open of a cached listing"
pass "listing cache"
