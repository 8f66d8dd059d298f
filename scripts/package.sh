#!/usr/bin/env bash
# Builds the Debian package of digestfs: digestfs_VERSION-1_ARCH.deb, with the two programs, the
# default policy, the man pages, the systemd unit, README and docs/ (dist/CMakeLists.txt).
# Usage: scripts/package.sh [--no-build] [BUILD_DIR [OUT_DIR]]
#   BUILD_DIR defaults to build/ and is built first (scripts/build.sh) unless --no-build;
#   the package is written to OUT_DIR (default BUILD_DIR) and its path printed.
# Needs pandoc for the man pages, dpkg-shlibdeps (dpkg-dev) for the library dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
if [ "${1:-}" = "--no-build" ]; then build=0; shift; fi
dir=${1:-build}
out=${2:-$dir}
if [ $build = 1 ]; then bash scripts/build.sh "$dir"; fi
[ -f "$dir/CPackConfig.cmake" ] || { echo "package.sh: $dir is not a configured build (scripts/build.sh $dir)" >&2; exit 2; }
ls "$dir"/docs/man/digestfs.8 "$dir"/docs/man/digestctl.8 "$dir"/docs/man/digestfs-policy.5 >/dev/null 2>&1 ||
  { echo "package.sh: the man pages were not built (is pandoc installed? then re-run cmake)" >&2; exit 2; }
command -v dpkg-shlibdeps >/dev/null || { echo "package.sh: dpkg-shlibdeps is missing (apt-get install dpkg-dev)" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
# cpack installs the build into a staging tree (prefix /usr) and packs it; its own log is kept
# in the staging directory and shown only on failure.
log=$(mktemp)
if ! (cd "$dir" && cpack -G DEB -B "$out/_cpack" --config CPackConfig.cmake) >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
deb=$(ls -t "$out"/_cpack/digestfs_*.deb | head -n1)
mv "$deb" "$out/"
rm -rf "$out/_cpack"
echo "$out/$(basename "$deb")"
