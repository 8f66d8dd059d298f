#!/bin/bash
# Faults during an import (issue 14, "Faults and load"):
# 1. digestctl import killed with SIGKILL at spread-out moments: the store is as before the import
#    or as after it (its dump is one of the two), never in between, and digestctl works on it;
# 2. a full disk during an import (the store on a 2 MiB tmpfs): refused with kFull ("store ... is
#    full"), exit 3, and the store is exactly as before (same dump, same generation).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_cmd openssl jq sha256sum split
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=dfs faults" -keyout "$T/k.key" -out "$T/k.crt" 2>/dev/null || fail "openssl req"
# A small tree and a big one (30000 files).
mkdir -p "$T/small/etc" "$T/big/usr/share/data"
echo small >"$T/small/etc/one"
(cd "$T/big/usr/share/data" && seq 1 30000 | split -l 1 -a 5 - f)
mk() { "$DIGESTCTL" --store "$T/scratch" manifest create "$T/$1" --key "$T/k.key" --cert "$T/k.crt" -o "$T/$1.m" --name "$1" >/dev/null || fail "manifest create $1"; }
mk small
mk big
new_store() {  # DIR: a store with the key and the small manifest
  "$DIGESTCTL" --store "$1" init >/dev/null && "$DIGESTCTL" --store "$1" keys add "$T/k.crt" >/dev/null &&
    "$DIGESTCTL" --store "$1" import manifest "$T/small.m" >/dev/null || fail "store $1"
}
# The store's content, without the import time: what must be exactly before or after.
state() { "$DIGESTCTL" --store "$1" --json dump | jq -c 'del(.import_time)' | sha256sum | cut -d' ' -f1; }

# 1. SIGKILL mid-import.
S=$T/store
new_store "$S"
before=$(state "$S")
cp -a "$S" "$T/after"
t0=$(date +%s%N)
"$DIGESTCTL" --store "$T/after" import manifest "$T/big.m" >/dev/null || fail "import big"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
after=$(state "$T/after")
[ "$before" != "$after" ] || fail "the big import changed nothing"
echo "an uninterrupted import takes $ms ms"
n_before=0 n_after=0
for i in $(seq 1 8); do
  rm -rf "$S" && new_store "$S"
  "$DIGESTCTL" --store "$S" import manifest "$T/big.m" >/dev/null 2>&1 &
  pid=$!
  # Spread over the import: 1/10 .. 8/10 of its uninterrupted time.
  sleep "$(awk -v m="$ms" -v i="$i" 'BEGIN { printf "%.3f", m * i / 10 / 1000 }')"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  st=$(state "$S") || fail "digestctl dump after kill $i"
  case $st in
    "$before") n_before=$((n_before + 1)) ;;
    "$after") n_after=$((n_after + 1)) ;;
    *) fail "after kill $i the store is neither as before nor as after the import" ;;
  esac
  "$DIGESTCTL" --store "$S" lookup "$T/small/etc/one" >/dev/null || fail "lookup after kill $i"
  "$DIGESTCTL" --store "$S" import manifest "$T/big.m" >/dev/null || fail "import again after kill $i"
  assert_eq "$(state "$S")" "$after" "store after importing again after kill $i"
done
echo "8 kills: $n_before left the store as before, $n_after as after"
[ "$n_before" -gt 0 ] || fail "no kill landed before the commit (the test did not interrupt anything)"
pass "SIGKILL mid-import: the store is as before or as after, and usable"

# 2. A full disk.
F=$T/full
mkdir -p "$F"
mount -t tmpfs -o size=2m tmpfs "$F" || skip "cannot mount a tmpfs"
at_exit "umount '$F'"
new_store "$F/store"
before=$(state "$F/store")
g0=$("$DIGESTCTL" --store "$F/store" --json stats | jq -r .generation)
rc=0
"$DIGESTCTL" --store "$F/store" import manifest "$T/big.m" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" != 0 ] || fail "an import into a full file system succeeded"
[ "$rc" -lt 128 ] || fail "digestctl died on a full disk (rc $rc)"
grep -qi "full\|no space" "$T/err" || fail "the error does not say the disk is full: $(cat "$T/err")"
assert_eq "$(state "$F/store")" "$before" "store content after the refused import"
assert_eq "$("$DIGESTCTL" --store "$F/store" --json stats | jq -r .generation)" "$g0" "generation after the refused import"
"$DIGESTCTL" --store "$F/store" lookup "$T/small/etc/one" >/dev/null || fail "lookup after the full disk"
echo "full disk: exit $rc, $(head -c 200 "$T/err")"
pass "a full disk during an import: refused (exit $rc), store intact"
