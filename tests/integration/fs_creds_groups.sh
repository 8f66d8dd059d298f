#!/bin/bash
# Creations run as the caller with its FULL supplementary group list: a caller with 300 groups
# whose write access to a directory comes only from its 300th group can create there through the
# mount (the daemon once cut the list to 256 and then failed with EACCES), and a caller without
# that group cannot.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd setpriv
[ -x "$DIGESTFS" ] || skip "digestfs not built"
chmod 755 "$T"
mkdir -p "$T/lower/shared" "$T/mnt"
groups=$(seq -s, 20001 20300)   # 300 groups; the last one owns the directory
chown 0:20300 "$T/lower/shared"
chmod 2770 "$T/lower/shared"
dfs_mount "$T/lower" "$T/mnt" -o mode=off
as_caller() { setpriv --reuid=65534 --regid=65534 --groups="$1" "${@:2}"; }

as_caller "$groups" touch "$T/mnt/shared/by-group-300" ||
  fail "a caller with 300 groups could not create through its 300th group"
[ "$(stat -c %u:%g "$T/lower/shared/by-group-300")" = 65534:20300 ] ||
  fail "created with the wrong owner: $(stat -c %u:%g "$T/lower/shared/by-group-300")"
as_caller "$groups" mkdir "$T/mnt/shared/dir" || fail "mkdir through the 300th group"
if as_caller "$(seq -s, 20001 20299)" touch "$T/mnt/shared/no" 2> /dev/null; then
  fail "a caller without the group created a file"
fi
[ -e "$T/lower/shared/no" ] && fail "file created without permission"
# The daemon's own credentials are restored after each switched operation.
touch "$T/mnt/shared/by-root" || fail "root create after switched operations"
[ "$(stat -c %u "$T/lower/shared/by-root")" = 0 ] || fail "root's file not owned by root"
pass "fs_creds_groups"
