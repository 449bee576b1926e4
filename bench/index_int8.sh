#!/bin/sh
# index_int8.sh — `mmc index build` end to end with a CLIP ViT-B/32-sized model, float32
# against q8 (issue 22: images/s reported, q8 >= 1.5x the float32 pipeline).
#
# Usage: sh bench/index_int8.sh MMC_BINARY [WORK_DIR]   (make bench-index)
#   N=2000        photos (JPEG, 640x480, made here with ffmpeg's test sources: moving
#                 patterns and noise, so no two are alike and none compresses to nothing)
#   THREADS=2     threads for mmc
#   REPEAT=1      runs of each side, alternating float32 and q8; the best rate is kept
#
# The model is tools/make_clip_b32.py's random-weight CLIP ViT-B/32 folder (the real
# checkpoint cannot be downloaded here; speed and memory do not depend on the values), and
# its q8 copy is written by `mmc quantize`. Each build reads and decodes every JPEG, resizes
# and centre-crops it to 224 px, embeds it and writes the index; the figure is images over
# wall-clock seconds of the whole command, as a user would time it.
set -eu
MMC=${1:?usage: sh bench/index_int8.sh MMC_BINARY [WORK_DIR]}
WORK=${2:-$(dirname "$MMC")/bench-index}
N=${N:-2000}
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-1}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK"
command -v ffmpeg >/dev/null || sh "$HERE/../scripts/install-deps.sh" ffmpeg
$PY -c 'import numpy' 2>/dev/null || sh "$HERE/../scripts/install-deps.sh" python3-numpy

if [ "$(ls "$WORK/photos" 2>/dev/null | wc -l)" -ne "$N" ]; then
  rm -rf "$WORK/photos" && mkdir -p "$WORK/photos"
  # half testsrc2 (moving shapes and text), half mandelbrot zooms with noise: varied photos
  H=$((N / 2))
  ffmpeg -loglevel error -f lavfi -i "testsrc2=size=640x480:rate=25" -vf "noise=alls=20:allf=t" \
    -frames:v "$H" -q:v 3 "$WORK/photos/a%05d.jpg"
  ffmpeg -loglevel error -f lavfi -i "mandelbrot=size=640x480:rate=25" -vf "noise=alls=12:allf=t" \
    -frames:v "$((N - H))" -q:v 3 "$WORK/photos/b%05d.jpg"
fi
echo "photos: $(ls "$WORK/photos" | wc -l) JPEG files of 640x480 in $WORK/photos ($(du -sh "$WORK/photos" | cut -f1))"
[ -f "$WORK/clip-b32/model.safetensors" ] || $PY "$HERE/../tools/make_clip_b32.py" "$WORK/clip-b32"
[ -f "$WORK/clip-b32-q8/model.safetensors" ] || "$MMC" quantize "$WORK/clip-b32" --out "$WORK/clip-b32-q8" --type q8
echo "threads: $THREADS  load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

best_f32=0 best_q8=0 i=0
while [ "$i" -lt "$REPEAT" ]; do
  for side in f32 q8; do
    m="$WORK/clip-b32"
    [ "$side" = q8 ] && m="$WORK/clip-b32-q8"
    t0=$($PY -c 'import time; print(time.time())')
    MMC_THREADS=$THREADS /usr/bin/time -f "%M" -o "$WORK/rss-$side" \
      "$MMC" index build --model "$m" --images "$WORK/photos" --out "$WORK/photos-$side.idx" 2>"$WORK/log-$side"
    t1=$($PY -c 'import time; print(time.time())')
    rate=$($PY -c "print('%.2f' % ($N / ($t1 - $t0)))")
    echo "$side: $N images in $($PY -c "print('%.1f' % ($t1 - $t0))") s: $rate images/s end to end, peak RSS $(($(cat "$WORK/rss-$side") / 1024)) MB"
    tail -1 "$WORK/log-$side" | sed 's/^/  mmc: /'
    if [ "$side" = f32 ]; then best_f32=$($PY -c "print(max($best_f32, $rate))"); else best_q8=$($PY -c "print(max($best_q8, $rate))"); fi
  done
  i=$((i + 1))
done
echo "best of $REPEAT: float32 $best_f32 images/s, q8 $best_q8 images/s: q8 / float32 = $($PY -c "print('%.2f' % ($best_q8 / $best_f32))") (target >= 1.5)"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
