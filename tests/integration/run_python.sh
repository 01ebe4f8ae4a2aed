#!/usr/bin/env bash
# Runs the Python integration tests (pytest) against a propwatch binary,
# in the cached venv of scripts/install-sdk-deps.sh.
#   tests/integration/run_python.sh PROPWATCH_BINARY [pytest args, e.g. test_bad_input.py -k gzip]
# Test paths are relative to tests/integration/python/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 PROPWATCH_BINARY [pytest args...]" >&2; exit 2; }
bin="$(realpath "$1")"; shift

# Installs or finds the cached SDK envs; sets PROPWATCH_PY_VENV, PROPWATCH_JS_DIR.
sdk_env="$("$here/../../scripts/install-sdk-deps.sh")" || { echo "$0: scripts/install-sdk-deps.sh failed" >&2; exit 1; }
eval "$sdk_env"

# Loopback only, and nothing from the environment steers the SDKs.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY grpc_proxy
while IFS= read -r v; do unset "$v"; done < <(env | sed -n 's/^\(OTEL_[A-Za-z0-9_]*\)=.*/\1/p')
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export PROPWATCH_BIN="$bin" PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

basetemp="$(mktemp -d "${TMPDIR:-/tmp}/propwatch-it-py.XXXXXX")"
trap 'rm -rf "$basetemp"' EXIT
cd "$here/python"
"$PROPWATCH_PY_VENV/bin/python" -m pytest --basetemp="$basetemp/t" "$@"
