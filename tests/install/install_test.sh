#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds a consumer
# against it twice: with find_package(baton) + baton::sdk, and with
# pkg-config. Both must run and print the version.
set -euo pipefail
build=${BATON_BUILD_DIR:?}
src=${BATON_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/baton/baton.h"
ls "$tmp"/prefix/lib*/libbaton.so* >/dev/null
ls "$tmp"/prefix/lib*/libbaton.a >/dev/null
libdir=$(dirname "$(ls "$tmp"/prefix/lib*/libbaton.a)")

echo "== find_package(baton)"
cmake -S "$src/tests/install/consumer" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_C_COMPILER="${CC:-cc}" >/dev/null
cmake --build "$tmp/cm" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/cm/consumer" | grep -q "^baton 0\."

echo "== pkg-config baton"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs baton)
"${CC:-cc}" -o "$tmp/pc_consumer" "$src/tests/install/consumer/consumer.c" $flags
LD_LIBRARY_PATH="$libdir" "$tmp/pc_consumer" | grep -q "^baton 0\."
echo "== pkg-config baton-nng baton-auto"
for pc in baton-nng baton-auto baton-otlp-http baton-jaeger-json baton-console; do
  pkg-config --exists "$pc" || { echo "no $pc.pc installed"; exit 1; }
done
pkg-config --libs baton-nng | grep -q -- -lbaton_nng
echo "1 passed, 0 failed: install consumer (find_package and pkg-config)"
