#!/bin/sh
# quantize.sh MMC WORK SRC — `mmc quantize` and `--dtype` on the shared CLIP fixture.
# q8 and q4 copies of ../shared/fixtures/hf/clip: what the command prints, the dtypes in
# the written header (I8 / U8 weights, F32 NAME_scale of (out, groups)), the copied files;
# `mmc embed --json` from the q8 folder within cosine 0.999 of the float one (q4: 0.99),
# and `--dtype int8` / `--dtype q4` on the float folder printing exactly what the q8 / q4
# folders print. Bad arguments exit 1 (unknown type, DIR = MODEL, DIR holding a model
# without --force, an already quantised model, a retrieval run); bad folders exit 2 naming
# the file (no config.json, no weights, a q8 file truncated, its header overwritten, an
# int8 value of -128). Skips (prints SKIP:) without ../shared. A few seconds.
set -eu
MMC=$1
W=$2/quantize
SRC=$3
F=$SRC/../shared/fixtures/hf/clip
if [ ! -f "$F/model.safetensors" ]; then
  echo "SKIP: $F is absent (the shared fixtures are not here)"
  exit 0
fi
rm -rf "$W"
mkdir -p "$W"
fail() { echo "quantize: FAIL: $*" >&2; exit 1; }

# expect CODE WANT CMD...: CMD exits CODE and its stderr contains WANT
expect() {
  code=$1 want=$2
  shift 2
  set +e
  "$@" >"$W/out.txt" 2>"$W/err.txt"
  rc=$?
  set -e
  [ "$rc" -eq "$code" ] || fail "$* exited $rc (want $code): $(cat "$W/err.txt")"
  grep -qF -- "$want" "$W/err.txt" || fail "$*: stderr lacks '$want': $(cat "$W/err.txt")"
}

# header FILE: the JSON header of a safetensors file
header() {
  n=$(od -An -t u8 -N8 "$1" | tr -d ' ')
  head -c $((8 + n)) "$1" | tail -c "$n"
}

# mincos A B: the smallest cosine between the embeddings of two `mmc embed --json` outputs,
# line by line (same inputs in the same order)
mincos() {
  paste "$1" "$2" | awk -F'\t' '
    function vec(s, v) { sub(/.*"embedding":\[/, "", s); sub(/\].*/, "", s); return split(s, v, /, */) }
    { n = vec($1, a); m = vec($2, b)
      if (n != m || n < 2) { bad = 1; exit }
      d = 0; na = 0; nb = 0
      for (i = 1; i <= n; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i] }
      c = d / sqrt(na * nb); if (NR == 1 || c < min) min = c; rows++ }
    END { if (bad || rows != 5) { print "bad"; exit 1 }; printf "%.6f\n", min }'
}

