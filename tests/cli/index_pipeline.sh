#!/bin/sh
# index_pipeline.sh MMC WORK — `mmc index build` decodes the next batch of images on a
# second thread while the model embeds the current one (src/cli/index.c, "the image
# pipeline"). The index it writes must be the sequential code's to the byte
# (MMC_INDEX_OVERLAP=0 runs that code): for a tiny retrieval run trained here and, when
# ../shared is here, the shared CLIP fixture; over a folder of PNGs and JPEGs of several
# sizes (JPEGs only when ffmpeg is installed) and a manifest split; with batches that
# divide the images and batches that do not. A hostile file anywhere (first, middle, last
# batch) exits 2 naming it, with the same stdout and stderr as the sequential code, and
# writes nothing. The closing rate line is on stderr. Seconds, even under ASan.
set -eu
MMC=$1
W=$2/index-pipeline
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CLIP=$SRC/../shared/fixtures/hf/clip
rm -rf "$W"
mkdir -p "$W/imgs"
fail() { echo "index_pipeline: FAIL: $*" >&2; exit 1; }
export MMC_THREADS=2

# ---------------------------------------------------------------- images and a tiny model
"$MMC" data shapes --out "$W/d" --train 32 --val 4 --test 24 --size 32 >"$W/data.txt" 2>&1 ||
  fail "data shapes: $(tail -3 "$W/data.txt")"
