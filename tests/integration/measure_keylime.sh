#!/bin/bash
# Keylime attests a digestfs host, with Keylime's own code ($SRC/../shared/peers/keylime): the policy
# `digestctl export keylime-policy` writes is accepted by the verifier's policy upload path
# (verify_runtime_policy + runtime_policy_db_contents, schema-validated) with a generator that makes
# the verifier expect an IMA log; a real mount with swtpm, pcr=10 and a "kernel" IMA log holding a
# boot_aggregate (extended into PCR 10 first, as the kernel does at boot) writes a log that
# keylime.ima.ima.process_measurement_list accepts against PCR 10 read with tpm2_pcrread (sha1 and
# sha256 banks), and the verifier's own quote check (Tpm.check_quote: a real TPM quote of PCR 10 by
# an attestation key, a nonce, then the log against the quoted PCR) accepts it too; both reject
# the log once a file whose content is not in the policy was measured (hash not in policy), once
# an unlisted file was measured (not in allowlist), and a tampered or truncated log (template hash
# / PCR mismatch). About 30 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd tpm2_pcrread tpm2_pcrevent tpm2_quote tpm2_createek tpm2_createak tpm2_evictcontrol tpm2_flushcontext tpm2_readpublic jq xxd
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/enforce.sh"
. "$SRC/tests/lib/swtpm.sh"
. "$SRC/tests/lib/peers.sh"
dfs_keylime || skip "Keylime peer not importable (needs $SRC/../shared/peers/keylime and python3-jsonschema, -lark, -packaging, -gpg, -cryptography, -yaml)"
KL() { $DFS_KEYLIME_PY "$SRC/tests/tools/keylime_check.py" "$@" 2>>"$T/keylime.stderr"; }

# Two signed packages installed in a Fedora-like tree; the store imports its rpmdb.
ef_key
pkgs=()
for p in pa pb; do
  s=$(ef_stage "$p")
  mkdir -p "$s/usr/lib/$p"
  for i in 1 2; do echo "package $p file $i" >"$s/usr/lib/$p/f$i"; done
  pkgs+=("$(ef_package "$p" 1.0 "$s")")
done
ROOT=$T/root
ef_install "$ROOT" "${pkgs[@]}"
ef_store "$T/store" "$ROOT"
mkdir -p "$ROOT/opt"
echo "not in any package" >"$ROOT/opt/unlisted"

# --- the exported policy passes Keylime's policy upload checks ----------------------------------
"$DIGESTCTL" --store "$T/store" export keylime-policy -o "$T/policy.json" --exclude '^digestfs_aggregate$' \
  2>"$T/err" || fail "export keylime-policy: $(cat "$T/err")"
KL policy "$T/policy.json" >"$T/pol.out" || fail "Keylime refuses the exported policy: $(cat "$T/pol.out")"
assert_eq "$(jq -r .expects_ima_log "$T/pol.out")" true "the verifier expects an IMA log with this policy (generator $(jq -r .generator "$T/pol.out"))"
jq -e '.digests["/usr/lib/pa/f1"] | length == 1' "$T/policy.json" >/dev/null || fail "policy lacks /usr/lib/pa/f1"
pass "Keylime accepts the exported runtime policy (generator $(jq -r .generator "$T/pol.out"))"

