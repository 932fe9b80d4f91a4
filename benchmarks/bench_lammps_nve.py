"""Long NVE energy-conservation run with LAMMPS + hdnnp/fast (the CI test runs 2,000 steps).

Default: 64-atom diamond Si (mlearn_Si HDNNP), 600 K start, 1 fs, 10,000 steps (10 ps), 1 rank;
``--water``: the 192-atom H2O_RPBE-D3 cell, 0.5 fs. Drift = slope of a linear fit of the total energy
vs time, per atom. Last line: nve_drift_eV_per_atom_per_ps=<d> steps=<n> dt_fs=<dt>
"""
import argparse
import tempfile
from pathlib import Path

from ase import Atoms
from ase.build import bulk

from hdnnp.io import read
from hdnnp.md import MDSettings, energy_drift, read_thermo, run_md


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("--water", action="store_true")
    ap.add_argument("--out", help="keep the run folder here (thermo.csv, md.png)")
    a = ap.parse_args()
    ref = Path(a.shared) / "n2p2-reference"
    if a.water:
        folder = ref / "H2O_RPBE-D3"
        s = read(folder / "input.data", length_unit="bohr", energy_unit="hartree")[0]
        atoms, dt, T = Atoms(numbers=s.numbers, positions=s.positions, cell=s.cell, pbc=True), 0.5, 300.0
    else:
        folder = ref / "mlearn_Si"
        atoms = bulk("Si", "diamond", 5.468, cubic=True).repeat(2)
        atoms.rattle(0.02, seed=3)
        dt, T = 1.0, 600.0
    out = a.out or tempfile.mkdtemp(prefix="hdnnp-nve-")
    path = run_md(atoms, folder, out, MDSettings(ensemble="nve", temperature=T, timestep=dt, steps=a.steps,
                                                 thermo_every=20, dump_every=a.steps, ranks=a.ranks))
    d = read_thermo(path)
    drift = energy_drift(path, len(atoms))
    print(f"{len(atoms)} atoms, {a.steps} steps of {dt} fs: <T> = {d['temperature_K'].mean():.1f} K, "
          f"total-energy std {d['etotal_eV'].std() / len(atoms):.2e} eV/atom, drift {drift:.2e} eV/atom/ps "
          f"(thermo.csv and md.png in {out})")
    print(f"nve_drift_eV_per_atom_per_ps={drift:.3e} steps={a.steps} dt_fs={dt}")


if __name__ == "__main__":
    main()
