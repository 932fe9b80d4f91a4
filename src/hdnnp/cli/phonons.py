"""``hdnnp phonons STRUCTURE POTENTIAL_DIR`` (or ``--reference REF``): harmonic phonons with phonopy."""
from __future__ import annotations

import sys

from ._engine import (add_engine_args, add_input_args, add_relax_args, engine_from_args, first_structure,
                      reference_from_args)


def register(sub):
    p = sub.add_parser(
        "phonons", help="phonons (phonopy): relax, force constants, band structure, DOS, thermal properties",
        description="Relax the structure with the potential keeping its symmetry (positions; the cell too with "
                    "--relax-cell) to --fmax, compute the force constants by finite displacements of the "
                    "supercell (phonopy; displaced supercells evaluated in one batch), and write the band "
                    "structure along the standard path (seekpath), the DOS, the thermal properties, their CSV "
                    "files, phonopy_params.yaml and plots (phonons.png, thermal.png). Imaginary modes are "
                    "reported and drawn in red. With --reference instead of a potential the same is computed "
                    "with a reference code, every displaced supercell labelled through the label store.")
    p.add_argument("structure", metavar="STRUCTURE", help="structure file (the first structure is used)")
    add_engine_args(p)
    p.add_argument("-o", "--output-dir", default="phonons", help="output folder (default phonons)")
    p.add_argument("--supercell", type=int, nargs=3, default=[2, 2, 2], metavar=("NX", "NY", "NZ"))
    p.add_argument("--displacement", type=float, default=0.01, help="Å (default 0.01)")
    add_relax_args(p)
    p.add_argument("--mesh", type=int, nargs=3, default=[20, 20, 20], metavar=("MX", "MY", "MZ"))
    p.add_argument("--tmax", type=float, default=1000.0, help="thermal properties up to this temperature (K)")
    p.add_argument("--tstep", type=float, default=10.0)
    add_input_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..workflows.phonons import PhononSettings, require_phonopy, run_phonons

    require_phonopy()
    engine = engine_from_args(args, reference_from_args(args))
    atoms = first_structure(args)
    st = PhononSettings(supercell=args.supercell, displacement=args.displacement, relax=not args.no_relax,
                        relax_cell=args.relax_cell, fmax=args.fmax, mesh=args.mesh, t_max=args.tmax,
                        t_step=args.tstep, workers=args.workers, progress=not args.no_progress)
    s = run_phonons(atoms, engine, args.output_dir, st, log=lambda m: print(m, file=sys.stderr))
    g = ", ".join(f"{f:.3f}" for f in s["gamma_frequencies_THz"])
    print(f"phonons of {args.structure} with {engine.name}: {s['n_displacements']} displacements of a "
          f"{s['supercell_atoms']}-atom supercell; Γ frequencies (THz): {g}; highest {s['max_frequency_THz']:.3f} THz")
    if s["imaginary_modes_on_path"]:
        print(f"IMAGINARY MODES at {s['imaginary_modes_on_path']} points of the band path (see phonons.json, "
              f"phonons.png)")
    print(f"written: {args.output_dir}/phonons.png, thermal.png, band.csv, dos.csv, thermal.csv, phonons.json, "
          "phonopy_params.yaml")
    return 0
