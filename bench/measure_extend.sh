#!/bin/bash
# bench/measure_extend.sh BUILD_DIR [SOURCES] [FILES]: the cost of measuring per source (the digest
# cache: one entry and one extend per package) against per file (IMA without it: one per file),
# with a real swtpm, and the log-only cost (fsyncs, no TPM) for comparison. Prints a table.
# Defaults: 30 sources, 1000 files (a small rootfs). The kernel series reported 12,313 -> 304.
. "$(dirname "$0")/../tests/lib/common.sh" "$1"
. "$SRC/tests/lib/swtpm.sh"
K=${2:-30}
N=${3:-1000}
TOOL=$BUILD/tests/measure_tool
[ -x "$TOOL" ] || skip "measure_tool not built"

now() { date +%s.%N; }
run() {  # run LABEL ARGS... -> prints "LABEL entries seconds per-entry-ms"
  local label=$1; shift
  local log=$T/log-$label t0 t1 n
  t0=$(now)
  "$TOOL" --log "$log" "$@" >/dev/null 2>"$T/err" || { cat "$T/err"; fail "$label failed"; }
  t1=$(now)
  n=$(grep -c . "$log/ascii_runtime_measurements")
  awk -v l="$label" -v n="$n" -v a="$t0" -v b="$t1" \
    'BEGIN { printf "%-26s %8d %10.3f %10.3f\n", l, n, b - a, (b - a) * 1000 / n }'
}

printf "%-26s %8s %10s %10s\n" "mode" "extends" "seconds" "ms/entry"
swtpm_start "$T/tpm-a"
run "per-source+tpm(K=$K)" --tcti "$SWTPM_TCTI" --sources "$K"
swtpm_stop
swtpm_start "$T/tpm-b"
run "per-file+tpm(N=$N)" --tcti "$SWTPM_TCTI" --files "$N"
swtpm_stop
printf "%-26s %8s %10s %10s\n" "(log only, no TPM)" "entries" "" ""
run "per-source-log(K=$K)" --sources "$K"
run "per-file-log(N=$N)" --files "$N"
