#!/bin/sh
# serve_hostile.sh — `mmc serve` against hostile clients (ctest serve_hostile).
# Usage: sh tests/cli/serve_hostile.sh MMC SERVE_HOSTILE WORK
#   WORK/search/run and WORK/search/data: the tiny run and data of the search_run fixture
#   (tests/cli/search_setup.cmake). This test's own files go in WORK/serve-hostile/.
# First checks the HTTP client itself against a fake server (serve_hostile --self-test).
# Then indexes the fixture's images, starts the server on a free port with a 3 s idle timeout
# (so the slow client can be dropped while the test runs), runs tests/serve/hostile.c
# against it, then stops the server with SIGTERM. Fails when a case fails, when the server
# does not exit 0 within 40 s, or when its stderr holds a sanitizer report (the Asan build
# runs this same test).
set -u
MMC=$1 HOSTILE=$2 WORK=$3
DIR=$WORK/serve-hostile
TIMEOUT=3
rm -rf "$DIR"
mkdir -p "$DIR"

# the client the cases are sent with must itself survive a hostile server
"$HOSTILE" --self-test || { echo "serve_hostile: the HTTP client's self-test failed"; exit 1; }

fail() {
  echo "serve_hostile: $*"
  for f in serve.err access.log; do
    [ -s "$DIR/$f" ] && { echo "--- last lines of $DIR/$f"; tail -n 30 "$DIR/$f"; }
  done
  exit 1
}

"$MMC" index build --model "$WORK/search/run" --images "$WORK/search/data/images" --out "$DIR/img.idx" \
  >"$DIR/index.out" 2>&1 || { cat "$DIR/index.out"; fail "mmc index build failed"; }

"$MMC" serve --model "$WORK/search/run" --index "img=$DIR/img.idx" --port 0 --port-file "$DIR/port" \
  --timeout $TIMEOUT --log "$DIR/access.log" >"$DIR/serve.out" 2>"$DIR/serve.err" &
PID=$!

i=0 # the port file appears once the server listens (loading takes a while under ASan)
while [ ! -s "$DIR/port" ]; do
  kill -0 $PID 2>/dev/null || fail "the server exited at start"
  i=$((i + 1))
  [ $i -gt 600 ] && { kill -KILL $PID; fail "the server did not listen within 60 s"; }
  sleep 0.1
done

"$HOSTILE" "$(cat "$DIR/port")" --index img --server-timeout $TIMEOUT
rc=$?

kill -TERM $PID
i=0
while kill -0 $PID 2>/dev/null; do # it finishes the requests in flight, then exits
  i=$((i + 1))
  [ $i -gt 400 ] && { kill -KILL $PID; fail "the server did not stop within 40 s of SIGTERM"; }
  sleep 0.1
done
wait $PID
status=$?

if grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$DIR/serve.err" >/dev/null; then
  fail "a sanitizer report in the server's stderr"
fi
[ $status -eq 0 ] || fail "the server exited with status $status after SIGTERM (want 0)"
[ $rc -eq 0 ] || fail "some cases failed (see the FAIL lines above)"
echo "serve_hostile: ok (server stopped cleanly)"
