#!/usr/bin/env bash
# The same with DFT: label rattled 8-atom Si cells with GPAW (PBE, 300 eV plane waves, 2x2x2 k-points),
# train on them, run MD with the potential and validate it on the trajectory against GPAW.
# About 5 minutes on 2 cores (GPAW: ~4 s per 8-atom cell on one core). Rerunning continues where it
# stopped: every GPAW label is in gpaw.db the moment it exists.
# Usage: bash run_gpaw.sh [WORKDIR]    (needs GPAW: bash tools/install_gpaw.sh)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-si_gpaw}"; mkdir -p "$work"; cd "$work"
ref=(-r gpaw-pbe --set ecut=300 --set 'kpts=[2,2,2]' --store gpaw.db)
python "$here/make_cells.py" -n 60 --repeat 1 --seed 0 -o cells.xyz
python "$here/make_cells.py" -n 12 --repeat 1 --seed 1 -o test_cells.xyz
hdnnp label cells.xyz "${ref[@]}" -o train.xyz
hdnnp label test_cells.xyz "${ref[@]}" -o test.xyz
hdnnp init train.xyz --test test.xyz --time-budget 90 -o train.yaml
hdnnp train train.yaml -o run ${EPOCHS:+--epochs "$EPOCHS"}
hdnnp md test_cells.xyz run/potential --engine ase --ensemble nvt --temperature 800 --steps 1000 --dump-every 25 -o md
hdnnp validate run/potential md/trajectory.extxyz "${ref[@]}" -n 16 --pick uniform -o validation
