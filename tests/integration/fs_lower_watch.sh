#!/bin/bash
# watch=on (docs/mount.md, "Watching the lower tree"): the daemon watches the lower file systems
# (fanotify) and drops the kernel's cached names and listings when they change beneath the mount;
# directory opens then need no OPENDIR round trip. On mounts with timeout=86400 (nothing expires
# during the test):
# - control, with watch=off: a name removed beneath the mount after it was looked up still stats
#   (the kernel's entry lives for a day), so the checks below can fail;
# - with watch=on: 50 listings of a directory cost one OPENDIR at most (the first, answered ENOSYS)
#   and no directory read once cached;
# - names created, renamed and removed beneath are listed, and a removed name no longer stats,
#   within 2 s (the daemon handles the notification within milliseconds); a file replaced beneath
#   shows its new size; changes through the mount are listed at once;
# - a tmpfs mounted beneath the lower root is watched as well (or, if it cannot be, directory opens
#   stay round trips and its listings stay current);
# - the watch does not keep a file system mounted beneath busy while nothing on it was looked up:
#   it unmounts as without the watch; one mounted there afterwards (likely with the device number
#   of the one before) is watched once looked up;
# - mode=enforce with the default (watch=auto, as root: on): listings follow the same way, and
#   content decisions are unchanged (a program created beneath, not in the store, is refused).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd jq
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

L=$T/lower
mkdir -p "$L/d" "$L/t"
touch "$L/d/one" "$L/d/gone"
echo short >"$L/d/size"

# --- control: without the watch a removed name keeps its cached entry ---------------------------
dfs_mount_fg "$L" "$T/m0" "$T/log0" "mode=off,timeout=86400,status_interval=0,watch=off"
stat "$T/m0/d/gone" >/dev/null || fail "control: stat before the removal"
mv "$L/d/gone" "$L/d/gone.moved"
sleep 0.3
stat "$T/m0/d/gone" >/dev/null 2>&1 ||
  fail "control: without watch=on the removed name was dropped too (the checks below prove nothing)"
mv "$L/d/gone.moved" "$L/d/gone"
assert_eq "$("$DIGESTCTL" status "$T/m0" --json | jq -c '.daemon.lower_watch | [.option, .active]')" \
  '["off",false]' "control: status of the watch"
"$DIGESTCTL" status "$T/m0" | grep -qx 'lower watch: off (watch=off)' ||
  fail "control: status text lacks 'lower watch: off (watch=off)': $("$DIGESTCTL" status "$T/m0")"
unmount "$T/m0"

# --- watch=on ------------------------------------------------------------------------------------
mount -t tmpfs -o size=4m dfs-watch-tmpfs "$L/t"
at_exit "umount -l '$L/t'"
touch "$L/t/in-tmpfs"
mkdir -p "$L/u"
mount -t tmpfs -o size=1m dfs-watch-unused "$L/u"
at_exit "umount -l '$L/u' 2>/dev/null || true"
M=$T/mnt
dfs_mount_fg "$L" "$M" "$T/log" "mode=off,timeout=86400,status_interval=0,watch=on,loglevel=info"
PID=$DFS_PID
grep -q "event=lower_watch_started" "$T/log" ||
  { cat "$T/log" >&2; fail "the watch did not start (log above)"; }
tmpfs_watched=1
grep -q "event=lower_watch_incomplete" "$T/log" && tmpfs_watched=0
grep -q "no_opendir=$([ $tmpfs_watched = 1 ] && echo true || echo false)" "$T/log" ||
  { cat "$T/log" >&2; fail "no_opendir does not follow whether every lower file system is watched"; }

requests() {  # $1: opcode; the daemon's count in a status published after this call (SIGUSR1)
  local before after i
  before=$("$DIGESTCTL" status "$M" --json | jq -r '.daemon.updated_ns // .daemon.updated // 0')
  for i in $(seq 50); do
    kill -USR1 "$PID"
    sleep 0.2
    after=$("$DIGESTCTL" status "$M" --json | jq -r '.daemon.updated_ns // .daemon.updated // 0')
    [ "$after" != "$before" ] && break
  done
  "$DIGESTCTL" status "$M" --json | jq -r ".daemon.fuse_requests.$1 // 0"
}
listing() { ls -a "$1" | tr '\n' ' '; }
# Waits up to 2 s for `listing $1` to be $2.
until_listed() {
  local i got
  for i in $(seq 40); do
    got=$(listing "$1")
    [ "$got" == "$2" ] && return 0
    sleep 0.05
  done
  fail "${3:-listing of $1}: expected '$2', still '$got' after 2 s"
}

assert_eq "$(listing "$M/d")" ". .. gone one size " "first listing"
stat "$M/d/gone" >/dev/null || fail "stat of gone"
assert_eq "$(stat -c %s "$M/d/size")" 6 "size before the replacement"
od0=$(requests opendir)
rd0=$(( $(requests readdir) + $(requests readdirplus) ))
for i in $(seq 50); do listing "$M/d" >/dev/null; done
od1=$(requests opendir)
rd1=$(( $(requests readdir) + $(requests readdirplus) ))
if [ $tmpfs_watched = 1 ]; then
  [ "$od1" -le 1 ] || fail "50 listings with watch=on sent $od1 OPENDIR requests (expected at most 1)"
  assert_eq "$rd1" "$rd0" "directory reads for 50 listings of a cached directory"
else
  [ "$od1" -ge $((od0 + 50)) ] || fail "watch incomplete: directory opens should stay round trips"
