#!/usr/bin/env bash
# Validates deploy/kubernetes/: every manifest against the Kubernetes API
# schemas (kubernetes-validate, strict: unknown fields fail), then check.py's
# cross-checks against the tap and collector binaries. A stage of
# scripts/test.sh. The validator lives in a venv cached under
# ${PROPWATCH_CACHE:-$HOME/.cache/propwatch}/k8s-validate-<hash of requirements.txt>.
#   deploy/kubernetes/validate.sh PROPWATCH_BINARY
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -eq 1 ] || { echo "usage: $0 PROPWATCH_BINARY" >&2; exit 2; }
propwatch="$(realpath "$1")"
k8s_version=1.31.0   # the oldest Kubernetes minor still supported upstream when written

cache="${PROPWATCH_CACHE:-${HOME:-/tmp}/.cache/propwatch}"
venv="$cache/k8s-validate-$(sha256sum "$here/requirements.txt" | cut -c1-16)"
mkdir -p "$cache"
exec 9>"$cache/.k8s-validate.lock"
flock 9
# Built in place (a venv's scripts name its path) and marked complete last.
if ! [ -f "$venv/.complete" ]; then
  echo "k8s validate: installing the validator into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  touch "$venv/.complete"
fi
flock -u 9

"$venv/bin/kubernetes-validate" --strict --quiet -k "$k8s_version" "$here"/*.yaml
echo "ok   every manifest matches the Kubernetes $k8s_version schemas (strict)"
eval "$("$here/../../demo/collector/build.sh")"   # DEMO_OTELCOL
"$venv/bin/python" "$here/check.py" "$propwatch" "$DEMO_OTELCOL"
