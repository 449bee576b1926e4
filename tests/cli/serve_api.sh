#!/bin/sh
# serve_api.sh MMC WORK — `mmc serve` over real HTTP on an ephemeral loopback port, every
# endpoint checked against the CLI command that answers the same question:
#   /v1/search      byte for byte what `mmc search --json` prints (text queries, English
#                   and Chinese, image and text indexes); an uploaded image gives the
#                   results `mmc search --image FILE` gives (以图搜文 on the text index)
#   /v1/embeddings  the vectors `mmc embed --json` prints, texts and an uploaded image
#   /v1/zeroshot, /v1/caption, /v1/vqa   what `mmc zeroshot|caption|vqa --json` print
#   /v1/files       the bytes of the file the index records, nothing for anything else
# plus /health, /v1/models, the page, the API key, a refused non-loopback address and a
# clean stop on SIGTERM. Uses the tiny retrieval run of tests/cli/search_setup.cmake
# (WORK/search) and trains tiny caption, VQA and Chinese retrieval runs of its own.
set -eu
MMC=$1
S=$2/search
W=$2/serve-api
rm -rf "$W"
mkdir -p "$W"
fail() {
  echo "serve_api: FAIL: $*" >&2
  for f in "$W"/*.err; do [ -s "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
  exit 1
}
ok() { echo "serve_api: ok: $*"; }
. "$(dirname "$0")/serve_lib.sh"
trap serve_kill_all EXIT
start() { serve_start "$@"; }
stop() { serve_stop "$1"; }
# post PATH BODY_FILE OUT: the status code; the body in OUT.
post() { curl -s -o "$3" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$2" "$BASE$1"; }
get() { curl -s -o "$2" -w '%{http_code}' "$BASE$1"; }
json_req() { # json_req FILE jq-program args...: writes a request body built by jq
  out=$1
  shift
  jq -n "$@" >"$out"
}

# ------------------------------------------------------------------ runs, images, indexes
IMG1=$(ls "$S"/data/images/*.png | head -1)
IMG2=$(ls "$S"/data/images/*.png | sed -n 5p)
"$MMC" index build --model "$S/run" --images "$S/data/images" --out "$W/img.idx" >/dev/null 2>"$W/build.err" ||
  fail "index build --images"
jq -r '.captions[0] // .caption // empty' "$S/data/manifest-test.jsonl" | head -20 >"$W/texts.txt"
printf '%s\n' "一个大的红色圆形" "两个蓝色的正方形" >>"$W/texts.txt"
"$MMC" index build --model "$S/run" --texts "$W/texts.txt" --out "$W/txt.idx" >/dev/null 2>>"$W/build.err" ||
  fail "index build --texts"
cat >"$W/zh.json" <<'EOF'
{"image_size": 32, "cnn_widths": [8, 16], "embed_dim": 32, "word_dim": 16, "text_hidden": 32, "batch_size": 16}
EOF
tiny_cap_vqa
"$MMC" train retrieval --data "$S/data" --out "$W/zh" --config "$W/zh.json" --lang zh --steps 6 --threads 2 >/dev/null 2>>"$W/train.err" ||
  fail "train retrieval --lang zh"
"$MMC" index build --model "$W/zh" --images "$S/data/images" --out "$W/zh.idx" >/dev/null 2>>"$W/build.err" ||
  fail "index build (zh)"

# ------------------------------------------------------------------ one server, every endpoint
start main --model "$S/run" --model "$W/cap" --model "$W/vqa" --index "$W/img.idx" --index "$W/txt.idx" --threads 2
MAIN=$PID
grep -q "listening on http://127.0.0.1:$PORT/" "$W/main.out" || fail "the start line: $(cat "$W/main.out")"

[ "$(get /health "$W/h.json")" = 200 ] && [ "$(jq -r .status "$W/h.json")" = ok ] || fail "/health: $(cat "$W/h.json")"
[ "$(get /v1/models "$W/m.json")" = 200 ] || fail "/v1/models"
[ "$(jq -r '[.data[].task] | join(",")' "$W/m.json")" = "retrieval,caption,vqa" ] || fail "models: $(cat "$W/m.json")"
[ "$(jq -r '[.indexes[] | .name + ":" + .kind + ":" + (.count|tostring)] | join(",")' "$W/m.json")" = \
  "img:images:$(ls "$S"/data/images | wc -l),txt:texts:$(wc -l <"$W/texts.txt")" ] ||
  fail "indexes: $(jq -c .indexes "$W/m.json")"
[ "$(jq -r '.endpoints | join(" ")' "$W/m.json")" = "/v1/embeddings /v1/search /v1/zeroshot /v1/caption /v1/vqa" ] ||
  fail "endpoints: $(jq -c .endpoints "$W/m.json")"
ok "/health, /v1/models"

# /v1/search, text queries: byte for byte the CLI's document (its trailing newline aside)
n=0
for q in "a large red circle" "two small blue squares" "一个大的红色圆形" "x"; do
  for k in 1 5 50; do
    for ix in img txt; do
      json_req "$W/q.json" --arg t "$q" --arg i "$ix" --argjson k "$k" '{text: $t, index: $i, k: $k}'
      [ "$(post /v1/search "$W/q.json" "$W/r.json")" = 200 ] || fail "search '$q' on $ix: $(cat "$W/r.json")"
      echo >>"$W/r.json"
      "$MMC" search "$W/$ix.idx" --text "$q" -k "$k" --json >"$W/c.json" || fail "mmc search '$q'"
      cmp -s "$W/r.json" "$W/c.json" || { diff "$W/r.json" "$W/c.json" | head; fail "search '$q' k $k on $ix differs from the CLI"; }
      n=$((n + 1))
    done
  done
done
ok "/v1/search: $n text queries byte-identical to mmc search --json (English, Chinese, image and text indexes)"

# an uploaded image: the same results as the CLI on the file (the query field names the upload)
for f in "$IMG1" "$IMG2"; do
  for ix in img txt; do
    json_req "$W/q.json" --arg im "data:image/png;base64,$(base64 -w0 "$f")" --arg i "$ix" '{image: $im, index: $i, k: 8}'
    [ "$(post /v1/search "$W/q.json" "$W/r.json")" = 200 ] || fail "image search on $ix: $(cat "$W/r.json")"
    "$MMC" search "$W/$ix.idx" --image "$f" -k 8 --json >"$W/c.json"
    [ "$(jq -S 'del(.query)' "$W/r.json")" = "$(jq -S 'del(.query)' "$W/c.json")" ] ||
      fail "image search on $ix differs: $(jq -c .results[0] "$W/r.json") vs $(jq -c .results[0] "$W/c.json")"
  done
done
# raw base64 works as a data URL does
json_req "$W/q.json" --arg im "$(base64 -w0 "$IMG1")" '{image: $im, index: "txt", k: 3}'
[ "$(post /v1/search "$W/q.json" "$W/r.json")" = 200 ] || fail "raw base64: $(cat "$W/r.json")"
ok "/v1/search: uploaded images (data URL and raw base64) give the CLI's results; 以图搜文 on the text index"

# /v1/embeddings: OpenAI's shape, the CLI's numbers
json_req "$W/q.json" '{input: ["a large red circle", "一个红色的圆", "x"], model: "anything"}'
[ "$(post /v1/embeddings "$W/q.json" "$W/r.json")" = 200 ] || fail "embeddings: $(cat "$W/r.json")"
"$MMC" embed --model "$S/run" --text "a large red circle" --text "一个红色的圆" --text "x" --json >"$W/c.jsonl"
[ "$(jq -c '[.data[].embedding]' "$W/r.json")" = "$(jq -s -c '[.[].embedding]' "$W/c.jsonl")" ] || fail "text embeddings differ"
[ "$(jq -r '[.object, .data[0].object, (.data[2].index|tostring)] | join(",")' "$W/r.json")" = "list,embedding,2" ] ||
  fail "embeddings shape: $(head -c 200 "$W/r.json")"
jq -n --arg im "data:image/png;base64,$(base64 -w0 "$IMG1")" '{input: [{image: $im}]}' >"$W/q.json"
[ "$(post /v1/embeddings "$W/q.json" "$W/r.json")" = 200 ] || fail "image embedding: $(cat "$W/r.json")"
"$MMC" embed --model "$S/run" --image "$IMG1" --json >"$W/c.jsonl"
[ "$(jq -c '.data[0].embedding' "$W/r.json")" = "$(jq -c '.embedding' "$W/c.jsonl")" ] || fail "image embedding differs"
jq -n '{input: "x", encoding_format: "base64"}' >"$W/q.json"
[ "$(post /v1/embeddings "$W/q.json" "$W/r.json")" = 200 ] || fail "base64 embedding: $(cat "$W/r.json")"
# 32 floats = 128 bytes = 172 base64 characters with padding
[ "$(jq -r '.data[0].embedding | length' "$W/r.json")" = 172 ] || fail "base64 embedding length"
ok "/v1/embeddings: texts (English, Chinese) and an image equal mmc embed --json; base64 encoding"

# /v1/zeroshot, /v1/caption, /v1/vqa against their commands
jq -n --arg im "data:image/png;base64,$(base64 -w0 "$IMG1")" \
  '{image: $im, labels: ["circle", "square", "triangle", "红色"], template: "a photo of a {}", k: 4}' >"$W/q.json"
[ "$(post /v1/zeroshot "$W/q.json" "$W/r.json")" = 200 ] || fail "zeroshot: $(cat "$W/r.json")"
"$MMC" zeroshot --model "$S/run" "$IMG1" --labels "circle,square,triangle,红色" -k 4 --json >"$W/c.json"
[ "$(jq -S -c 'del(.image)' "$W/r.json")" = "$(jq -S -c 'del(.image)' "$W/c.json")" ] ||
  fail "zeroshot differs: $(cat "$W/r.json") vs $(cat "$W/c.json")"
for beam in 1 3; do
  jq -n --arg im "data:image/png;base64,$(base64 -w0 "$IMG2")" --argjson b $beam '{image: $im, beam: $b}' >"$W/q.json"
  [ "$(post /v1/caption "$W/q.json" "$W/r.json")" = 200 ] || fail "caption: $(cat "$W/r.json")"
  "$MMC" caption --model "$W/cap" "$IMG2" --beam $beam --json >"$W/c.json"
  [ "$(jq -S -c 'del(.image)' "$W/r.json")" = "$(jq -S -c 'del(.image)' "$W/c.json")" ] ||
    fail "caption (beam $beam) differs: $(cat "$W/r.json") vs $(cat "$W/c.json")"
done
jq -n --arg im "data:image/png;base64,$(base64 -w0 "$IMG2")" '{image: $im, question: "how many circles are there?"}' >"$W/q.json"
[ "$(post /v1/vqa "$W/q.json" "$W/r.json")" = 200 ] || fail "vqa: $(cat "$W/r.json")"
"$MMC" vqa --model "$W/vqa" "$IMG2" --question "how many circles are there?" --json >"$W/c.json"
# the CLI prints probabilities with 6 decimals; answers must match, probabilities to 1e-6
jq -n --slurpfile a "$W/r.json" --slurpfile b "$W/c.json" -e '
  $a[0].answer == $b[0].answer and ([$a[0].top[].answer] == [$b[0].top[].answer]) and
  ([range(0; $a[0].top | length) | ($a[0].top[.].probability - $b[0].top[.].probability) | fabs] | max) <= 1e-6' >/dev/null ||
  fail "vqa differs: $(cat "$W/r.json") vs $(cat "$W/c.json")"
ok "/v1/zeroshot, /v1/caption (greedy and beam 3), /v1/vqa equal their commands"

# /v1/files: the file an index row records, and nothing that is not one
json_req "$W/q.json" '{text: "a large red circle", k: 1}'
post /v1/search "$W/q.json" "$W/r.json" >/dev/null
row=$(jq -r '.results[0].row' "$W/r.json")
path=$(jq -r '.results[0].path' "$W/r.json")
[ "$(get "/v1/files/img/$row" "$W/file.bin")" = 200 ] && cmp -s "$W/file.bin" "$path" || fail "/v1/files/img/$row is not $path"
for u in /v1/files/txt/0 /v1/files/img/99999999 /v1/files/img/-1 /v1/files/img/1x /v1/files/nope/0 \
  "/v1/files/img/..%2F..%2Fetc%2Fpasswd" /v1/files/img; do
  c=$(get "$u" "$W/r.json")
  [ "$c" = 404 ] || fail "$u answered $c"
done
c=$(curl -s --path-as-is -o "$W/r.json" -w '%{http_code}' "$BASE/v1/files/../../../etc/passwd")
[ "$c" = 404 ] || fail "a .. path answered $c"
ok "/v1/files: the indexed image's bytes; 404 for text rows, bad rows, other indexes and .. paths"

# the page, and a few wrong requests
[ "$(get / "$W/page.html")" = 200 ] && grep -q 'id="search-form"' "$W/page.html" || fail "the page"
grep -q '\(src\|href\)="https\?://' "$W/page.html" && fail "the page loads something from outside"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/health")" = 405 ] || fail "POST /health"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/search")" = 405 ] || fail "GET /v1/search"
echo '{"text": "x", "index": "nope"}' >"$W/q.json"
[ "$(post /v1/search "$W/q.json" "$W/r.json")" = 404 ] && jq -e '.error.message | test("nope")' "$W/r.json" >/dev/null ||
  fail "unknown index: $(cat "$W/r.json")"
echo '{"text": "x", "k": 101}' >"$W/q.json"
[ "$(post /v1/search "$W/q.json" "$W/r.json")" = 400 ] || fail "k over --max-k: $(cat "$W/r.json")"
ok "the page (no outside resources), 405, 404 and 400 answers"
lines=$(wc -l <"$W/main.log")
[ "$lines" -ge 40 ] && grep -q '"POST /v1/search" 200' "$W/main.log" || fail "the access log has $lines lines"
stop "$MAIN"
grep -q "stopped after" "$W/main.err" || fail "no stop message: $(cat "$W/main.err")"
ok "one access-log line per request ($lines); SIGTERM stops it with exit 0"

# ------------------------------------------------------------------ a Chinese model
start zh --model "$W/zh" --index "$W/zh.idx"
for q in "一个大的红色圆形" "两个小的蓝色正方形" "左边的绿色三角形"; do
  json_req "$W/q.json" --arg t "$q" '{text: $t, k: 10}'
  [ "$(post /v1/search "$W/q.json" "$W/r.json")" = 200 ] || fail "zh search: $(cat "$W/r.json")"
  echo >>"$W/r.json"
  "$MMC" search "$W/zh.idx" --text "$q" --json >"$W/c.json"
  cmp -s "$W/r.json" "$W/c.json" || fail "zh search '$q' differs from the CLI"
done
stop "$PID"
ok "a Chinese retrieval run: 以文搜图 byte-identical to mmc search --json"

# ------------------------------------------------------------------ the API key, the address
start key --model "$S/run" --index "$W/img.idx" --api-key sesame-0123
echo '{"text": "x"}' >"$W/q.json"
[ "$(post /v1/search "$W/q.json" "$W/r.json")" = 401 ] || fail "no key: $(cat "$W/r.json")"
c=$(curl -s -o "$W/r.json" -w '%{http_code}' -H 'Authorization: Bearer sesame-0124' --data-binary @"$W/q.json" "$BASE/v1/search")
[ "$c" = 401 ] || fail "a wrong key answered $c"
c=$(curl -s -o "$W/r.json" -w '%{http_code}' -H 'Authorization: Bearer sesame-0123' --data-binary @"$W/q.json" "$BASE/v1/search")
[ "$c" = 200 ] || fail "the right key answered $c"
c=$(curl -s -o "$W/r.json" -w '%{http_code}' -H 'X-API-Key: sesame-0123' --data-binary @"$W/q.json" "$BASE/v1/search")
[ "$c" = 200 ] || fail "X-API-Key answered $c"
c=$(curl -s -o "$W/r.json" -w '%{http_code}' -b 'mmc_key=sesame-0123' --data-binary @"$W/q.json" "$BASE/v1/search")
[ "$c" = 200 ] || fail "the page's cookie (mmc_key) answered $c"
c=$(curl -s -o "$W/r.json" -w '%{http_code}' -b 'mmc_key=sesame%2D0123' "$BASE/v1/files/img/0")
[ "$c" = 200 ] || fail "a percent-encoded cookie key for a thumbnail answered $c"
c=$(curl -s -o "$W/r.json" -w '%{http_code}' -b 'mmc_key=sesame-0124' "$BASE/v1/files/img/0")
[ "$c" = 401 ] || fail "a wrong cookie key answered $c"
[ "$(get /health "$W/r.json")" = 200 ] || fail "/health wants no key"
stop "$PID"
set +e
"$MMC" serve --model "$S/run" --host 0.0.0.0 --port 0 >"$W/any.out" 2>"$W/any.err"
rc=$?
set -e
[ $rc = 1 ] && grep -q "api-key" "$W/any.err" || fail "0.0.0.0 without a key: exit $rc, $(cat "$W/any.err")"
ok "--api-key (Bearer, X-API-Key and the page's mmc_key cookie; /health open); a non-loopback address without a key is refused"
# --rate: a token bucket per client address (2 a second, bursts of 4): 12 requests at once
# get some 200s and then 429 with Retry-After, as JSON
start rate --model "$S/run" --index "$W/img.idx" --rate 2
n200=0
n429=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
  c=$(curl -s -o "$W/r.json" -D "$W/h.txt" -w '%{http_code}' "$BASE/health")
  case $c in
    200) n200=$((n200 + 1)) ;;
    429) n429=$((n429 + 1)); grep -qi '^retry-after: 1' "$W/h.txt" && jq -e '.error.code == 429' "$W/r.json" >/dev/null ||
           fail "a 429 without Retry-After or its JSON error" ;;
    *) fail "--rate: status $c" ;;
  esac
done
[ $n200 -ge 4 ] && [ $n429 -ge 4 ] || fail "--rate 2: $n200 answered, $n429 refused of 12"
stop "$PID"
ok "--rate 2: $n200 of 12 back-to-back requests answered, $n429 refused with 429"
echo "serve_api: all passed"
