#!/usr/bin/env bash
# The fleet proof (tests/fleet/fleet_test.py): N taps behind the collector's
# load_balancing exporter sum to one tap exactly; rollouts raise no false
# broken parent. Uses the project's collector build (cached) and the SDK venv
# of the integration tests (cached).
#   tests/fleet/run.sh PROPWATCH_BINARY [OUT_DIR] [fleet_test.py flags...]
# OUT_DIR (default: a temporary folder) receives fleet.json, fleet.md and the
# processes' logs (kept on failure).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 PROPWATCH_BINARY [OUT_DIR] [flags...]" >&2; exit 2; }
bin="$(realpath "$1")"; shift
out="${1:-}"; [ $# -gt 0 ] && shift
[ -n "$out" ] || out="$(mktemp -d "${TMPDIR:-/tmp}/propwatch-fleet.XXXXXX")"
mkdir -p "$out"

# shellcheck source=../integration/sdk_env.sh
source "$root/tests/integration/sdk_env.sh"
eval "$("$root/demo/collector/build.sh")"   # sets DEMO_OTELCOL

export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
if "$PROPWATCH_PY_VENV/bin/python" "$here/fleet_test.py" --propwatch "$bin" \
    --otelcol "$DEMO_OTELCOL" --out "$out" "$@"; then
  echo "fleet: results in $out/fleet.md"
else
  rc=$?
  echo "fleet: FAILED; logs kept in $out/work" >&2
  for f in "$out"/work/*.stderr "$out"/work/collector.log; do
    [ -f "$f" ] || continue
    echo "---- tail of $f" >&2; tail -n 15 "$f" >&2
  done
  exit $rc
fi
