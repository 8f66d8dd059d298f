#!/usr/bin/env bash
# Sets up, builds and runs every digestfs test: unit tests (also under ASan+UBSan) and integration
# tests with real FUSE mounts, LMDB, librpm, swtpm, runc and fio. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
cmake --install build >/dev/null
echo "== sanitizer build (ASan + UBSan): unit tests"
bash scripts/build.sh build-asan -DDIGESTFS_SANITIZE=ON -DDIGESTFS_BENCH=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -L unit --output-on-failure -j2)
echo "== fuzz smoke: every parser harness (fuzz/) for a few seconds, and its saved regressions"
CC=clang CXX=clang++ DFS_BUILD_TARGET=fuzzers bash scripts/build.sh build-fuzz -DDIGESTFS_FUZZ=ON \
  -DDIGESTFS_TESTS=OFF -DDIGESTFS_BENCH=OFF
(cd build-fuzz && ctest -L fuzz --output-on-failure)
echo "== full suite: unit and integration tests"
cd build && ctest --output-on-failure --timeout 900
