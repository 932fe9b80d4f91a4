"""``hdnnp amorphous POTENTIAL_DIR --composition Si --atoms 216 --density 2.28``: melt-quench in LAMMPS."""
from __future__ import annotations

import sys

from ._engine import add_engine_args, reference_from_args


def register(sub):
    p = sub.add_parser(
        "amorphous", help="amorphous cells by melt-quench MD in LAMMPS, with radial distribution functions",
        description="Place atoms of a composition at random in a cubic box of the given density (or start from a "
                    "structure), melt, quench linearly and anneal in LAMMPS with a potential (hdnnp/fast) or a LAMMPS "
                    "reference (--reference sw-si, a pedone YAML, ...). Writes amorphous.extxyz, quench.extxyz, "
                    "thermo.csv, rdf.csv, rdf.png and amorphous.json.")
    add_engine_args(p, store=False)
    p.add_argument("--composition", "-c", help="formula unit, e.g. Si, SiO2, Li3PO4")
    p.add_argument("--atoms", type=int, help="about this many atoms (whole formula units)")
    p.add_argument("--density", type=float, help="g/cm³")
    p.add_argument("--structure", help="start from this structure instead of random positions")
    p.add_argument("--t-melt", type=float, default=3000.0, help="K (default 3000)")
    p.add_argument("--melt", type=float, default=10.0, help="ps at t-melt (default 10)")
    p.add_argument("--t-final", type=float, default=300.0, help="K (default 300)")
    p.add_argument("--rate", type=float, default=100.0, help="quench rate, K/ps (default 100)")
    p.add_argument("--anneal", type=float, default=10.0, help="ps at t-final (default 10)")
    p.add_argument("--timestep", type=float, default=1.0, help="fs")
    p.add_argument("--pressure", type=float, help="bar: NPT during quench and anneal (default NVT)")
    p.add_argument("--min-distance", type=float, default=1.6, help="Å between random initial positions")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ranks", type=int, default=1)
    p.add_argument("-o", "--output-dir", default="amorphous")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import InputError
    from ..workflows.amorphous import AmorphousSettings, melt_quench, parse_composition, random_cell

    ref = reference_from_args(args)
    st = AmorphousSettings(t_melt=args.t_melt, melt=args.melt, t_final=args.t_final, rate=args.rate,
                           anneal=args.anneal, timestep=args.timestep, pressure=args.pressure,
                           min_distance=args.min_distance, seed=args.seed, ranks=args.ranks)
    if args.structure:
        from ..io import read
        atoms = read(args.structure)[0].to_ase()
    else:
        if not (args.composition and args.atoms and args.density):
            raise InputError("give --composition, --atoms and --density (or --structure)")
        comp = parse_composition(args.composition)
        units = max(1, round(args.atoms / sum(comp.values())))
        atoms = random_cell(comp, units, args.density, min_distance=args.min_distance, seed=args.seed)
    s = melt_quench(atoms, args.output_dir, st, potential=args.potential, reference=ref,
                    log=lambda m: print(m, file=sys.stderr))
    peaks = ", ".join(f"{k} {v:.2f} Å" for k, v in s["first_peak_A"].items())
    print(f"amorphous {s['formula']}: {s['atoms']} atoms, {s['density_g_cm3']:.3f} g/cm³; RDF first peaks {peaks}")
    print(f"written: {args.output_dir}/amorphous.extxyz, rdf.png, rdf.csv, thermo.csv, quench.extxyz")
    return 0
