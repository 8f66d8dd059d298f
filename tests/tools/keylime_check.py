#!/usr/bin/python3
"""Runs Keylime's own checks (the keylime package from ../shared/peers, on PYTHONPATH) for tests.

  keylime_check.py policy FILE
      Loads FILE as the Keylime verifier does when a runtime policy is uploaded
      (ima.verify_runtime_policy, then ima.runtime_policy_db_contents, which validates it against
      RUNTIME_POLICY_SCHEMA). Prints {"generator": N, "expects_ima_log": bool}; exit 1 if refused.
  keylime_check.py log --policy FILE --log ASCII_LOG --pcr ALGO:HEX [--pcr ALGO:HEX ...]
                       [--boot-aggregate ALGO:HEX ...]
      Runs ima.process_measurement_list over the ASCII log for each PCR bank given (the value of
      PCR 10 read from the TPM), as the verifier does after checking a quote. Prints one JSON object
      per bank {"bank", "ok", "events"}; exit 0 if every bank passed, 1 otherwise.
  keylime_check.py quote --policy FILE --log ASCII_LOG --ak AK_TPM2B_PUBLIC --nonce NONCE
                         --quote MSG SIG PCRS [--boot-aggregate HEX]
      What the verifier does with an agent's answer: Tpm().check_quote checks the quote (made with
      tpm2_quote -m MSG -s SIG -o PCRS -g sha256 -l sha256:10 -q hex(NONCE)) against the AK and
      the nonce, then replays the IMA log against PCR 10 from the quote and checks each entry
      against the policy (the boot_aggregate value is added to the policy's digests, as an operator
      would from the host's measured boot). Prints {"ok", "events"}; exit 0 if it passed.
"""
import argparse
import base64
import json
import sys

from keylime.common.algorithms import Hash
from keylime.ima import ima


def cmd_policy(args):
    with open(args.file, "rb") as f:
        raw = f.read()
    try:
        ima.verify_runtime_policy(raw, None, verify_sig=False)
        row = ima.runtime_policy_db_contents("digestfs-test", raw.decode())
    except Exception as e:  # Keylime reports refusals as exceptions
        print(json.dumps({"error": str(getattr(e, "message", e))}))
        return 1
    gen = int(row["generator"])
    print(json.dumps({"generator": gen, "expects_ima_log": gen > ima.RUNTIME_POLICY_GENERATOR.EmptyAllowList}))
    return 0


def cmd_log(args):
    with open(args.policy) as f:
        policy_text = f.read()
    with open(args.log) as f:
        lines = f.read().split("\n")
    boot = {}
    for v in args.boot_aggregate or []:
        alg, hexval = v.split(":", 1)
        boot.setdefault(alg, []).append(hexval)
    ok = True
    for v in args.pcr:
        alg, hexval = v.split(":", 1)
        policy = ima.deserialize_runtime_policy(policy_text)
        _, failure = ima.process_measurement_list(
            None, lines, policy, pcrval=hexval, boot_aggregates=boot or None, hash_alg=Hash(alg)
        )
        print(json.dumps({"bank": alg, "ok": not failure, "events": failure.get_event_ids()}))
        ok = ok and not failure
    return 0 if ok else 1


def cmd_quote(args):
    from keylime.mba import mba  # pylint: disable=import-outside-toplevel
    from keylime.tpm.tpm_main import Tpm  # pylint: disable=import-outside-toplevel

    mba.load_imports(skip_custom_policies=True)
    with open(args.policy) as f:
        policy = ima.deserialize_runtime_policy(f.read())
    if args.boot_aggregate:
        policy["digests"].setdefault("boot_aggregate", []).append(args.boot_aggregate)
    with open(args.log) as f:
        log = f.read()
    parts = []
    for name in args.quote:
        with open(name, "rb") as f:
            parts.append(base64.b64encode(f.read()).decode())
    with open(args.ak, "rb") as f:
        ak = f.read()
    failure = Tpm().check_quote(
        None,
        args.nonce,
        None,
        "r" + ":".join(parts),
        ak,
        tpm_policy={"mask": hex(1 << 10)},
        ima_measurement_list=log,
        runtime_policy=policy,
        hash_alg=Hash.SHA256,
        skip_clock_check=True,
    )
    print(json.dumps({"ok": not failure, "events": failure.get_event_ids()}))
    return 0 if not failure else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("policy")
    p.add_argument("file")
    l = sub.add_parser("log")
    l.add_argument("--policy", required=True)
    l.add_argument("--log", required=True)
    l.add_argument("--pcr", action="append", required=True)
    l.add_argument("--boot-aggregate", action="append")
    q = sub.add_parser("quote")
    q.add_argument("--policy", required=True)
    q.add_argument("--log", required=True)
    q.add_argument("--ak", required=True)
    q.add_argument("--nonce", required=True)
    q.add_argument("--quote", nargs=3, required=True, metavar=("MSG", "SIG", "PCRS"))
    q.add_argument("--boot-aggregate")
    args = ap.parse_args()
    return {"policy": cmd_policy, "log": cmd_log, "quote": cmd_quote}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
