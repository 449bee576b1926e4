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

# crc32 FILE — zlib's CRC-32 of a file, bit by bit (seeds are a few hundred bytes).
# Each step is c = (c >> 1) ^ (0xEDB88320 & -(c & 1)), eight per byte.
crc32() {
  c=4294967295
  for b in $(od -An -v -tu1 "$1"); do
    c=$(( c ^ b ))
    c=$(( (c >> 1) ^ (3988292384 & -(c & 1)) )); c=$(( (c >> 1) ^ (3988292384 & -(c & 1)) ))
    c=$(( (c >> 1) ^ (3988292384 & -(c & 1)) )); c=$(( (c >> 1) ^ (3988292384 & -(c & 1)) ))
    c=$(( (c >> 1) ^ (3988292384 & -(c & 1)) )); c=$(( (c >> 1) ^ (3988292384 & -(c & 1)) ))
    c=$(( (c >> 1) ^ (3988292384 & -(c & 1)) )); c=$(( (c >> 1) ^ (3988292384 & -(c & 1)) ))
  done
  echo $(( c ^ 4294967295 ))
}

# idx FILE DTYPE DIM COUNT MATRIX SCALES MODEL STRING... — an index file (docs/formats.md,
# "Embedding index"): MATRIX and SCALES are printf escapes of the raw section bytes
# (SCALES empty for float32), then the model id and COUNT item strings. The item kind
# (header offset 100) is $IDX_KIND, 0 (media paths) when unset.
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
    le32 "$(crc32 "$tmp/body")"; le32 "${IDX_KIND:-0}"; zeros 20; } > "$tmp/head"
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
  # texts (kind 1), and texts with ids (kind 2: ID<tab>TEXT, the text may hold a tab)
  IDX_KIND=1
  idx "$d/texts.idx" 0 1 2 '\000\000\200\077\000\000\200\277' '' 'm' 'a red circle' "$(printf '\344\270\200\tx')"
  IDX_KIND=2
  idx "$d/ids.idx" 0 1 2 '\000\000\200\077\000\000\200\277' '' 'm' "$(printf 'a1\tred circle')" "$(printf 'b2\tx\ty')"
  IDX_KIND=
}

