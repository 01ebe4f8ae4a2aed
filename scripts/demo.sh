#!/usr/bin/env bash
# The demo (README "Run the demo"): on a fresh machine, installs and builds
# everything it needs — propwatch, a Kafka broker from Maven Central jars, an
# OpenTelemetry Collector built with the Collector Builder, the Python, Go and
# Node.js services — then runs baseline, each fix alone, all fixed and all
# fixed but a misconfigured propagator, and writes the measured results
# (orphan rates, broken-edge attribution) to docs/results/ (see
# demo/README.md); the last phases send traffic through the collector's
# tail-sampling tier.
# Heavy artifacts are cached under ~/.cache/propwatch keyed by their manifests.
# Arguments go to demo/run_demo.py, e.g.
#   scripts/demo.sh --requests=200 --out=/tmp/results
set -euo pipefail
cd "$(dirname "$0")/.."

for arg in "$@"; do
  case "$arg" in
    -h|--help) exec python3 demo/run_demo.py --help ;;
  esac
done

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target propwatch

# Each installer prints KEY=VALUE lines on stdout (progress on stderr); the
# output is captured first so a failing installer stops the script here.
set -a
kafka_env="$(demo/kafka/install.sh)";      eval "$kafka_env"
collector_env="$(demo/collector/build.sh)"; eval "$collector_env"
services_env="$(demo/services/install.sh)"; eval "$services_env"
set +a

exec python3 demo/run_demo.py \
  --propwatch=build/exporter/tap/propwatch \
  --otelcol="$DEMO_OTELCOL" \
  --worker-bin="$DEMO_WORKER_BIN" \
  --gateway-python="$DEMO_GATEWAY_PYTHON" \
  --consumer-dir="$DEMO_CONSUMER_DIR" \
  "$@"
