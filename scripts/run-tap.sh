#!/usr/bin/env bash
# Sets up a fresh machine and runs the tap on its embedded defaults
# (README "Run the tap"). Extra arguments go to `propwatch`, e.g.
#   scripts/run-tap.sh --entry-services=gateway,web-*
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target propwatch
exec build/exporter/tap/propwatch "$@"
