#!/usr/bin/env bash
# Installs every build and test dependency of propwatch from Debian's packages.
# Idempotent: packages already present are skipped by apt.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libabsl-dev
  libboost-dev
  prometheus-cpp-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  zlib1g-dev
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  curl python3
  dpkg-dev fakeroot systemd   # the .deb (cpack, dpkg-shlibdeps) and systemd-analyze
  libssl-dev openssl          # TLS listeners (Boost.Asio SSL); test certificates
)

# shellcheck source=SCRIPTDIR/lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
apt_install "${packages[@]}"