# ---- the two copies
"$MMC" quantize "$F" --out "$W/q8" >"$W/q8.txt" || fail "quantize q8 exited $?"
"$MMC" quantize "$F" --out "$W/q4" --type q4 >"$W/q4.txt" || fail "quantize q4 exited $?"
cat "$W/q8.txt" "$W/q4.txt"
grep -q "to q8 in [0-9.]* s" "$W/q8.txt" || fail "q8: no type and time: $(cat "$W/q8.txt")"
# q8: every Linear of the 2 + 2 layers (q, k, v, out, fc1, fc2) and both projections, at
# least 26 tensors, all int8; q4: the same ones, the 8 MLP weights 4-bit
n8=$(sed -n 's/^  \([0-9]*\) of 77 tensors quantised: \([0-9]*\) int8 (I8), 0 int4 (U8).*/\1 \2/p' "$W/q8.txt")
set -- $n8
[ $# -eq 2 ] && [ "$1" -ge 26 ] && [ "$1" -eq "$2" ] || fail "q8: tensor counts: $(cat "$W/q8.txt")"
grep -q "^  $1 of 77 tensors quantised: $(($1 - 8)) int8 (I8), 8 int4 (U8)" "$W/q4.txt" || fail "q4: tensor counts"
grep -q "weights on disk: [0-9]* -> [0-9]* bytes" "$W/q8.txt" || fail "q8: no byte counts"
before=$(stat -c %s "$F/model.safetensors")
after=$(stat -c %s "$W/q8/model.safetensors")
grep -q "weights on disk: $before -> $after bytes" "$W/q8.txt" || fail "q8: bytes should be $before -> $after"
[ "$after" -lt "$before" ] || fail "q8 file ($after bytes) not smaller than the float one ($before)"
for f in config.json preprocessor_config.json tokenizer.json tokenizer_config.json vocab.json merges.txt; do
  cmp -s "$F/$f" "$W/q8/$f" || fail "q8/$f is not a copy of the model's"
done

# ---- the dtypes in the headers: fc1 (64, 32) and q_proj (32, 32) of text layer 0
h8=$(header "$W/q8/model.safetensors")
h4=$(header "$W/q4/model.safetensors")
L=text_model.encoder.layers.0
echo "$h8" | grep -qF "\"$L.mlp.fc1.weight\":{\"dtype\":\"I8\",\"shape\":[64,32]" || fail "q8 fc1 not I8 (64, 32)"
echo "$h8" | grep -qF "\"$L.mlp.fc1.weight_scale\":{\"dtype\":\"F32\",\"shape\":[64,1]" || fail "q8 fc1 scale not F32 (64, 1)"
echo "$h8" | grep -qF "\"text_projection.weight\":{\"dtype\":\"I8\"" || fail "q8 text_projection not I8"
echo "$h8" | grep -qF "\"$L.layer_norm1.weight\":{\"dtype\":\"F32\"" || fail "q8 layer norm not F32"
echo "$h4" | grep -qF "\"$L.mlp.fc1.weight\":{\"dtype\":\"U8\",\"shape\":[64,16]" || fail "q4 fc1 not U8 (64, 16)"
echo "$h4" | grep -qF "\"$L.mlp.fc1.weight_scale\":{\"dtype\":\"F32\",\"shape\":[64,1]" || fail "q4 fc1 scale not F32 (64, 1)"
echo "$h4" | grep -qF "\"$L.mlp.fc2.weight\":{\"dtype\":\"U8\",\"shape\":[32,32]" || fail "q4 fc2 (32, 64) not U8 (32, 32)"
echo "$h4" | grep -qF "\"$L.mlp.fc2.weight_scale\":{\"dtype\":\"F32\",\"shape\":[32,2]" || fail "q4 fc2 scale not F32 (32, 2)"
echo "$h4" | grep -qF "\"$L.self_attn.q_proj.weight\":{\"dtype\":\"I8\"" || fail "q4 q_proj not I8 (only MLPs are 4-bit)"
"$MMC" inspect "$W/q8/model.safetensors" | grep -q "$L.mlp.fc1.weight  *I8  *(64, 32)  *-127  *127" ||
  fail "mmc inspect does not show the I8 tensor in -127..127"

# ---- embeddings: q8 close to f32, q8 folder = --dtype int8, q4 folder = --dtype q4
set -- --text "a photo of a cat" --text "two dogs on a sofa" --image "$F/image0.png" --image "$F/image1.png" \
  --image "$F/image2.png" --json
"$MMC" embed --model "$F" "$@" >"$W/f32.jsonl" || fail "embed f32"
"$MMC" embed --model "$W/q8" "$@" >"$W/q8.jsonl" || fail "embed q8 folder"
"$MMC" embed --model "$W/q4" "$@" >"$W/q4.jsonl" || fail "embed q4 folder"
"$MMC" embed --model "$F" --dtype int8 "$@" >"$W/d8.jsonl" || fail "embed --dtype int8"
"$MMC" embed --model "$F" --dtype q8 "$@" >"$W/dq8.jsonl" || fail "embed --dtype q8"
"$MMC" embed --model "$F" --dtype q4 "$@" >"$W/d4.jsonl" || fail "embed --dtype q4"
"$MMC" embed --model "$F" --dtype f32 "$@" >"$W/d32.jsonl" || fail "embed --dtype f32"
c8=$(mincos "$W/f32.jsonl" "$W/q8.jsonl") || fail "q8 embeddings unreadable"
c4=$(mincos "$W/f32.jsonl" "$W/q4.jsonl") || fail "q4 embeddings unreadable"
echo "min cosine with f32: q8 $c8, q4 $c4"
awk -v c="$c8" 'BEGIN { exit !(c >= 0.999 && c < 1) }' || fail "q8 cosine $c8 (want >= 0.999, and not all equal)"
awk -v c="$c4" 'BEGIN { exit !(c >= 0.99 && c < 1) }' || fail "q4 cosine $c4 (want >= 0.99)"
cmp -s "$W/q8.jsonl" "$W/d8.jsonl" || fail "--dtype int8 differs from the q8 folder"
cmp -s "$W/q8.jsonl" "$W/dq8.jsonl" || fail "--dtype q8 differs from the q8 folder"
cmp -s "$W/q4.jsonl" "$W/d4.jsonl" || fail "--dtype q4 differs from the q4 folder"
cmp -s "$W/f32.jsonl" "$W/d32.jsonl" || fail "--dtype f32 differs from the default"
"$MMC" zeroshot --model "$W/q8" "$F/image0.png" --labels "cat,dog" --json >/dev/null || fail "zeroshot on the q8 folder"
"$MMC" zeroshot --model "$F" --dtype int8 "$F/image0.png" --labels "cat,dog" --json >/dev/null || fail "zeroshot --dtype int8"
# index build --dtype int8 scores as the q8 folder does (each index records its own and its model's path,
# so the files differ; the search results may not)
mkdir -p "$W/imgs" && cp "$F"/image*.png "$W/imgs/"
"$MMC" index build --model "$F" --dtype int8 --images "$W/imgs" --out "$W/d8.idx" >/dev/null 2>&1 || fail "index build --dtype int8"
"$MMC" index build --model "$W/q8" --images "$W/imgs" --out "$W/q8.idx" >/dev/null 2>&1 || fail "index build of the q8 folder"
"$MMC" search "$W/d8.idx" --image "$F/image1.png" -k 3 --dtype int8 --json | grep -v '"model"\|"index"' >"$W/s-d8" || fail "search d8"
"$MMC" search "$W/q8.idx" --image "$F/image1.png" -k 3 --json | grep -v '"model"\|"index"' >"$W/s-q8" || fail "search q8"
cmp -s "$W/s-d8" "$W/s-q8" || fail "index build --dtype int8 and the q8 folder's index answer differently: $(cat "$W/s-d8") / $(cat "$W/s-q8")"
expect 1 "--dtype needs" "$MMC" index build --model "$F" --dtype q3 --images "$W/imgs" --out "$W/x.idx"

# ---- usage errors: exit 1
expect 1 "unknown --type 'q3'" "$MMC" quantize "$F" --out "$W/x" --type q3
expect 1 "missing --out" "$MMC" quantize "$F"
expect 1 "missing MODEL" "$MMC" quantize --out "$W/x"
expect 1 "unknown option '--bogus'" "$MMC" quantize "$F" --out "$W/x" --bogus
expect 1 "is the model folder itself" "$MMC" quantize "$F" --out "$F"
expect 1 "already holds a model.safetensors" "$MMC" quantize "$F" --out "$W/q8"
expect 1 "already quantised" "$MMC" quantize "$W/q8" --out "$W/x"
[ ! -e "$W/x" ] || fail "a refused quantize created its --out folder"
"$MMC" quantize "$F" --out "$W/q8" --force --type q8 >/dev/null || fail "--force over a q8 folder"
"$MMC" embed --model "$W/q8" "$@" | cmp -s - "$W/q8.jsonl" || fail "q8 folder rewritten with --force differs"
mkdir -p "$W/run"
echo '{"task": "retrieval", "embed_dim": 8}' >"$W/run/config.json"
expect 1 "not supported yet" "$MMC" quantize "$W/run" --out "$W/x"
expect 1 "--dtype needs f32, int8 (= q8) or q4 (got 'int3')" "$MMC" embed --model "$F" --dtype int3 --text a
expect 1 "--dtype needs" "$MMC" embed --model "$F" --text a --dtype
expect 1 "--dtype needs" "$MMC" zeroshot --model "$F" --dtype q5 "$F/image0.png" --labels a,b
expect 1 "--dtype needs" "$MMC" search "$W/none.idx" --dtype fp16 --text a
expect 1 "--dtype needs" "$MMC" serve --model "$F" --dtype bf16

# ---- bad folders and files: exit 2 naming the file
expect 2 "no such model folder" "$MMC" quantize "$W/missing" --out "$W/x"
mkdir -p "$W/empty" "$W/noweights"
expect 2 "$W/empty/config.json" "$MMC" quantize "$W/empty" --out "$W/x"
cp "$F/config.json" "$W/noweights/"
expect 2 "no model.safetensors" "$MMC" quantize "$W/noweights" --out "$W/x"
echo '{"model_type": "bert"}' >"$W/empty/config.json"
expect 2 "$W/empty/config.json: \"bert\" is not a CLIP model" "$MMC" quantize "$W/empty" --out "$W/x"
[ ! -e "$W/x" ] || fail "a failed quantize created its --out folder"
for k in trunc head value; do
  cp -r "$W/q8" "$W/bad-$k"
  chmod -R u+w "$W/bad-$k"
done
n8=$(stat -c %s "$W/q8/model.safetensors")
truncate -s $((n8 / 2)) "$W/bad-trunc/model.safetensors"
expect 2 "$W/bad-trunc/model.safetensors" "$MMC" embed --model "$W/bad-trunc" --text a
printf 'XXXX' | dd of="$W/bad-head/model.safetensors" bs=1 seek=20 conv=notrunc 2>/dev/null
expect 2 "$W/bad-head/model.safetensors" "$MMC" embed --model "$W/bad-head" --text a
# an int8 value of -128 (outside -127..127) in fc1's row 0: named with its tensor
hl=$(od -An -t u8 -N8 "$W/q8/model.safetensors" | tr -d ' ')
off=$(echo "$h8" | sed -n "s/.*\"$L.mlp.fc1.weight\":{\"dtype\":\"I8\",\"shape\":\[64,32\],\"data_offsets\":\[\([0-9]*\),.*/\1/p")
[ -n "$off" ] || fail "cannot find fc1's offset in the header"
printf '\200' | dd of="$W/bad-value/model.safetensors" bs=1 seek=$((8 + hl + off + 5)) conv=notrunc 2>/dev/null
expect 2 "tensor '$L.mlp.fc1.weight': value [0][5] is -128" "$MMC" embed --model "$W/bad-value" --text a
echo "quantize: OK"
