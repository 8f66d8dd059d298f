#!/bin/bash
# bench/measure_mount.sh BUILD_DIR [PACKAGES] [FILES_PER_PACKAGE]: reading every file of a rootfs
# through a digestfs mount with `measure op=read` and a real swtpm, once with the packages in the
# store (one measurement per package: the digest cache) and once with an empty store (every file
# unknown, so one measurement per file, as IMA measures without the digest cache). Prints TPM
# extends (log entries minus the aggregate) and wall time for each. Needs root, FUSE, rpmbuild.
. "$(dirname "$0")/../tests/lib/common.sh" "$1"
need_root
need_fuse
K=${2:-10}
F=${3:-100}
. "$SRC/tests/lib/enforce.sh"
. "$SRC/tests/lib/swtpm.sh"
ef_key
pkgs=()
for k in $(seq "$K"); do
  s=$(ef_stage "p$k")
  mkdir -p "$s/usr/share/p$k"
  for i in $(seq "$F"); do head -c 4096 /dev/urandom >"$s/usr/share/p$k/f$i"; done
  pkgs+=("$(ef_package "p$k" 1.0 "$s")")
done
ROOT=$T/root
ef_install "$ROOT" "${pkgs[@]}"
ef_store "$T/store" "$ROOT"
"$DIGESTCTL" --store "$T/empty" init >/dev/null
printf 'measure op=read\n' >"$T/policy"
nfiles=$(find "$ROOT/usr/share" -type f | wc -l)

run() {  # LABEL STORE
  swtpm_start "$T/tpm-$1"
  local m=$T/mnt-$1 log=$T/log-$1
  mkdir -p "$m"
  "$DIGESTFS" "$ROOT" "$m" -f -o "store=$2,policy=$T/policy,tpm=${SWTPM_TCTI//,/\\,},pcr=23,log=$log" \
    2>"$T/dfs-$1.log" &
  local pid=$!
  wait_mounted "$m"
  local t0 t1
  t0=$(date +%s.%N)
  find "$m/usr/share" -type f -exec cat {} + >/dev/null
  t1=$(date +%s.%N)
  local n=$(( $(grep -c . "$log/ascii_runtime_measurements") - 1 ))
  awk -v l="$1" -v f="$nfiles" -v n="$n" -v a="$t0" -v b="$t1" \
    'BEGIN { printf "%-28s %7d %9d %9.3f\n", l, f, n, b - a }'
  unmount "$m"
  wait "$pid" 2>/dev/null || true
  swtpm_stop
}
printf "%-28s %7s %9s %9s\n" "mode" "files" "extends" "seconds"
run "per-package (digest cache)" "$T/store"
run "per-file (no digest cache)" "$T/empty"
