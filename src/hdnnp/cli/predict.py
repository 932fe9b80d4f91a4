"""``hdnnp predict POTENTIAL_DIR STRUCTURES... -o OUT.xyz``: evaluate a potential on structures."""
from __future__ import annotations

import sys

import numpy as np


def register(sub):
    p = sub.add_parser(
        "predict",
        help="evaluate a potential on structures (energies, forces, stress) and write extxyz",
        description="Evaluate an n2p2-format potential folder (input.nn, scaling.data, weights.ZZZ.data) "
                    "on structures in any format hdnnp reads. Writes extxyz with each structure's energy (eV), "
                    "forces (eV/Å), per-atom energies and, for periodic cells, stress (eV/Å³, ASE sign). "
                    "Prints a summary, errors against reference labels when the input has them, and "
                    "extrapolation warnings (symmetry functions outside the scaling.data range).",
    )
    p.add_argument("potential", metavar="POTENTIAL_DIR", help="n2p2 potential folder")
    p.add_argument("structures", metavar="STRUCTURES", nargs="+", help="structure files (any readable format)")
    p.add_argument("-o", "--output", metavar="OUT.xyz", help="extxyz file to write (default: none)")
    p.add_argument("--format", help="input format (default: detected from content/extension)")
    p.add_argument("--length-unit", default="angstrom", choices=["angstrom", "bohr"],
                   help="length unit of the potential files and of n2p2 input.data input (default angstrom)")
    p.add_argument("--energy-unit", default="ev", choices=["ev", "hartree"],
                   help="energy unit of the potential files and of n2p2 input.data input (default ev)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from ..io import read, write
    from ..model.evaluator import load_potential

    ev = load_potential(args.potential, length_unit=args.length_unit, energy_unit=args.energy_unit)
    structures = []
    for path in args.structures:
        structures.extend(read(path, args.format, length_unit=args.length_unit, energy_unit=args.energy_unit))
    out = []
    de, df, ds = [], [], []
    n_extra_structs = 0
    n_extra_total = 0
    bar = tqdm(structures, desc="predict", unit="struct", disable=args.no_progress or len(structures) < 20,
               file=sys.stderr)
    for s in bar:
        pred = ev.evaluate(s)
        r = s.copy()
        if s.energy is not None:
            de.append((pred.energy - s.energy) / s.natoms)
        if s.forces is not None:
            df.append((pred.forces - s.forces).ravel())
        if s.stress is not None and pred.stress is not None:
            ds.append((pred.stress - s.stress).ravel())
        r.energy, r.forces, r.stress = pred.energy, pred.forces, pred.stress
        r.atom_properties["energies"] = pred.energies
        r.atom_properties["extrapolations"] = pred.extrapolations.astype(np.int64)
        if pred.n_extrapolations:
            n_extra_structs += 1
            n_extra_total += pred.n_extrapolations
            r.info["extrapolations"] = pred.n_extrapolations
        out.append(r)
    if args.output:
        write(args.output, out, format="extxyz")
    natoms = sum(s.natoms for s in out)
    print(f"potential   {args.potential} (elements {' '.join(ev.elements)}, cutoff {ev.cutoff:.4g} Å, "
          f"files in {args.length_unit}/{args.energy_unit})")
    print(f"structures  {len(out)} ({natoms} atoms)")
    if de:
        de = np.array(de)
        print(f"energy      RMSE {np.sqrt(np.mean(de**2)) * 1e3:.4g} meV/atom, "
              f"MAE {np.mean(np.abs(de)) * 1e3:.4g} meV/atom  ({len(de)} structures with reference energy)")
    if df:
        df = np.concatenate(df)
        print(f"forces      RMSE {np.sqrt(np.mean(df**2)) * 1e3:.4g} meV/Å, "
              f"MAE {np.mean(np.abs(df)) * 1e3:.4g} meV/Å")
    if ds:
        ds = np.concatenate(ds)
        print(f"stress      RMSE {np.sqrt(np.mean(ds**2)) * 1602.1766208:.4g} kbar")
    if n_extra_structs:
        print(f"WARNING: extrapolation in {n_extra_structs} of {len(out)} structures "
              f"({n_extra_total} symmetry-function values outside the scaling.data range; per-atom counts are "
              f"in the 'extrapolations' array of the output)")
    if args.output:
        print(f"written     {args.output}")
    return 0
