#!/bin/bash
# Changes made beneath the mount (to the lower tree directly) are seen through it: an open after a
# lower-side write serves the new content and size, even when the kernel had cached the file's
# pages and attributes; a file created beneath becomes visible within the negative-entry lifetime;
# a reader reads the inode it opened even when the name is replaced or removed before its first
# read; a directory changed beneath is listed as it is now at its next opendir.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
[ -x "$DIGESTFS" ] || skip "digestfs not built"
mkdir -p "$T/lower"
echo "version one" > "$T/lower/f"
dfs_mount "$T/lower" "$T/mnt" -o "${DFS_FS_OPTS:-mode=off}"

# Attributes cached by stat, content never read: the first open must not serve a stale size.
stat "$T/mnt/f" > /dev/null
echo "version two, which is longer" > "$T/lower/f"
assert_eq "$(cat "$T/mnt/f")" "version two, which is longer" "first open after a lower change"

# Pages cached by a read: the next open drops them.
cat "$T/mnt/f" > /dev/null
printf 'VERSION 3, same length here!\n' > "$T/lower/f"
assert_eq "$(cat "$T/mnt/f")" "VERSION 3, same length here!" "reopen after a same-size lower change"

# Grown and shrunk beneath.
cat "$T/mnt/f" > /dev/null
head -c 200000 /dev/urandom > "$T/lower/f"
cmp "$T/mnt/f" "$T/lower/f" || fail "grown file differs"
truncate -s 10 "$T/lower/f"
[ "$(cat "$T/mnt/f" | wc -c)" = 10 ] || fail "content size after a lower truncate"

# Unchanged file: the kernel keeps its pages (no re-read): just check content stays right.
assert_eq "$(md5sum < "$T/mnt/f")" "$(md5sum < "$T/lower/f")" "unchanged content"

# A file created beneath appears within the negative-entry lifetime (1 s).
[ -e "$T/mnt/new" ] && fail "new exists too early"
echo fresh > "$T/lower/new"
sleep 1.2
assert_eq "$(cat "$T/mnt/new")" "fresh" "file created beneath the mount"
# A reader's lower file is opened only when a read first needs it, and then it is the inode that
# was opened, never whatever holds the name by then: replace the file beneath (rename over it)
# between the open and the first read; remove another one.
printf 'the opened inode\n' > "$T/lower/swap"
printf 'a replacement!!\n' > "$T/lower/swap.new"
printf 'removed beneath\n' > "$T/lower/gone"
exec 5< "$T/mnt/swap"
exec 6< "$T/mnt/gone"
mv -f "$T/lower/swap.new" "$T/lower/swap"
rm -f "$T/lower/gone"
assert_eq "$(cat <&5)" "the opened inode" "read after the name was replaced beneath"
assert_eq "$(cat <&6)" "removed beneath" "read after the file was removed beneath"
exec 5<&- 6<&-
# Directory listings: the kernel caches them across opens (cache_readdir, keep_cache) and drops
# them at the next opendir once the lower directory changed: each change beneath is listed at once.
mkdir -p "$T/lower/dir"
touch "$T/lower/dir/one"
listing() { ls -a "$T/mnt/dir" | tr '\n' ' '; }
assert_eq "$(listing)" ". .. one " "listing"
assert_eq "$(listing)" ". .. one " "listing again"
touch "$T/lower/dir/two"
assert_eq "$(listing)" ". .. one two " "listing after a file was created beneath"
mv "$T/lower/dir/two" "$T/lower/dir/three"
assert_eq "$(listing)" ". .. one three " "listing after a rename beneath"
rm "$T/lower/dir/one"
assert_eq "$(listing)" ". .. three " "listing after a removal beneath"
touch "$T/mnt/dir/four"
assert_eq "$(listing)" ". .. four three " "listing after a create through the mount"
rm "$T/mnt/dir/three"
assert_eq "$(listing)" ". .. four " "listing after a removal through the mount"
pass "fs_lower_changes"
