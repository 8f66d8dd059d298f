#!/usr/bin/env bash
# bench/enforce_verify_tree.sh BUILD_DIR [TREE...]: `digestctl verify-tree` against Debian's
# `aide --check` (sha256 only, num_workers=2) over the same trees, warm (page cache hot: each is
# run once untimed first). The store holds every file of the trees, from a signed manifest, so
# verify-tree makes the real decision (hash, look up, allow). Target: verify-tree >= 3x faster.
# Prints the times and the ratio; exits 77 if aide or openssl is missing.
set -euo pipefail
BUILD=$(cd "${1:?usage: enforce_verify_tree.sh BUILD_DIR [TREE...]}" && pwd)
shift
TREES=("$@")
[ ${#TREES[@]} -gt 0 ] || TREES=(/usr/lib/x86_64-linux-gnu /usr/bin)
DIGESTCTL=$BUILD/cli/digestctl
. "$(dirname "$0")/install_baselines.sh"
install_baselines aide
for c in aide openssl; do command -v $c >/dev/null || { echo "SKIPPED: missing $c"; exit 77; }; done
T=$(mktemp -d /tmp/dfs-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
now() { date +%s.%N; }

# A store vouching for every file of the trees: one signed manifest per tree.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench \
  -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 2>/dev/null
"$DIGESTCTL" --store "$T/store" init >/dev/null
"$DIGESTCTL" --store "$T/store" keys add "$T/cert.pem" >/dev/null
for tree in "${TREES[@]}"; do
  n=$(echo "$tree" | tr / _)
  "$DIGESTCTL" manifest create "$tree" --key "$T/key.pem" --cert "$T/cert.pem" -o "$T/m$n" >/dev/null
  "$DIGESTCTL" --store "$T/store" import manifest "$T/m$n" >/dev/null
done
echo "appraise path=/** " >"$T/policy"

files=0
for tree in "${TREES[@]}"; do files=$((files + $(find "$tree" -type f | wc -l))); done
bytes=$(du -scb "${TREES[@]}" | tail -1 | cut -f1)

# aide: sha256 only, two workers.
{
  echo "database_in=file:$T/aide.db"
  echo "database_out=file:$T/aide.db.new"
  echo "num_workers=2"
  echo "report_url=file:$T/aide.report"
  echo "SHAONLY = sha256"
  for tree in "${TREES[@]}"; do echo "$tree SHAONLY"; done
} >"$T/aide.conf"
aide --config "$T/aide.conf" --init >/dev/null 2>&1 || true
mv "$T/aide.db.new" "$T/aide.db"
aide --config "$T/aide.conf" --check >/dev/null 2>&1 || true   # warm-up
t0=$(now)
aide --config "$T/aide.conf" --check >/dev/null 2>&1 || true
t1=$(now)
aide_s=$(echo "$t1 - $t0" | bc -l)

vt() {
  local rc=0 tree
  for tree in "${TREES[@]}"; do
    "$DIGESTCTL" --store "$T/store" verify-tree "$tree" --prefix "$tree" --policy "$T/policy" \
      >"$T/vt.out" || rc=$?
    [ $rc -eq 0 ] || { cat "$T/vt.out" | tail -5; echo "verify-tree refused something (rc=$rc)"; exit 1; }
  done
}
vt   # warm-up
t0=$(now)
vt
t1=$(now)
vt_s=$(echo "$t1 - $t0" | bc -l)

printf 'trees: %s (%d files, %.0f MiB)\n' "${TREES[*]}" "$files" "$(echo "$bytes / 1048576" | bc -l)"
printf 'aide --check (sha256, num_workers=2): %.2f s\n' "$aide_s"
printf 'digestctl verify-tree (2 threads):    %.2f s\n' "$vt_s"
printf 'speedup verify-tree vs aide: %.2fx (target >= 3x)\n' "$(echo "$aide_s / $vt_s" | bc -l)"
