# Sourced by run_python.sh and run_js.sh: finds (or installs) the cached SDK
# environments and isolates the tests from the caller's environment.
# Sets PROPWATCH_PY_VENV, PROPWATCH_JS_DIR (install-sdk-deps.sh) and exports
# PROPWATCH_BIN from the caller's $bin.
sdk_env="$("$here/../../scripts/install-sdk-deps.sh")" || { echo "$0: scripts/install-sdk-deps.sh failed" >&2; exit 1; }
eval "$sdk_env"

# Loopback only, and nothing from the environment steers the SDKs.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY grpc_proxy
while IFS= read -r v; do unset "$v"; done < <(env | sed -n 's/^\(OTEL_[A-Za-z0-9_]*\)=.*/\1/p')
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export PROPWATCH_BIN="$bin"
