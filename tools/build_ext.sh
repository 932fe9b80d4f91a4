#!/usr/bin/env bash
# Developer helper: build the compiled core in place (src/hdnnp/_core*.so) so that
# `PYTHONPATH=src python -m pytest` works without reinstalling. `pip install .` does the same for users.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
bdir="$here/build/dev"
cmake -S "$here" -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$(command -v "$py")" >/dev/null
cmake --build "$bdir" -j 2
cp "$bdir"/_core*.so "$here/src/hdnnp/"
