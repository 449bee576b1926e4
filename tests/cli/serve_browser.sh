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
PROFILE=$(mktemp -d)
fail() {
  echo "serve_browser: FAIL: $*" >&2
  [ -s "$W/serve.err" ] && tail -20 "$W/serve.err" >&2
  exit 1
}
. "$(dirname "$0")/serve_lib.sh"
cleanup() {
  serve_kill_all
  rm -rf "$PROFILE"
}
trap cleanup EXIT
BROWSER=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$BROWSER" ] || fail "no chromium: install it with sh scripts/install-deps.sh --browser (make test does)"

"$MMC" index build --model "$S/run" --images "$S/data/images" --out "$W/img.idx" >/dev/null 2>"$W/build.err" || fail "index build"
jq -r '.captions[0] // empty' "$S/data/manifest-test.jsonl" | head -10 >"$W/texts.txt"
printf '%s\n' "一个大的红色圆形" "两个蓝色的正方形" >>"$W/texts.txt"
"$MMC" index build --model "$S/run" --texts "$W/texts.txt" --out "$W/txt.idx" >/dev/null 2>>"$W/build.err" || fail "index build --texts"
tiny_cap_vqa # so the page offers every image feature
serve_start serve --model "$S/run" --model "$W/cap" --model "$W/vqa" --index "$W/img.idx" --index "$W/txt.idx"

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
# 4. an upload through the page's file picker, driven by ChromeDriver (WebDriver over HTTP)
DRIVER=$(command -v chromedriver || true)
[ -n "$DRIVER" ] || fail "no chromedriver: install it with sh scripts/install-deps.sh --browser (make test does)"
CD=""
for try in 1 2 3 4 5 6 7 8; do # a free port for the driver: it has no "any port" option
  cdport=$((20000 + ($$ * 7 + try * 131) % 20000))
  "$DRIVER" --port=$cdport >"$W/driver.log" 2>&1 &
  CDPID=$!
  i=0
  while [ $i -lt 50 ] && ! curl -s "http://127.0.0.1:$cdport/status" 2>/dev/null | jq -e '.value.ready' >/dev/null 2>&1; do
    kill -0 $CDPID 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
  done
  if curl -s "http://127.0.0.1:$cdport/status" 2>/dev/null | jq -e '.value.ready' >/dev/null 2>&1; then CD="http://127.0.0.1:$cdport"; break; fi
  kill $CDPID 2>/dev/null || true
done
[ -n "$CD" ] || fail "chromedriver did not start: $(tail -3 "$W/driver.log")"
wd() { # wd METHOD PATH [JSON]: one WebDriver command; prints its "value"
  if [ $# -ge 3 ]; then curl -s -X "$1" -H 'Content-Type: application/json' --data-binary "$3" "$CD$2"
  else curl -s -X "$1" "$CD$2"; fi | jq -c '.value'
}
caps=$(jq -nc --arg b "$BROWSER" --arg p "$PROFILE/wd" '{capabilities: {alwaysMatch: {browserName: "chrome",
  "goog:chromeOptions": {binary: $b, args: ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,1100",
  ("--user-data-dir=" + $p)]}}}}')
SID=$(wd POST /session "$caps" | jq -r '.sessionId // empty')
[ -n "$SID" ] || fail "no WebDriver session: $(tail -5 "$W/driver.log")"
cleanup_wd() { curl -s -X DELETE "$CD/session/$SID" >/dev/null 2>&1 || true; kill $CDPID 2>/dev/null || true; }
trap 'cleanup_wd; cleanup' EXIT
elem() { wd POST "/session/$SID/element" "$(jq -nc --arg c "$1" '{using: "css selector", value: $c}')" | jq -r 'to_entries[0].value // empty'; }
js() { wd POST "/session/$SID/execute/sync" "$(jq -nc --arg s "$1" '{script: $s, args: []}')" | jq -r '.'; }
wait_js() { # wait_js SCRIPT: until it returns true (20 s)
  i=0
  while [ "$(js "$1")" != true ]; do
    i=$((i + 1))
    [ $i -lt 200 ] || return 1
    sleep 0.1
  done
}
IMG=$(cd "$S/data/images" && realpath "$(ls | sed -n 3p)") # a path without "..": Chromium refuses those
wd POST "/session/$SID/url" "$(jq -nc --arg u "$BASE/" '{url: $u}')" >/dev/null
E=$(elem '#image-file')
[ -n "$E" ] || fail "no #image-file on the page"
wd POST "/session/$SID/element/$E/value" "$(jq -nc --arg t "$IMG" '{text: $t}')" >/dev/null
wait_js 'const c = document.querySelector("#caption").textContent.trim(); return c.length > 0 && c !== "Captioning…" &&
  document.querySelectorAll("#zeroshot li.zs").length === 3 &&
  document.querySelectorAll("#image-results figure.result[data-path]").length > 0 &&
  document.querySelectorAll("#image-results li.result.text[data-rank]").length > 0' ||
  fail "the upload did not show caption, labels, similar images and texts: $(js 'return document.body.innerText' | head -c 600)"
