#!/bin/bash
# t0005-layers.sh - the layers of libxl-colo/ depend one way, without a
# circle (docs/architecture.md): every #include of the library, the command
# line, the tools and the tests, and every call between the object files
# just built. Prints the graphs between folders; each violation names its
# file and line. Run by hand: tests/integration/t0005-layers.sh [BUILDDIR]
. "$(dirname "$0")/lib.sh"
src=${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${abs_top_builddir:-${1:-}}
command -v python3 >/dev/null 2>&1 || { echo "error: python3 is needed" >&2; exit 99; }
python3 "$src/tests/integration/layers.py" "$src" ${build:+"$build"}
