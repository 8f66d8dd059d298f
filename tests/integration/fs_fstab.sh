#!/bin/bash
# fstab lines with the options meant for mount(8), mount.fuse3 and systemd (nofail, _netdev,
# noauto, x-systemd.*, X-mount.*, comment=, defaults) mount through the real mount(8) ->
# mount.fuse3 -> digestfs chain; the same list given to digestfs itself (as in a
# digestfs@.service environment file) mounts too; a misspelt option still fails, named.
# The build's digestfs is not in mount.fuse3's PATH, so the lines use mount.fuse3's
# "fuse" type with "PROGRAM#SOURCE" (the package test, package_deb.sh, mounts type fuse.digestfs
# with the installed program). A few seconds.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd mount mount.fuse3
[ -x "$DIGESTFS" ] || skip "digestfs not built"

mkdir -p "$T/lower/d" "$T/mnt"
echo hello >"$T/lower/d/f"
opts='defaults,nofail,_netdev,noauto,x-systemd.automount,x-systemd.requires=network-online.target,x-systemd.mount-timeout=30s,X-mount.mkdir,comment=dfs,mode=off'
printf '%s %s fuse %s 0 0\n' "$DIGESTFS#$T/lower" "$T/mnt" "$opts" >"$T/fstab"
at_exit "unmount '$T/mnt'"
mount --fstab "$T/fstab" "$T/mnt" 2>"$T/err" || { cat "$T/err" >&2; fail "mount from the fstab line failed"; }
mountpoint -q "$T/mnt" || fail "not mounted"
assert_eq "$(cat "$T/mnt/d/f")" hello "read through the mount"
grep " $T/mnt fuse.digestfs " /proc/self/mounts >/dev/null || fail "the mount is not of type fuse.digestfs"
umount "$T/mnt"

# The same list straight to digestfs (mount(8) and mount.fuse3 are not there to drop anything).
"$DIGESTFS" "$T/lower" "$T/mnt" -o "$opts" 2>"$T/err" || { cat "$T/err" >&2; fail "digestfs -o with fstab-only options failed"; }
wait_mounted "$T/mnt"
assert_eq "$(cat "$T/mnt/d/f")" hello "read through the directly started mount"
umount "$T/mnt"

# A misspelt option is not dropped: mount fails and libfuse names it.
printf '%s %s fuse %s 0 0\n' "$DIGESTFS#$T/lower" "$T/mnt" "nofail,x_systemd.automount,mode=off" >"$T/fstab"
if mount --fstab "$T/fstab" "$T/mnt" 2>"$T/err"; then fail "a misspelt option was accepted"; fi
grep -q 'x_systemd.automount' "$T/err" || { cat "$T/err" >&2; fail "the error does not name the misspelt option"; }
mountpoint -q "$T/mnt" && fail "mounted despite the misspelt option"
pass "fstab lines with nofail, _netdev, x-systemd.* and comment= mount; a misspelt option fails, named"
