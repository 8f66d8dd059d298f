#!/bin/bash
# bench/import_bench.sh BUILD_DIR [PACKAGES] [FILES_PER_PACKAGE]
# Import throughput: builds PACKAGES signed RPMs (FILES_PER_PACKAGE files each) with a throwaway gpg
# key, then times `digestctl import rpm` over the files (header signature + payload digest per
# package) and `digestctl import rpmdb` over a root where they are installed (header signature per
# package). Prints packages/s and digests/s for each. Not a test: nothing is asserted.
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../tests/lib/common.sh" "$1"
. "$SRC/tests/lib/rpmbuild.sh"
N=${2:-200}
F=${3:-20}
[ -x "$DIGESTCTL" ] || { echo "digestctl not built" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (rpm --root)" >&2; exit 1; }

now() { date +%s.%N; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }'; }

echo "building $N packages x $F files..." >&2
rpm_make_key bench
pkgs=()
for i in $(seq 1 "$N"); do
  specs=()
  for j in $(seq 1 "$F"); do specs+=("/usr/share/bench$i/file$j=package $i file $j"); done
  pkgs+=("$(rpm_build "bench$i" 1.0 1 "${specs[@]}")")
done
GNUPGHOME=$RPM_GNUPGHOME rpmsign --define '__gpg /usr/bin/gpg' --define "_gpg_name $RPM_KEY_FPR" \
  --addsign "${pkgs[@]}" >/dev/null 2>&1 || fail "rpmsign"
bytes=$(du -cb "${pkgs[@]}" | tail -1 | cut -f1)

S=$T/store
"$DIGESTCTL" --store "$S" init >/dev/null
"$DIGESTCTL" --store "$S" keys add "$RPM_KEY_ASC" >/dev/null
t0=$(now)
"$DIGESTCTL" --store "$S" import rpm "${pkgs[@]}" >/dev/null || fail "import rpm"
t1=$(now)
tr=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

R=$T/root
mkdir -p "$R"
rpm --root "$R" --dbpath /usr/lib/sysimage/rpm -i --nodeps --nosignature --justdb "${pkgs[@]}" >/dev/null 2>&1 ||
  fail "rpm -i --justdb"
S2=$T/store2
"$DIGESTCTL" --store "$S2" init >/dev/null
"$DIGESTCTL" --store "$S2" keys add "$RPM_KEY_ASC" >/dev/null
t2=$(now)
"$DIGESTCTL" --store "$S2" import rpmdb --root "$R" >/dev/null || fail "import rpmdb"
t3=$(now)
td=$(awk -v a="$t2" -v b="$t3" 'BEGIN { print b - a }')
# Re-import of an unchanged rpmdb (every source unchanged).
t4=$(now)
"$DIGESTCTL" --store "$S2" import rpmdb --root "$R" >/dev/null || fail "import rpmdb (again)"
t5=$(now)
tu=$(awk -v a="$t4" -v b="$t5" 'BEGIN { print b - a }')

D=$((N * F))
printf 'import rpm   : %d packages (%d bytes), %d digests in %.3f s: %s packages/s, %s digests/s\n' \
  "$N" "$bytes" "$D" "$tr" "$(rate "$N" "$tr")" "$(rate "$D" "$tr")"
printf 'import rpmdb : %d packages, %d digests in %.3f s: %s packages/s, %s digests/s\n' \
  "$N" "$D" "$td" "$(rate "$N" "$td")" "$(rate "$D" "$td")"
printf 'rpmdb again  : %d packages unchanged in %.3f s: %s packages/s\n' "$N" "$tu" "$(rate "$N" "$tu")"
