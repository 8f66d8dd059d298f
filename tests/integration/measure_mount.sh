#!/bin/bash
# Measurement through a real digestfs mount with a real swtpm (issue 6's tests 3-5 end to end):
# reading N files from K signed packages plus U unknown files gives K source entries and U file
# entries (after the mount's aggregate), accepted by evmctl and `digestctl log verify`; once swtpm
# is killed, an open that needs a measurement is refused in enforce mode while the daemon keeps
# serving; when swtpm is back with its saved state (same port) they work again and the log matches
# it; two fresh mounts with measure_all_sources give the same PCR and log.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd evmctl tpm2_pcrread swtpm_ioctl
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/enforce.sh"
. "$SRC/tests/lib/swtpm.sh"
PCR=23

# K = 3 packages of 4 files each, plus a 4th package read only after the TPM is gone.
ef_key
pkgs=()
for p in pa pb pc pd; do
  s=$(ef_stage "$p")
  mkdir -p "$s/usr/lib/$p"
  for i in 1 2 3 4; do echo "package $p file $i" >"$s/usr/lib/$p/f$i"; done
  pkgs+=("$(ef_package "$p" 1.0 "$s")")
done
ROOT=$T/root
ef_install "$ROOT" "${pkgs[@]}"
ef_store "$T/store" "$ROOT"
mkdir -p "$ROOT/opt"
for u in u1 u2 u3; do echo "unknown $u" >"$ROOT/opt/$u"; done
printf 'measure op=read\n' >"$T/policy"

mount_dfs() {  # MNT STDERR OPTIONS
  local mnt=$1 log=$2 opts=$3
  mkdir -p "$mnt"
  "$DIGESTFS" "$ROOT" "$mnt" -f -o "$opts" 2>"$log" &
  DFS_PID=$!
  at_exit "unmount '$mnt'; wait $DFS_PID 2>/dev/null"
  local i
  for i in $(seq 100); do
    mountpoint -q "$mnt" && return 0
    kill -0 "$DFS_PID" 2>/dev/null || break
    sleep 0.1
  done
  fail "digestfs did not mount $mnt: $(tail -5 "$log")"
}
evmctl_matches() {  # LOG: evmctl matches LOG against the swtpm's sha256 and sha1 banks
  swtpm_pcr_file sha256 "$T/p256"
  swtpm_pcr_file sha1 "$T/p1"
  evmctl ima_measurement --pcrs sha256,"$T/p256" --pcrs sha1,"$T/p1" "$1" >"$T/evm.out" 2>&1 &&
    grep -q "Matched per TPM bank calculated digest(s)" "$T/evm.out"
}
sources_in() { grep -c ' rpm-p[a-d]-1.0-1.noarch$' "$1/ascii_runtime_measurements" || true; }

# --- N files from K packages: K source entries, one per unknown file ------------------------------
swtpm_start "$T/tpm1"
M=$T/mnt
L=$T/mlog
mount_dfs "$M" "$T/dfs1.log" "store=$T/store,policy=$T/policy,mode=enforce,tpm=${SWTPM_TCTI//,/\\,},pcr=$PCR,log=$L"
for round in 1 2; do
  for p in pa pb pc; do for i in 1 2 3 4; do cat "$M/usr/lib/$p/f$i" >/dev/null || fail "read $p/f$i"; done; done
  cat "$M/opt/u1" "$M/opt/u2" >/dev/null || fail "read of unknown files refused (policy only measures)"
done
head -1 "$L/ascii_runtime_measurements" | grep -q " digestfs_aggregate$" || fail "first entry is not the aggregate"
assert_eq "$(sources_in "$L")" 3 "source entries for 24 reads of 12 files from 3 packages"
assert_eq "$(grep -c ' /opt/u[12]$' "$L/ascii_runtime_measurements")" 2 "entries for 2 unknown files read twice"
assert_eq "$(grep -c . "$L/ascii_runtime_measurements")" 6 "entries in all (aggregate + 3 + 2)"
evmctl_matches "$L/binary_runtime_measurements" || fail "evmctl rejects the mount's log: $(cat "$T/evm.out")"
"$DIGESTCTL" log verify --log "$L/binary_runtime_measurements" --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 ||
  fail "log verify rejects the mount's log: $(cat "$T/v.out")"
pass "12 files from 3 packages + 2 unknown files: 3 source and 2 file measurements, log matches the TPM"

