#!/bin/sh
# ab.sh — two mmc binaries side by side on the bench workloads, for "did this change cost
# speed?": each round runs every workload with both binaries back to back (the order
# alternating between rounds) and PyTorch's script once, then prints per workload the
# new/old rate of each round, their median, and the median mmc/PyTorch ratio of each binary.
# On a shared machine single rounds swing widely; compare medians over several rounds.
# Usage: sh bench/ab.sh OLD_MMC NEW_MMC [ROUNDS (default 5)] [WORKLOAD...]
#   THREADS=T  threads (default 2). Without PyTorch the ratio column is left out.
set -eu
OLD=${1:?usage: sh bench/ab.sh OLD_MMC NEW_MMC [ROUNDS] [WORKLOAD...]}
NEW=${2:?usage: sh bench/ab.sh OLD_MMC NEW_MMC [ROUNDS] [WORKLOAD...]}
R=${3:-5}
[ $# -ge 3 ] && shift 3 || shift $#
WORKLOADS=${*:-"retrieval-train caption-train conv2d-train clip-vit-b32-image"}
THREADS=${THREADS:-2}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
for r in $(seq 1 "$R"); do
  order="old new"
  [ $((r % 2)) = 0 ] && order="new old"
  for w in $WORKLOADS; do
    for side in $order; do
      b=$OLD
      [ "$side" = new ] && b=$NEW
      echo "$r $side $w $("$b" bench "$w" --threads "$THREADS" --json)" >>"$LOG"
    done
    case $w in
      clip-vit-b32-image) s=clip_vit.py ;; retrieval-train) s=retrieval_train.py ;;
      caption-train) s=caption_train.py ;; video-retrieval-train) s=video_retrieval.py ;;
      audio-retrieval-train) s=audio_retrieval.py ;; *) s=ops.py ;;
    esac
    t=$($PY "$HERE/torch/$s" "$w" --threads "$THREADS" --json 2>/dev/null | tail -1) || t=""
    [ -n "$t" ] && echo "$r torch $w $t" >>"$LOG"
    echo "ab: round $r of $R, $w done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  done
done
$PY - "$LOG" <<'PYEOF'
import json, sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    r, side, w, js = line.split(' ', 3)
    rows.setdefault(w, {}).setdefault(r, {})[side] = json.loads(js)['rate']
for w, rs in rows.items():
    d = [v for _, v in sorted(rs.items(), key=lambda kv: int(kv[0]))]
    nr = [x['new'] / x['old'] for x in d]
    line = "%-20s new/old %s  median %.3f" % (w, ' '.join('%.3f' % v for v in nr), st.median(nr))
    if all('torch' in x for x in d):
        line += "  mmc/PyTorch median: old %.2f, new %.2f" % (st.median([x['old'] / x['torch'] for x in d]),
                                                             st.median([x['new'] / x['torch'] for x in d]))
    print(line)
PYEOF
