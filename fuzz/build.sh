#!/bin/sh
# Build berth's libFuzzer targets with clang, ASan and UBSan.
#   fuzz/build.sh [OUTDIR]     (default: build-fuzz, at the repository root)
# Needs clang and libclang-rt-dev (Debian: apt-get install clang libclang-rt-14-dev),
# and the -dev packages meson needs (jansson, libseccomp, libcap, libnl-3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out=${1:-$repo/build-fuzz}
CC=${CC:-clang}
mkdir -p "$out/obj"

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-g -O1 -std=gnu11 -D_GNU_SOURCE -DBERTH_VERSION=\"fuzz\" -I$repo/src $san -fsanitize=fuzzer-no-link"
cflags="$cflags $(pkg-config --cflags jansson libseccomp libcap libnl-3.0)"
libs="$(pkg-config --libs jansson libseccomp libcap libnl-3.0)"

objs=""
for f in "$repo"/src/util/*.c "$repo"/src/spec/*.c "$repo"/src/runtime/*.c; do
  o="$out/obj/$(basename "$(dirname "$f")")_$(basename "$f" .c).o"
  # shellcheck disable=SC2086
  $CC $cflags -c "$f" -o "$o"
  objs="$objs $o"
done

for t in config process state; do
  # shellcheck disable=SC2086
  $CC $cflags -fsanitize=fuzzer "$here/fuzz_$t.c" $objs $libs -o "$out/fuzz_$t"
  echo "built $out/fuzz_$t"
done

# The streaming server's network parsers (src/daemon/stream_http.c, spdy.c): zlib only.
# shellcheck disable=SC2086
$CC $cflags -fsanitize=fuzzer "$here/fuzz_stream.c" "$repo/src/daemon/spdy.c" "$repo/src/daemon/stream_http.c" -lz \
  -o "$out/fuzz_stream"
echo "built $out/fuzz_stream"
