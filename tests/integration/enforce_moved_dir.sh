#!/bin/bash
# Issue 14, bypass 2: a directory moved beneath the mount keeps no old name. /tmp/d is seen through
# an enforcing mount (default policy: reads under /tmp are only audited), then moved beneath the
# mount to /usr/local/lib/d (reads there are appraised). A library in it must be judged by its
# true path, both through the new name and through the name the kernel still caches, and the
# measurement log must record the true path of a program executed from it. About 2 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
ROOT=$T/root
mkdir -p "$ROOT/tmp/d" "$ROOT/usr/local/lib" "$T/mnt"
echo "not a listed library" > "$ROOT/tmp/d/libx.so"
printf '#!/bin/sh\necho unlisted\n' > "$ROOT/tmp/d/prog"
chmod 755 "$ROOT/tmp/d/prog"
"$DIGESTCTL" --store "$T/store" init > /dev/null || fail "digestctl init"
# watch=off: the old name must stay in the kernel's cache for the attack. With the watch (the
# default as root) it is expired within milliseconds, but an attacker may race that, so the Gate
# must not depend on it.
dfs_mount_fg "$ROOT" "$T/mnt" "$T/log" "store=$T/store,mode=enforce,log=$T/mlog,loglevel=info,watch=off"
M=$T/mnt

ls "$M/tmp/d" > /dev/null
cat "$M/tmp/d/libx.so" > /dev/null || fail "an unlisted file under /tmp is refused (the default policy audits it)"
pass "unlisted library readable at /tmp/d (audited)"

mv "$ROOT/tmp/d" "$ROOT/usr/local/lib/d"
# First through the name the kernel still caches, then through the new one.
if cat "$M/tmp/d/libx.so" > /dev/null 2> "$T/err"; then
  fail "the moved library, reached through the kernel's cached name /tmp/d, was allowed"
fi
grep -q "Permission denied" "$T/err" || fail "refusal is not EACCES: $(cat "$T/err")"
if cat "$M/usr/local/lib/d/libx.so" > /dev/null 2> "$T/err"; then
  fail "a library moved beneath the mount to /usr/local/lib/d was judged by its old path /tmp/d"
fi
grep -q "Permission denied" "$T/err" || fail "refusal is not EACCES: $(cat "$T/err")"
pass "the moved library is refused at /usr/local/lib/d, by either name"

set +e
"$M/usr/local/lib/d/prog" > /dev/null 2>&1; rc=$?
set -e
assert_eq "$rc" 126 "exec of an unlisted program from the moved directory"
grep -q " /usr/local/lib/d/prog$" "$T/mlog/ascii_runtime_measurements" ||
  { cat "$T/mlog/ascii_runtime_measurements" >&2; fail "the measurement log lacks the true path /usr/local/lib/d/prog"; }
grep -q "/tmp/d/prog" "$T/mlog/ascii_runtime_measurements" && fail "the measurement log records the old path /tmp/d/prog"
pass "measured at its true path"
pass "enforce_moved_dir"
