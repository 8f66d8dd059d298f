#!/bin/bash
# Modes and startup: permissive allows and logs what enforce refuses; a bad policy stops the mount
# with the same FILE:LINE:COL error as `digestctl policy check` (exit 2); an unusable store stops
# an enforce mount (fail closed); measure rules record the package once and each unknown file
# once; `digestctl verify-tree` makes the mount's decision offline (exit 0 / 1 / 2 / 3).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd busybox
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/enforce.sh"
BB=$(command -v busybox)
file "$BB" 2>/dev/null | grep -q "statically linked" || skip "busybox is not static"

ef_key
s=$(ef_stage bbox)
mkdir -p "$s/usr/bin" "$s/usr/lib/bbox"
cp "$BB" "$s/usr/bin/busybox"
echo "listed data" >"$s/usr/lib/bbox/data"
PKG=$(ef_package bbox 1.0 "$s")
ROOT=$T/root
ef_install "$ROOT" "$PKG"
ef_store "$T/store" "$ROOT"
cp "$BB" "$ROOT/usr/bin/busybox-evil" && printf 'x' >>"$ROOT/usr/bin/busybox-evil"

mount_dfs() {  # MNT LOG OPTIONS
  local mnt=$1 log=$2 opts=$3
  mkdir -p "$mnt"
  dfs_mount_fg "$ROOT" "$mnt" "$log" "$opts"
}

# Permissive: what enforce refuses runs, and is logged (once) as would_refuse.
M=$T/mnt
mount_dfs "$M" "$T/log-perm" "store=$T/store,mode=permissive,log=$T/mlog"
"$M/usr/bin/busybox-evil" true || fail "permissive mode refused an unlisted binary"
"$M/usr/bin/busybox-evil" true || fail "permissive mode refused an unlisted binary (2nd)"
cat "$M/usr/bin/busybox-evil" >/dev/null || fail "permissive mode refused a read"
"$M/usr/bin/busybox" true && "$M/usr/bin/busybox" true || fail "listed busybox refused"
n=$(grep -c 'would_refuse path="/usr/bin/busybox-evil" op=exec' "$T/log-perm" || true)
assert_eq "$n" 1 "would_refuse lines for two execs"
grep -q 'refused path=' "$T/log-perm" && fail "permissive mode logged a refusal"
unmount "$M"
pass "permissive mode allows and logs once"

# Measurement (default policy: measure op=exec): the package once, each unknown file once.
"$DIGESTCTL" --store "$T/store" list >/dev/null
grep -c "rpm-bbox-1.0-1.noarch" "$T/mlog/ascii_runtime_measurements" | grep -qx 1 ||
  fail "the package was not measured exactly once: $(cat "$T/mlog/ascii_runtime_measurements")"
grep -c " /usr/bin/busybox-evil$" "$T/mlog/ascii_runtime_measurements" | grep -qx 1 ||
  fail "the unknown file was not measured exactly once"
pass "measure rules: the package once, the unknown file once"

# A bad policy stops the mount with the policy checker's message; both exit 2.
printf 'appraise op=exec\naudit path=/etc/**\nappraise op=sometimes\n' >"$T/bad.policy"
set +e
"$DIGESTCTL" policy check "$T/bad.policy" 2>"$T/check.err"; rc_check=$?
"$DIGESTFS" "$ROOT" "$T/mnt-bad" -f -o "store=$T/store,policy=$T/bad.policy" 2>"$T/mount.err"; rc_mount=$?
set -e
assert_eq "$rc_check" 2 "policy check exit code on a bad policy"
grep -q "$T/bad.policy:3:13: unknown op 'sometimes'" "$T/check.err" || fail "policy check message: $(cat "$T/check.err")"
grep -q "$T/bad.policy:3:13: unknown op 'sometimes'" "$T/mount.err" || fail "mount message: $(cat "$T/mount.err")"
[ "$rc_mount" -ne 0 ] || fail "digestfs mounted with a bad policy"
mountpoint -q "$T/mnt-bad" && fail "bad policy mounted"
"$DIGESTCTL" policy check "$SRC/policy/default.policy" >/dev/null || fail "default policy does not check"
pass "a bad policy stops the mount with the line:column error of policy check"

# Fail closed: an enforce mount with a missing store does not start.
set +e
"$DIGESTFS" "$ROOT" "$T/mnt-nostore" -f -o "store=$T/no-such-store" 2>"$T/nostore.err"; rc=$?
set -e
[ "$rc" -ne 0 ] || fail "digestfs mounted without its store"
grep -q "no-such-store" "$T/nostore.err" || fail "missing store error does not name it: $(cat "$T/nostore.err")"
pass "an enforce mount without a usable store fails to start"

# verify-tree: the same decisions offline.
set +e
"$DIGESTCTL" --store "$T/store" verify-tree "$ROOT" >"$T/vt.out" 2>&1; rc=$?
set -e
assert_eq "$rc" 1 "verify-tree exit code with an unlisted binary"
grep -q 'REFUSED op=exec path="/usr/bin/busybox-evil"' "$T/vt.out" || fail "verify-tree did not list the unlisted binary"
grep -q 'path="/usr/bin/busybox"' "$T/vt.out" && fail "verify-tree refused the listed binary"
rm "$ROOT/usr/bin/busybox-evil"
ln -s /etc/shadow "$ROOT/usr/bin/link"
"$DIGESTCTL" --store "$T/store" verify-tree "$ROOT" >"$T/vt.out" 2>&1 || { cat "$T/vt.out"; fail "verify-tree refused a clean tree"; }
grep -q "1 symlinks not followed" "$T/vt.out" || fail "verify-tree summary: $(cat "$T/vt.out")"
"$DIGESTCTL" --store "$T/store" --json verify-tree "$ROOT" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["ok"] and d["files"] >= 2 else 1)' ||
  fail "verify-tree --json"
set +e
"$DIGESTCTL" --store "$T/store" verify-tree "$ROOT" --policy "$T/bad.policy" 2>/dev/null; rc_pol=$?
"$DIGESTCTL" --store "$T/no-such-store" verify-tree "$ROOT" 2>/dev/null; rc_store=$?
set -e
assert_eq "$rc_pol" 2 "verify-tree exit code with a bad policy"
assert_eq "$rc_store" 3 "verify-tree exit code with a missing store"
pass "verify-tree makes the mount's decision offline, with documented exit codes"
