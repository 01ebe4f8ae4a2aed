#!/usr/bin/env bash
# Checks alerts/ and grafana/ (run by scripts/test.sh, hence by .ci/run):
#   1. promtool check rules      alerts/propwatch_rules.yml
#   2. promtool test rules       alerts/test/rules_test.yml
#   3. dashboard-linter --strict grafana/dashboards/*.json (exceptions with
#                                their reasons in grafana/dashboards/.lint)
#   4. house rules               alerts/test/static_checks.py
#      runbook_url base          alerts/test/render_rules_test.py, and
#                                promtool check rules on its rendered file
#   5. real Prometheus e2e       alerts/test/prometheus_e2e.sh PROPWATCH
#   6. Prometheus over mTLS      alerts/test/prometheus_tls.sh PROPWATCH
#
#   alerts/run_checks.sh [PATH/TO/propwatch]   (default build/exporter/tap/propwatch)
#
# Installs its tools first (scripts/install-ops-deps.sh, idempotent). Builds
# nothing: pass a built propwatch binary.
set -euo pipefail
cd "$(dirname "$0")/.."

propwatch="${1:-build/exporter/tap/propwatch}"
tool_env=$(scripts/install-ops-deps.sh --print-env)
eval "$(grep '^export PROPWATCH_[A-Z_]*=' <<<"$tool_env")"

echo "== promtool check rules"
"$PROPWATCH_PROMTOOL" check rules alerts/propwatch_rules.yml

echo "== promtool test rules"
"$PROPWATCH_PROMTOOL" test rules alerts/test/rules_test.yml

echo "== dashboard-linter lint --strict"
for dashboard in grafana/dashboards/*.json; do
  echo "-- $dashboard"
  "$PROPWATCH_DASHBOARD_LINTER" lint --strict "$dashboard"
done

echo "== deploy/prometheus: scrape config, fleet rules and their tests"
deploy/prometheus/validate.sh

echo "== house rules for alerts/ and grafana/"
"$PROPWATCH_VENV/bin/python" alerts/test/static_checks.py

echo "== runbook_url made absolute through one base (alerts/render_rules.py)"
render_out="$("$PROPWATCH_VENV/bin/python" alerts/test/render_rules_test.py)" || { echo "$render_out"; exit 1; }
echo "$render_out"
rendered="$(sed -n 's/^rendered: //p' <<<"$render_out")"
"$PROPWATCH_PROMTOOL" check rules "$rendered"
rm -rf "$(dirname "$rendered")"

echo "== Prometheus e2e against a running tap"
alerts/test/prometheus_e2e.sh "$propwatch"

echo "== Prometheus scraping the tap's admin listener over mutual TLS"
alerts/test/prometheus_tls.sh "$propwatch"
