"""``hdnnp neb POTENTIAL_DIR --initial A --final B`` or ``--vacancy BULK --element Li``: NEB barriers."""
from __future__ import annotations

import sys

from ._engine import add_engine_args, add_input_args, engine_from_args, first_structure, reference_from_args


def register(sub):
    p = sub.add_parser(
        "neb", help="nudged elastic band: minimum-energy path and barrier (climbing image, improved tangent)",
        description="Relax the end points, then find the minimum-energy path between them with ASE's NEB (improved "
                    "tangent, climbing image, IDPP interpolation, FIRE) using a potential or a reference code. The "
                    "end points are two structure files, or a vacancy hop built from a bulk cell (--vacancy). Writes "
                    "neb.csv, neb.json, neb.extxyz and neb.png.")
    add_engine_args(p, store=False)
    p.add_argument("--initial", help="initial state (structure file)")
    p.add_argument("--final", help="final state (same atoms, same order)")
    p.add_argument("--vacancy", metavar="BULK", help="build a vacancy hop in this cell instead")
    p.add_argument("--element", "-e", help="--vacancy: the element that hops (default: the first atom's)")
    p.add_argument("--site", type=int, help="--vacancy: index of the atom removed")
    p.add_argument("--neighbour", type=int, help="--vacancy: index of the atom that hops (default: the nearest)")
    p.add_argument("--images", type=int, default=7, help="intermediate images (default 7)")
    p.add_argument("--fmax", type=float, default=0.03, help="eV/Å (default 0.03)")
    p.add_argument("--steps", type=int, default=1000, help="optimiser steps (default 1000)")
    p.add_argument("--spring", type=float, default=0.1, help="eV/Å² (default 0.1)")
    p.add_argument("--no-climb", action="store_true", help="no climbing image")
    p.add_argument("--no-relax", action="store_true", help="use the end points as given")
    p.add_argument("--prefactor", action="store_true",
                   help="also the harmonic-TST attempt frequency (Vineyard) from partial Hessians of the initial state "
                        "and the saddle around the moving atom (into neb.json, used by hdnnp kmc)")
    p.add_argument("--prefactor-radius", type=float, default=4.0, metavar="Å",
                   help="atoms within this distance of the moving atom vibrate in the prefactor (default 4)")
    p.add_argument("-o", "--output-dir", default="neb")
    add_input_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    from pathlib import Path

    from ..errors import InputError
    from ..workflows.neb import NEBSettings, run_neb, vacancy_hop

    engine = engine_from_args(args, reference_from_args(args))
    info = {}
    if args.vacancy:
        if args.initial or args.final:
            raise InputError("give --vacancy BULK or --initial/--final, not both")
        initial, final, info = vacancy_hop(first_structure(args, args.vacancy), args.element, args.site, args.neighbour)
        print(f"vacancy hop: {info['element']} atom {info['neighbour']} into site {info['site']} "
              f"({info['hop_A']:.3f} Å)")
    else:
        if not (args.initial and args.final):
            raise InputError("give --initial and --final (or --vacancy BULK)")
        initial, final = first_structure(args, args.initial), first_structure(args, args.final)
    st = NEBSettings(images=args.images, fmax=args.fmax, steps=args.steps, climb=not args.no_climb,
                     spring=args.spring, relax_ends=not args.no_relax, prefactor=args.prefactor,
                     prefactor_radius=args.prefactor_radius)
    res = run_neb(initial, final, args.output_dir, st, engine.calculator, log=lambda m: print(m, file=sys.stderr))
    if info:
        res["hop"] = info
        (Path(args.output_dir) / "neb.json").write_text(json.dumps(res, indent=2))
    print(f"barrier {res['barrier_forward_eV']:.4f} eV forward, {res['barrier_backward_eV']:.4f} eV backward, "
          f"reaction energy {res['reaction_energy_eV']:+.4f} eV ({'converged' if res['converged'] else 'NOT converged'}"
          f" in {res['steps']} steps, max force {res['max_force_eV_A']:.3g} eV/Å)")
    if "prefactor_Hz" in res:
        print(f"attempt frequency (harmonic TST) {res['prefactor_Hz']:.3g} Hz from {res['active_atoms']} atoms; "
              f"saddle imaginary frequency {res['imaginary_frequency_THz']:.3g} THz")
    print(f"written: {args.output_dir}/neb.csv, neb.json, neb.extxyz, neb.png")
    return 0
