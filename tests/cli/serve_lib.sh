# serve_lib.sh — what the `mmc serve` tests share; sourced (`. serve_lib.sh`) by
# serve_api.sh and serve_browser.sh, which set MMC, S (the search fixture), W (their
# folder) and fail() first.

PIDS=""

# serve_start NAME ARGS...: `mmc serve ARGS` on a free loopback port, its output in
# W/NAME.{out,err,log}; waits until it listens; sets PID, PORT and BASE.
serve_start() {
  name=$1
  shift
  rm -f "$W/$name.port"
  "$MMC" serve "$@" --port 0 --port-file "$W/$name.port" --log "$W/$name.log" >"$W/$name.out" 2>"$W/$name.err" &
  PID=$!
  PIDS="$PIDS $PID"
  i=0
  while [ ! -s "$W/$name.port" ]; do
    kill -0 "$PID" 2>/dev/null || fail "$name: the server exited before listening"
    i=$((i + 1))
    [ $i -lt 600 ] || fail "$name: no port after 60 s"
    sleep 0.1
  done
  PORT=$(cat "$W/$name.port")
  BASE="http://127.0.0.1:$PORT"
}

# serve_stop PID: SIGTERM, and the server must exit 0.
serve_stop() {
  kill -TERM "$1"
  wait "$1" || fail "the server exited $? on SIGTERM"
}

serve_kill_all() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; }

# tiny_cap_vqa: W/cap and W/vqa, caption and VQA runs of 4 steps on the fixture's data,
# so a server offers every image feature (the answers are junk; the tests compare them
# with the CLI's, not with the truth).
tiny_cap_vqa() {
  cat >"$W/cap.json" <<'EOF2'
{"image_size": 32, "cnn_widths": [8, 16, 16], "hidden": 32, "word_dim": 16, "dec_heads": 2, "att_dim": 16,
 "batch_size": 16, "warmup_steps": 2}
EOF2
  cat >"$W/vqa.json" <<'EOF2'
{"image_size": 32, "cnn_widths": [8, 16, 32], "word_dim": 16, "text_hidden": 32, "image_dim": 32, "fuse_dim": 32,
 "hidden": 32, "batch_images": 8, "warmup": 0.1}
EOF2
  "$MMC" train caption --data "$S/data" --out "$W/cap" --config "$W/cap.json" --steps 4 --threads 2 >/dev/null 2>>"$W/train.err" ||
    fail "train caption"
  "$MMC" train vqa --data "$S/data" --out "$W/vqa" --config "$W/vqa.json" --steps 4 --threads 2 >/dev/null 2>>"$W/train.err" ||
    fail "train vqa"
}
