#!/usr/bin/env bash
# Builds digestfs into BUILD_DIR (default build/) and installs it into PATH (/usr/local/bin).
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake args]; DFS_BUILD_TARGET=T builds target T only.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
launcher=()
# ccache, where installed, makes rebuilds in several checkouts cheap; it changes nothing else.
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" ${DFS_BUILD_TARGET:+--target "$DFS_BUILD_TARGET"}
