#!/usr/bin/env bash
# Active learning with DFT labels: hdnnp learn on 8-atom Si cells with GPAW as the reference.
# Needs GPAW (bash tools/install_gpaw.sh). Rerunning continues where it stopped (hdnnp learn --resume).
# Usage: bash run_gpaw.sh [WORKDIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-al_gpaw}"; mkdir -p "$work"; cd "$work"
cp "$here/learn_gpaw.yaml" learn.yaml
[ -f cells.xyz ] || python "$here/../si_reference/make_cells.py" -n 6 --repeat 1 --seed 0 -o cells.xyz
[ -f test.xyz ] || python "$here/../si_reference/make_cells.py" -n 8 --repeat 1 --seed 5 -o test.xyz
[ -f start.xyz ] || python -c "from ase.build import bulk; bulk('Si', 'diamond', a=5.43, cubic=True).write('start.xyz')"
if [ -f learn-gpaw/learn.yaml ]; then hdnnp learn --resume learn-gpaw; else hdnnp learn learn.yaml; fi
