#!/bin/bash
# Measurement with a real swtpm: the logs written by the Measurer (via tests/tools/measure_tool)
# are accepted by evmctl and `digestctl log verify`, tampered and truncated logs are rejected,
# repeats are not re-measured, a dead TPM gives errors (not a crash), and measure_all_sources is
# deterministic. See docs/measurement.md.
. "$(dirname "$0")/../lib/common.sh" "$@"
. "$SRC/tests/lib/swtpm.sh"
need_cmd swtpm tpm2_pcrread evmctl
TOOL=$BUILD/tests/measure_tool
[ -x "$TOOL" ] || skip "measure_tool not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
PCR=23

# evmctl_ok LOG: evmctl accepts LOG against the swtpm's sha256 and sha1 banks.
evmctl_check() {
  swtpm_pcr_file sha256 "$T/pcr256"
  swtpm_pcr_file sha1 "$T/pcr1"
  local rc=0
  evmctl ima_measurement --pcrs sha256,"$T/pcr256" --pcrs sha1,"$T/pcr1" "$1" >"$T/evm.out" 2>&1 || rc=$?
  EVM_RC=$rc
  EVM_MATCHED=0
  grep -q "Matched per TPM bank calculated digest(s)" "$T/evm.out" && EVM_MATCHED=1
  grep -q "Failed to read any TPM PCRs" "$T/evm.out" && fail "evmctl read no PCRs: $(cat "$T/evm.out")"
  return 0
}
entries() { grep -c . "$1/ascii_runtime_measurements"; }
pcr_hex() { TPM2TOOLS_TCTI=$SWTPM_TCTI tpm2_pcrread "sha256:$PCR" | awk '/0x/ {print tolower($NF)}' | sed 's/^0x//'; }

# --- 1. evmctl accepts the binary log; digestctl log verify matches the TPM ----------------------
swtpm_start "$T/tpm1"
L=$T/log1
"$TOOL" --log "$L" --tcti "$SWTPM_TCTI" --sources 5 --files 3 --aggregate one >"$T/tool.out" 2>&1 ||
  fail "measure_tool failed: $(cat "$T/tool.out")"
assert_eq "$(entries "$L")" 9 "entries (aggregate + 5 sources + 3 files)"
head -1 "$L/ascii_runtime_measurements" | grep -q " ima-ng sha256:[0-9a-f]\{64\} digestfs_aggregate$" ||
  fail "first entry is not the aggregate: $(head -1 "$L/ascii_runtime_measurements")"
[ "$(pcr_hex)" != "$(printf '0%.0s' $(seq 64))" ] || fail "PCR $PCR was not extended"
evmctl_check "$L/binary_runtime_measurements"
[ "$EVM_RC" = 0 ] && [ "$EVM_MATCHED" = 1 ] || fail "evmctl rejected a good log (rc=$EVM_RC): $(cat "$T/evm.out")"
pass "evmctl accepts the binary log (sha256 and sha1 banks matched)"
"$DIGESTCTL" log verify --log "$L/binary_runtime_measurements" --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 ||
  fail "log verify rejected a good binary log: $(cat "$T/v.out")"
[ "$(grep -c ' match$' "$T/v.out")" -ge 2 ] || fail "log verify compared fewer than 2 banks: $(cat "$T/v.out")"
"$DIGESTCTL" log verify --log "$L/ascii_runtime_measurements" --tcti "$SWTPM_TCTI" --pcr $PCR >"$T/v.out" 2>&1 ||
  fail "log verify rejected a good ASCII log: $(cat "$T/v.out")"
pass "digestctl log verify accepts both formats against every allocated bank"

# --- 2. tampered and dropped-entry logs are rejected by both ------------------------------------
cp "$L/binary_runtime_measurements" "$T/tampered"
off=$(grep -obUa "/opt/u/f1" "$T/tampered" | head -1 | cut -d: -f1)
[ -n "$off" ] || fail "cannot find the path to tamper with"
printf 'X' | dd of="$T/tampered" bs=1 seek=$((off + 7)) conv=notrunc status=none
evmctl_check "$T/tampered"
[ "$EVM_RC" != 0 ] && [ "$EVM_MATCHED" = 0 ] || fail "evmctl accepted a tampered log: $(cat "$T/evm.out")"
rc=0; "$DIGESTCTL" log verify --log "$T/tampered" --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "log verify exit code for a tampered log"
grep -q "template hash does not match" "$T/v.out" || fail "tamper not reported: $(cat "$T/v.out")"

