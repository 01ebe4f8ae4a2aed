#!/usr/bin/env bash
# A real Prometheus (Debian's package) scrapes a propwatch tap whose admin
# listener serves HTTPS with mutual TLS, as docs/security.md tells operators
# to set it up: job "tls" presents a client certificate and must be up with
# propwatch_build_info scraped; job "no-client-cert" trusts the CA but has
# no certificate and must be down (the tap refuses the handshake).
#
#   alerts/test/prometheus_tls.sh PATH/TO/propwatch
#
# The CA and certificates are made here with the openssl CLI. Loopback only,
# kernel-picked ports, bounded (about 10 s; 60 s at most). Prints
# "N passed, N failed".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
propwatch="${1:?usage: $0 PATH/TO/propwatch}"
propwatch="$(cd "$(dirname "$propwatch")" && pwd)/$(basename "$propwatch")"
if [ -z "${PROPWATCH_PROMETHEUS:-}" ]; then
  eval "$("$root/scripts/install-ops-deps.sh" --print-env | grep '^export PROPWATCH_[A-Z_]*=')"
fi
prometheus="${PROPWATCH_PROMETHEUS:-/usr/bin/prometheus}"

work="$(mktemp -d "${TMPDIR:-/tmp}/propwatch-prom-tls.XXXXXX")"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cd "$work"
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=propwatch test ca"
issue() {  # issue NAME CN EXTENSIONS
  ossl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
  printf '%s\n' "$3" >"$1.ext"
  ossl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -sha256 \
    -extfile "$1.ext" -out "$1.crt"
}
issue server propwatch-tap "subjectAltName=IP:127.0.0.1,DNS:localhost"
issue prometheus prometheus "extendedKeyUsage=clientAuth"

"$propwatch" --otlp-grpc-address=127.0.0.1:0 --otlp-http-address=127.0.0.1:0 \
  --admin-address=127.0.0.1:0 --entry-services=gateway \
  --admin-tls-cert-file=server.crt --admin-tls-key-file=server.key \
  --admin-tls-client-ca-file=ca.crt 2>propwatch.log &
pids+=($!)
admin_port=""
for _ in $(seq 100); do
  admin_port=$(sed -n 's/.*admin=[^ ]* (port \([0-9]*\)).*/\1/p' propwatch.log)
  [ -n "$admin_port" ] && break
  sleep 0.1
done
[ -n "$admin_port" ] || { cat propwatch.log; exit 1; }

prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >prometheus.yml <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: tls
    scheme: https
    tls_config: {ca_file: $work/ca.crt, cert_file: $work/prometheus.crt, key_file: $work/prometheus.key}
    static_configs: [{targets: ["127.0.0.1:$admin_port"]}]
  - job_name: no-client-cert
    scheme: https
    tls_config: {ca_file: $work/ca.crt}
    static_configs: [{targets: ["127.0.0.1:$admin_port"]}]
EOF
"$prometheus" --config.file=prometheus.yml --storage.tsdb.path=data \
  --web.listen-address="127.0.0.1:$prom_port" >prometheus.log 2>&1 &
pids+=($!)

query() {  # query PROMQL -> the first sample's value, or empty
  curl -fsS "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null
}
wait_value() {  # wait_value PROMQL VALUE: true once the query returns VALUE (20 s at most)
  local i
  for i in $(seq 100); do
    [ "$(query "$1" || true)" = "$2" ] && return 0
    sleep 0.2
  done
  return 1
}

passed=0 failed=0
check() {
  if "${@:2}"; then echo "PASS $1"; passed=$((passed + 1)); else echo "FAIL $1"; failed=$((failed + 1)); fi
}
check "Prometheus with a client certificate scrapes the mTLS admin listener (up == 1)" \
  wait_value 'up{job="tls"}' 1
check "propwatch_build_info scraped over TLS" \
  wait_value 'count(propwatch_build_info{job="tls"})' 1
check "Prometheus without a client certificate is refused (up == 0)" \
  wait_value 'up{job="no-client-cert"}' 0
if [ "$failed" != 0 ]; then
  tail -n 20 prometheus.log propwatch.log >&2 || true
fi
echo "prometheus-tls: $passed passed, $failed failed"
[ "$failed" = 0 ]
