#!/usr/bin/env bash
# Build the demo's OpenTelemetry Collector (otelcol-propwatch) with the
# Collector Builder, cached by the hash of builder-config.yaml + this script.
#
#   stdout: exactly one line, DEMO_OTELCOL=<absolute path of the binary>
#   stderr: progress
#
# Cache: ${PROPWATCH_CACHE:-$HOME/.cache/propwatch}/collector/
#   <hash>/otelcol-propwatch   the binary (a warm run only checks it exists)
#   ocb-<version>/builder      the Collector Builder (go install, GOBIN)
#   .lock                      flock: concurrent runs build once, the rest wait
#   .build.*                   scratch dirs (same filesystem: the final mv is
#                              an atomic rename, so nobody sees half a binary)
#
# Go: the builder and the collector modules need Go >= GO_MIN; an older or
# missing go is handled by ../scripts/ensure-go.sh (fetches GO_FALLBACK
# through the Go module proxy).
set -euo pipefail

OCB_VERSION=v0.158.0     # keep equal to the versions in builder-config.yaml
GO_MIN=1.25.0            # `go` directive of the builder and collector modules
GO_FALLBACK=go1.25.14    # toolchain fetched when the local go is too old

exec 3>&1 1>&2           # everything below prints on stderr; fd 3 is stdout

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${PROPWATCH_CACHE:-$HOME/.cache/propwatch}/collector
hash=$(cat "$here/builder-config.yaml" "$here/build.sh" | sha256sum | cut -c1-16)
bin=$cache/$hash/otelcol-propwatch

log() { printf 'collector/build.sh: %s\n' "$*"; }
die() { log "error: $*"; exit 1; }
done_() { printf 'DEMO_OTELCOL=%s\n' "$bin" >&3; exit 0; }

# Warm path: no lock, no go, nothing.
[ -x "$bin" ] && done_

mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  log "another build holds $cache/.lock; waiting"
  flock 9
fi
[ -x "$bin" ] && done_          # built by the run we waited for

start=$(date +%s)

# ---------------------------------------------------------------- Go toolchain
# shellcheck source=SCRIPTDIR/../scripts/ensure-go.sh
. "$here/../scripts/ensure-go.sh"
ensure_go "$GO_MIN" "$GO_FALLBACK"

# ----------------------------------------------------------------- the builder
ocb_dir=$cache/ocb-$OCB_VERSION
ocb=$ocb_dir/builder
if ! [ -x "$ocb" ] || ! "$ocb" version 2>/dev/null | grep -qF "$OCB_VERSION"; then
  log "installing the Collector Builder $OCB_VERSION into $ocb_dir"
  GOBIN=$ocb_dir go install "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION"
fi

# --------------------------------------------------------------------- build
rm -rf "$cache"/.build.*                 # left by killed runs; we hold the lock
tmp=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "building otelcol-propwatch in $tmp (a cold build takes several minutes)"
# output_path in the manifest is relative: it lands in $tmp.
(cd "$tmp" && "$ocb" --config "$here/builder-config.yaml") > "$tmp/ocb.log" 2>&1 || {
  tail -n 40 "$tmp/ocb.log"
  die "the Collector Builder failed (log above)"
}
new=$tmp/otelcol-propwatch-src/otelcol-propwatch
[ -x "$new" ] || die "the builder reported success but $new is missing"
"$new" components > "$tmp/components.txt" || die "the new binary does not run"

mkdir -p "$cache/$hash"
cp "$tmp/components.txt" "$cache/$hash/components.txt"
mv -f "$new" "$bin"                      # rename(2): atomic on one filesystem
log "built $bin in $(( $(date +%s) - start ))s"
done_
