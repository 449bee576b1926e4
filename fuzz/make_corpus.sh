#!/bin/sh
# make_corpus.sh — writes the seed corpus of every fuzz target into OUT/<target>/.
# Usage: fuzz/make_corpus.sh OUT
# Deterministic, POSIX sh + printf only (no Python: CI machines have just build-essential).
# Seeds are small valid inputs that reach deep into a parser; libFuzzer mutates from them.
# A new target adds a seeds_<name> function below and one line in the list at the bottom;
# a target without seeds starts from an empty corpus, which also works, only slower.
set -eu
OUT=${1:?usage: make_corpus.sh OUT}
SRC=$(cd "$(dirname "$0")/.." && pwd)

# bytes 'octal escapes' — writes raw bytes given as printf escapes, e.g. '\000\200\077'.
bytes() { printf "$1"; }

# le64 N — N as 8 little-endian bytes (the safetensors header length).
le64() {
  n=$1 i=0
  while [ $i -lt 8 ]; do
    printf "\\$(printf %03o $(( (n >> (8 * i)) & 255 )))"
    i=$((i + 1))
  done
}

# st FILE HEADER DATA — a safetensors file: length, JSON header, data. Both HEADER and
# DATA go through printf as the format, so octal escapes work in both (no '%' in them).
st() {
  len=$(printf "$2" | wc -c)
  { le64 "$len"; printf "$2"; bytes "$3"; } > "$1"
}