Q=$(elem '#question')
wd POST "/session/$SID/element/$Q/value" "$(jq -nc '{text: "how many circles are there?\ue007"}')" >/dev/null
wait_js 'const a = document.querySelector("#answer").textContent.trim(); return a.length > 0 && a !== "Thinking…"' ||
  fail "no answer to the typed question"
js 'return JSON.stringify({caption: document.querySelector("#caption").textContent.trim(),
  label: document.querySelector("#zeroshot li.zs.best").dataset.label,
  similar: [...document.querySelectorAll("#image-results section[data-kind=images] figure.result[data-path]")].map(e => e.dataset.path),
  texts: [...document.querySelectorAll("#image-results section[data-kind=texts] li.result.text[data-rank] .text")].map(e => e.textContent),
  answer: document.querySelector("#answer").textContent.trim(), errors: document.querySelector("#error").hidden})' >"$W/upload.json"
wd GET "/session/$SID/screenshot" | jq -r '.' | base64 -d >"$W/upload.png" 2>/dev/null || true
# what the CLI says of the same image
cap=$("$MMC" caption --model "$W/cap" "$IMG" --json | jq -r .caption)
lab=$("$MMC" zeroshot --model "$S/run" "$IMG" --labels "circle,square,triangle" --json | jq -r .label)
ans=$("$MMC" vqa --model "$W/vqa" "$IMG" --question "how many circles are there?" --json | jq -r .answer)
"$MMC" search "$W/img.idx" --image "$IMG" -k 9 --json | jq -c '[.results[].path]' >"$W/sim-cli.json"
"$MMC" search "$W/txt.idx" --image "$IMG" -k 5 --json | jq -c '[.results[].text]' >"$W/txt-cli.json"
jq -e --arg c "$cap" --arg l "$lab" --arg a "$ans" --slurpfile s "$W/sim-cli.json" --slurpfile t "$W/txt-cli.json" '
  .caption == $c and .label == $l and (.answer | startswith($a)) and .similar == $s[0] and .texts == $t[0] and .errors'   "$W/upload.json" >/dev/null || fail "the page after the upload is not what the CLI says: $(cat "$W/upload.json")
  CLI: caption '$cap', label '$lab', answer '$ans', similar $(cat "$W/sim-cli.json"), texts $(cat "$W/txt-cli.json")"
[ -s "$W/upload.png" ] || fail "no screenshot after the upload"
echo "serve_browser: ok: an upload through the file picker (WebDriver) shows the CLI's similar images, texts, caption, label and answer; $W/upload.png"

# 5. a server with --api-key: the page asks for the key, keeps it in a cookie, and then
#    searches and loads thumbnails with it
MAIN=$PID BASE1=$BASE
serve_start keyed --model "$S/run" --index "$W/img.idx" --api-key browser-key-42
PID2=$PID BASE2=$BASE PID=$MAIN BASE=$BASE1
wd POST "/session/$SID/url" "$(jq -nc --arg u "$BASE2/?q=a+large+red+circle" '{url: $u}')" >/dev/null
wait_js 'return !!document.querySelector("#api-key")' || fail "the page did not ask for the API key"
K=$(elem '#api-key')
wd POST "/session/$SID/element/$K/value" "$(jq -nc '{text: "browser-key-42\ue007"}')" >/dev/null
wait_js 'return document.querySelectorAll("#results figure.result[data-path]").length > 0 &&
  [...document.querySelectorAll("#results figure.result img")].every(i => i.complete && i.naturalWidth > 0)' ||
  fail "after the key, no results with loaded thumbnails: $(js 'return document.body.innerText' | head -c 400)"
serve_stop $PID2
grep -q '"GET /v1/files/img/[0-9]*" 200' "$W/keyed.log" || fail "no thumbnail was served with the key"
grep -q '"GET /v1/models" 401' "$W/keyed.log" || fail "the page was never refused without the key"
echo "serve_browser: ok: --api-key: the page asks for the key, then searches and loads its thumbnails with it"
cleanup_wd
trap cleanup EXIT

serve_stop "$PID"
grep -q '"GET /v1/files/img/' "$W/serve.log" || fail "the browser fetched no thumbnails (access log)"
echo "serve_browser: all passed"