# Drop entry 3 (a source in the middle).
"$DIGESTCTL" log show --log "$L/binary_runtime_measurements" --json >"$T/show.json"
mapfile -t offs < <(grep -o '"offset": [0-9]*' "$T/show.json" | awk '{print $2}')
[ "${#offs[@]}" = 9 ] || fail "log show gave ${#offs[@]} offsets"
{ head -c "${offs[3]}" "$L/binary_runtime_measurements"; tail -c +$((offs[4] + 1)) "$L/binary_runtime_measurements"; } >"$T/dropped"
evmctl_check "$T/dropped"
[ "$EVM_RC" != 0 ] && [ "$EVM_MATCHED" = 0 ] || fail "evmctl accepted a log with a dropped entry: $(cat "$T/evm.out")"
rc=0; "$DIGESTCTL" log verify --log "$T/dropped" --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "log verify exit code for a dropped entry"
grep -q "MISMATCH" "$T/v.out" || fail "dropped entry not reported as a PCR mismatch: $(cat "$T/v.out")"
# The last entry dropped: replay stops short of the TPM.
head -c "${offs[8]}" "$L/binary_runtime_measurements" >"$T/short"
evmctl_check "$T/short"
[ "$EVM_RC" != 0 ] && [ "$EVM_MATCHED" = 0 ] || fail "evmctl accepted a log missing its last entry"
rc=0; "$DIGESTCTL" log verify --log "$T/short" --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "log verify exit code for a missing last entry"
: >"$T/empty"
rc=0; "$DIGESTCTL" log verify --log "$T/empty" --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "log verify of an empty log against an extended PCR"
rc=0; "$DIGESTCTL" log verify --log "$L/binary_runtime_measurements" --ascii "$T/no-such-file" >"$T/v.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "log verify --ascii with a missing ASCII log"
head -n 5 "$L/ascii_runtime_measurements" >"$T/ascii.short"
rc=0; "$DIGESTCTL" log verify --log "$L/binary_runtime_measurements" --ascii "$T/ascii.short" >"$T/v.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "log verify --ascii with an ASCII log missing entries"
grep -q "has 9 entries" "$T/v.out" || fail "count difference not reported: $(cat "$T/v.out")"
pass "tampered and dropped-entry logs rejected by evmctl and digestctl"

# A second log on a PCR that already holds another log's history is refused (they would diverge).
rc=0; "$TOOL" --log "$T/other" --tcti "$SWTPM_TCTI" --sources 1 >"$T/tool.out" 2>&1 || rc=$?
assert_eq "$rc" 3 "creating a second log over an extended PCR"
grep -q "CORRUPT: .*diverge" "$T/tool.out" || fail "divergence not reported: $(cat "$T/tool.out")"
pass "a log that does not replay to the PCR is refused at start"
swtpm_stop

# --- 3. the same source (and file) measured twice gives one entry -------------------------------
swtpm_start "$T/tpm3"
L3=$T/log3
"$TOOL" --log "$L3" --tcti "$SWTPM_TCTI" --sources 4 --files 2 --twice >"$T/tool.out" 2>&1 ||
  fail "measure_tool --twice failed: $(cat "$T/tool.out")"
grep -q "measured=12 failed=0" "$T/tool.out" || fail "unexpected counts: $(cat "$T/tool.out")"
assert_eq "$(entries "$L3")" 6 "entries after measuring 4 sources + 2 files twice"
assert_eq "$(grep -c 'rpm-pkg0-1.0-1.x86_64$' "$L3/ascii_runtime_measurements")" 1 "entries for pkg0"
pass "a source measured twice is logged and extended once"
swtpm_stop

# --- 4. the TPM dies in the middle of a run: errors, no crash ------------------------------------
swtpm_start "$T/tpm4"
L4=$T/log4
rm -f "$T/pause.ready" "$T/pause.go"
"$TOOL" --log "$L4" --tcti "$SWTPM_TCTI" --sources 6 --pause-after 3 --pause-file "$T/pause" \
  >"$T/tool4.out" 2>&1 &
tool_pid=$!
for i in $(seq 100); do [ -e "$T/pause.ready" ] && break; sleep 0.1; done
[ -e "$T/pause.ready" ] || { kill "$tool_pid"; fail "measure_tool did not reach the pause"; }
swtpm_stop
touch "$T/pause.go"
rc=0; wait "$tool_pid" || rc=$?
assert_eq "$rc" 1 "measure_tool exit code after the TPM died (1 = errors reported, >128 = crash)"
grep -q "measured=3 failed=3" "$T/tool4.out" || fail "expected 3 good and 3 failed: $(cat "$T/tool4.out")"
grep -q "UNAVAILABLE: .*TPM" "$T/tool4.out" || fail "no UNAVAILABLE error naming the TPM: $(cat "$T/tool4.out")"
rc=0; "$TOOL" --log "$L4" --tcti "$SWTPM_TCTI" --sources 1 >"$T/tool.out" 2>&1 || rc=$?
assert_eq "$rc" 3 "creating a measurer with the TPM gone"
grep -q "UNAVAILABLE" "$T/tool.out" || fail "no UNAVAILABLE error: $(cat "$T/tool.out")"
pass "a dead TPM makes measurements fail with UNAVAILABLE, no crash"

