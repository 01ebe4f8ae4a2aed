#!/usr/bin/env bash
# Proof against real software: a real Prometheus server (Debian's package)
# scrapes a running propwatch tap fed by a real OpenTelemetry SDK scenario
# (otel_scenario.py: gateway = entry point, worker = broken internal service,
# billing = healthy internal service), loads alerts/propwatch_rules.yml, and
# e2e_check.py asserts through Prometheus's HTTP API that every recording rule
# and every dashboard query returns data and that the orphan alert's
# expression is true for worker and false for gateway and billing.
#
#   alerts/test/prometheus_e2e.sh PATH/TO/propwatch
#
# Builds nothing. Tools: $PROPWATCH_PROMETHEUS (default /usr/bin/prometheus)
# and $PROPWATCH_VENV (the OpenTelemetry venv); when unset they come from
# scripts/install-ops-deps.sh --print-env. Everything listens on 127.0.0.1,
# on ports the kernel picks. Bounded: about 30 s when healthy, 3 min at most.
# On failure the logs are printed and the work directory is kept.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
propwatch="${1:?usage: $0 PATH/TO/propwatch}"
propwatch="$(cd "$(dirname "$propwatch")" && pwd)/$(basename "$propwatch")"
[ -x "$propwatch" ] || { echo "e2e: $propwatch is not executable" >&2; exit 2; }

if [ -z "${PROPWATCH_VENV:-}" ] || [ -z "${PROPWATCH_PROMETHEUS:-}" ]; then
  tool_env=$("$root/scripts/install-ops-deps.sh" --print-env)
  eval "$(grep '^export PROPWATCH_[A-Z_]*=' <<<"$tool_env")"
fi
prometheus="${PROPWATCH_PROMETHEUS:-/usr/bin/prometheus}"
python="$PROPWATCH_VENV/bin/python"

work="$(mktemp -d "${TMPDIR:-/tmp}/propwatch-e2e.XXXXXX")"
pids=()
ok=0
cleanup() {
  local i pid
  # Newest first: Prometheus, then the scenario (flushes its spans), then
  # the tap. Each gets 5 s to exit after SIGTERM.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$ok" = 1 ]; then
    rm -rf "$work"
  else
    for f in propwatch.log scenario.log prometheus.log; do
      echo "---- $f (last 40 lines)" >&2
      tail -n 40 "$work/$f" >&2 2>/dev/null || true
    done
    echo "e2e: FAILED; logs and data kept in $work" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until "$@" succeeds, at most $1 seconds (first argument).
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.2
  done
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start=$SECONDS

# --- the tap ------------------------------------------------------------------
"$propwatch" --otlp-grpc-address=127.0.0.1:0 --otlp-http-address=127.0.0.1:0 \
  --admin-address=127.0.0.1:0 --entry-services=gateway --trace-idle-timeout=2s \
  --rebalance-window=0 \
  >"$work/propwatch.log" 2>&1 &
pids+=($!)
tap_reported_ports() {
  grep -q 'admin=.*(port [0-9]*)' "$work/propwatch.log" && return 0
  kill -0 "${pids[0]}" 2>/dev/null || return 0 # exited: stop waiting
  return 1
}
wait_for 15 tap_reported_ports
grep -q 'admin=.*(port [0-9]*)' "$work/propwatch.log" ||
  { echo "e2e: propwatch did not report its ports" >&2; exit 1; }
port_of() { sed -n "s/.*$1=[^ ]* (port \([0-9]*\)).*/\1/p" "$work/propwatch.log" | head -n 1; }
grpc_port=$(port_of otlp-grpc)
http_port=$(port_of otlp-http)
admin_port=$(port_of admin)
if [ -z "$grpc_port" ] || [ -z "$http_port" ] || [ -z "$admin_port" ]; then
  echo "e2e: cannot read the ports from propwatch's log" >&2
  exit 1
fi
wait_for 15 curl -fsS "http://127.0.0.1:$admin_port/metrics"
echo "e2e: propwatch up (otlp-grpc $grpc_port, otlp-http $http_port, admin $admin_port)"

# --- the OpenTelemetry SDK scenario ----------------------------------------------
"$python" "$here/otel_scenario.py" --grpc-port "$grpc_port" --http-port "$http_port" \
  --rate 20 --duration 150 >"$work/scenario.log" 2>&1 &
pids+=($!)

# --- Prometheus ---------------------------------------------------------------------
prom_port=$(free_port)
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $root/alerts/propwatch_rules.yml
scrape_configs:
  - job_name: propwatch
    static_configs:
      - targets: ["127.0.0.1:$admin_port"]
EOF
"$prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_for 30 curl -fsS "http://127.0.0.1:$prom_port/-/ready" ||
  { echo "e2e: prometheus did not become ready" >&2; exit 1; }
echo "e2e: prometheus $("$prometheus" --version 2>&1 | head -n 1 | awk '{print $3}') up on 127.0.0.1:$prom_port"

# --- the assertions ---------------------------------------------------------------
python3 "$here/e2e_check.py" --prometheus "http://127.0.0.1:$prom_port" \
  --rules "$root/alerts/propwatch_rules.yml" \
  --dashboard "$root/grafana/dashboards/propwatch.json" \
  --broken worker --entry gateway --healthy billing --timeout 120

kill -0 "${pids[1]}" 2>/dev/null || { echo "e2e: the scenario exited early" >&2; exit 1; }
ok=1
echo "e2e: passed in $((SECONDS - start))s"