cp "$W"/d/images/test-*.png "$W/imgs/"
jpegs=0
if command -v ffmpeg >/dev/null 2>&1; then
  # 16 JPEGs (4:2:0, as cameras write them) at 80x60, which the models resize (to 32x32 for
  # the run, shortest edge 32 for CLIP), and 4 gray PNGs at 45x50, from the training images
  ffmpeg -v error -i "$W/d/images/train-%06d.png" -frames:v 16 -vf scale=80:60 -pix_fmt yuvj420p -q:v 3 \
    "$W/imgs/photo-%02d.jpg" &&
    ffmpeg -v error -start_number 16 -i "$W/d/images/train-%06d.png" -frames:v 4 -vf scale=45:50 -pix_fmt gray \
      "$W/imgs/gray-%02d.png" || fail "ffmpeg could not write the JPEGs and gray PNGs"
  jpegs=$(ls "$W"/imgs/*.jpg | wc -l)
  [ "$jpegs" = 16 ] && [ "$(ls "$W"/imgs/gray-*.png | wc -l)" = 4 ] || fail "ffmpeg wrote $jpegs JPEGs, want 16 (and 4 gray PNGs)"
else
  echo "index_pipeline: ffmpeg is not installed: PNGs only"
fi
N=$(($(ls "$W/imgs" | wc -l)))
cat >"$W/tiny.json" <<'EOF'
{"image_size": 32, "cnn_widths": [8, 16], "embed_dim": 32, "word_dim": 16, "text_hidden": 32, "batch_size": 16}
EOF
"$MMC" train retrieval --data "$W/d" --out "$W/run" --config "$W/tiny.json" --steps 2 --threads 2 >"$W/train.txt" 2>&1 ||
  fail "train retrieval: $(tail -3 "$W/train.txt")"
models="$W/run"
if [ -f "$CLIP/config.json" ]; then models="$models $CLIP"; else echo "index_pipeline: $CLIP absent (../shared is not here): the run only"; fi

# build NAME OVERLAP ARGS...: mmc index build with MMC_INDEX_OVERLAP=OVERLAP into
# $W/NAME.idx, its stdout and stderr in $W/NAME.out and $W/NAME.err, the exit code in rc
build() {
  b_name=$1 b_ov=$2
  shift 2
  rc=0
  MMC_INDEX_OVERLAP=$b_ov "$MMC" index build "$@" --out "$W/$b_name.idx" >"$W/$b_name.out" 2>"$W/$b_name.err" || rc=$?
}

# ---------------------------------------------------------------- the same bytes
m=0
for model in $models; do
  m=$((m + 1))
  for batch in 8 7 64; do # 8 divides 48, 7 does not; 64 is one batch
    for ov in 0 1; do
      build "m$m-b$batch-$ov" $ov --model "$model" --images "$W/imgs" --batch $batch
      [ "$rc" = 0 ] || fail "$model --batch $batch, MMC_INDEX_OVERLAP=$ov: rc $rc: $(cat "$W/m$m-b$batch-$ov.err")"
      grep -q "^wrote .*: $N images" "$W/m$m-b$batch-$ov.out" || fail "no summary: $(cat "$W/m$m-b$batch-$ov.out")"
    done
    cmp "$W/m$m-b$batch-0.idx" "$W/m$m-b$batch-1.idx" ||
      fail "$model --batch $batch: the overlapped index differs from the sequential one"
    grep -Eq "^indexed $N images in [0-9.]+ s: [0-9.]+ images/s \(decoding overlapped with the forward pass" "$W/m$m-b$batch-1.err" ||
      fail "the rate line (overlapped): $(cat "$W/m$m-b$batch-1.err")"
    grep -Eq "^indexed $N images in [0-9.]+ s: [0-9.]+ images/s \(decoding not overlapped: MMC_INDEX_OVERLAP=0\)$" \
      "$W/m$m-b$batch-0.err" || fail "the rate line (sequential): $(cat "$W/m$m-b$batch-0.err")"
  done
  # MMC_INDEX_OVERLAP unset is the pipeline too; a manifest split goes through it as well
  rc=0
  "$MMC" index build --model "$model" --images "$W/imgs" --batch 8 --out "$W/m$m-default.idx" >/dev/null 2>"$W/m$m-default.err" || rc=$?
  [ "$rc" = 0 ] && grep -q "(decoding overlapped" "$W/m$m-default.err" || fail "without MMC_INDEX_OVERLAP: rc $rc $(cat "$W/m$m-default.err")"
  cmp "$W/m$m-default.idx" "$W/m$m-b8-0.idx" || fail "$model: the default index differs from the sequential one"
  for ov in 0 1; do
    build "m$m-data-$ov" $ov --model "$model" --data "$W/d" --split train --batch 5 --int8
    [ "$rc" = 0 ] || fail "$model --data, MMC_INDEX_OVERLAP=$ov: rc $rc $(cat "$W/m$m-data-$ov.err")"
  done
  cmp "$W/m$m-data-0.idx" "$W/m$m-data-1.idx" || fail "$model --data --int8: the overlapped index differs"
done

# ---------------------------------------------------------------- hostile files
# A copy of the folder with one or two broken files, sorted into the first, a middle or
# the last batch of 8; each must fail as the sequential code fails.
good=$W/d/images/test-000001.png
bad_case() { # bad_case NAME FILE... (FILE: NAME-IN-FOLDER:KIND), then the check
  name=$1
  shift
  rm -rf "$W/$name"
  cp -r "$W/imgs" "$W/$name"
  first=
  for f in "$@"; do
    file=${f%%:*} kind=${f#*:}
    case $kind in
      trunc) head -c 200 "$good" >"$W/$name/$file" ;;
      empty) : >"$W/$name/$file" ;;
      huge) printf 'P6\n100000 100000\n255\n' >"$W/$name/$file" ;;
      text) echo "not an image" >"$W/$name/$file" ;;
    esac
    [ -n "$first" ] || first=$file
  done
  for model in $models; do
    for ov in 0 1; do
      build "$name-$ov" $ov --model "$model" --images "$W/$name" --batch 8
      [ "$rc" = 2 ] || fail "$name, MMC_INDEX_OVERLAP=$ov: rc $rc (want 2): $(cat "$W/$name-$ov.err")"
    done
    grep -q "^mmc: error: .*/$name/$first" "$W/$name-1.err" || fail "$name: $first is not named: $(cat "$W/$name-1.err")"
    cmp "$W/$name-0.err" "$W/$name-1.err" || fail "$name: stderr differs from the sequential code's"
    cmp "$W/$name-0.out" "$W/$name-1.out" || fail "$name: stdout differs from the sequential code's"
    [ ! -e "$W/$name-0.idx" ] && [ ! -e "$W/$name-1.idx" ] || fail "$name: a failed build left an index behind"
    if ls "$W" | grep -q "^$name-[01]\.idx"; then fail "$name: a temporary index was left behind: $(ls "$W")"; fi
  done
}
bad_case bad-first "000-cut.png:trunc"
bad_case bad-middle "photo-05x.jpg:empty"
bad_case bad-last "zzz.ppm:huge"
bad_case bad-two "test-000010x.png:text" "zz-cut.png:trunc"
N2=$(($(ls "$W/bad-two" | wc -l)))
[ "$N2" = $((N + 2)) ] || fail "bad-two holds $N2 files"

# ---------------------------------------------------------------- the switch
rc=0
MMC_INDEX_OVERLAP=yes "$MMC" index build --model "$W/run" --images "$W/imgs" --out "$W/x.idx" >/dev/null 2>"$W/x.err" || rc=$?
[ "$rc" = 1 ] && grep -q "MMC_INDEX_OVERLAP must be 0 or 1" "$W/x.err" || fail "MMC_INDEX_OVERLAP=yes: rc $rc $(cat "$W/x.err")"
echo "index_pipeline: ok: $N images ($jpegs JPEGs), $(echo $models | wc -w) model(s): overlapped indexes equal the sequential ones byte for byte; hostile files fail alike"
