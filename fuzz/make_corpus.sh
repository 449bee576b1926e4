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

# One line per target that has seeds.
seeds_safetensors

echo "make_corpus: seeds in $OUT"
