#!/bin/sh
# install.sh BUILD_DIR SRC_DIR WORK — `cmake --install` into a scratch prefix, then build
# examples/hello.c against it with pkg-config (shared and static) and run both, and build
# examples/similarity.c (the README's C API example) and run it on a tiny retrieval run
# trained here with the installed CLI (seconds), checking its number against `mmc embed`.
set -eu
BUILD=$1; SRC=$2; WORK=$3
PREFIX=$WORK/prefix
rm -rf "$PREFIX"
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
PC=$(find "$PREFIX" -name mmc.pc | head -n1)
[ -n "$PC" ] || { echo "mmc.pc not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$PC")
[ -x "$PREFIX/bin/mmc" ] || { echo "mmc binary not installed"; exit 1; }
[ -f "$PREFIX/include/mmc.h" ] || { echo "mmc.h not installed"; exit 1; }
for h in core ops nn loss optim io data eval index models models/retrieval models/clip; do
  [ -f "$PREFIX/include/mmc/$h.h" ] || { echo "mmc/$h.h not installed"; exit 1; }
done
cc -std=c11 "$SRC/examples/hello.c" $(pkg-config --cflags --libs mmc) -Wl,-rpath,"$(pkg-config --variable=libdir mmc)" -o "$WORK/hello_shared"
cc -std=c11 "$SRC/examples/hello.c" $(pkg-config --cflags mmc) "$(pkg-config --variable=libdir mmc)/libmmc.a" $(pkg-config --static --libs-only-l mmc | sed 's/-lmmc//') -fopenmp -o "$WORK/hello_static"
"$WORK/hello_shared" | grep -q "step 2: loss" || { echo "hello (shared) failed"; exit 1; }
"$WORK/hello_static" | grep -q "step 2: loss" || { echo "hello (static) failed"; exit 1; }

# The README's C API example: the model is a tiny run trained here, so it never skips.
M=$WORK/similarity-model
rm -rf "$M"
"$PREFIX/bin/mmc" data shapes --out "$M/data" --train 32 --val 8 --test 8 --size 32 --threads 1 >/dev/null
printf '{"image_size": 32, "cnn_widths": [8, 16], "embed_dim": 32, "word_dim": 16, "text_hidden": 32, "batch_size": 16}\n' > "$M/tiny.json"
"$PREFIX/bin/mmc" train retrieval --data "$M/data" --out "$M/run" --config "$M/tiny.json" --steps 4 --threads 2 >/dev/null
cc -std=c11 -Wall -Wextra -Werror "$SRC/examples/similarity.c" $(pkg-config --cflags --libs mmc) \
  -Wl,-rpath,"$(pkg-config --variable=libdir mmc)" -o "$WORK/similarity"
IMG=$M/data/images/test-000000.png
got=$("$WORK/similarity" "$M/run" "a large red circle" "$IMG")
echo "$got" | grep -Eq '^similarity -?[01]\.[0-9]{4}$' || { echo "similarity printed: $got"; exit 1; }
# the same cosine from the CLI's embeddings (one JSON line each; the numbers between [ ])
"$PREFIX/bin/mmc" embed --model "$M/run" --json --text "a large red circle" --image "$IMG" > "$M/emb.jsonl"
want=$(awk -F'[][]' '{ n = split($2, a, ","); for (i = 1; i <= n; i++) v[NR, i] = a[i] + 0; d = n }
  END { if (NR != 2 || d < 1) { print "bad"; exit } s = 0; for (i = 1; i <= d; i++) s += v[1, i] * v[2, i]; printf "%.4f", s }' "$M/emb.jsonl")
awk -v g="${got#similarity }" -v w="$want" 'BEGIN { d = g - w; if (w == "bad" || d > 2e-4 || d < -2e-4) exit 1 }' ||
  { echo "similarity.c says ${got#similarity }, mmc embed gives $want"; exit 1; }
# bad input: exit 2 with the library's message, usage: 1
if "$WORK/similarity" "$M/nonexistent" "x" "$IMG" 2>/dev/null; then echo "similarity accepted a missing model"; exit 1; fi
set +e; "$WORK/similarity" "$M/run" >/dev/null 2>&1; rc=$?; set -e
[ "$rc" = 1 ] || { echo "similarity without arguments exited $rc, want 1"; exit 1; }
echo "similarity.c: $got (mmc embed: $want)"

"$PREFIX/bin/mmc" --version
echo "install ok"
