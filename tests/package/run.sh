#!/usr/bin/env bash
# The tap as an SRE installs it: the .deb built by CPack from the install
# rules (cmake/PackageDeb.cmake), installed with apt-get, its binary run from
# the installed path with the installed config as an unprivileged user, its
# systemd unit verified, then purged. Needs root (or sudo -n): it installs a
# package. Machines here run no systemd, so the unit is verified, not started.
#   tests/package/run.sh [BUILD_DIR]     (default: build, already built)
# Prints one line per check and "N passed, N failed" at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
version=$(sed -n 's/^set(PROPWATCH_VERSION \([0-9.]*\))/\1/p' engine/cmake/version.cmake)
work=$(mktemp -d "${TMPDIR:-/tmp}/propwatch-package.XXXXXX")
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"
tap_pid=""
cleanup() {
  [ -z "$tap_pid" ] || kill "$tap_pid" 2>/dev/null || true
  # Never leave the package behind, whatever failed.
  if dpkg-query -W -f='${Status}' propwatch 2>/dev/null | grep -q "ok installed"; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq propwatch >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=../../scripts/lib/check.sh
. scripts/lib/check.sh
# shellcheck source=../../scripts/lib/tap_port.sh
. scripts/lib/tap_port.sh

deb=""
build_package() {
  cpack --config "$build/CPackConfig.cmake" -B "$work/out" >/dev/null &&
    deb=$(ls "$work"/out/propwatch_"${version}"_*.deb) && [ -f "$deb" ]
}

package_contents() {
  local listing
  listing=$(dpkg-deb -c "$deb" | awk '{print $6}')
  for path in ./usr/bin/propwatch ./etc/propwatch/propwatch.conf ./etc/default/propwatch \
    ./lib/systemd/system/propwatch.service ./usr/share/doc/propwatch/LICENSE \
    ./usr/share/doc/propwatch/security.md ./usr/share/doc/propwatch/deploy.md; do
    grep -qx "$path" <<<"$listing" || { echo "missing $path"; return 1; }
  done
  # The tap only: the engine's development files belong to another install.
  ! grep -E '^\./usr/(include|lib)/' <<<"$listing" || { echo "devel files in the tap package"; return 1; }
  dpkg-deb -f "$deb" Depends | grep -q 'libgrpc++' || { echo "no Depends on gRPC"; return 1; }
  [ "$(dpkg-deb -I "$deb" conffiles)" = $'/etc/propwatch/propwatch.conf\n/etc/default/propwatch' ] ||
    { echo "conffiles differ"; return 1; }
  local script
  for script in postinst prerm postrm; do
    dpkg-deb -I "$deb" "$script" | grep -q systemctl || { echo "no $script"; return 1; }
  done
  grep -qx ./usr/share/doc/propwatch/copyright <<<"$listing" || { echo "no copyright"; return 1; }
}

install_package() {
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null &&
    dpkg-query -W -f='${Version}' propwatch | grep -qx "$version"
}

installed_version() {
  [ "$(command -v propwatch)" = /usr/bin/propwatch ] &&
    /usr/bin/propwatch --version | tee /dev/stderr | grep -qE "^propwatch ${version//./\\.} \(revision ([0-9a-f]+(-dirty)?|unknown)\)$"
}

# The installed binary on the installed config, as the unprivileged `nobody`
# (the unit's DynamicUser has no more rights), ports from the environment as
# /etc/default/propwatch would set them.
runs_unprivileged() {
  local log="$work/tap.log" port=""
  setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
    env PROPWATCH_OTLP_GRPC_ADDRESS=127.0.0.1:0 PROPWATCH_OTLP_HTTP_ADDRESS=127.0.0.1:0 \
    PROPWATCH_ADMIN_ADDRESS=127.0.0.1:0 PROPWATCH_ENTRY_SERVICES=gateway \
    /usr/bin/propwatch --config /etc/propwatch/propwatch.conf 2>"$log" &
  tap_pid=$!
  port=$(tap_port "$log" admin) || { cat "$log"; return 1; }
  # Bodies are read whole before grep: with pipefail, `curl | grep -q` fails
  # whenever grep stops reading before curl has written everything (SIGPIPE).
  local ready metrics
  ready=$(curl -sf "http://127.0.0.1:$port/readyz") && [ "$ready" = ready ] &&
    metrics=$(curl -sf "http://127.0.0.1:$port/metrics") &&
    grep -q "^propwatch_build_info{version=\"$version\"" <<<"$metrics" &&
    ! grep -q "no --entry-services" "$log" &&  # PROPWATCH_ENTRY_SERVICES was applied
    kill -TERM "$tap_pid" && wait "$tap_pid" && tap_pid="" &&
    grep -q " info stopped$" "$log"
}

# The unit's ProcSubset=pid hides /proc/stat: the process_* metrics must
# still all be there (the installed binary under such a /proc, as root can
# arrange with a private mount namespace; skipped where that is refused).
process_metrics_under_procsubset() {
  if ! unshare --mount --pid --fork --propagation private true 2>/dev/null; then
    echo "cannot create a mount namespace here: skipped"
    return 0
  fi
  unshare --mount --pid --fork --propagation private bash -c '
    mount -t proc -o subset=pid proc /proc || exit 1
    [ ! -r /proc/stat ] || { echo "/proc/stat still visible"; exit 1; }
    log=$(mktemp)
    PROPWATCH_ADMIN_ADDRESS=127.0.0.1:0 PROPWATCH_OTLP_GRPC_ADDRESS=127.0.0.1:0 \
      PROPWATCH_OTLP_HTTP_ADDRESS=127.0.0.1:0 /usr/bin/propwatch 2>"$log" &
    pid=$!
    for i in $(seq 100); do
      port=$(sed -n "s/.*admin=[^ ]* (port \([0-9]*\)).*/\1/p" "$log")
      [ -n "$port" ] && break
      sleep 0.1
    done
    n=$(curl -sf "http://127.0.0.1:$port/metrics" | grep -c "^process_")
    kill -TERM $pid; wait $pid
    echo "process_* series: $n"
    [ "$n" = 6 ]'
}

unit_verifies() {
  local out
  out=$(systemd-analyze verify /lib/systemd/system/propwatch.service 2>&1)
  [ -z "$out" ] || { echo "$out"; return 1; }
}

# systemd's own exposure score of the sandbox, offline (no running manager):
# 0 is fully locked down, 10 unprotected. Keep it in the "OK" band.
unit_exposure() {
  local score
  score=$(systemd-analyze security --offline=true /lib/systemd/system/propwatch.service 2>&1 |
    sed -n 's/.*Overall exposure level for propwatch.service: \([0-9.]*\).*/\1/p')
  echo "exposure $score"
  [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
}

purge_package() {
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq propwatch >/dev/null &&
    [ ! -e /usr/bin/propwatch ] && [ ! -e /etc/propwatch/propwatch.conf ] &&
    [ ! -e /lib/systemd/system/propwatch.service ]
}

if [ -n "$sudo" ] && ! sudo -n true 2>/dev/null; then
  echo "FAIL package tests need root or passwordless sudo (they install a .deb)"
  echo "package: 0 passed, 1 failed"
  exit 1
fi
if dpkg-query -W -f='${Status}' propwatch 2>/dev/null | grep -q "ok installed"; then
  echo "FAIL a propwatch package is already installed; remove it first (apt-get purge propwatch)"
  echo "package: 0 passed, 1 failed"
  exit 1
fi

check "cpack builds propwatch_${version}_*.deb" build_package
if [ -n "$deb" ]; then
  check "package holds the tap, config, unit and docs, not the engine's devel files" package_contents
  check "apt-get install ./propwatch_*.deb" install_package
  check "installed /usr/bin/propwatch --version" installed_version
  check "installed binary on the installed config runs unprivileged, ready, stops on SIGTERM" \
    runs_unprivileged
  check "process_* metrics under the unit's ProcSubset=pid (/proc/stat hidden)" \
    process_metrics_under_procsubset
  check "systemd-analyze verify on the installed unit" unit_verifies
  check "systemd-analyze security: exposure <= 2.0 (OK)" unit_exposure
  check "apt-get purge removes binary, config and unit" purge_package
fi
check_summary package