# --- 5. measure_all_sources: two fresh runs give the same PCR ------------------------------------
run_all() {  # run_all NAME SOURCES SEED -> prints the sha256 PCR value after a fresh run
  swtpm_start "$T/tpm5-$1"
  "$TOOL" --log "$T/log5-$1" --tcti "$SWTPM_TCTI" --sources "$2" --all-sources --shuffle "$3" \
    >"$T/tool5.out" 2>&1 || fail "measure_tool --all-sources failed: $(cat "$T/tool5.out")"
  pcr_hex
  swtpm_stop
}
a=$(run_all a 7 1)
b=$(run_all b 7 2)
c=$(run_all c 6 1)
[ -n "$a" ] || fail "no PCR value read"
assert_eq "$b" "$a" "PCR after measure_all_sources over the same sources in another input order"
[ "$c" != "$a" ] || fail "a different source set gave the same PCR"
cmp -s "$T/log5-a/binary_runtime_measurements" "$T/log5-b/binary_runtime_measurements" ||
  fail "the two logs differ"
pass "measure_all_sources is deterministic (same PCR and log from two fresh runs)"

# --- 6. recovery with a real TPM: entry without extend rolled forward, torn tail cut, two writers --
swtpm_start "$T/tpm6"
L6=$T/log6
"$TOOL" --log "$L6" --tcti "$SWTPM_TCTI" --sources 3 --aggregate six >/dev/null 2>&1 || fail "measure_tool (6)"
# An entry appended without its extend (as after a crash between append and extend): take a record
# from a log-only run and append it.
"$TOOL" --log "$T/extra" --files 1 >/dev/null 2>&1 || fail "measure_tool log-only"
cat "$T/extra/binary_runtime_measurements" >>"$L6/binary_runtime_measurements"
rc=0; "$DIGESTCTL" log verify --log "$L6/binary_runtime_measurements" --tcti "$SWTPM_TCTI" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "log verify with an entry not yet extended"
# A torn append on top.
head -c 30 "$T/extra/binary_runtime_measurements" >>"$L6/binary_runtime_measurements"
"$TOOL" --log "$L6" --tcti "$SWTPM_TCTI" --sources 1 >"$T/tool.out" 2>&1 || fail "restart after a crash: $(cat "$T/tool.out")"
grep -q "roll-forward" "$T/tool.out" || fail "no roll-forward logged: $(cat "$T/tool.out")"
grep -q "torn tail truncated" "$T/tool.out" || fail "torn tail not reported: $(cat "$T/tool.out")"
"$DIGESTCTL" log verify --log "$L6/binary_runtime_measurements" --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 ||
  fail "log does not verify after recovery: $(cat "$T/v.out")"
"$DIGESTCTL" log verify --log "$L6/binary_runtime_measurements" --ascii "$L6/ascii_runtime_measurements" \
  --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 || fail "ASCII log not rebuilt after recovery: $(cat "$T/v.out")"
evmctl_check "$L6/binary_runtime_measurements"
[ "$EVM_RC" = 0 ] && [ "$EVM_MATCHED" = 1 ] || fail "evmctl rejects the recovered log: $(cat "$T/evm.out")"
pass "after a simulated crash the pending entry is extended and the torn tail cut (evmctl agrees)"

# Two processes measuring into one log directory at once (flock): the log still replays to the PCR.
"$TOOL" --log "$L6" --tcti "$SWTPM_TCTI" --files 40 --aggregate p1 >"$T/p1.out" 2>&1 &
p1=$!
"$TOOL" --log "$L6" --tcti "$SWTPM_TCTI" --sources 40 --aggregate p2 >"$T/p2.out" 2>&1 &
p2=$!
rc1=0; wait "$p1" || rc1=$?
rc2=0; wait "$p2" || rc2=$?
[ "$rc1" = 0 ] && [ "$rc2" = 0 ] || fail "concurrent writers failed: $(cat "$T/p1.out" "$T/p2.out")"
"$DIGESTCTL" log verify --log "$L6/binary_runtime_measurements" --tcti "$SWTPM_TCTI" >"$T/v.out" 2>&1 ||
  fail "log of two concurrent writers does not verify: $(cat "$T/v.out")"
evmctl_check "$L6/binary_runtime_measurements"
[ "$EVM_RC" = 0 ] && [ "$EVM_MATCHED" = 1 ] || fail "evmctl rejects the log of two writers: $(cat "$T/evm.out")"
assert_eq "$(grep -c digestfs_aggregate "$L6/ascii_runtime_measurements")" 3 "aggregate entries (one per measurer run that writes one)"
pass "two processes share one log and PCR consistently"
