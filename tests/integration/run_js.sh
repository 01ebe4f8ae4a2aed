#!/usr/bin/env bash
# Runs the JavaScript integration tests (node --test) against a propwatch
# binary, with the cached node_modules of scripts/install-sdk-deps.sh.
#   tests/integration/run_js.sh PROPWATCH_BINARY [--node-option ...] [test files; default: all js/*.test.js]
# e.g. run_js.sh build/exporter/tap/propwatch --test-name-pattern=json
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 PROPWATCH_BINARY [test files...]" >&2; exit 2; }
bin="$(realpath "$1")"; shift

# shellcheck source=sdk_env.sh
source "$here/sdk_env.sh"
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
