#!/usr/bin/env bash
# Installs the OpenTelemetry SDKs the integration tests (tests/integration/)
# drive: a Python venv from tests/integration/python/requirements.txt and an
# npm project from tests/integration/js/package.json + package-lock.json.
#
# Both live OUTSIDE the repository, cached under
#   ${PROPWATCH_CACHE:-$HOME/.cache/propwatch}/sdk/
# in folders named by a hash of their manifests (and of the interpreter /
# node major version), so unchanged manifests are never reinstalled.
# Idempotent and safe to run concurrently (flock). Installs python3-venv,
# nodejs and npm from Debian's packages when missing (needs root or sudo).
#
# Output: progress on stderr; on stdout, shell assignments for the callers
# (tests/integration/run_*.sh eval them):
#   PROPWATCH_PY_VENV=<venv folder>   PROPWATCH_JS_DIR=<folder with node_modules>
#
#   PROPWATCH_PYTHON=python3.11   interpreter for the venv (default: python3)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
py_manifest="$root/tests/integration/python/requirements.txt"
js_dir_src="$root/tests/integration/js"
cache="${PROPWATCH_CACHE:-${HOME:-/tmp}/.cache/propwatch}/sdk"
python="${PROPWATCH_PYTHON:-python3}"

log() { echo "install-sdk-deps: $*" >&2; }

# shellcheck source=SCRIPTDIR/lib/apt.sh
. "$root/scripts/lib/apt.sh"

# --- toolchains ---------------------------------------------------------------
if ! command -v "$python" >/dev/null 2>&1; then
  apt_install python3 python3-venv
  python=python3
fi
# Debian's python3 ships venv/ensurepip in a separate package.
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_install python3-venv
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
  log "node $(node --version) is too old: the pinned OpenTelemetry JS packages need ^18.19 or >= 20.6"
  exit 1
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w 900 9 || { log "timed out waiting for $cache/.lock"; exit 1; }

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# --- Python venv --------------------------------------------------------------
py_id="$("$python" -c 'import sys, platform; print(sys.version, sys.base_prefix, platform.machine())')"
py_key="$( { cat "$py_manifest"; echo "$py_id"; } | sha256sum | cut -c1-16)"
py_venv="$cache/py-$py_key"
if [ -f "$py_venv/.propwatch-complete" ] && "$py_venv/bin/python" -c 'import pytest, opentelemetry.sdk' \
    >/dev/null 2>&1; then
  log "python venv up to date: $py_venv"
else
  log "creating python venv: $py_venv ($("$python" --version 2>&1))"
  rm -rf "$py_venv"
  "$python" -m venv "$py_venv" >&2
  "$py_venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
    -r "$py_manifest" >&2
  cp "$py_manifest" "$py_venv/requirements.txt"
  touch "$py_venv/.propwatch-complete"
fi

# --- npm project --------------------------------------------------------------
js_key="$( { cat "$js_dir_src/package.json" "$js_dir_src/package-lock.json"; echo "node$node_major"; } \
  | sha256sum | cut -c1-16)"
js_env="$cache/js-$js_key"
if [ -f "$js_env/.propwatch-complete" ] && [ -d "$js_env/node_modules/@opentelemetry/sdk-trace-base" ]; then
  log "npm project up to date: $js_env"
else
  log "installing npm project: $js_env (node $(node --version), npm $(npm --version 2>/dev/null))"
  rm -rf "$js_env"
  mkdir -p "$js_env"
  cp "$js_dir_src/package.json" "$js_dir_src/package-lock.json" "$js_env/"
  # --ignore-scripts: no package here needs an install script (protobufjs'
  # postinstall only prints version hints).
  (cd "$js_env" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
  touch "$js_env/.propwatch-complete"
fi

log "python venv: $py_venv"
log "node_modules: $js_env/node_modules"
printf 'PROPWATCH_PY_VENV=%q\nPROPWATCH_JS_DIR=%q\n' "$py_venv" "$js_env"