fi

touch "$L/d/two"
until_listed "$M/d" ". .. gone one size two " "a file created beneath"
mv "$L/d/two" "$L/d/three"
until_listed "$M/d" ". .. gone one size three " "a file renamed beneath"
rm "$L/d/gone"
until_listed "$M/d" ". .. one size three " "a file removed beneath"
stat "$M/d/gone" >/dev/null 2>&1 && fail "a name removed beneath still stats through the mount"
printf 'a longer replacement\n' >"$L/d/size.new"
mv -f "$L/d/size.new" "$L/d/size"
for i in $(seq 40); do [ "$(stat -c %s "$M/d/size")" = 21 ] && break; sleep 0.05; done
assert_eq "$(stat -c %s "$M/d/size")" 21 "size of a file replaced beneath"
assert_eq "$(cat "$M/d/size")" "a longer replacement" "content of a file replaced beneath"
mkdir "$L/d/sub"
until_listed "$M/d" ". .. one size sub three " "a directory made beneath"
touch "$M/d/four"
assert_eq "$(listing "$M/d")" ". .. four one size sub three " "a create through the mount"
rm "$M/d/four"
assert_eq "$(listing "$M/d")" ". .. one size sub three " "a removal through the mount"
# A directory read at an offset without a handle: a listing larger than one READDIR reply.
for i in $(seq 300); do touch "$L/d/sub/file-with-a-long-name-$i"; done
until_listed "$M/d/sub" "$(ls -a "$L/d/sub" | tr '\n' ' ')" "a directory of 300 names"
sync -f "$M/d/sub" 2>/dev/null || true
python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY|os.O_DIRECTORY); os.fsync(fd)' "$M/d/sub" ||
  fail "fsync of a directory opened without OPENDIR"

# Negative entries: a name looked up before it exists beneath is seen as soon as it is created
# there, well within the 1 s that negative entries live without the watch.
[ -e "$M/d/later" ] && fail "later exists too early"
touch "$L/d/later"
for i in $(seq 10); do [ -e "$M/d/later" ] && break; sleep 0.05; done
[ -e "$M/d/later" ] || fail "a name created beneath after a failed lookup is not seen within 0.5 s"

# The tmpfs beneath the lower root.
assert_eq "$(listing "$M/t")" ". .. in-tmpfs " "tmpfs listing"
listing "$M/t" >/dev/null
touch "$L/t/made-beneath"
until_listed "$M/t" ". .. in-tmpfs made-beneath " "a file created beneath in the tmpfs"
requests lookup >/dev/null  # a fresh status
w=$("$DIGESTCTL" status "$M" --json | jq -c '.daemon.lower_watch')
assert_eq "$(jq -c '[.option, .active, .no_opendir]' <<<"$w")" "[\"on\",true,$([ $tmpfs_watched = 1 ] && echo true || echo false)]" \
  "status of the watch ($w)"
[ "$(jq '.changes_read' <<<"$w")" -ge 5 ] || fail "status: the watch read fewer changes than were made beneath ($w)"
"$DIGESTCTL" status "$M" | grep -q '^lower watch: on (watch=on; ' ||
  fail "status text lacks 'lower watch: on': $("$DIGESTCTL" status "$M")"
"$DIGESTCTL" status "$M" --prometheus | grep -qF "digestfs_lower_watch_active{mountpoint=\"$M\"} 1" ||
  fail "--prometheus lacks digestfs_lower_watch_active 1: $("$DIGESTCTL" status "$M" --prometheus | grep watch)"

# A file system beneath that nothing was looked up on: marked, not held.
dev_u=$(stat -c '%Hd:%Ld' "$L/u")
umount "$L/u" || fail "a tmpfs beneath the lower root, never looked up, cannot be unmounted"
mount -t tmpfs -o size=1m dfs-watch-later "$L/u"
touch "$L/u/first"
echo "device of the tmpfs before: $dev_u, of the one mounted since: $(stat -c '%Hd:%Ld' "$L/u")"
assert_eq "$(listing "$M/u")" ". .. first " "the tmpfs mounted since"
if [ $tmpfs_watched = 1 ]; then
  listing "$M/u" >/dev/null  # from the kernel's cached listing from now on
  touch "$L/u/second"
  until_listed "$M/u" ". .. first second " "a file created beneath in the tmpfs mounted since"
fi
unmount "$M"

# --- mode=enforce with the default watch=auto -----------------------------------------------------
mkdir -p "$L/x"
printf '#!/bin/sh\necho known\n' >"$L/x/known"
chmod +x "$L/x/known"
dfs_manifest_store "$T/store" "$L" watch
E=$T/enf
dfs_mount_fg "$L" "$E" "$T/log-enf" "mode=enforce,store=$T/store,timeout=86400,status_interval=0,loglevel=info"
grep -q "event=lower_watch_started" "$T/log-enf" ||
  { cat "$T/log-enf" >&2; fail "enforce: the default (watch=auto) did not start the watch as root"; }
assert_eq "$(listing "$E/x")" ". .. known " "enforce: listing"
assert_eq "$("$E/x/known")" known "enforce: a listed program runs"
printf '#!/bin/sh\necho unknown\n' >"$L/x/unknown"
chmod +x "$L/x/unknown"
until_listed "$E/x" ". .. known unknown " "enforce: a program created beneath"
"$E/x/unknown" >/dev/null 2>&1 && fail "enforce: an unknown program created beneath ran"
unmount "$E"
pass "fs_lower_watch"
