#!/usr/bin/env bash
# Validates every collector config in this folder with the collector the
# project builds (demo/collector/build.sh, cached): each must load, and none
# may use a deprecated component alias. A stage of scripts/test.sh.
#   deploy/collector/validate.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
eval "$("$here/../../demo/collector/build.sh")"   # sets DEMO_OTELCOL
fail=0
# Component ids under exporters:/connectors: whose type is an old alias of
# this release train (otlp -> otlp_grpc, otlphttp -> otlp_http, ...).
deprecated_names() {
  awk '/^[a-z]/ { section = $1 }
       (section == "exporters:" || section == "connectors:") &&
       /^  (otlp|otlphttp|loadbalancing|spanmetrics|servicegraph)(\/[^:]*)?:/ { printf "%s ", $1 }' "$1"
}
for f in "$here"/*.yaml; do
  if ! out="$("$DEMO_OTELCOL" validate --config="$f" 2>&1)"; then
    echo "FAIL $(basename "$f"):"; echo "$out" | tail -5; fail=1
  elif dep="$(deprecated_names "$f")" && [ -n "$dep" ]; then
    # `validate` loads aliases silently; the collector warns only when it runs.
    echo "FAIL $(basename "$f") uses deprecated aliases: $dep"; fail=1
  else
    echo "ok   $(basename "$f")"
  fi
done
# The check must be able to fail: a config with an unknown key is refused.
bad="$(mktemp)"; trap 'rm -f "$bad"' EXIT
sed 's/routing_key: traceID/routing_key: traceID\n    no_such_key: 1/' "$here/loadbalancer-static.yaml" >"$bad"
if "$DEMO_OTELCOL" validate --config="$bad" >/dev/null 2>&1; then
  echo "FAIL the collector accepted an unknown key: validation proves nothing"; fail=1
fi
exit $fail
