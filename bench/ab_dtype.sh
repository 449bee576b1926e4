#!/bin/sh
# ab_dtype.sh — rounds of mmc float32, mmc int8 and PyTorch float32 on one CLIP workload,
# back to back, so each round's ratios share a moment of the (shared, noisy) machine; and
# the int8 GEMM limit (gemm-2048 --dtype int8) after each round. docs/performance.md
# ("int8 inference") reports the medians of the per-round ratios.
# Usage: sh bench/ab_dtype.sh MMC_BINARY [clip-vit-b32-image|clip-text-b32] [ROUNDS]
# PyTorch runs with OMP_WAIT_POLICY=passive, its fastest setting on this machine.
set -eu
M=${1:?usage: sh bench/ab_dtype.sh MMC_BINARY [WORKLOAD] [ROUNDS]}
W=${2:-clip-vit-b32-image}
R=${3:-5}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
S=clip_vit.py
[ "$W" = clip-text-b32 ] && S=clip_text.py
rate() { $PY -c 'import json,sys; print(json.load(sys.stdin)["rate"])'; }
i=0
out=""
while [ "$i" -lt "$R" ]; do
  a=$("$M" bench "$W" --threads 2 --json | rate)
  b=$("$M" bench "$W" --threads 2 --dtype int8 --json | rate)
  c=$(OMP_WAIT_POLICY=passive $PY "$HERE/torch/$S" "$W" --threads 2 --json | rate)
  g=$("$M" bench gemm-2048 --threads 2 --dtype int8 --json | rate)
  echo "$W round $i: f32 $a int8 $b torch $c int8-gemm $g load $(cut -d' ' -f1 /proc/loadavg)"
  out="$out$a $b $c
"
  i=$((i + 1))
done
printf '%s' "$out" | $PY -c '
import statistics as st, sys
r = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
q = [b / a for a, b, c in r]; t = [b / c for a, b, c in r]
print("median int8/f32 %.2f (%.2f-%.2f), int8/PyTorch %.2f (%.2f-%.2f)" % (st.median(q), min(q), max(q), st.median(t), min(t), max(t)))'
