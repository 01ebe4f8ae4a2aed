#!/usr/bin/env bash
# Installs the tools that check alerts/ and grafana/ (alerts/run_checks.sh),
# on a fresh Debian 12 machine. Idempotent: each step is skipped when its
# result is already there.
#
#   prometheus, promtool   Debian's `prometheus` package (/usr/bin/...)
#   dashboard-linter       github.com/grafana/dashboard-linter, pinned, built
#                          with Go into $CACHE/bin/dashboard-linter-<version>/
#   python venv            $CACHE/ops-venv-<hash of alerts/test/requirements.txt>/
#                          with the OpenTelemetry SDK (e2e scenario) and PyYAML
#
# $CACHE is ${PROPWATCH_CACHE:-$HOME/.cache/propwatch}, outside the repo.
# With --print-env, prints `export PROPWATCH_...=` lines for the tools on
# stdout (alerts/run_checks.sh evals them); progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${PROPWATCH_CACHE:-$HOME/.cache/propwatch}"

# The linter has no release tags; this is a commit on its main branch
# (2024-12-24). Its go.mod wants Go >= 1.23. Its h1: sum is pinned below
# because the checksum database cannot be reached here (see below).
LINTER_MODULE=github.com/grafana/dashboard-linter
LINTER_VERSION=v0.0.0-20241224134444-1765d94aec4a
LINTER_SUM='h1:wpyAYX8+Rqu0LIEE7zXBR/qjBH4t0yXvqlRGa1wD5rg='
LINTER_MIN_GO=1.23

print_env=0
[ "${1:-}" = --print-env ] && print_env=1

log() { echo "install-ops-deps: $*" >&2; }

# shellcheck source=SCRIPTDIR/lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# --- Prometheus + promtool (Debian) -----------------------------------------
if ! apt_installed prometheus || [ ! -x /usr/bin/promtool ]; then
  log "installing Debian's prometheus package"
  # The package's maintainer scripts start the service through invoke-rc.d.
  # This machine has no init system to run it and the tests start their own
  # server, so deny service starts for the duration of the install unless a
  # policy already exists.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    made_policy=1
  fi
  rc=0
  apt_install prometheus || rc=$?
  [ "$made_policy" = 1 ] && $sudo rm -f "$policy"
  [ "$rc" = 0 ] || { log "apt-get install prometheus failed ($rc)"; exit "$rc"; }
fi

# --- Python venv with the OpenTelemetry SDK ----------------------------------
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  log "installing python3-venv"
  apt_install python3 python3-venv
fi
req=alerts/test/requirements.txt
req_hash=$(sha256sum "$req" | cut -c1-12)
VENV="$CACHE/ops-venv-$req_hash"
if [ ! -f "$VENV/.complete" ]; then
  log "creating $VENV from $req"
  rm -rf "$VENV" "$CACHE"/ops-venv-*  # also venvs of older requirements
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  touch "$VENV/.complete"
fi

# --- dashboard-linter (Go module proxy) --------------------------------------
LINTER_DIR="$CACHE/bin/dashboard-linter-$LINTER_VERSION"
LINTER="$LINTER_DIR/dashboard-linter"
if [ ! -x "$LINTER" ]; then
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  fi
  if ! command -v go >/dev/null 2>&1; then
    log "no go in PATH: installing Debian's golang-go"
    apt_install golang-go ca-certificates
  fi
  go_ver=$(go env GOVERSION | sed 's/^go//')
  if ! printf '%s\n%s\n' "$LINTER_MIN_GO" "$go_ver" | sort -V -C; then
    log "Go $go_ver is older than $LINTER_MIN_GO, which $LINTER_MODULE@$LINTER_VERSION needs."
    log "Install Go >= $LINTER_MIN_GO (this project's machines ship it in /usr/local/go)."
    exit 1
  fi
  log "building $LINTER_MODULE@$LINTER_VERSION with Go $go_ver (a few minutes, once)"
  # `go install MODULE@VERSION` cannot be used: it reads the module's version
  # list (for deprecation notices), which the module proxy reachable here
  # refuses for this module (403) although it serves the pinned version. A
  # throw-away wrapper module that requires the pinned version builds the
  # same main package. The checksum database is not reachable for it either
  # (404), so GONOSUMDB skips that one lookup and the sum is checked against
  # LINTER_SUM instead; every other module is verified as usual.
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cat >"$work/go.mod" <<EOF
module propwatch.invalid/dashboard-linter-build

go $LINTER_MIN_GO

require $LINTER_MODULE $LINTER_VERSION
EOF
  (
    cd "$work"
    export GONOSUMDB="$LINTER_MODULE" GOFLAGS=-mod=mod GOTOOLCHAIN=local
    got=$(go mod download -json "$LINTER_MODULE@$LINTER_VERSION" |
      sed -n 's/^[[:space:]]*"Sum": "\(.*\)",\{0,1\}$/\1/p')
    if [ "$got" != "$LINTER_SUM" ]; then
      log "checksum mismatch for $LINTER_MODULE@$LINTER_VERSION: got '$got', want '$LINTER_SUM'"
      exit 1
    fi
    mkdir -p "$LINTER_DIR"
    go build -trimpath -o "$LINTER.tmp" "$LINTER_MODULE" >&2
    mv "$LINTER.tmp" "$LINTER"
  )
fi

if [ "$print_env" = 1 ]; then
  echo "export PROPWATCH_PROMETHEUS=/usr/bin/prometheus"
  echo "export PROPWATCH_PROMTOOL=/usr/bin/promtool"
  echo "export PROPWATCH_DASHBOARD_LINTER=$LINTER"
  echo "export PROPWATCH_VENV=$VENV"
fi
log "ok: prometheus $(/usr/bin/prometheus --version 2>&1 | head -1 | awk '{print $3}'), $LINTER_MODULE@$LINTER_VERSION, venv $VENV"
