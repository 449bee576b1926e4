#!/bin/sh
# run.sh — mmc beside PyTorch on the same workloads and thread count (`make bench`).
# (bench/torch/ops.py for the kernels, bench/torch/clip_vit.py for clip-vit-b32-image)
# Usage: sh bench/run.sh MMC_BINARY
#   THREADS=T   threads for both (default 2)
#   STEPS=N     timed steps for both (default: each workload's own)
# Installs Debian's python3-torch if /usr/bin/python3 cannot import torch; if that is
# impossible (offline), prints mmc's numbers alone.
set -eu

MMC=${1:?usage: sh bench/run.sh MMC_BINARY}
THREADS=${THREADS:-2}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
EXTRA=""
[ -n "${STEPS:-}" ] && EXTRA="--steps $STEPS"

if ! $PY -c 'import torch' 2>/dev/null; then
  sh "$HERE/../scripts/install-deps.sh" python3-torch || echo "bench: could not install python3-torch; PyTorch column left empty" >&2
fi
HAVE_TORCH=0
$PY -c 'import torch' 2>/dev/null && HAVE_TORCH=1

# Matrix products: mmc runs its own packed SGEMM on AVX2/AVX-512 CPUs (src/ops/gemm.c;
# MMC_GEMM=openblas switches back), PyTorch's matmul calls Debian's OpenBLAS. On CPUs that
# OpenBLAS 0.3.21 does not recognise (this VM's AVX-512 Xeon) it falls back to generic
# Prescott kernels; OPENBLAS_CORETYPE=SkylakeX make bench shows PyTorch with its AVX-512
# kernels instead. Nothing is forced here: both run as installed.
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset: OpenBLAS picks)}  MMC_GEMM=${MMC_GEMM:-(default: mmc on AVX2/AVX-512)}"

# Both sides print one JSON object per workload; a short Python formats the table.
# The rate column is in each row's unit (GFLOP/s for the kernels, images/s for CLIP, whose
# GFLOP/s, when both sides report one, goes in the last column as mmc / PyTorch).
row() {
  $PY -c '
import json, sys
w, ours, theirs = sys.argv[1], sys.argv[2], sys.argv[3]
o = json.loads(ours) if ours else {}
t = json.loads(theirs) if theirs else {}
f = lambda v: "%.1f" % v if v is not None else "-"
r = "%.2f" % (o["rate"] / t["rate"]) if o.get("rate") is not None and t.get("rate") else "-"
unit = o.get("unit") or t.get("unit") or "-"
g = "%s / %s" % (f(o.get("gflops")), f(t.get("gflops"))) if "gflops" in o or "gflops" in t else ""
print("| %-18s | %12s | %14s | %13s | %-8s | %21s |" % (w, f(o.get("rate")), f(t.get("rate")), r, unit, g))
' "$@"
}

echo "threads: $THREADS"
echo "| workload           |          mmc |        PyTorch | mmc / PyTorch | unit     | GFLOP/s mmc / PyTorch |"
echo "| ------------------ | ------------ | -------------- | ------------- | -------- | --------------------- |"
status=0
for w in gemm-1024 gemm-2048 conv2d-train clip-vit-b32-image; do
  ours=$("$MMC" bench "$w" --threads "$THREADS" $EXTRA --json) || { status=1; ours=""; }
  theirs=""
  if [ "$HAVE_TORCH" = 1 ]; then
    script=ops.py
    [ "$w" = clip-vit-b32-image ] && script=clip_vit.py
    theirs=$($PY "$HERE/torch/$script" "$w" --threads "$THREADS" $EXTRA --json) || { status=1; theirs=""; }
  fi
  row "$w" "$ours" "$theirs"
done

# Index search (bench/index_search.c, against the library next to MMC): one query over a
# 1,000,000 x 256 index, float32 and int8, best of 3 (the target: well under 100 ms).
LIB="$(dirname "$MMC")/libmmc.a"
if [ -f "$LIB" ] && command -v cc >/dev/null 2>&1; then
  IXB=$(mktemp /tmp/mmc-index-search.XXXXXX)
  if cc -O2 -I"$HERE/../include" "$HERE/index_search.c" "$LIB" -fopenmp -lm \
       $(pkg-config --libs openblas libcjson libpng libjpeg zlib) -o "$IXB"; then
    MMC_THREADS="$THREADS" "$IXB" "${INDEX_N:-1000000}" 256 1 10 || status=1
  else
    echo "bench: could not build bench/index_search.c" >&2; status=1
  fi
  rm -f "$IXB"
else
  echo "bench: $LIB or cc missing; index search skipped" >&2
fi
exit $status
