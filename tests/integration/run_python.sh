#!/usr/bin/env bash
# Runs the Python integration tests (pytest) against a propwatch binary,
# in the cached venv of scripts/install-sdk-deps.sh.
#   tests/integration/run_python.sh PROPWATCH_BINARY [pytest args, e.g. test_bad_input.py -k gzip]
# Test paths are relative to tests/integration/python/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 PROPWATCH_BINARY [pytest args...]" >&2; exit 2; }
bin="$(realpath "$1")"; shift

# shellcheck source=sdk_env.sh
source "$here/sdk_env.sh"
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

basetemp="$(mktemp -d "${TMPDIR:-/tmp}/propwatch-it-py.XXXXXX")"
trap 'rm -rf "$basetemp"' EXIT
cd "$here/python"
"$PROPWATCH_PY_VENV/bin/python" -m pytest --basetemp="$basetemp/t" "$@"
