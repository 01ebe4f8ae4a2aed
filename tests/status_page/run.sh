#!/usr/bin/env bash
# CI stage "status page in a browser" (scripts/test.sh): installs chromium and
# playwright-core (install.sh, cached), then runs status_page.test.js against
# the given tap binary; the test writes docs/images/status_page.png.
#   tests/status_page/run.sh PROPWATCH_BINARY
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -eq 1 ] || { echo "usage: $0 PROPWATCH_BINARY" >&2; exit 2; }
bin="$(realpath "$1")"
env_lines="$("$here/install.sh")"
eval "$env_lines"
PROPWATCH_BIN="$bin" NODE_PATH="$PROPWATCH_STATUS_PAGE_NODE_PATH" \
  exec node --test "$here/status_page.test.js"
