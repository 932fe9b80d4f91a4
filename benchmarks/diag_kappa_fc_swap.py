"""Which part of a trained potential's κ error is harmonic and which anharmonic: κ from fc2 and fc3 of the
reference and of the potential in all four combinations, on one cell.

phono3py's displacement set of the cell is evaluated with the reference (through the label store) and with the
potential; fc2 and fc3 are made from each, compared (relative Frobenius norm of the difference), and κ is
computed (RTA) for (fc2, fc3) = (ref, ref), (ref, pot), (pot, ref), (pot, pot). The row that moves κ is the one to
work on. SW Si, 2×2×2 of the 8-atom cell, 11³ mesh, the --train-cutoff 3.6 potential of session 11 (κ 5.9 % low):

    fc2 rel diff 0.00092   fc3 rel diff 0.0110
    fc2=ref fc3=ref kappa_xx [890.9 501.1 353.1 274.4]
    fc2=ref fc3=pot kappa_xx [839.1 475.0 335.5 261.0]
    fc2=pot fc3=ref kappa_xx [890.5 501.0 353.0 274.3]
    fc2=pot fc3=pot kappa_xx [838.7 474.8 335.4 260.9]

— the error was all fc3 (fixed by fitting every atom's forces in each LM iteration and a larger model). On
Tersoff GaN (the 6 Å potential, κ 72–75 % low) both parts are off: fc2 1.3 %, fc3 11 %.

Usage: python benchmarks/diag_kappa_fc_swap.py CELL POTENTIAL -r REFERENCE [--store labels.db] [-T 300 ...]
       [--supercell 2 2 2] [--mesh 11]
(CELL: best the relaxed cell a thermal-conductivity run wrote, relaxed.extxyz.)
"""
import argparse
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cell")
    ap.add_argument("potential")
    ap.add_argument("-r", "--reference", required=True)
    ap.add_argument("--store", default="labels.db")
    ap.add_argument("-T", "--temperatures", type=float, nargs="+", default=[300.0])
    ap.add_argument("--supercell", type=int, nargs=3, default=[2, 2, 2])
    ap.add_argument("--mesh", type=int, default=11)
    args = ap.parse_args()
    from ase.io import read

    from hdnnp.references import get_reference
    from hdnnp.workflows.phonons import ForceEngine, _ase_atoms
    from hdnnp.workflows.thermal import KappaSettings, _phono3py

    s = KappaSettings(supercell=args.supercell, mesh=[args.mesh] * 3, temperatures=args.temperatures)
    ph3, _ = _phono3py(read(args.cell), s)
    cells = [_ase_atoms(c) for c in ph3.supercells_with_displacements]
    F = {"ref": np.array(ForceEngine(reference=get_reference(args.reference), store=args.store,
                                     progress=False).forces(cells, "displaced supercells")),
         "pot": np.array(ForceEngine(potential=args.potential, progress=False).forces(cells))}
    d = F["pot"] - F["ref"]
    print(f"{len(cells)} displaced supercells: force difference RMS {1e3 * np.sqrt(np.mean(d ** 2)):.4f} meV/Å "
          f"({np.sqrt(np.mean(d ** 2) / np.mean(F['ref'] ** 2)):.2e} of the RMS force)")
    fc = {}
    for k, f in F.items():
        ph3.forces = f
        ph3.produce_fc3()
        ph3.produce_fc2()
        ph3.symmetrize_fc3()
        ph3.symmetrize_fc2()
        fc[k] = (ph3.fc2.copy(), ph3.fc3.copy())
    for i, name in enumerate(("fc2", "fc3")):
        a, b = fc["ref"][i], fc["pot"][i]
        print(f"{name} rel diff {np.linalg.norm(a - b) / np.linalg.norm(a):.5f}")
    T = [f"{t:g}" for t in args.temperatures]
    for c2 in ("ref", "pot"):
        for c3 in ("ref", "pot"):
            ph3.fc2, ph3.fc3 = fc[c2][0], fc[c3][1]
            ph3.mesh_numbers = [args.mesh] * 3
            ph3.init_phph_interaction()
            t0 = time.perf_counter()
            ph3.run_thermal_conductivity(temperatures=args.temperatures, write_kappa=False)
            k = np.asarray(ph3.thermal_conductivity.kappa)[0]
            print(f"fc2={c2} fc3={c3} T={'/'.join(T)} K: kappa_xx " + " ".join(f"{x:.1f}" for x in k[:, 0])
                  + "  kappa_zz " + " ".join(f"{x:.1f}" for x in k[:, 2]) + f" ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
