#!/bin/bash
# Configure and build xen-colo out of tree: tools/build.sh BUILDDIR [configure args...]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: tools/build.sh BUILDDIR [configure args...]}
shift
if [ ! -x "$src/configure" ] || [ "$src/configure.ac" -nt "$src/configure" ]; then
    (cd "$src" && autoreconf -fi >/dev/null 2>&1) || { echo "build: autoreconf failed" >&2; exit 1; }
fi
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$src/configure" -nt config.status ]; then
    "$src/configure" -q "$@"
fi
make -s -j"$(nproc)"
