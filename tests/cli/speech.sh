#!/bin/sh
# speech.sh MMC WORK — `mmc data shapes --audio`: spoken captions made with eSpeak NG. Every
# manifest entry's file exists and decodes (16 kHz mono, at least half a second), English
# and Chinese are both spoken, the held-out splits use voice variants that train never
# uses, the samples do not depend on the thread count, and bad options exit 1.
set -eu
MMC=$1
W=$2/speech
rm -rf "$W"
mkdir -p "$W"
fail() { echo "speech: FAIL: $*" >&2; exit 1; }
"$MMC" data shapes --out "$W/d1" --train 12 --val 3 --test 4 --size 32 --audio --audio-format wav --threads 1 >"$W/out1.txt" 2>&1 ||
  fail "data shapes --audio: $(tail -3 "$W/out1.txt")"
"$MMC" data shapes --out "$W/d2" --train 12 --val 3 --test 4 --size 32 --audio --audio-format wav --threads 2 >"$W/out2.txt" 2>&1 ||
  fail "data shapes --audio --threads 2"
n=0
for split in train val test; do
  cmp -s "$W/d1/manifest-$split.jsonl" "$W/d2/manifest-$split.jsonl" || fail "manifest-$split differs between 1 and 2 threads"
  jq -r '.audio[] | .path' "$W/d1/manifest-$split.jsonl" >"$W/paths.txt"
  [ "$(jq -r '.audio[] | .lang' "$W/d1/manifest-$split.jsonl" | sort -u | tr '\n' ' ')" = "en zh " ] || fail "$split: not both languages"
  while read -r p; do
    cmp -s "$W/d1/$p" "$W/d2/$p" || fail "$p differs between 1 and 2 threads"
    "$MMC" audio info "$W/d1/$p" --json >"$W/info.json" || fail "$p does not decode"
    jq -e '.rate == 16000 and .channels == 1 and .duration >= 0.5 and .rms > 0.01' "$W/info.json" >/dev/null ||
      fail "$p: $(cat "$W/info.json")"
    n=$((n + 1))
  done <"$W/paths.txt"
  # every spoken text is one of the scene's captions
  jq -e '[.audio[] as $a | (.captions + .captions_zh) | index($a.text) != null] | all' "$W/d1/manifest-$split.jsonl" >/dev/null ||
    fail "$split: a spoken text is not among the scene's captions"
done
jq -r '.audio[].voice | sub(".*\\+"; "")' "$W/d1/manifest-train.jsonl" | sort -u >"$W/train-variants.txt"
jq -r '.audio[].voice | sub(".*\\+"; "")' "$W/d1/manifest-val.jsonl" "$W/d1/manifest-test.jsonl" | sort -u >"$W/held-variants.txt"
[ -z "$(comm -12 "$W/train-variants.txt" "$W/held-variants.txt")" ] ||
  fail "held-out splits share voice variants with train: $(comm -12 "$W/train-variants.txt" "$W/held-variants.txt" | tr '\n' ' ')"
echo "speech: ok: $n spoken captions decode (16 kHz mono), identical on 1 and 2 threads; held-out voices: $(tr '\n' ' ' <"$W/held-variants.txt")"
# Ogg (the default) and one language
"$MMC" data shapes --out "$W/d3" --train 3 --val 0 --test 0 --size 32 --audio-langs zh >/dev/null 2>&1 || fail "--audio-langs zh"
[ "$(jq -r '.audio[].lang' "$W/d3/manifest-train.jsonl" | sort -u)" = zh ] || fail "--audio-langs zh spoke English"
"$MMC" audio info "$(jq -r '"'"$W/d3/"'" + .audio[0].path' "$W/d3/manifest-train.jsonl" | head -1)" --json | jq -e '.format == "OGG"' >/dev/null ||
  fail "the default format is not Ogg"
for bad in "--audio-langs fr" "--audio-format mp3" "--audio-per-scene 0" "--audio-per-scene 6" "--video --audio-langs en"; do
  set +e
  "$MMC" data shapes --out "$W/bad" --train 2 --val 0 --test 0 --size 32 $bad >/dev/null 2>"$W/err.txt"
  rc=$?
  set -e
  [ $rc = 1 ] || fail "'$bad' exited $rc: $(cat "$W/err.txt")"
done
echo "speech: all passed"
