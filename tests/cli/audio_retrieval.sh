#!/bin/sh
# audio_retrieval.sh MMC WORK — speech retrieval from the command line: `mmc train retrieval
# --pair audio:image` (以声搜图) and `--pair audio:text` on a tiny spoken world, `mmc eval`
# naming the directions, `mmc index build` + `mmc search --audio`, `mmc embed --audio`, and
# the refusals: a pair that does not exist, sound for a model without an audio tower, a
# text for one without a text tower, a file that is not sound.
set -eu
MMC=$1
W=$2/audio-retrieval
rm -rf "$W"
mkdir -p "$W"
fail() { echo "audio_retrieval: FAIL: $*" >&2; exit 1; }
"$MMC" data shapes --out "$W/d" --train 40 --val 8 --test 8 --size 16 --audio --audio-langs en --audio-per-scene 2 --threads 2 \
  >"$W/data.txt" 2>&1 || fail "data shapes --audio: $(tail -3 "$W/data.txt")"
cat >"$W/tiny.json" <<'JSON'
{"image_size": 16, "cnn_widths": [4, 8], "pool_grid": 2, "embed_dim": 16, "batch_size": 8,
 "audio_channels": 16, "audio_hidden": 16, "word_dim": 16, "text_hidden": 16, "warmup_steps": 2}
JSON
"$MMC" train retrieval --pair audio:image --data "$W/d" --out "$W/ai" --config "$W/tiny.json" --steps 12 --threads 2 \
  >"$W/train-ai.txt" 2>&1 || fail "train --pair audio:image: $(tail -3 "$W/train-ai.txt")"
grep -q "val after step 12: audio->image R@1" "$W/train-ai.txt" || fail "the progress line names audio->image: $(tail -2 "$W/train-ai.txt")"
grep -q "80 en spoken captions of 40 samples" "$W/train-ai.txt" || fail "the start line counts the clips: $(grep retrieval: "$W/train-ai.txt")"
"$MMC" eval "$W/ai" --data "$W/d" --split test --json >"$W/eval.json" || fail "eval"
jq -e '.audio_to_image["R@1"] >= 0 and .image_to_audio["R@10"] >= 0 and .n_images == 8 and .n_clips == 16' "$W/eval.json" >/dev/null ||
  fail "eval --json: $(cat "$W/eval.json")"
# 以声搜图: an index of the test scenes, queried by a spoken caption
"$MMC" index build --model "$W/ai" --data "$W/d" --split test --out "$W/ai.idx" >/dev/null || fail "index build"
clip=$(jq -r '"'"$W/d/"'" + .audio[0].path' "$W/d/manifest-test.jsonl" | head -1)
"$MMC" search "$W/ai.idx" --audio "$clip" -k 3 --json >"$W/search.json" || fail "search --audio"
jq -e '.kind == "audio" and (.results | length) == 3 and (.results[0].path | endswith(".png"))' "$W/search.json" >/dev/null ||
  fail "search --audio --json: $(cat "$W/search.json")"
"$MMC" embed --model "$W/ai" --audio "$clip" --json >"$W/embed.json" || fail "embed --audio"
jq -e '(.embedding | length) == 16 and .audio != null' "$W/embed.json" >/dev/null || fail "embed --audio --json: $(cat "$W/embed.json")"
# audio:text
"$MMC" train retrieval --pair audio:text --data "$W/d" --out "$W/at" --config "$W/tiny.json" --steps 6 --threads 2 \
  >"$W/train-at.txt" 2>&1 || fail "train --pair audio:text: $(tail -3 "$W/train-at.txt")"
grep -q "audio->text R@1" "$W/train-at.txt" || fail "audio->text progress"
"$MMC" eval "$W/at" --data "$W/d" --split test >"$W/eval-at.txt" || fail "eval audio:text"
grep -q "audio->text" "$W/eval-at.txt" || fail "eval audio:text: $(cat "$W/eval-at.txt")"
# refusals
rc=0; "$MMC" train retrieval --pair audio:video --data "$W/d" --out "$W/bad" >"$W/bad.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "audio:image or audio:text" "$W/bad.txt" || fail "--pair audio:video: rc $rc $(cat "$W/bad.txt")"
"$MMC" train retrieval --data "$W/d" --out "$W/ti" --config "$W/tiny.json" --steps 2 --threads 2 >/dev/null 2>&1 || fail "text:image"
rc=0; "$MMC" embed --model "$W/ti" --audio "$clip" >"$W/bad.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "does not embed sound" "$W/bad.txt" || fail "sound into a text:image model: rc $rc $(cat "$W/bad.txt")"
echo '{"transcripts": 0}' >"$W/nt.json"
jq -s '.[0] * .[1]' "$W/tiny.json" "$W/nt.json" >"$W/tiny-nt.json"
"$MMC" train retrieval --pair audio:image --data "$W/d" --out "$W/ai0" --config "$W/tiny-nt.json" --steps 2 --threads 2 >/dev/null 2>&1 ||
  fail "audio:image without transcripts"
jq -e 'has("tokenizer") | not' "$W/ai0/config.json" >/dev/null || fail "an audio:image run without transcripts keeps no vocabulary"
rc=0; "$MMC" embed --model "$W/ai0" --text "a red circle" >"$W/bad.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "no text tower" "$W/bad.txt" || fail "a text into an audio:image model: rc $rc $(cat "$W/bad.txt")"
printf 'not a sound file' >"$W/junk.wav"
rc=0; "$MMC" search "$W/ai.idx" --audio "$W/junk.wav" >"$W/bad.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "junk.wav" "$W/bad.txt" || fail "a junk sound file: rc $rc $(cat "$W/bad.txt")"
# a data folder without spoken captions
"$MMC" data shapes --out "$W/plain" --train 6 --val 2 --test 2 --size 16 >/dev/null 2>&1
rc=0; "$MMC" train retrieval --pair audio:image --data "$W/plain" --out "$W/bad2" --steps 1 >"$W/bad.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "no spoken caption" "$W/bad.txt" || fail "no spoken captions: rc $rc $(cat "$W/bad.txt")"
echo "audio_retrieval: ok: audio:image and audio:text train, evaluate, index, search and embed; refusals exit 1/2"
