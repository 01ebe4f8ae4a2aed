#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time
# from the seed corpus in fuzz/corpus/<target>/ (new inputs go to a scratch
# copy; crashes are kept in build-fuzz/artifacts/ and fail the run).
#   PROPWATCH_FUZZ_SECONDS  seconds per target (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=SCRIPTDIR/lib/apt.sh
. scripts/lib/apt.sh
apt_install clang-14 libclang-rt-14-dev

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 -DPROPWATCH_BUILD_FUZZERS=ON \
  -DPROPWATCH_BUILD_EXPORTER=OFF -DPROPWATCH_BUILD_TESTS=OFF -DPROPWATCH_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)"

seconds=${PROPWATCH_FUZZ_SECONDS:-30}
mkdir -p build-fuzz/artifacts
for target in trace_context otlp_proto otlp_json; do
  work=build-fuzz/corpus/$target
  rm -rf "$work"; mkdir -p "$work"; cp fuzz/corpus/$target/* "$work/"
  echo "== fuzz $target for ${seconds}s"
  build-fuzz/fuzz/${target}_fuzz -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix=build-fuzz/artifacts/${target}- "$work" 2>&1 | tail -n 12
done
