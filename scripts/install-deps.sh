#!/bin/sh
# install-deps.sh — installs the Debian packages mmc needs, only those missing.
# Usage: scripts/install-deps.sh [--check] [extra packages...]
#   --check   print what is missing and exit 1 if anything is, install nothing.
# Runs apt-get as root, or through sudo when not root. Prints every command it runs.
set -eu

PKGS="build-essential cmake pkg-config libopenblas-dev libpng-dev libjpeg-dev libcjson-dev zlib1g-dev"
CHECK=0
if [ "${1:-}" = "--check" ]; then CHECK=1; shift; fi
PKGS="$PKGS $*"

missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  [ "$CHECK" = 1 ] || echo "install-deps: all packages present"
  exit 0
fi
if [ "$CHECK" = 1 ]; then
  echo "install-deps: missing:$missing"
  exit 1
fi

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
run() { echo "+ $*"; "$@"; }
export DEBIAN_FRONTEND=noninteractive
run $SUDO apt-get update -qq
run $SUDO apt-get install -y -qq --no-install-recommends $missing