# --- the TPM dies: opens needing a measurement are refused; the daemon keeps serving ---------------
# Its volatile state (the PCRs) is saved first, so that it can come back as it was (below).
port=${SWTPM_TCTI##*port=}
swtpm_ioctl --tcp 127.0.0.1:$((port + 1)) -v >/dev/null || fail "swtpm_ioctl -v"
kill -9 "$SWTPM_PID"
SWTPM_PID=
rc=0; cat "$M/usr/lib/pd/f1" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" != 0 ] || fail "a read needing a new source measurement succeeded without a TPM"
rc=0; cat "$M/opt/u3" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" != 0 ] || fail "a read needing a new file measurement succeeded without a TPM"
kill -0 "$DFS_PID" 2>/dev/null || fail "digestfs died when the TPM went away"
cat "$M/usr/lib/pa/f1" >/dev/null || fail "an already measured file is no longer served"
grep -q "UNAVAILABLE" "$T/dfs1.log" || fail "the TPM failure is not logged: $(tail -5 "$T/dfs1.log")"
[ "$(sources_in "$L")" = 4 ] && grep -q "rpm-pd-1.0-1.noarch" "$L/ascii_runtime_measurements" ||
  fail "the pending source entry is missing from the log"
pass "with swtpm killed, measured opens fail closed and the daemon stays up"

# --- the TPM comes back as it was (same port, its saved PCRs resumed) -----------------------------
swtpm socket --tpm2 --tpmstate dir="$T/tpm1" --server type=tcp,port="$port",bindaddr=127.0.0.1 \
  --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
  --daemon --pid file="$T/tpm1/pid2" 2>"$T/tpm1/err2" || skip "swtpm cannot restart on port $port"
for i in $(seq 50); do [ -s "$T/tpm1/pid2" ] && (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
SWTPM_PID=$(cat "$T/tpm1/pid2")
swtpm_ioctl --tcp 127.0.0.1:$((port + 1)) -i >/dev/null || fail "swtpm_ioctl -i (resume the saved state)"
cat "$M/usr/lib/pd/f2" >/dev/null 2>"$T/err" || fail "a measured read still fails after the TPM came back: $(cat "$T/err"; tail -3 "$T/dfs1.log")"
cat "$M/opt/u3" >/dev/null 2>"$T/err" || fail "a new file measurement still fails after the TPM came back: $(cat "$T/err")"
kill -0 "$DFS_PID" 2>/dev/null || fail "digestfs died when the TPM came back"
grep -q ' /opt/u3$' "$L/ascii_runtime_measurements" || fail "/opt/u3 is not in the log after the TPM came back"
"$DIGESTCTL" log verify --log "$L/binary_runtime_measurements" --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 ||
  fail "log verify rejects the mount's log after the TPM came back: $(cat "$T/v.out")"
pass "swtpm back with its state: measured opens work again, pending entries extended, the log matches"

swtpm_stop
unmount "$M"
wait "$DFS_PID" 2>/dev/null || true

# --- measure_all_sources: two fresh mounts give the same PCR --------------------------------------
all_sources_run() {  # NAME -> sha256 PCR value; the log is left in $T/alog-NAME
  swtpm_start "$T/tpm-$1"
  rm -rf "$T/alog"
  mount_dfs "$M" "$T/dfs-$1.log" \
    "store=$T/store,policy=$T/policy,mode=enforce,tpm=${SWTPM_TCTI//,/\\,},pcr=$PCR,log=$T/alog,measure_all_sources"
  TPM2TOOLS_TCTI=$SWTPM_TCTI tpm2_pcrread "sha256:$PCR" | awk '/0x/ {print tolower($NF)}'
  evmctl_matches "$T/alog/binary_runtime_measurements" || fail "evmctl rejects the measure_all_sources log"
  unmount "$M"
  wait "$DFS_PID" 2>/dev/null || true
  swtpm_stop
  mv "$T/alog" "$T/alog-$1"
}
a=$(all_sources_run a)
b=$(all_sources_run b)
[ -n "$a" ] || fail "no PCR value"
assert_eq "$b" "$a" "PCR after two fresh mounts with measure_all_sources"
assert_eq "$(sources_in "$T/alog-a")" 4 "sources measured at mount time"
cmp -s "$T/alog-a/binary_runtime_measurements" "$T/alog-b/binary_runtime_measurements" ||
  fail "the two mounts' logs differ"
pass "two fresh mounts with measure_all_sources: same PCR, same log"
