#!/usr/bin/env bash
# CI stage "demo end to end" (scripts/test.sh): the three services' own unit
# tests (pytest, node:test, go test; no broker needed), then the real demo — Kafka,
# both collector tiers, propwatch, the Python/Go/Node services — twice:
#  1. baseline, each fix alone, all fixed, all fixed but a misconfigured
#     propagator, tail sampling, long traces; check_results.py demo asserts
#     each broken boundary orphans exactly its own spans, each fix removes
#     them, every orphan SERVER/CONSUMER span is attributed to the caller the
#     design says (broken edges: 100 % correct, none wrong), and the
#     tail-sampling tier keeps the error and slow traces whole, ~1% of the
#     rest, never splitting a trace;
#  2. fixed then broken; check_results.py gate asserts `propwatch check`
#     passes on the fixed request and fails on the broken one.
# Results go to a temporary folder (docs/results/ is only written by a
# newcomer's `scripts/demo.sh`).
#   PROPWATCH_DEMO_REQUESTS=30   user requests per phase in run 1
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { echo "tests/demo: $*" >&2; }
die() { log "error: $*"; exit 1; }

echo "== demo services: unit tests"
services_env="$(demo/services/install.sh)"; eval "$services_env"
"$DEMO_GATEWAY_PYTHON" -m pytest -q -p no:cacheprovider demo/services/gateway/test_gateway.py
NODE_PATH="$DEMO_CONSUMER_DIR/node_modules" node --test demo/services/consumer/consumer.test.js
# shellcheck source=SCRIPTDIR/../../demo/scripts/ensure-go.sh
. demo/scripts/ensure-go.sh
ensure_go 1.26.0 go1.26.8
(cd demo/services/worker && GOFLAGS=-mod=readonly go test -count=1 ./...)

echo "== collector configs validate against the built collector"
collector_env="$(demo/collector/build.sh)"; eval "$collector_env"
for config in deploy/collector/propwatch-fanout.yaml demo/collector/tier1.yaml \
              demo/collector/tier2.yaml; do
  "$DEMO_OTELCOL" validate --config="$config" || die "$config does not validate"
  echo "ok $config"
done

echo "== demo: baseline, each fix alone, all fixed, misconfigured propagator, tail sampling, long traces"
out="$(mktemp -d /tmp/propwatch-demo-results.XXXXXX)"
# Kept when a step fails, for a look at results.json and the reports.
cleanup() {
  local status=$?
  if [ "$status" = 0 ]; then rm -rf "$out"; else log "results kept in $out"; fi
}
trap cleanup EXIT

scripts/demo.sh --requests="${PROPWATCH_DEMO_REQUESTS:-30}" --out="$out/demo" \
  --command="tests/demo/run.sh"
python3 tests/demo/check_results.py demo "$out/demo"

echo "== demo: the CI gate on a fixed, then a broken request"

scripts/demo.sh --requests=10 --phases=all-fixed,baseline --out="$out/gate" \
  --command="tests/demo/run.sh"
python3 tests/demo/check_results.py gate "$out/gate"
