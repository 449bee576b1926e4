#!/bin/sh
# install-deps.sh — installs the Debian packages mmc needs, only those missing.
# Usage: scripts/install-deps.sh [--check] [--browser] [extra packages...]
#   --check   print what is missing and exit 1 if anything is, install nothing.
#   --browser also headless Chromium and a CJK font: `make test` drives the service's web
#             page in it (tests/cli/serve_browser.sh) and `make demo-check` takes
#             screenshots of demo/report.html; `make` and `make demo` never install it.
# Runs apt-get as root, or through sudo when not root. Prints every command it runs.
set -eu

PKGS="build-essential cmake pkg-config libopenblas-dev libpng-dev libjpeg-dev libcjson-dev zlib1g-dev libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg libmicrohttpd-dev curl jq libsndfile1-dev libsoxr-dev sox libespeak-ng-dev"
CHECK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --check) CHECK=1; shift ;;
    --browser) PKGS="$PKGS chromium chromium-driver fonts-wqy-microhei"; shift ;;
    *) break ;;
  esac
done
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
