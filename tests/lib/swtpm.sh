# tests/lib/swtpm.sh: start and stop a software TPM (swtpm) for a test. Source it after common.sh:
#   . "$(dirname "$0")/../lib/swtpm.sh"
#   swtpm_start            # sets SWTPM_PORT, SWTPM_DIR, SWTPM_TCTI; stopped at exit
#   export TPM2TOOLS_TCTI=$SWTPM_TCTI
#   swtpm_stop             # stops it now (by pid), e.g. to simulate a TPM that disappears
# Needs: swtpm (skips the test with 77 if missing). Uses a free TCP port pair per call.
swtpm_free_port() {
  # Picks a port P such that P and P+1 are both free on 127.0.0.1.
  local p i
  for i in $(seq 200); do
    p=$(( (RANDOM % 20000) + 30000 ))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/$((p+1))) 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}

swtpm_start() {
  command -v swtpm >/dev/null || skip "missing command swtpm"
  SWTPM_DIR=${1:-$T/swtpm}
  mkdir -p "$SWTPM_DIR"
  local try
  for try in 1 2 3 4 5; do
    SWTPM_PORT=$(swtpm_free_port) || fail "no free port for swtpm"
    if swtpm socket --tpm2 --tpmstate dir="$SWTPM_DIR" \
        --server type=tcp,port="$SWTPM_PORT",bindaddr=127.0.0.1 \
        --ctrl type=tcp,port=$((SWTPM_PORT+1)),bindaddr=127.0.0.1 \
        --flags not-need-init,startup-clear --daemon --pid file="$SWTPM_DIR/pid" 2>"$SWTPM_DIR/err"; then
      local i
      for i in $(seq 50); do
        [ -s "$SWTPM_DIR/pid" ] && (exec 3<>/dev/tcp/127.0.0.1/$SWTPM_PORT) 2>/dev/null && break
        sleep 0.1
      done
      SWTPM_PID=$(cat "$SWTPM_DIR/pid")
      SWTPM_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT"
      at_exit "swtpm_stop"
      return 0
    fi
  done
  fail "swtpm did not start: $(cat "$SWTPM_DIR/err")"
}

# Stops the swtpm started by swtpm_start (by its pid only); safe to call twice.
swtpm_stop() {
  [ -n "${SWTPM_PID:-}" ] || return 0
  kill "$SWTPM_PID" 2>/dev/null || true
  local i
  for i in $(seq 50); do kill -0 "$SWTPM_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SWTPM_PID" 2>/dev/null || true
  SWTPM_PID=
}

# Writes an evmctl PCR file (lines "PCR-00: hex" ... "PCR-23: hex") for bank ALGO to FILE, read with
# tpm2_pcrread from the running swtpm.
swtpm_pcr_file() {
  local algo=$1 out=$2
  TPM2TOOLS_TCTI=$SWTPM_TCTI tpm2_pcrread "$algo:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23" |
    awk -v a="$algo" '
      /^ *[a-z0-9]+:$/ { bank=$1; sub(":","",bank); next }
      bank==a && /^ *[0-9]+ *: *0x/ { i=$1; sub(":","",i); v=$NF; if (v==":") v=$3; sub("0x","",v); printf "PCR-%02d: %s\n", i, tolower(v) }' > "$out"
  [ "$(wc -l < "$out")" = 24 ] || fail "tpm2_pcrread $algo gave $(wc -l < "$out") PCRs"
}
