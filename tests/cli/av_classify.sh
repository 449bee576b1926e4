#!/bin/sh
# av_classify.sh MMC WORK — audio-visual classification from the command line: `mmc data
# shapes --video --audio` (clips with a FLAC sound track and a label), `mmc train classify
# --inputs video,audio|video|audio`, `mmc eval` and `mmc vqa` on a clip, and the refusals:
# options that do not go together, a question for a model that takes none, a folder of
# silent clips.
set -eu
MMC=$1
W=$2/av-classify
rm -rf "$W"
mkdir -p "$W"
fail() { echo "av_classify: FAIL: $*" >&2; exit 1; }
"$MMC" data shapes --video --audio --out "$W/d" --train 24 --val 8 --test 8 --size 16 --frames 4 --fps 4 --threads 2 \
  >"$W/data.txt" 2>&1 || fail "data shapes --video --audio: $(tail -3 "$W/data.txt")"
grep -q "FLAC sound" "$W/data.txt" || fail "the summary does not mention the sound tracks: $(tail -2 "$W/data.txt")"
clip=$W/d/$(jq -r .video "$W/d/manifest-test.jsonl" | head -1)
ffprobe -v error -show_entries stream=codec_name,sample_rate -of csv=p=0 "$clip" >"$W/probe.txt"
grep -q "^ffv1" "$W/probe.txt" && grep -q "^flac,16000" "$W/probe.txt" || fail "ffprobe of $clip: $(cat "$W/probe.txt")"
[ "$(jq -r .label "$W/d/manifest-test.jsonl" | grep -c -E '^(red|green|blue|yellow|purple|orange|white|cyan)$')" = 8 ] ||
  fail "every test clip has a colour label: $(jq -r .label "$W/d/manifest-test.jsonl" | tr '\n' ' ')"
"$MMC" audio info "$clip" --json >"$W/info.json" || fail "audio info on a clip"
jq -e '.format == "MATROSKA" and .subtype == "FLAC" and .rate == 16000 and .frames == 16000' "$W/info.json" >/dev/null ||
  fail "audio info of the clip: $(cat "$W/info.json")"
cat >"$W/tiny.json" <<'JSON'
{"image_size": 16, "cnn_widths": [4, 6], "cnn_strides": [2, 2], "pool_grid": 2, "image_dim": 8, "fuse_dim": 8,
 "hidden": 8, "early_dim": 3, "film_from": 1, "batch_images": 8, "audio_channels": 8, "audio_hidden": 6,
 "video_frames": 4}
JSON
for inputs in video,audio video audio; do
  n=$(echo "$inputs" | tr , -)
  "$MMC" train classify --inputs "$inputs" --data "$W/d" --out "$W/$n" --config "$W/tiny.json" --steps 6 --threads 2 \
    >"$W/train-$n.txt" 2>&1 || fail "train classify --inputs $inputs: $(tail -3 "$W/train-$n.txt")"
  grep -q "val after step 6: accuracy" "$W/train-$n.txt" || fail "--inputs $inputs: no validation line: $(tail -2 "$W/train-$n.txt")"
  "$MMC" eval "$W/$n" --data "$W/d" --split test --json >"$W/eval-$n.json" || fail "eval --inputs $inputs"
  jq -e '.n == 8 and .accuracy >= 0 and .accuracy <= 1' "$W/eval-$n.json" >/dev/null || fail "eval $n: $(cat "$W/eval-$n.json")"
  "$MMC" vqa --model "$W/$n" "$clip" --json >"$W/ans-$n.json" || fail "vqa on a clip, --inputs $inputs"
  jq -e '(.answer | test("^(red|green|blue|yellow|purple|orange|white|cyan)$")) and .probability > 0' "$W/ans-$n.json" >/dev/null ||
    fail "vqa --inputs $inputs: $(cat "$W/ans-$n.json")"
done
jq -e '.query == "audio" and .target == "video" and .fusion == "hybrid"' "$W/video-audio/config.json" >/dev/null || fail "video,audio config"
jq -e '.query == "none" and .fusion == "late"' "$W/video/config.json" >/dev/null || fail "video-only config"
jq -e '.query == "audio" and .fusion == "none"' "$W/audio/config.json" >/dev/null || fail "audio-only config"
# refusals
expect() { # expect RC PATTERN command...: exit code and message
  want=$1 pat=$2; shift 2
  rc=0; "$@" >"$W/bad.txt" 2>&1 || rc=$?
  [ "$rc" = "$want" ] && grep -q "$pat" "$W/bad.txt" || fail "$*: rc $rc (want $want) $(cat "$W/bad.txt")"
}
expect 1 "fusion none" "$MMC" train classify --inputs audio --fusion hybrid --data "$W/d" --out "$W/x"
expect 1 "nothing to fuse" "$MMC" train classify --inputs video --fusion early --data "$W/d" --out "$W/x"
expect 1 "for classify" "$MMC" train vqa --inputs video,audio --data "$W/d" --out "$W/x"
expect 1 "must be video,audio" "$MMC" train classify --inputs audio,text --data "$W/d" --out "$W/x"
expect 1 "takes no --question" "$MMC" vqa --model "$W/video-audio" "$clip" --question "what colour?"
expect 1 "are for spoken" "$MMC" data shapes --video --audio --audio-langs en --out "$W/x"
# silent clips: the sound track is missing, and the message names the file
"$MMC" data shapes --video --out "$W/silent" --train 6 --val 2 --test 2 --size 16 --frames 4 >/dev/null 2>&1
for s in train val test; do jq -c '. + {"label": "red"}' "$W/silent/manifest-$s.jsonl" >"$W/m.jsonl" && mv "$W/m.jsonl" "$W/silent/manifest-$s.jsonl"; done
expect 2 "no audio stream" "$MMC" train classify --inputs video,audio --data "$W/silent" --out "$W/x" --steps 1
grep -q "videos/train-000000.mkv" "$W/bad.txt" || fail "the silent clip is not named: $(cat "$W/bad.txt")"
echo "av_classify: ok: sounding clips made and probed, video,audio / video / audio train, evaluate and answer; refusals exit 1/2"
