#!/usr/bin/env bash
# Runs the JavaScript integration tests (node --test) against a propwatch
# binary, with the cached node_modules of scripts/install-sdk-deps.sh.
#   tests/integration/run_js.sh PROPWATCH_BINARY [--node-option ...] [test files; default: all js/*.test.js]
# e.g. run_js.sh build/exporter/tap/propwatch --test-name-pattern=json
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 PROPWATCH_BINARY [test files...]" >&2; exit 2; }
bin="$(realpath "$1")"; shift

# Installs or finds the cached SDK envs; sets PROPWATCH_PY_VENV, PROPWATCH_JS_DIR.
sdk_env="$("$here/../../scripts/install-sdk-deps.sh")" || { echo "$0: scripts/install-sdk-deps.sh failed" >&2; exit 1; }
eval "$sdk_env"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY grpc_proxy
while IFS= read -r v; do unset "$v"; done < <(env | sed -n 's/^\(OTEL_[A-Za-z0-9_]*\)=.*/\1/p')
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export PROPWATCH_BIN="$bin"
# The tests are CommonJS in the repo; their packages live in the cache.
export NODE_PATH="$PROPWATCH_JS_DIR/node_modules"

# Test files: as given (relative to the current folder) or relative to js/.
opts=() files=()
for f in "$@"; do
  if [[ "$f" == --* ]]; then opts+=("$f")
  elif [ -e "$f" ]; then files+=("$(realpath "$f")")
  else files+=("$f"); fi
done
cd "$here/js"
if [ ${#files[@]} -eq 0 ]; then files=(./*.test.js); fi
exec node --test "${opts[@]}" "${files[@]}"
