#!/bin/bash
# A 60 s variant of bench/soak.sh (fio reads/writes with verification, file creation and stat,
# imports and removals against the mount's store, 10000 distinct listed files opened repeatedly):
# no error, the daemon alive, and its RSS at the end within 64 MiB of its value after the first
# pass over the files.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd fio openssl
rc=0
bash "$SRC/bench/soak.sh" "$BUILD" 60 10000 || rc=$?
[ "$rc" = 77 ] && skip "soak prerequisites missing"
[ "$rc" = 0 ] || fail "soak failed (exit $rc)"
pass "60 s soak"
