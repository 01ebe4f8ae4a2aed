#!/usr/bin/env bash
# Installs the demo services' dependencies (demo/README.md), cached OUTSIDE
# the repository under
#   ${PROPWATCH_CACHE:-$HOME/.cache/propwatch}/demo-services/
# in folders named by a hash of each service's manifest, so an unchanged
# manifest is never reinstalled:
#   gateway   a Python venv from gateway/requirements.txt (+ the interpreter)
#   consumer  an npm project from consumer/package.json + package-lock.json
#             (`npm ci`, + the node major version); only node_modules lives
#             there: the code runs from the repository with NODE_PATH, e.g.
#             NODE_PATH="$DEMO_CONSUMER_DIR/node_modules" node demo/services/consumer/consumer.js
#   worker    the Go binary built by `worker/build.sh OUTDIR` (key: go.mod,
#             go.sum, *.go, build.sh)
#
# Each is built in a fresh folder and published by an atomic rename once
# complete, so an interrupted install is never reused (it is swept on the next
# run). A venv cannot move (its scripts name their own path), so it is built
# in place in a uniquely named folder and published by atomically renaming a
# symlink onto the keyed name. Safe to run concurrently (flock). Installs
# python3-venv, nodejs and npm from Debian's packages when missing (needs root
# or sudo); the Go toolchain is worker/build.sh's business.
#
# Usage: demo/services/install.sh [gateway] [consumer] [worker]   (default: all)
# Output: progress on stderr; on stdout, once everything asked for is ready,
# one shell assignment per service (scripts/demo.sh evals them):
#   DEMO_GATEWAY_PYTHON=<venv>/bin/python
#   DEMO_CONSUMER_DIR=<folder holding node_modules>
#   DEMO_WORKER_BIN=<path of the worker binary>
# Environment: PROPWATCH_CACHE (cache root), PROPWATCH_PYTHON (interpreter for
# the venv, default python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${PROPWATCH_CACHE:-${HOME:-/tmp}/.cache/propwatch}/demo-services"
python="${PROPWATCH_PYTHON:-python3}"

log() { echo "demo/services/install: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

want_gateway=0 want_consumer=0 want_worker=0
(($#)) || set -- gateway consumer worker
for arg in "$@"; do
  case "$arg" in
    gateway) want_gateway=1 ;;
    consumer) want_consumer=1 ;;
    worker) want_worker=1 ;;
    *) die "unknown service '$arg' (expected gateway, consumer and/or worker)" ;;
  esac
done

# shellcheck source=SCRIPTDIR/../../scripts/lib/apt.sh
. "$here/../../scripts/lib/apt.sh"

# Short content hash of stdin.
key_of() { sha256sum | cut -c1-16; }
# Hash of files, their names included (a rename changes the key).
files_key() {
  local f
  for f in "$@"; do printf '== %s\n' "$(basename "$f")"; cat "$f"; done | key_of
}

# --- toolchains ---------------------------------------------------------------
if ((want_gateway)); then
  if ! command -v "$python" >/dev/null 2>&1; then
    apt_install python3 python3-venv
    python=python3
  fi
  # Debian's python3 ships venv/ensurepip in a separate package.
  "$python" -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_install python3-venv
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
    || die "$("$python" --version 2>&1) is too old: the gateway needs Python >= 3.9"
fi
if ((want_consumer)); then
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$node_major" -ge 18 ] \
    || die "node $(node --version) is too old: the pinned OpenTelemetry JS packages need ^18.19 or >= 20.6"
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  log "waiting for another install to finish ($cache/.lock)"
  flock -w 1800 9 || die "timed out waiting for $cache/.lock"
fi

# Under the lock no other install runs: whatever is unpublished is the
# leftover of an interrupted one.
sweep() {
  local d name link used
  for d in "$cache"/.tmp-*; do
    [ -e "$d" ] || continue
    log "removing interrupted install $d"
    rm -rf "$d"
  done
  # Venv build folders no published symlink points at.
  for d in "$cache"/gateway-*.build-*; do
    [ -d "$d" ] || continue
    name="$(basename "$d")"
    used=0
    for link in "$cache"/gateway-*; do
      [ -L "$link" ] && [ "$(readlink "$link")" = "$name" ] && used=1 && break
    done
    ((used)) || { log "removing unpublished venv $d"; rm -rf "$d"; }
  done
}
sweep

out=()

