#!/usr/bin/env bash
# The project's test command (README "Run the tests"): installs what is
# missing, builds everything, runs every CTest suite, installs the engine
# into temporary prefixes and builds the examples against it, then the
# later stages below.
#   PROPWATCH_SKIP_TSAN=1  skip the ThreadSanitizer stage
#   PROPWATCH_SKIP_ASAN=1  skip the AddressSanitizer + UBSan stage
#   PROPWATCH_SKIP_FUZZ=1  skip the bounded fuzzing stage (scripts/fuzz.sh)
#   PROPWATCH_SKIP_DEMO=1  skip the demo end-to-end stage (tests/demo/run.sh)
#   PROPWATCH_SKIP_FLEET=1 skip the fleet stage (tests/fleet/run.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/install-sdk-deps.sh >/dev/null
scripts/install-ops-deps.sh

jobs=$(nproc)
# Warnings are errors here (CI); a user's build leaves PROPWATCH_WERROR off.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROPWATCH_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== the engine as an installed package: examples, pkg-config, C ABI from Python"
tests/install/run.sh

echo "== the tap as a .deb: build, apt-get install, run installed, verify the unit, purge"
tests/package/run.sh build

echo "== load generator smoke run (its checks: engine totals == spans sent)"
build/bench/otlp_load --seconds=1 --repetitions=1 >/dev/null
build/bench/otlp_load --seconds=1 --repetitions=1 --rate=200000 >/dev/null  # paced

echo "== the status page in a real browser (chromium over the DevTools protocol)"
tests/status_page/run.sh build/exporter/tap/propwatch

echo "== alert rules, dashboard lint, real-Prometheus check"
alerts/run_checks.sh build/exporter/tap/propwatch

if [ "${PROPWATCH_SKIP_DEMO:-0}" != 1 ]; then
  echo "== demo end to end: Kafka, collector, Python/Go/Node services, the CI gate"
  tests/demo/run.sh
fi

echo "== deploy/: collector configs (the collector we build), Kubernetes manifests (schemas + cross-checks)"
deploy/collector/validate.sh
deploy/kubernetes/validate.sh build/exporter/tap/propwatch

echo "== peer benchmark smoke: tap and Collector count exactly the spans sent (bench/peer)"
bench/peer/run.py --smoke --propwatch=build/exporter/tap/propwatch --otlp-load=build/bench/otlp_load
echo "== memory per live trace smoke: the tap at a small cap, tail sampling (bench/peer/memory.py)"
bench/peer/memory.py --traces=20000 --sampler-traces=2000 --rate=200000 \
  --propwatch=build/exporter/tap/propwatch --otlp-load=build/bench/otlp_load

if [ "${PROPWATCH_SKIP_FLEET:-0}" != 1 ]; then
  echo "== fleet: 3 taps behind load_balancing sum to 1 tap; rollouts without false broken parents"
  tests/fleet/run.sh build/exporter/tap/propwatch
fi

echo "== Clang thread-safety analysis over the engine and the tap, warnings as errors"
scripts/thread_safety.sh

if [ "${PROPWATCH_SKIP_TSAN:-0}" != 1 ]; then
  echo "== engine under ThreadSanitizer"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPROPWATCH_SANITIZE=thread -DPROPWATCH_BUILD_EXPORTER=OFF -DPROPWATCH_BUILD_BENCH=OFF >/dev/null
  cmake --build build-tsan -j"$jobs"
  TSAN_OPTIONS="halt_on_error=1" ctest --test-dir build-tsan --output-on-failure -j"$jobs"
fi

if [ "${PROPWATCH_SKIP_ASAN:-0}" != 1 ]; then
  echo "== every CTest suite under AddressSanitizer + UndefinedBehaviorSanitizer"
  # Everything, the tap included: the integration tests run the instrumented
  # binary with the real SDKs. A small quarantine: ASan holds freed memory
  # back (256 MB by default), which the gzip-bomb RSS bounds would count.
  # Not -Werror: GCC warns (maybe-uninitialized) inside Beast's headers here.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPROPWATCH_SANITIZE=address,undefined -DPROPWATCH_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$jobs"
  ASAN_OPTIONS="quarantine_size_mb=16:detect_leaks=1" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"
fi

if [ "${PROPWATCH_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== bounded fuzzing of the parsers"
  scripts/fuzz.sh
fi