# committed NAME — copies the committed seed files fuzz/seeds/NAME/* (binary seeds that
# printf cannot reasonably write: PNG/JPEG made by tools/gen_fuzz_image_seeds.c and by
# `mmc data shapes`, a shapes manifest) into OUT/NAME/.
committed() {
  mkdir -p "$OUT/$1"
  for f in "$SRC/fuzz/seeds/$1"/*; do
    [ -f "$f" ] && cp "$f" "$OUT/$1/"
  done
  return 0
}

seeds_image() {
  d=$OUT/image
  committed image
  # PPM/PGM, every magic; the last byte also steers the target (gray/RGB, filter, size)
  { printf 'P6\n3 2\n255\n'; bytes '\377\000\000\000\377\000\000\000\377\200\200\200\000\000\000\377\377\377'; } > "$d/p6_3x2.ppm"
  { printf 'P5\n# a comment\n4 3\n255\n'; bytes '\000\020\040\060\100\120\140\160\200\220\240\260'; } > "$d/p5_4x3.pgm"
  printf 'P3\n# ascii rgb\n2 2\n15\n15 0 0  0 15 0\n0 0 15  7 7 7\n' > "$d/p3_2x2_maxval15.ppm"
  printf 'P2 3 1 1 0 1 1\n' > "$d/p2_3x1_maxval1.pgm"
  { printf 'P5\n2 2\n65535\n'; bytes '\000\000\001\000\200\000\377\377'; } > "$d/p5_16bit_2x2.pgm"
  { printf 'P6 1 2 1000 '; bytes '\003\350\000\000\001\364\000\001\000\002\000\003'; } > "$d/p6_16bit_1x2.ppm"
  { printf 'P6\n5 1\n255\n'; bytes '\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017'; } > "$d/p6_5x1.ppm"
  return 0
}

seeds_manifest() {
  d=$OUT/manifest
  committed manifest
  printf '{"id":"a","image":"a.png"}\n' > "$d/minimal.jsonl"
  printf '{"id": "s1", "image": "images/s1.png", "captions": ["a red circle", "a circle"], "captions_zh": ["\344\270\200\344\270\252\347\272\242\350\211\262\347\232\204\345\234\206"], "qa": [{"question": "what colour is the circle?", "answer": "red", "type": "colour"}, {"question": "is there a square?", "answer": "no"}], "label": "circle"}\r\n\r\n{"id": "s2", "image": "./x/y..png", "label": 3, "extra": {"ignored": [1, 2, null]}}\n  \t\n{"id":"s3","image":"s3.jpg","label":null,"captions":[]}\n' > "$d/fields_crlf_blank.jsonl"
  printf '{"id":"\\u00e9\\ud83d\\ude00","image":"a\\/b.png","label":-1.5e300,"qa":[]}\n{"id":"n","image":"n.png","label":12345678901234567890}' > "$d/escapes_numbers_no_newline.jsonl"
  return 0
}

# The small hand-worked BPE of tests/test_tokenizer.c (vocab.json NUL merges.txt).
clip_vocab='{"<|startoftext|>": 0, "<|endoftext|>": 1, "l": 2, "o": 3, "w": 4, "e": 5, "r": 6, "w</w>": 7, "r</w>": 8, "lo": 9, "low</w>": 10, "er</w>": 11, "low": 12, "!</w>": 13, "o</w>": 14, "e</w>": 15, "l</w>": 16}'
clip_merges='#version: 0.2\nl o\nlo w</w>\ne r</w>\nlo w\n'

seeds_tokenizer_clip() {
  d=$OUT/tokenizer_clip
  mkdir -p "$d"
  { printf '%s' "$clip_vocab"; bytes '\000'; printf "$clip_merges"; } > "$d/small.bin"
  # no #version line, CRLF, a non-ASCII token (GPT-2 byte symbols: "\304\240" is U+0120 = space)
  { printf '{"<|startoftext|>":0,"<|endoftext|>":1,"c":2,"a":3,"f":4,"\303\251</w>":5,"ca":6,"caf":7,"caf\303\251</w>":8,"\304\240":9}'; bytes '\000'; printf 'c a\r\nca f\r\ncaf \303\251</w>\r\n'; } > "$d/crlf_utf8.bin"
  return 0
}

seeds_tokenizer_json() {
  d=$OUT/tokenizer_json
  mkdir -p "$d"
  printf '{"version":"1.0","added_tokens":[{"id":0,"content":"<|startoftext|>","special":true},{"id":1,"content":"<|endoftext|>","special":true}],"normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Lowercase"}]},"model":{"type":"BPE","dropout":null,"unk_token":"<|endoftext|>","continuing_subword_prefix":"","end_of_word_suffix":"</w>","fuse_unk":false,"vocab":%s,"merges":["l o","lo w</w>",["e","r</w>"],["lo","w"]]}}' "$clip_vocab" > "$d/small_bpe.json"
  printf '{"model":{"type":"BPE","end_of_word_suffix":"</w>","vocab":{"<|startoftext|>":0,"<|endoftext|>":1,"a":2,"b</w>":3,"ab</w>":4},"merges":[["a","b</w>"]]},"added_tokens":null}' > "$d/minimal.json"
  return 0
}

seeds_tokenizer_wordpiece() {
  d=$OUT/tokenizer_wordpiece
  mkdir -p "$d"
  wp='[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##aff\n##able\nrun\n##ning\n!\n\344\270\255\n\346\226\207\ncafe\n,\na\n'
  printf "$wp" > "$d/small_vocab.txt"
  printf '[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s\r\n\316\261' > "$d/crlf_no_final_newline.txt"
  { printf "$wp"; bytes '\000'; printf '{"do_lower_case": false, "strip_accents": null, "tokenize_chinese_chars": false, "model_max_length": 512}'; } > "$d/with_config.bin"
  { printf "$wp"; bytes '\000'; printf '{"do_lower_case": true, "strip_accents": true}'; } > "$d/with_config_strip.bin"
  return 0
}

seeds_tokenizer_vocab() {
  d=$OUT/tokenizer_vocab
  mkdir -p "$d"
  printf '{"kind": "word", "tokens": ["<pad>", "<unk>", "<start>", "<end>", "a", "red", "circle", ",", "!"]}' > "$d/word.json"
  printf '{"kind":"char","tokens":["<pad>","<unk>","<start>","<end>","\347\272\242","\350\211\262","\347\232\204","car","3","\\u5706"]}' > "$d/char.json"
  return 0
}

seeds_trainer_json() {
  d=$OUT/trainer_json
  mkdir -p "$d"
  # what mmc_run_save writes (cJSON_Print, tabs)
  printf '{\n\t"mmc_version":\t"0.1.0",\n\t"step":\t120,\n\t"epoch":\t3,\n\t"batch_in_epoch":\t7,\n\t"schedule_step":\t120,\n\t"rng":\t{\n\t\t"state":\t"12297829382473034410",\n\t\t"inc":\t"18446744073709551615"\n\t},\n\t"best_metric":\t0.8125,\n\t"best_metric_name":\t"val_r1"\n}' > "$d/trainer.json"
  printf '{"mmc_version":"x","step":0,"epoch":0,"batch_in_epoch":0,"schedule_step":0,"rng":{"state":"0","inc":"1"},"best_metric":null,"best_metric_name":""}' > "$d/fresh.json"
  printf '{"mmc_version":"x","step":1000000000000,"epoch":1e3,"batch_in_epoch":0.0,"schedule_step":5,"rng":{"state":"00000000000000000001","inc":"3"},"best_metric":-1.7976931348623157e308,"best_metric_name":"\\u00e9\\t"}' > "$d/limits.json"
  return 0
}

seeds_model_config() {
  d=$OUT/model_config
  mkdir -p "$d"
  # a retrieval config (the keys `mmc train retrieval --config` takes) and the shared
  # Hugging Face CLIP / Chinese-CLIP config.json files when ../shared is here
  printf '{"image_encoder": "cnn", "cnn_widths": [8, 16], "text_encoder": "gru", "embed_dim": 32, "loss": "infonce", "lr": 0.002, "lang": "zh"}' > "$d/retrieval.json"
  printf '{"image_encoder": "vit", "vit_patch": 8, "text_encoder": "transformer", "loss": "triplet_hardest", "margin": 0.2}' > "$d/retrieval_vit.json"
  # caption and VQA configs (the keys of `mmc train caption|vqa --config`)
  printf '{"task": "caption", "decoder": "attention", "hidden": 32, "cnn_widths": [8, 16], "lang": "zh", "label_smoothing": 0.1, "train_captions": "first"}' > "$d/caption.json"
  printf '{"task": "vqa", "fusion": "hybrid", "film_from": 1, "cnn_widths": [8, 16], "combine": "bilinear", "glimpses": 2, "warmup": 0.05}' > "$d/vqa.json"
  for f in "$SRC/../shared/fixtures/hf/clip/config.json" "$SRC/../shared/fixtures/hf/chinese-clip/config.json"; do
    [ -f "$f" ] && cp "$f" "$d/$(basename "$(dirname "$f")")-config.json"
  done
  printf '{"model_type": "clip", "projection_dim": 8, "text_config": {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "vocab_size": 10, "max_position_embeddings": 4, "hidden_act": "quick_gelu"}, "vision_config": {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "image_size": 8, "patch_size": 4}}' > "$d/tiny-clip.json"
  return 0
}

seeds_tokenize_text() {
  d=$OUT/tokenize_text
  mkdir -p "$d"
  printf 'a photo of a cat' > "$d/english.txt"
  printf 'Hello, World! It'"'"'s 3 o'"'"'clock... LOWER lowest <|endoftext|>x<|startoftext|> [CLS] [MASK] unaffable running!! [SEP]' > "$d/specials.txt"
  printf '\344\270\200\344\270\252\347\272\242\350\211\262\347\232\204\345\234\206 \344\270\255\346\226\207 caf\303\251 cafe\314\201 na\303\257ve \316\243\316\243 \304\260 \352\260\200\341\204\200\341\205\241 \360\237\230\200' > "$d/unicode.txt"
  printf 'tabs\tnewlines\nnbsp\302\240ideographic\343\200\200space\342\200\250line sep \357\277\275 \001 \033 end' > "$d/whitespace_controls.txt"
  bytes 'nul\000in\000text' > "$d/nul.txt"
  bytes 'overlong \300\257 surrogate \355\240\200 past \364\220\200\200 truncated \342\202' > "$d/invalid_utf8.txt"
  bytes '\200 stray continuation' > "$d/invalid_start.txt"
  return 0
}

# be32 N — N as 4 big-endian bytes (IDX dims).
be32() {
  printf "\\$(printf %03o $(( ($1 >> 24) & 255 )))\\$(printf %03o $(( ($1 >> 16) & 255 )))"
  printf "\\$(printf %03o $(( ($1 >> 8) & 255 )))\\$(printf %03o $(( $1 & 255 )))"
}

# fill N BYTE — N copies of one byte given as a 3-digit octal escape (e.g. 200).
fill() { [ "$1" -gt 0 ] && head -c "$1" /dev/zero | tr '\000' "\\$2"; return 0; }

# idx_images N — an IDX3 file of N 28x28 images; idx_labels L... — an IDX1 file of labels.
idx_images() { bytes '\000\000\010\003'; be32 "$1"; be32 28; be32 28; fill $(( $1 * 784 / 2 )) 000; fill $(( $1 * 784 - $1 * 784 / 2 )) 377; }
idx_labels() { bytes '\000\000\010\001'; be32 $#; for l in "$@"; do printf "\\$(printf %03o "$l")"; done; }

seeds_idx() {
  d=$OUT/idx
  mkdir -p "$d"
  # one file each: the target reads the whole input as one IDX, then cuts it at --next--
  idx_images 1 > "$d/images_1.idx"
  idx_labels 0 9 3 > "$d/labels_3.idx"
  { bytes '\000\000\010\004'; be32 1; be32 2; be32 1; be32 3; bytes '\001\002\003\004\005\006'; } > "$d/four_dims.idx"
  { bytes '\000\000\010\001'; be32 1; bytes '\007'; } > "$d/one_byte.idx"
  # the four Fashion-MNIST files: 3 train images + labels, 2 test images + labels
  { idx_images 3; printf -- '--next--'; idx_labels 0 9 4; printf -- '--next--'; idx_images 2
    printf -- '--next--'; idx_labels 1 8; } > "$d/fashion_plain.bin"
  # the same, each file gzip-compressed as Debian ships them (zlib reads both)
  if command -v gzip >/dev/null 2>&1; then
    idx_images 1 | gzip -n -c > "$d/images_1.idx.gz"
    { idx_images 3 | gzip -n -c; printf -- '--next--'; idx_labels 5 6 7 | gzip -n -c; printf -- '--next--'
      idx_images 1 | gzip -n -c; printf -- '--next--'; idx_labels 2 | gzip -n -c; } > "$d/fashion_gzip.bin"
  fi
  return 0
}

seeds_karpathy() {
  d=$OUT/karpathy
  mkdir -p "$d"
  # COCO: filepath + filename, restval, a missing image, UTF-8 and whitespace in raw
  printf '{"images": [{"filepath": "val2014", "filename": "a.jpg", "split": "restval", "sentences": [{"raw": "A man rides a horse. \\n", "tokens": ["a", "man"]}, {"raw": "\344\270\200\344\270\252\344\272\272"}], "cocoid": 1, "imgid": 0, "sentids": [0, 1]}, {"filepath": "val2014", "filename": "b.jpg", "split": "val", "sentences": [{"raw": "Two dogs."}]}, {"filepath": "train2014", "filename": "c.jpg", "split": "train", "sentences": [{"raw": "A red bus."}, {"raw": "A red bus."}]}, {"filepath": "val2014", "filename": "missing.jpg", "split": "test", "sentences": [{"raw": "Gone."}]}], "dataset": "coco"}' > "$d/coco.json"
  # Flickr: no filepath (or null), images at the top of the folder
  printf '{"images": [{"filename": "d.jpg", "split": "test", "sentences": [{"raw": "A dog runs."}]}, {"filepath": null, "filename": "dir.jpg", "split": "train", "sentences": []}, {"filepath": "", "filename": "a.jpg", "split": "val", "sentences": [{"raw": " "}]}], "dataset": "flickr8k"}' > "$d/flickr.json"
  # one image in two splits (refused), and a minimal one
  printf '{"images": [{"filename": "d.jpg", "split": "train", "sentences": []}, {"filename": "d.jpg", "split": "test", "sentences": []}]}' > "$d/two_splits.json"
  printf '{"images":[{"filename":"d.jpg","split":"train","sentences":[{"raw":"x"}]}]}' > "$d/minimal.json"
  return 0
}

seeds_emoji() {
  d=$OUT/emoji
  mkdir -p "$d"
  en='[{"label": "grinning face", "hexcode": "1F600", "tags": ["face", "grin"], "group": 0}, {"label": "red heart", "hexcode": "2764", "tags": ["heart"]}, {"label": "thumbs up", "hexcode": "1F44D-1F3FB"}]'
  zh='[{"label": "\345\230\277\345\230\277", "hexcode": "1f600", "tags": ["\347\254\221\350\204\270", "\345\230\277\345\230\277"]}]'
  google='[{"name": "GRINNING FACE", "unified": "1F600", "image": "1f600.png", "category": "Smileys & Emotion", "short_names": ["grinning"], "has_img_google": true, "has_img_twitter": true}, {"name": "THUMBS UP SIGN", "unified": "1F44D", "image": "1f44d.png", "category": "People & Body", "short_names": ["+1", "thumbs_up"]}, {"name": null, "unified": "1F680", "image": "1f680.png", "category": "Travel & Places", "has_img_google": false}, {"name": "ROCKET", "unified": "1F680-FE0F", "image": "1f680-fe0f.png", "category": "Travel & Places"}]'
  twitter='[{"name": "GRINNING FACE", "unified": "1F600", "image": "1f600.png", "category": "Smileys & Emotion", "short_names": ["grinning"]}]'
  { printf '%s' "$en"; bytes '\000'; printf "$zh"; bytes '\000'; printf '%s' "$google"; bytes '\000'; printf '%s' "$twitter"; } > "$d/packages.bin"
  # the images that are not PNGs, are folders, or lead outside the package
  bad='[{"unified": "2764-FE0F", "image": "2764.png", "category": "x"}, {"unified": "1F601", "image": "1f601.png", "category": "x"}, {"unified": "1F4A9", "image": "1f4a9.png", "category": "x"}]'
  { printf '%s' "$en"; bytes '\000'; printf '[]'; bytes '\000'; printf '%s' "$bad"; bytes '\000'; printf '[]'; } > "$d/bad_images.bin"
  { printf '[]'; bytes '\000'; printf '[]'; bytes '\000'; printf '%s' "$twitter"; bytes '\000'; printf '%s' "$twitter"; } > "$d/no_names.bin"
  return 0
}

# One line per target that has seeds.
# Tiny clips made with the ffmpeg tool (8x8 or 7x5, 2-3 frames): FFV1/MKV, H.264/MP4 (one with
# rotation metadata), VP9/WebM, MPEG-4 and MJPEG/AVI, FFV1 + PCM audio in one MKV.
seeds_video() {
  d=$OUT/video
  committed video
  return 0
}

# Tiny sound files made with the sox tool (a few ms): WAV 16-bit, unsigned 8-bit stereo and
# float, FLAC, AIFF stereo, Ogg Vorbis.
seeds_audio() {
  d=$OUT/audio
  committed audio
  return 0
}

seeds_safetensors
# fuzz_qweight: byte 0 type (even q8, odd q4), bytes 1-3 sizes (out-1, in-1, rows-1), then
# the stored values, the scales (little-endian float32) and X's floats.
seeds_qweight() {
  d=$OUT/qweight
  mkdir -p "$d"
  # q8 2x3, values 1 -2 3 / 127 0 -127, scales 0.5 and 0.25; X 2 rows of 1, -1, 2
  bytes '\000\001\002\001\001\376\003\177\000\201' > "$d/q8.bin"
  bytes '\000\000\000\077\000\000\200\076' >> "$d/q8.bin"
  bytes '\000\000\200\077\000\000\200\277\000\000\000\100\000\000\200\077\000\000\200\277\000\000\000\100' >> "$d/q8.bin"
  # q4 1x3 (bytes 0x9a 0x07: 2, 1, -1), scale 1; X 1 row 0.5, NaN, -inf
  bytes '\001\000\002\000\232\007\000\000\200\077\000\000\000\077\000\000\300\177\000\000\200\377' > "$d/q4_nan.bin"
  # q8 with -128 (refused)
  bytes '\000\000\001\000\200\005\000\000\200\077' > "$d/q8_minus128.bin"
  # q8 3x70 (in > 64: two weight blocks), zeros but one value and a row of X, to be mutated
  { bytes '\000\002\105\002\012'; head -c 300 /dev/zero; } > "$d/q8_wide.bin"
}

seeds_index
seeds_image
seeds_manifest
seeds_tokenizer_clip
seeds_tokenizer_json
seeds_tokenizer_wordpiece
seeds_tokenizer_vocab
seeds_trainer_json
seeds_model_config
seeds_tokenize_text
seeds_idx
seeds_karpathy
seeds_emoji
seeds_video
seeds_audio
seeds_qweight

echo "make_corpus: seeds in $OUT"
