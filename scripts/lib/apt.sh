# shellcheck shell=bash
# Sourced by the install scripts (scripts/, demo/): Debian packages by name.
#   apt_installed PKG      true when PKG is installed
#   apt_install PKG...     installs those not installed yet: `apt-get update`
#                          first (once per shell), sudo when not root.
# Progress on stderr, so callers' stdout stays theirs.

apt_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

_apt_updated=0
apt_install() {
  local missing=() p sudo=""
  for p in "$@"; do
    apt_installed "$p" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "apt_install: need root (or sudo) to install ${missing[*]}" >&2
      return 1
    }
    sudo="sudo"
  fi
  echo "apt-get install ${missing[*]}" >&2
  # Through env: sudo resets the environment. -n: fail rather than prompt.
  [ -z "$sudo" ] || sudo="sudo -n"
  if [ "$_apt_updated" = 0 ]; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    _apt_updated=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
