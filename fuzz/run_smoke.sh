#!/usr/bin/env bash
# fuzz/run_smoke.sh HARNESS FUZZ_SRC_DIR SECONDS: replays every saved regression input of HARNESS
# (fuzz/regressions/NAME/*), then fuzzes it for SECONDS from its seeds (fuzz/seeds/NAME/) in a
# scratch corpus, so the source tree is never written. Exits non-zero on any crash, leak, sanitizer
# report or timeout; the crashing input is kept in the scratch dir, whose path is printed.
set -euo pipefail
bin=$1 src=$2 secs=${3:-8}
name=$(basename "$bin")
work=$(mktemp -d "/tmp/dfs-fuzz-$name.XXXXXX")
mkdir -p "$work/corpus"
if [ -d "$src/seeds/$name" ]; then cp -r "$src/seeds/$name/." "$work/corpus/"; fi
regs=()
if [ -d "$src/regressions/$name" ]; then
  while IFS= read -r -d '' f; do regs+=("$f"); done < <(find "$src/regressions/$name" -type f -print0 | sort -z)
fi
if [ ${#regs[@]} -gt 0 ]; then
  echo "== $name: replaying ${#regs[@]} regression input(s)"
  "$bin" -runs=1 "${regs[@]}" >"$work/regressions.log" 2>&1 || {
    tail -n 40 "$work/regressions.log"; echo "FAIL: $name crashed on a regression input (log: $work)"; exit 1; }
fi
echo "== $name: fuzzing for ${secs}s from $(ls "$work/corpus" | wc -l) seed(s)"
if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" >"$work/fuzz.log" 2>&1; then
  tail -n 60 "$work/fuzz.log"
  echo "FAIL: $name found a crash; the input is in $work"
  exit 1
fi
grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov: ' "$work/fuzz.log" | tail -n 3
rm -rf "$work"
echo "PASS: $name"