# --- the kernel's share of PCR 10: a boot_aggregate in its log, extended before digestfs starts ---
swtpm_start "$T/tpm"
export TPM2TOOLS_TCTI=$SWTPM_TCTI
BOOT=$(printf 'boot' | sha256sum | cut -c1-64)
/usr/bin/python3 - "$BOOT" "$T/kernel_log" "$T/boot_tdata" <<'PY' || fail "writing the kernel log"
import hashlib, struct, sys
digest = bytes.fromhex(sys.argv[1])
d = b"sha256:\0" + digest
n = b"boot_aggregate\0"
data = struct.pack("<I", len(d)) + d + struct.pack("<I", len(n)) + n
rec = struct.pack("<I", 10) + hashlib.sha1(data).digest() + struct.pack("<I", 6) + b"ima-ng" + struct.pack("<I", len(data)) + data
open(sys.argv[2], "wb").write(rec)
open(sys.argv[3], "wb").write(data)
PY
# TPM2_PCR_Event extends every bank with that bank's hash of the data: the per-bank template hash.
tpm2_pcrevent 10 "$T/boot_tdata" >/dev/null || fail "tpm2_pcrevent"
# An attestation key, as the Keylime agent makes at registration (persistent: swtpm has no
# resource manager, and digestfs must find the object slots free).
tpm2_createek -c "$T/ek.ctx" -G rsa -u "$T/ek.pub" >/dev/null 2>&1 &&
  tpm2_evictcontrol -C o -c "$T/ek.ctx" 0x81010001 >/dev/null 2>&1 && tpm2_flushcontext -t &&
  tpm2_createak -C 0x81010001 -c "$T/ak.ctx" -G rsa -g sha256 -s rsassa -u "$T/ak.pub" -n "$T/ak.name" >/dev/null 2>&1 &&
  tpm2_flushcontext -t && tpm2_flushcontext -s && tpm2_evictcontrol -C o -c "$T/ak.ctx" 0x81010002 >/dev/null 2>&1 &&
  tpm2_flushcontext -t && tpm2_readpublic -c 0x81010002 -o "$T/ak.tss" >/dev/null 2>&1 || fail "making an attestation key"
keylime_quote() {  # LOG: a fresh quote of PCR 10 and Keylime's check_quote over it and LOG; $T/kq.out
  local nonce
  nonce=$(head -c 12 /dev/urandom | xxd -p)
  tpm2_quote -c 0x81010002 -l sha256:10 -q "$(printf '%s' "$nonce" | xxd -p | tr -d '\n')" -g sha256 \
    -m "$T/q.msg" -s "$T/q.sig" -o "$T/q.pcrs" >/dev/null 2>&1 || fail "tpm2_quote"
  KL quote --policy "$T/policy.json" --log "$1" --ak "$T/ak.tss" --nonce "$nonce" \
    --quote "$T/q.msg" "$T/q.sig" "$T/q.pcrs" --boot-aggregate "$BOOT" >"$T/kq.out"
}

pcr10() { tpm2_pcrread "$1:10" | awk '/10 *:/ { v = $NF; sub(/^0x/, "", v); print tolower(v) }'; }
L=$T/mlog
keylime_log() {  # LOG: Keylime's verdict on LOG against PCR 10 now, both banks; output in $T/kl.out
  KL log --policy "$T/policy.json" --log "$1" --pcr "sha1:$(pcr10 sha1)" --pcr "sha256:$(pcr10 sha256)" \
    --boot-aggregate "sha256:$BOOT" >"$T/kl.out"
}

printf 'measure op=read\n' >"$T/policy"
M=$T/mnt
mkdir -p "$M"
"$DIGESTFS" "$ROOT" "$M" -f -o "store=$T/store,policy=$T/policy,mode=enforce,tpm=${SWTPM_TCTI//,/\\,},pcr=10,kernel_log=$T/kernel_log,log=$L" \
  2>"$T/dfs.log" &
DFS_PID=$!
at_exit "unmount '$M'; wait $DFS_PID 2>/dev/null"
for i in $(seq 100); do mountpoint -q "$M" && break; kill -0 "$DFS_PID" 2>/dev/null || break; sleep 0.1; done
mountpoint -q "$M" || fail "digestfs did not mount: $(tail -5 "$T/dfs.log")"

# --- listed files only: Keylime accepts the log against the TPM ---------------------------------
cat "$M/usr/lib/pa/f1" "$M/usr/lib/pa/f2" >/dev/null || fail "read of listed files"
paths=$(awk '{print $5}' "$L/ascii_runtime_measurements" | tr '\n' ' ')
assert_eq "$paths" "boot_aggregate digestfs_aggregate rpm-pa-1.0-1.noarch " "log entries"
keylime_log "$L/ascii_runtime_measurements" || fail "Keylime rejects the log of listed files: $(cat "$T/kl.out")"
assert_eq "$(jq -s 'map(select(.ok)) | length' "$T/kl.out")" 2 "banks Keylime accepted"
pass "Keylime's process_measurement_list accepts the mount's log against PCR 10 (sha1 and sha256)"
keylime_quote "$L/ascii_runtime_measurements" || fail "Keylime's check_quote rejects the log: $(cat "$T/kq.out")"
pass "Keylime's check_quote accepts a real quote of PCR 10 with the mount's log"