# --- gateway: Python venv ---------------------------------------------------------
if ((want_gateway)); then
  manifest="$here/gateway/requirements.txt"
  [ -f "$manifest" ] || die "missing $manifest"
  py_id="$("$python" -c 'import sys, platform; print(sys.version, sys.base_prefix, platform.machine())')"
  gw_key="$( { cat "$manifest"; echo "$py_id"; } | key_of)"
  gw_link="$cache/gateway-$gw_key"
  if [ -f "$gw_link/.complete" ] && "$gw_link/bin/python" -c \
      'import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.instrumentation.requests, requests' \
      >/dev/null 2>&1; then
    log "gateway venv up to date: $gw_link"
  else
    gw_real="$(mktemp -d "$gw_link.build-XXXXXX")"
    chmod 755 "$gw_real"
    log "creating gateway venv: $gw_link ($("$python" --version 2>&1))"
    "$python" -m venv "$gw_real" >&2
    "$gw_real/bin/python" -m pip install --disable-pip-version-check --no-input -q \
      -r "$manifest" >&2
    cp "$manifest" "$gw_real/requirements.txt"
    touch "$gw_real/.complete"
    old=""
    if [ -L "$gw_link" ]; then old="$(readlink "$gw_link")"; fi
    [ -e "$gw_link" ] && [ ! -L "$gw_link" ] && rm -rf "$gw_link"
    ln -sfn "$(basename "$gw_real")" "$cache/.tmp-link-gateway-$gw_key"
    mv -T "$cache/.tmp-link-gateway-$gw_key" "$gw_link"
    [ -n "$old" ] && [ "$old" != "$(basename "$gw_real")" ] && rm -rf "${cache:?}/$old"
  fi
  out+=("DEMO_GATEWAY_PYTHON=$(printf %q "$gw_link/bin/python")")
fi

# --- consumer: npm project ----------------------------------------------------------
if ((want_consumer)); then
  src="$here/consumer"
  for f in package.json package-lock.json; do [ -f "$src/$f" ] || die "missing $src/$f"; done
  js_key="$( { cat "$src/package.json" "$src/package-lock.json"; echo "node$node_major"; } | key_of)"
  js_dir="$cache/consumer-$js_key"
  if [ -f "$js_dir/.complete" ] && [ -d "$js_dir/node_modules/kafkajs" ] \
      && [ -d "$js_dir/node_modules/@opentelemetry/sdk-trace-node" ]; then
    log "consumer node_modules up to date: $js_dir"
  else
    log "installing consumer npm project: $js_dir (node $(node --version), npm $(npm --version 2>/dev/null))"
    tmp="$(mktemp -d "$cache/.tmp-consumer-XXXXXX")"
    chmod 755 "$tmp"
    cp "$src/package.json" "$src/package-lock.json" "$tmp/"
    # --ignore-scripts: no package here needs an install script (protobufjs'
    # postinstall only prints version hints).
    (cd "$tmp" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
    touch "$tmp/.complete"
    rm -rf "$js_dir"
    mv -T "$tmp" "$js_dir"
  fi
  out+=("DEMO_CONSUMER_DIR=$(printf %q "$js_dir")")
fi

# --- worker: Go binary ----------------------------------------------------------------
if ((want_worker)); then
  src="$here/worker"
  [ -d "$src" ] || die "worker: $src does not exist (the Go worker is not in this tree yet)"
  [ -f "$src/build.sh" ] || die "worker: $src/build.sh is missing (it must build OUTDIR/worker)"
  [ -f "$src/go.mod" ] || die "worker: $src/go.mod is missing"
  shopt -s nullglob
  go_files=("$src"/*.go)
  shopt -u nullglob
  ((${#go_files[@]})) || die "worker: no .go files in $src"
  wk_inputs=("$src/go.mod")
  [ -f "$src/go.sum" ] && wk_inputs+=("$src/go.sum")
  wk_key="$(files_key "${wk_inputs[@]}" "${go_files[@]}" "$src/build.sh")"
  wk_dir="$cache/worker-$wk_key"
  if [ -f "$wk_dir/.complete" ] && [ -x "$wk_dir/worker" ]; then
    log "worker binary up to date: $wk_dir/worker"
  else
    log "building worker: $wk_dir"
    tmp="$(mktemp -d "$cache/.tmp-worker-XXXXXX")"
    chmod 755 "$tmp"
    # build.sh's stdout is progress too: keep ours for the assignments.
    bash "$src/build.sh" "$tmp" >&2 || die "worker: $src/build.sh failed"
    [ -x "$tmp/worker" ] || die "worker: $src/build.sh did not produce $tmp/worker"
    touch "$tmp/.complete"
    rm -rf "$wk_dir"
    mv -T "$tmp" "$wk_dir"
  fi
  out+=("DEMO_WORKER_BIN=$(printf %q "$wk_dir/worker")")
fi

printf '%s\n' "${out[@]}"
