#!/bin/sh
# audio-quality.sh MMC [OUT] — the speech retrieval figures of docs/audio.md and
# docs/results.md, measured again: the spoken shapes world (8,000 spoken scenes, 2 captions
# each in English and in Chinese; ~18 minutes to make, 1.1 GB, kept in OUT/shapes), then
# 15-minute runs on 2 threads — audio:image in English and in Chinese, audio:text in
# English — each evaluated on the test split (held-out voices). About 80 minutes in all.
# CONFIG (a file, optional) adds keys to every run. Prints one line per run and writes
# OUT/summary.txt.
set -eu
MMC=$1
OUT=${2:-audio-quality}
MIN=${MINUTES:-15}
mkdir -p "$OUT"
if [ ! -f "$OUT/shapes/manifest-test.jsonl" ] || ! grep -q '"audio"' "$OUT/shapes/manifest-test.jsonl"; then
  "$MMC" data shapes --out "$OUT/shapes" --audio --audio-scenes 8000 --audio-per-scene 2 --threads 2
fi
cfg=""
[ -n "${CONFIG:-}" ] && cfg="--config $CONFIG"
: >"$OUT/summary.txt"
for run in "audio:image en" "audio:image zh" "audio:text en"; do
  set -- $run
  name=$(echo "$1-$2" | tr ':' '-')
  rm -rf "$OUT/$name"
  # shellcheck disable=SC2086
  "$MMC" train retrieval --pair "$1" --lang "$2" --data "$OUT/shapes" --out "$OUT/$name" --minutes "$MIN" --threads 2 $cfg \
    >"$OUT/$name.log" 2>&1
  "$MMC" eval "$OUT/$name" --data "$OUT/shapes" --split test --json >"$OUT/$name.test.json"
  steps=$(grep -o 'finished at step [0-9]*' "$OUT/$name.log" | grep -o '[0-9]*$')
  line=$(jq -r --arg n "$name" --arg s "$steps" 'to_entries | map(select(.value | type == "object")) |
    "\($n): \($s) steps; " + (map("\(.key) R@1 \(.value["R@1"]) R@5 \(.value["R@5"]) R@10 \(.value["R@10"])") | join(", "))' \
    "$OUT/$name.test.json")
  echo "$line" | tee -a "$OUT/summary.txt"
done