# --- a tampered log and a truncated log are rejected --------------------------------------------
sed 's/ rpm-pa-1.0-1.noarch$/ rpm-pb-1.0-1.noarch/' "$L/ascii_runtime_measurements" >"$T/renamed"
! keylime_log "$T/renamed" || fail "Keylime accepted a log with an entry renamed"
grep -q 'ima_hash' "$T/kl.out" || fail "renamed entry not reported as a template hash mismatch: $(cat "$T/kl.out")"
grep -q 'pcr_mismatch' "$T/kl.out" || fail "renamed entry: no PCR mismatch reported: $(cat "$T/kl.out")"
head -n 2 "$L/ascii_runtime_measurements" >"$T/truncated"
! keylime_log "$T/truncated" || fail "Keylime accepted a log without its last entry"
grep -q 'pcr_mismatch' "$T/kl.out" || fail "truncated log: no PCR mismatch: $(cat "$T/kl.out")"
! keylime_quote "$T/renamed" || fail "check_quote accepted a log with an entry renamed"
grep -q 'ima_hash' "$T/kq.out" || fail "check_quote: renamed entry not a template hash mismatch: $(cat "$T/kq.out")"
! keylime_quote "$T/truncated" || fail "check_quote accepted a log without its last entry"
grep -q 'pcr_mismatch' "$T/kq.out" || fail "check_quote: truncated log, no PCR mismatch: $(cat "$T/kq.out")"
pass "Keylime rejects a tampered entry (template hash, PCR) and a truncated log (PCR), with and without a quote"

# --- content not in the policy: a listed path with other bytes, then an unlisted file -----------
echo "replaced beneath the mount" >"$ROOT/usr/lib/pb/f1"
cat "$M/usr/lib/pb/f1" >/dev/null || fail "read of a changed file refused (policy only measures)"
tail -1 "$L/ascii_runtime_measurements" | grep -q ' /usr/lib/pb/f1$' || fail "changed file not measured"
! keylime_log "$L/ascii_runtime_measurements" || fail "Keylime accepted a file whose digest is not in the policy"
grep -q 'runtime_policy_hash' "$T/kl.out" || fail "changed file not reported as hash not in policy: $(cat "$T/kl.out")"
grep -q 'pcr_mismatch\|ima_hash' "$T/kl.out" && fail "the log itself should still be sound: $(cat "$T/kl.out")"
! keylime_quote "$L/ascii_runtime_measurements" || fail "check_quote accepted a file whose digest is not in the policy"
grep -q 'runtime_policy_hash' "$T/kq.out" || fail "check_quote: changed file not reported: $(cat "$T/kq.out")"
grep -q 'pcr_mismatch\|ima_hash' "$T/kq.out" && fail "check_quote: the log itself should still be sound: $(cat "$T/kq.out")"
pass "Keylime rejects the log once a listed path with unlisted content was measured (hash not in policy)"

cat "$M/opt/unlisted" >/dev/null || fail "read of an unlisted file refused (policy only measures)"
! keylime_log "$L/ascii_runtime_measurements" || fail "Keylime accepted an unlisted file"
grep -q 'not_in_allowlist' "$T/kl.out" || fail "unlisted file not reported: $(cat "$T/kl.out")"
grep -q 'pcr_mismatch\|ima_hash' "$T/kl.out" && fail "the log itself should still be sound: $(cat "$T/kl.out")"
! keylime_quote "$L/ascii_runtime_measurements" || fail "check_quote accepted an unlisted file"
grep -q 'not_in_allowlist' "$T/kq.out" || fail "check_quote: unlisted file not reported: $(cat "$T/kq.out")"
pass "Keylime rejects the log once an unlisted file was measured (not in allowlist)"

rc=0; "$DIGESTCTL" --store "$T/nostore" export keylime-policy >/dev/null 2>"$T/err" || rc=$?
assert_eq "$rc" 3 "export from a missing store"
grep -q "nostore" "$T/err" || fail "error does not name the store: $(cat "$T/err")"
pass "a missing store is exit 3 with the store named"