seeds_safetensors() {
  d=$OUT/safetensors
  mkdir -p "$d"
  # F32 2x2: 1, 2, -0.5, 0
  st "$d/f32.safetensors" '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}' \
     '\000\000\200\077\000\000\000\100\000\000\000\277\000\000\000\000'
  # F16 (1, -2, 65504, smallest subnormal), BF16 1.5, I64 (5, -1), with metadata
  st "$d/half_bf16_i64_meta.safetensors" \
     '{"__metadata__":{"format":"pt"},"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]},"i":{"dtype":"I64","shape":[2],"data_offsets":[10,26]}}' \
     '\000\074\000\300\377\173\001\000\300\077\005\000\000\000\000\000\000\000\377\377\377\377\377\377\377\377'
  # every other dtype, one element or two each, packed back to back
  st "$d/all_dtypes.safetensors" \
     '{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]},"c":{"dtype":"I16","shape":[2],"data_offsets":[16,20]},"d":{"dtype":"I8","shape":[2],"data_offsets":[20,22]},"e":{"dtype":"U8","shape":[2],"data_offsets":[22,24]},"f":{"dtype":"U16","shape":[1],"data_offsets":[24,26]},"g":{"dtype":"U32","shape":[1],"data_offsets":[26,30]},"h":{"dtype":"U64","shape":[1],"data_offsets":[30,38]},"i":{"dtype":"BOOL","shape":[2],"data_offsets":[38,40]}}' \
     '\000\000\000\000\000\000\360\077\001\000\000\000\377\377\377\377\002\000\376\377\003\375\004\005\006\000\007\000\000\000\010\000\000\000\000\000\000\000\001\000'
  # empty tensor (a zero dim), a scalar (shape []), a 5-d and a 6-d tensor (more dims than
  # an mmc tensor holds, which get() must refuse cleanly)
  st "$d/shapes.safetensors" \
     '{"empty":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},"scalar":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"five":{"dtype":"U8","shape":[1,1,1,1,2],"data_offsets":[4,6]},"six":{"dtype":"U8","shape":[1,1,1,1,1,2],"data_offsets":[6,8]}}' \
     '\000\000\100\100\001\002\003\004'
  # header padded with spaces to a multiple of 8, as our writer and PyTorch do
  st "$d/padded.safetensors" '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}       ' \
     '\000\000\200\077'
  # metadata only, no tensors; and the smallest header
  st "$d/meta_only.safetensors" '{"__metadata__":{"format":"pt","note":"seed"}}' ''
  st "$d/empty_header.safetensors" '{}' ''
  # dotted PyTorch names and a UTF-8 name (2-, 3- and 4-byte sequences)
  st "$d/names.safetensors" \
     '{"image_encoder.layer1.0.conv1.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"caf\303\251.\344\270\255.\360\237\230\200":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}}' \
     '\000\000\200\077\000\074\000\074'
  # the PyTorch-written parity fixtures: real files from another writer
  for f in "$SRC"/tests/fixtures/*.safetensors; do
    [ -f "$f" ] && cp "$f" "$d/fixture_$(basename "$f")"
  done
  return 0
}

# le32 N — N as 4 little-endian bytes.
le32() {
  printf "\\$(printf %03o $(( $1 & 255 )))\\$(printf %03o $(( ($1 >> 8) & 255 )))"
  printf "\\$(printf %03o $(( ($1 >> 16) & 255 )))\\$(printf %03o $(( ($1 >> 24) & 255 )))"
}

# zeros N — N zero bytes.
zeros() { [ "$1" -gt 0 ] && dd if=/dev/zero bs=1 count="$1" 2>/dev/null; return 0; }

# crc32 FILE — zlib's CRC-32 of a file, bit by bit (slow; seeds are a few hundred bytes).
# Each step is c = (c >> 1) ^ (0xEDB88320 & -(c & 1)), eight per byte.
crc32() {
  c=4294967295
  for b in $(od -An -v -tu1 "$1"); do
    c=$(( c ^ b ))
    for _ in 1 2 3 4 5 6 7 8; do c=$(( (c >> 1) ^ (3988292384 & -(c & 1)) )); done
  done
  echo $(( c ^ 4294967295 ))
}

# idx FILE DTYPE DIM COUNT MATRIX SCALES MODEL STRING... — an index file (docs/formats.md,
# "Embedding index"): MATRIX and SCALES are printf escapes of the raw section bytes
# (SCALES empty for float32), then the model id and COUNT item strings.
idx() {
  f=$1 dtype=$2 dim=$3 count=$4 matrix=$5 scales=$6 model=$7
  shift 7
  tmp=$f.parts
  mkdir -p "$tmp"
  bytes "$matrix" > "$tmp/matrix"
  mlen=$(wc -c < "$tmp/matrix")
  soff=$(( (128 + mlen + 63) / 64 * 64 ))
  if [ "$dtype" = 1 ]; then bytes "$scales" > "$tmp/scales"; else : > "$tmp/scales"; fi
  slen=$(wc -c < "$tmp/scales")
  tab=$(( (soff + slen + 7) / 8 * 8 ))
  strs=$(( tab + 8 * (count + 1) ))
  : > "$tmp/strings"
  pos=0
  { le64 0
    for s in "$@"; do
      printf '%s\000' "$s" >> "$tmp/strings"
      pos=$(wc -c < "$tmp/strings")
      le64 "$pos"
    done; } > "$tmp/offsets"
  model_off=$(( strs + pos ))
  model_len=$(( $(printf '%s' "$model" | wc -c) + 1 ))
  size=$(( model_off + model_len ))
  [ "$dtype" = 1 ] || soff=0
  { cat "$tmp/matrix"; zeros $(( ${soff:-0} > 0 ? soff - 128 - mlen : 0 )); cat "$tmp/scales"
    if [ "$dtype" = 1 ]; then zeros $(( tab - soff - slen )); else zeros $(( tab - 128 - mlen )); fi
    cat "$tmp/offsets" "$tmp/strings"; printf '%s\000' "$model"; } > "$tmp/body"
  { printf 'MMCIDX1\000'; le32 1; le32 "$dtype"; le32 "$dim"; le32 128; le64 "$count"; le64 "$size"
    le64 128; le64 "$soff"; le64 "$tab"; le64 "$strs"; le64 "$pos"; le64 "$model_off"; le64 "$model_len"
    le32 "$(crc32 "$tmp/body")"; zeros 24; } > "$tmp/head"
  { cat "$tmp/head"; le32 "$(crc32 "$tmp/head")"; cat "$tmp/body"; } > "$f"
  rm -r "$tmp"
}

seeds_index() {
  d=$OUT/index
  mkdir -p "$d"
  # float32, dim 4: e0, e1, (0.6, 0.8, 0, 0); ASCII, Chinese and empty item strings
  idx "$d/f32.idx" 0 4 3 \
    '\000\000\200\077\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\200\077\000\000\000\000\000\000\000\000\232\231\031\077\315\314\114\077\000\000\000\000\000\000\000\000' \
    '' 'clip-vit-b32' 'a.png' "$(printf '\345\233\276/\347\214\253.jpg')" ''
  # int8, dim 3: rows (127, 0, 0) and (90, -90, 0), scales 1/127 and 1/(90 sqrt 2)
  idx "$d/i8.idx" 1 3 2 '\177\000\000\132\246\000' '\004\002\001\074\305\330\000\074' \
    "$(printf 'model \344\270\255\346\226\207')" 'id-1' 'id-2'
  # no items at all; and one item of dim 1
  idx "$d/empty.idx" 0 8 0 '' '' ''
  idx "$d/one.idx" 0 1 1 '\000\000\200\277' '' 'm' 'only'
  return 0
}

# One line per target that has seeds.
seeds_safetensors
seeds_index

echo "make_corpus: seeds in $OUT"
