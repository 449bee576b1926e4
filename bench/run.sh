#!/bin/sh
# run.sh — mmc beside PyTorch on the same workloads and thread count (`make bench`).
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
row() {
  $PY -c '
import json, sys
w, ours, theirs = sys.argv[1], sys.argv[2], sys.argv[3]
o = json.loads(ours)["rate"] if ours else None
t = json.loads(theirs)["rate"] if theirs else None
f = lambda v: "%.1f" % v if v is not None else "-"
r = "%.2f" % (o / t) if o is not None and t else "-"
print("| %-13s | %12s | %14s | %13s |" % (w, f(o), f(t), r))
' "$@"
}

echo "threads: $THREADS   (rates in GFLOP/s)"
echo "| workload      |          mmc |        PyTorch | mmc / PyTorch |"
echo "| ------------- | ------------ | -------------- | ------------- |"
status=0
for w in gemm-1024 gemm-2048 conv2d-train; do
  ours=$("$MMC" bench "$w" --threads "$THREADS" $EXTRA --json) || { status=1; ours=""; }
  theirs=""
  if [ "$HAVE_TORCH" = 1 ]; then
    theirs=$($PY "$HERE/torch/ops.py" "$w" --threads "$THREADS" $EXTRA --json) || { status=1; theirs=""; }
  fi
  row "$w" "$ours" "$theirs"
done
exit $status
