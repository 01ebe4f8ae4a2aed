#!/usr/bin/env bash
# Builds the engine and the tap with Clang, its thread-safety analysis on and
# every warning an error: each ABSL_GUARDED_BY / ABSL_EXCLUSIVE_LOCKS_REQUIRED
# in engine/ and exporter/ is checked at compile time (CI builds with GCC,
# which ignores them). Unoptimised and without debug info: only the
# diagnostics matter here.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=SCRIPTDIR/lib/apt.sh
. scripts/lib/apt.sh
apt_install clang-14

cmake -S . -B build-tsa -G Ninja -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_COMPILER=clang++-14 \
  -DPROPWATCH_WERROR=ON -DPROPWATCH_BUILD_TESTS=OFF -DPROPWATCH_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsa -j"$(nproc)"
echo "thread-safety analysis: engine and tap build clean with clang++-14 -Wthread-safety -Werror"
