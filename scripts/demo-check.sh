#!/bin/sh
# demo-check.sh [--quick] [--fresh] [MMC] — does the demo's report open in a real browser and
# show its curves and images? (make demo-check; CI runs it with --quick.)
#
# Installs headless Chromium and a CJK font when missing (scripts/install-deps.sh --browser,
# as `make test` does), runs the demo unless a report newer than MMC is
# already there, takes a screenshot of OUT/report.html with Chromium, and checks it with
# `mmc demo --check-screenshot` (the chart colours and the scene images must be on it);
# before that, the report must have the audio stage with at least one <audio> player whose
# data: URI decodes to a WAV or Ogg file.
#   --quick  `mmc demo --quick` into build/demo-quick/ (seconds; the models learn little,
#            the page has the same parts)
#   --fresh  run the demo even when a report is there
#   MMC      the mmc binary (default build/mmc); DEMO_OUT overrides the work folder
# Leaves OUT/report-screenshot.png. Exit 0 when the screenshot passes, else non-zero.
set -eu
cd "$(dirname "$0")/.."
QUICK=0
FRESH=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --fresh) FRESH=1; shift ;;
    -*) echo "demo-check: unknown option $1" >&2; exit 1 ;;
    *) break ;;
  esac
done
MMC=${1:-build/mmc}
if [ "$QUICK" = 1 ]; then OUT=${DEMO_OUT:-build/demo-quick}; else OUT=${DEMO_OUT:-demo}; fi
[ -x "$MMC" ] || { echo "demo-check: $MMC not found (run make first)" >&2; exit 1; }

sh scripts/install-deps.sh --check --browser >/dev/null 2>&1 || sh scripts/install-deps.sh --browser
BROWSER=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$BROWSER" ] || { echo "demo-check: no chromium after installing it" >&2; exit 1; }

REPORT=$OUT/report.html
if [ "$QUICK" = 1 ] || [ "$FRESH" = 1 ] || [ ! -f "$REPORT" ] || [ "$MMC" -nt "$REPORT" ]; then
  if [ "$QUICK" = 1 ]; then "$MMC" demo --out "$OUT" --quick; else "$MMC" demo --out "$OUT"; fi
else
  echo "demo-check: using $REPORT (newer than $MMC; --fresh runs the demo again)"
fi
[ -f "$REPORT" ] || { echo "demo-check: $REPORT was not written" >&2; exit 1; }

# The audio stage: its section, and players whose sound is in the page (a data: URI that
# decodes to a WAV or Ogg file), not a link to a file beside it.
grep -q '<h2>Speech: spoken captions find their scene</h2>' "$REPORT" ||
  { echo "demo-check: $REPORT has no audio stage" >&2; exit 1; }
players=$(grep -o '<audio controls[^>]* src="data:audio/[a-z]*;base64,' "$REPORT" | wc -l)
[ "$players" -ge 1 ] || { echo "demo-check: $REPORT has no <audio> with a data: URI" >&2; exit 1; }
magic=$(grep -o 'src="data:audio/[a-z]*;base64,[A-Za-z0-9+/=]*"' "$REPORT" | head -1 |
  sed 's/^src="data:audio\/[a-z]*;base64,//; s/"$//' | base64 -d 2>/dev/null | head -c 4 | tr -cd 'A-Za-z')
case "$magic" in
  RIFF | OggS) echo "demo-check: $players sound players in the report; the first decodes to a $magic file" ;;
  *) echo "demo-check: the first <audio>'s data: URI does not decode to a WAV or Ogg file (starts '$magic')" >&2; exit 1 ;;
esac

SHOT=$OUT/report-screenshot.png
PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT
rm -f "$SHOT"
start=$(date +%s)
# --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
timeout 120 "$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --user-data-dir="$PROFILE" --window-size=1280,3600 --screenshot="$SHOT" \
  "file://$(realpath "$REPORT")" >"$PROFILE/browser.log" 2>&1 || true
if [ ! -s "$SHOT" ]; then
  echo "demo-check: $BROWSER wrote no screenshot; its output:" >&2
  cat "$PROFILE/browser.log" >&2
  exit 1
fi
bytes=$(wc -c < "$SHOT")
echo "demo-check: $("$BROWSER" --version 2>/dev/null || echo chromium) took $SHOT ($bytes bytes) in $(( $(date +%s) - start ))s"
[ "$bytes" -gt 20000 ] || { echo "demo-check: the screenshot is only $bytes bytes: a blank page?" >&2; exit 1; }
"$MMC" demo --check-screenshot "$SHOT"
echo "demo-check: ok"
