#!/usr/bin/env bash
# Build the worker binary into OUTDIR/worker.
#   usage: demo/services/worker/build.sh OUTDIR
# Modules come from the Go module proxy (GOPROXY as configured); go.mod and
# go.sum are authoritative (-mod=readonly): a build never edits them.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$1"
out="$(cd "$1" && pwd)"

log() { echo "worker/build.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }
# go.mod says `go 1.26.0` (its OpenTelemetry and franz-go versions need it).
# shellcheck source=SCRIPTDIR/../../scripts/ensure-go.sh
. "$here/../../scripts/ensure-go.sh"
ensure_go 1.26.0 go1.26.8
GO=go

cd "$here"
export GOFLAGS=-mod=readonly
# Never let a go.mod toolchain line fetch a different compiler.
export GOTOOLCHAIN=local
"$GO" build -trimpath -o "$out/worker.tmp" . || { rm -f "$out/worker.tmp"; echo "build.sh: go build failed" >&2; exit 1; }
mv -f "$out/worker.tmp" "$out/worker"
echo "built $out/worker ($("$GO" version | awk '{print $3}'))"
