#!/bin/bash
# A file reached by a name that no longer leads to it beneath the mount (renamed in the lower tree
# after the kernel cached the name) is still measured under a name: the one the kernel reached it
# by. The daemon cannot confirm that name, so the policy decides as strictly as for an unknown path
# (unchanged), but the measurement log and the refusal line name the file instead of writing an
# empty path (before: an IMA entry with an empty file name, which tells an attestation server
# nothing about what ran). Also a file whose parent directory was renamed beneath the mount: its
# name still leads to it from the directory, so it is measured under its path beneath the mount
# now (/tmp/dir2/prog3), a confirmed one.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd python3
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
ROOT=$T/root
mkdir -p "$ROOT/tmp/dir" "$T/mnt"
for f in "$ROOT/tmp/prog" "$ROOT/tmp/dir/prog3"; do
  printf '#!/bin/sh\necho unlisted %s\n' "$f" >"$f"
  chmod 755 "$f"
done
"$DIGESTCTL" --store "$T/store" init >/dev/null || fail "digestctl init"
# watch=off: the kernel must keep the stale name (the watch, the default as root, expires it
# within milliseconds; what is measured must not depend on winning that race).
dfs_mount_fg "$ROOT" "$T/mnt" "$T/log" "store=$T/store,mode=enforce,log=$T/mlog,loglevel=info,watch=off"

# The kernel caches the names (lookups through the mount), then they change beneath it.
stat "$T/mnt/tmp/prog" "$T/mnt/tmp/dir/prog3" >/dev/null || fail "stat through the mount"
mv "$ROOT/tmp/prog" "$ROOT/tmp/prog2"
mv "$ROOT/tmp/dir" "$ROOT/tmp/dir2"

exec_errno() {
  python3 - "$1" <<'PY'
import errno, os, sys
try:
    os.execv(sys.argv[1], [sys.argv[1]])
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PY
}
assert_eq "$(exec_errno "$T/mnt/tmp/prog")" EACCES "exec of the unlisted file by its stale name"
assert_eq "$(exec_errno "$T/mnt/tmp/dir/prog3")" EACCES "exec of the unlisted file in a renamed directory"
pass "both refused (as unknown content)"

A=$T/mlog/ascii_runtime_measurements
[ -f "$A" ] || fail "no measurement log"
# Lines: PCR template-hash template filedata-hash name
names=$(awk '$3 == "ima-ng" { print $5 }' "$A")
echo "$names" | grep -qx '/tmp/prog' || { cat "$A" >&2; fail "no measurement named /tmp/prog"; }
echo "$names" | grep -qx '/tmp/dir2/prog3' || { cat "$A" >&2; fail "no measurement named /tmp/dir2/prog3"; }
n_empty=$(awk '$3 == "ima-ng" && NF < 5' "$A" | wc -l)
assert_eq "$n_empty" 0 "measurements without a file name"
pass "measured as /tmp/prog and /tmp/dir2/prog3, none without a name"

grep -q 'path="/tmp/prog"' "$T/log" || { tail -20 "$T/log" >&2; fail "the refusal line does not name /tmp/prog"; }
pass "the refusal is logged with the name"

# What the log says verifies with the project's reader, and the names are in the binary log.
"$DIGESTCTL" log show --log "$T/mlog/binary_runtime_measurements" | grep -q '/tmp/prog' ||
  fail "digestctl log show does not list /tmp/prog"
pass "measure_stale_name"
