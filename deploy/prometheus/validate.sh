#!/usr/bin/env bash
# Checks deploy/prometheus/ with promtool (installed by
# scripts/install-ops-deps.sh): the scrape config with the rule files they
# load, and the fleet rules' unit tests. A stage of alerts/run_checks.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cp "$here"/*.yml "$here/../../alerts/propwatch_rules.yml" "$work/"
for config in prometheus.yml; do
  "${PROPWATCH_PROMTOOL:-promtool}" check config "$work/$config"
done
"${PROPWATCH_PROMTOOL:-promtool}" test rules "$here/test/fleet_rules_test.yml"
