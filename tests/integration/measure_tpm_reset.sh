#!/bin/bash
# A TPM reset under a running mount is detected (issue 14, threat "a TPM reset"). The swtpm is
# power-cycled through its control channel (CMD_INIT, then TPM2_Startup(CLEAR)) while digestfs stays
# connected: PCR 23 is back at zero and nothing fails at the transport. Before, the next measurement
# extended the reset PCR as if nothing had happened, and the log no longer replayed to the TPM (its
# earlier entries attested nothing). Now every measurement compares the PCR with the replayed log
# first: the reset is logged, reads that need a measurement fail closed in enforce mode, files
# already measured are still served, and `digestctl log verify` reports the divergence. A remount
# starts a new log (the old one kept) that matches the TPM again.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd swtpm_ioctl tpm2_startup tpm2_pcrread
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/swtpm.sh"
PCR=23

S=$T/store
"$DIGESTCTL" --store "$S" init >/dev/null || fail "init"
ROOT=$T/root
mkdir -p "$ROOT/opt"
for u in u1 u2 u3 u4; do echo "unknown $u" >"$ROOT/opt/$u"; done
printf 'measure op=read\n' >"$T/policy"
swtpm_start "$T/tpm"
M=$T/mnt
L=$T/mlog
mkdir -p "$M"
mount_dfs() {
  "$DIGESTFS" "$ROOT" "$M" -f -o "store=$S,policy=$T/policy,mode=enforce,tpm=${SWTPM_TCTI//,/\\,},pcr=$PCR,log=$L" 2>>"$T/dfs.log" &
  DFS_PID=$!
  wait_mounted "$M"
}
mount_dfs
at_exit "unmount '$M'; wait \$DFS_PID 2>/dev/null"
cat "$M/opt/u1" >/dev/null || fail "read of u1"
"$DIGESTCTL" log verify --log "$L/binary_runtime_measurements" --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 ||
  fail "log verify before the reset: $(cat "$T/v.out")"
pass "before the reset: u1 measured, the log matches the TPM"

# Power-cycle the TPM; the daemon's connection stays open.
port=${SWTPM_TCTI##*port=}
swtpm_ioctl --tcp 127.0.0.1:$((port + 1)) -i >/dev/null || fail "swtpm_ioctl -i"
TPM2TOOLS_TCTI=$SWTPM_TCTI tpm2_startup -c || fail "tpm2_startup -c"
zero=$(TPM2TOOLS_TCTI=$SWTPM_TCTI tpm2_pcrread "sha256:$PCR" | awk '/0x/ {print $NF}')
[[ "$zero" =~ ^0x0+$ ]] || fail "PCR $PCR is not zero after the reset: $zero"

rc=0; cat "$M/opt/u2" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" != 0 ] || fail "a read needing a measurement succeeded after a TPM reset (it extended the reset PCR)"
rc=0; cat "$M/opt/u3" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" != 0 ] || fail "a second read needing a measurement succeeded after a TPM reset"
grep -q "event=tpm_reset" "$T/dfs.log" || fail "the reset is not logged: $(tail -5 "$T/dfs.log")"
cat "$M/opt/u1" >/dev/null || fail "an already measured file is no longer served"
kill -0 "$DFS_PID" 2>/dev/null || fail "digestfs died"
rc=0; "$DIGESTCTL" log verify --log "$L/binary_runtime_measurements" --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "log verify accepts a log the reset TPM does not hold"
pass "after the reset: measured reads fail closed (event=tpm_reset logged), measured files still served, log verify refuses"

# A remount starts a new log that matches the TPM.
unmount "$M"
wait "$DFS_PID" 2>/dev/null || true
mount_dfs
cat "$M/opt/u4" >/dev/null || fail "read of u4 after the remount: $(tail -3 "$T/dfs.log")"
ls "$L" | grep -q "^binary_runtime_measurements\.[0-9]" || fail "the old log was not kept: $(ls "$L")"
"$DIGESTCTL" log verify --log "$L/binary_runtime_measurements" --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 ||
  fail "log verify after the remount: $(cat "$T/v.out")"
pass "after a remount: a new log (the old one kept) that matches the TPM"
