#!/bin/sh
# serve_browser.sh MMC WORK — the service's web page in a real browser: headless Chromium
# loads /?q=a+large+red+circle from a test server, the page runs its search on load, and
# the rendered DOM must hold the results `mmc search --json` gives for that query, in the
# same order, each with its thumbnail URL; then a Chinese query (/?q=一个大的红色圆形)
# against the texts index. A screenshot is kept as the test's artifact
# (WORK/serve-browser/page.png). Chromium comes from `make test`'s deps
# (scripts/install-deps.sh --browser); without it the test fails and says so.
set -eu
MMC=$1
S=$2/search
W=$2/serve-browser
rm -rf "$W"
mkdir -p "$W"
PID=""
PROFILE=$(mktemp -d)
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  rm -rf "$PROFILE"
}
trap cleanup EXIT
fail() {
  echo "serve_browser: FAIL: $*" >&2
  [ -s "$W/serve.err" ] && tail -20 "$W/serve.err" >&2
  exit 1
}
BROWSER=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$BROWSER" ] || fail "no chromium: install it with sh scripts/install-deps.sh --browser (make test does)"

"$MMC" index build --model "$S/run" --images "$S/data/images" --out "$W/img.idx" >/dev/null 2>"$W/build.err" || fail "index build"
jq -r '.captions[0] // empty' "$S/data/manifest-test.jsonl" | head -10 >"$W/texts.txt"
printf '%s\n' "一个大的红色圆形" "两个蓝色的正方形" >>"$W/texts.txt"
"$MMC" index build --model "$S/run" --texts "$W/texts.txt" --out "$W/txt.idx" >/dev/null 2>>"$W/build.err" || fail "index build --texts"
"$MMC" serve --model "$S/run" --index "$W/img.idx" --index "$W/txt.idx" --port 0 --port-file "$W/port" --log "$W/access.log" \
  >"$W/serve.out" 2>"$W/serve.err" &
PID=$!
i=0
while [ ! -s "$W/port" ]; do
  kill -0 "$PID" 2>/dev/null || fail "the server exited before listening"
  i=$((i + 1))
  [ $i -lt 600 ] || fail "no port after 60 s"
  sleep 0.1
done
BASE="http://127.0.0.1:$(cat "$W/port")"

# browse URL OUT: the DOM after the page's scripts ran (virtual time: no real waiting)
browse() {
  timeout 120 "$BROWSER" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$PROFILE" \
    --virtual-time-budget=10000 --dump-dom "$1" >"$2" 2>"$W/browser.log" || true
  [ -s "$2" ] || { cat "$W/browser.log" >&2; fail "$BROWSER printed no DOM for $1"; }
}

# 1. an English query on the image index: the page's figures are the CLI's results
K=20 # what the page asks for
"$MMC" search "$W/img.idx" --text "a large red circle" -k $K --json >"$W/cli.json"
browse "$BASE/?q=a+large+red+circle" "$W/dom.html"
grep -o '<figure class="result[^"]*"[^>]*data-path="[^"]*"' "$W/dom.html" | sed 's/.*data-path="\([^"]*\)"/\1/' >"$W/dom-paths.txt"
jq -r '.results[].path' "$W/cli.json" >"$W/cli-paths.txt"
[ -s "$W/dom-paths.txt" ] || fail "the DOM holds no result figures (see $W/dom.html)"
cmp -s "$W/dom-paths.txt" "$W/cli-paths.txt" || { diff "$W/dom-paths.txt" "$W/cli-paths.txt" | head; fail "the page's results are not mmc search's"; }
for row in $(jq -r '.results[].row' "$W/cli.json"); do
  grep -q "src=\"/v1/files/img/$row\"" "$W/dom.html" || fail "no thumbnail /v1/files/img/$row in the DOM"
done
grep -q 'value="a large red circle"' "$W/dom.html" || grep -q 'a large red circle' "$W/dom.html" || fail "the query is not in the page"
echo "serve_browser: ok: /?q=a+large+red+circle shows mmc search's $(wc -l <"$W/dom-paths.txt") results in order, with thumbnails"

# 2. a Chinese query on the texts index (index=txt in the URL): the CLI's texts, in order
"$MMC" search "$W/txt.idx" --text "一个大的红色圆形" -k $K --json >"$W/cli-zh.json"
browse "$BASE/?q=%E4%B8%80%E4%B8%AA%E5%A4%A7%E7%9A%84%E7%BA%A2%E8%89%B2%E5%9C%86%E5%BD%A2&index=txt" "$W/dom-zh.html"
n=$(jq '.results | length' "$W/cli-zh.json")
got=$(grep -o '<li class="result text" data-rank="' "$W/dom-zh.html" | wc -l)
[ "$got" = "$n" ] || fail "the Chinese query shows $got text results, mmc search gives $n (see $W/dom-zh.html)"
first=$(jq -r '.results[0].text' "$W/cli-zh.json")
grep -qF "$first" "$W/dom-zh.html" || fail "the best text \"$first\" is not on the page"
echo "serve_browser: ok: a Chinese query on the texts index shows mmc search's $n texts"

# 3. the screenshot, kept
timeout 120 "$BROWSER" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$PROFILE" --hide-scrollbars \
  --virtual-time-budget=10000 --window-size=1280,900 --screenshot="$W/page.png" "$BASE/?q=a+large+red+circle" \
  >"$W/browser.log" 2>&1 || true
[ -s "$W/page.png" ] && [ "$(wc -c <"$W/page.png")" -gt 20000 ] || fail "no screenshot (or a blank one): $(tail -3 "$W/browser.log")"
echo "serve_browser: ok: screenshot $W/page.png ($(wc -c <"$W/page.png") bytes)"
kill -TERM "$PID"
wait "$PID" || fail "the server exited $? on SIGTERM"
PID=""
grep -q '"GET /v1/files/img/' "$W/access.log" || fail "the browser fetched no thumbnails (access log)"
echo "serve_browser: all passed"
