#!/usr/bin/env bash
# Installs what the status-page browser test needs: Debian's chromium (the
# browser; nothing is downloaded by the test tool) and playwright-core from
# package.json + package-lock.json, in a folder outside the repository named
# by a hash of both manifests and the node major version:
#   ${PROPWATCH_CACHE:-$HOME/.cache/propwatch}/status-page-<hash>/node_modules
# Idempotent; safe to run concurrently (flock). Needs root or sudo for apt.
# Progress on stderr; on stdout: PROPWATCH_STATUS_PAGE_NODE_PATH=<node_modules>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${PROPWATCH_CACHE:-${HOME:-/tmp}/.cache/propwatch}"
log() { echo "tests/status_page/install: $*" >&2; }

# shellcheck source=SCRIPTDIR/../../scripts/lib/apt.sh
. "$root/scripts/lib/apt.sh"
apt_install chromium
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"

mkdir -p "$cache"
exec 9>"$cache/.status-page.lock"
flock -w 900 9 || { log "timed out waiting for $cache/.status-page.lock"; exit 1; }
key="$( { cat "$here/package.json" "$here/package-lock.json"; echo "node$node_major"; } \
  | sha256sum | cut -c1-16)"
dir="$cache/status-page-$key"
if [ -f "$dir/.propwatch-complete" ] && [ -d "$dir/node_modules/playwright-core" ]; then
  log "playwright-core up to date: $dir"
else
  log "installing playwright-core: $dir"
  rm -rf "$dir" "$cache"/status-page-*  # also older manifests' folders
  mkdir -p "$dir"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  # playwright-core has no install script and downloads no browser.
  (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
  touch "$dir/.propwatch-complete"
fi
printf 'PROPWATCH_STATUS_PAGE_NODE_PATH=%q\n' "$dir/node_modules"
