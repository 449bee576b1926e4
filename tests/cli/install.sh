#!/bin/sh
# install.sh BUILD_DIR SRC_DIR WORK — `cmake --install` into a scratch prefix, then build
# examples/hello.c against it with pkg-config (shared and static) and run both.
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
cc -std=c11 "$SRC/examples/hello.c" $(pkg-config --cflags --libs mmc) -Wl,-rpath,"$(pkg-config --variable=libdir mmc)" -o "$WORK/hello_shared"
cc -std=c11 "$SRC/examples/hello.c" $(pkg-config --cflags mmc) "$(pkg-config --variable=libdir mmc)/libmmc.a" $(pkg-config --static --libs-only-l mmc | sed 's/-lmmc//') -fopenmp -o "$WORK/hello_static"
"$WORK/hello_shared" | grep -q "step 2: loss" || { echo "hello (shared) failed"; exit 1; }
"$WORK/hello_static" | grep -q "step 2: loss" || { echo "hello (static) failed"; exit 1; }
"$PREFIX/bin/mmc" --version
echo "install ok"
