#!/bin/bash
# Issue 14, item 8: an unknown program at a path longer than 4095 bytes (IMA's limit for a path in
# a measurement) is refused with EACCES, like any unknown exec, and measured with its path cut to
# 4095 bytes ending in "...[truncated]" (docs/measurement.md). Before, the exec failed with EINVAL
# and nothing was measured. The tree is 21 directories of 200 bytes, walked with chdir. About 3 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd python3
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
ROOT=$T/root
mkdir -p "$ROOT/tmp" "$T/mnt"
# Beneath the mount: /tmp/d..d/d..d/.../prog, over 4200 bytes from the mount root.
python3 - "$ROOT/tmp" <<'PY'
import os, sys
os.chdir(sys.argv[1])
for i in range(21):
    n = "%02d" % i + "d" * 198
    os.mkdir(n); os.chdir(n)
with open("prog", "w") as f:
    f.write("#!/bin/sh\necho unlisted\n")
os.chmod("prog", 0o755)
PY
"$DIGESTCTL" --store "$T/store" init > /dev/null || fail "digestctl init"
dfs_mount_fg "$ROOT" "$T/mnt" "$T/log" "store=$T/store,mode=enforce,log=$T/mlog,loglevel=info"

res=$(python3 - "$T/mnt/tmp" <<'PY'
import errno, os, sys
os.chdir(sys.argv[1])
while True:
    subs = [n for n in os.listdir(".") if os.path.isdir(n)]
    if not subs: break
    os.chdir(subs[0])
try:
    os.execv("./prog", ["./prog"])
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PY
)
assert_eq "$res" EACCES "exec of an unknown program at a path over 4095 bytes"
pass "refused with EACCES"

A=$T/mlog/ascii_runtime_measurements
[ -f "$A" ] || fail "no measurement log"
line=$(grep -F '...[truncated]' "$A" || true)
[ -n "$line" ] || { cat "$A" >&2; tail -5 "$T/log" >&2; fail "the exec was not measured with a truncated path"; }
path=${line#* * * * }
assert_eq "${#path}" 4095 "length of the measured path"
case $path in /tmp/00dd*) ;; *) fail "the measured path does not start with the file's path: ${path:0:40}";; esac
"$DIGESTCTL" log show --log "$T/mlog/binary_runtime_measurements" | grep -qF '...[truncated]' ||
  fail "digestctl log show does not read the entry with a truncated path"
pass "measured as '/tmp/00dd...[truncated]' (4095 bytes)"
pass "measure_long_path"
