# shellcheck shell=bash
# Sourced by the demo's Go builds (collector/build.sh, services/worker/build.sh):
#   ensure_go MIN FALLBACK   e.g. ensure_go 1.25.0 go1.25.14
# leaves a `go` >= MIN first in PATH. If the local go is older (Debian 12
# ships 1.19) it fetches FALLBACK as the module golang.org/toolchain through
# the Go module proxy (the same module the go command's GOTOOLCHAIN switching
# downloads) and runs it from the module cache. With no `go` at all it
# installs Debian's golang-go first (root or sudo), just to do that download.
# Needs the caller's log() and die().

version_ge() { # $1 >= $2 (dotted versions)
  [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]
}
go_version() { # "1.26.8" from the go in PATH; honours GOTOOLCHAIN if go >= 1.21
  go env GOVERSION 2>/dev/null | sed -n 's/^go\([0-9][0-9.]*\).*/\1/p'
}

ensure_go() {
  local min=$1 fallback=$2 have mod json dir
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  fi
  if ! command -v go >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "no go in PATH; install Go >= $min"
    log "no go in PATH: installing Debian's golang-go (only used to fetch $fallback)"
    # shellcheck source=SCRIPTDIR/../../scripts/lib/apt.sh
    . "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/apt.sh"
    apt_install golang-go ca-certificates || die "could not install golang-go"
  fi
  have=$(go_version)
  [ -n "$have" ] || die "cannot tell the version of $(command -v go)"
  if version_ge "$have" "$min"; then
    log "using go $have ($(command -v go))"
    return 0
  fi
  log "go $have is older than $min: fetching toolchain $fallback through the Go module proxy"
  mod="golang.org/toolchain@v0.0.1-$fallback.$(go env GOHOSTOS)-$(go env GOHOSTARCH)"
  # Outside any module (cd /), so no go.mod around us is touched. The
  # download is checked against the checksum database like any module.
  json=$(cd / && GOFLAGS='' go mod download -json "$mod") || true
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  if [ -z "$dir" ] || ! [ -f "$dir/bin/go" ]; then
    printf '%s\n' "$json" >&2
    die "could not download $mod"
  fi
  # Module zips carry no file modes; the go command sets the execute bits on
  # first use of a downloaded toolchain, and so do we.
  find "$dir/bin" "$dir/pkg/tool" -type f ! -perm -u+x -exec chmod a+x {} +
  export PATH="$dir/bin:$PATH" GOTOOLCHAIN=local GOROOT="$dir"
  have=$(go_version)
  version_ge "$have" "$min" || die "fetched toolchain reports go $have"
  log "using go $have ($dir/bin/go)"
}
