"""``hdnnp kmc BULK --element Li --barriers neb/neb.json -T 300 400 500``: kinetic Monte Carlo of hops."""
from __future__ import annotations

import sys


def register(sub):
    p = sub.add_parser(
        "kmc", help="rejection-free kinetic Monte Carlo of hops on a lattice of sites: D(T) and Ea",
        description="Sites are the atoms of --element in the cell; a carrier hops into an empty neighbouring site "
                    "with rate nu exp(-Ea/kT), Ea and nu per hop shell from --barriers (a CSV table "
                    "distance_A,barrier_eV[,prefactor_Hz] you can edit, or the neb.json of hdnnp neb --vacancy). "
                    "Gives the carriers' tracer D(T) with standard errors over independent runs and the Arrhenius "
                    "Ea; --compare-md draws an hdnnp diffusion run on the same chart. Writes kmc.csv, kmc.json and "
                    "kmc.png.")
    p.add_argument("structure", metavar="BULK", help="periodic cell whose --element atoms are the sites")
    p.add_argument("--element", "-e", required=True)
    p.add_argument("--barriers", "-b", required=True, help="barrier table (CSV) or neb.json")
    p.add_argument("-T", "--temperatures", type=float, nargs="+", required=True, metavar="K")
    p.add_argument("--vacancies", type=int, default=1, help="empty sites (default 1: vacancy mechanism)")
    p.add_argument("--carriers", type=int, help="this many carriers instead (the rest of the sites empty)")
    p.add_argument("--steps", type=int, default=20000, help="hops per run (default 20000)")
    p.add_argument("--runs", type=int, default=8, help="independent runs per temperature (default 8)")
    p.add_argument("--tolerance", type=float, default=0.1, help="Å, matching pair distances to shells")
    p.add_argument("--compare-md", action="append", default=[], metavar="DIR[:LABEL]",
                   help="an hdnnp diffusion output folder to draw on the Arrhenius chart")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("-o", "--output-dir", default="kmc")
    p.add_argument("--format", help="structure format (default: detected)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..io import read
    from ..workflows.kmc import KMCSettings, read_barriers, run_kmc

    atoms = read(args.structure, format=args.format)[0].to_ase()
    barriers = read_barriers(args.barriers)
    st = KMCSettings(temperatures=args.temperatures, steps=args.steps, runs=args.runs,
                     vacancies=None if args.carriers else args.vacancies, carriers=args.carriers, seed=args.seed,
                     tolerance=args.tolerance)
    compare = [(c.partition(":")[0], c.partition(":")[2]) for c in args.compare_md]
    s = run_kmc(atoms, args.element, barriers, args.output_dir, st, compare=compare,
                log=lambda m: print(m, file=sys.stderr))
    for r in s["rows"]:
        print(f"{r['temperature_K']:g} K: D = {r['D_cm2_s']:.3e} ± {r['D_std_cm2_s']:.1e} cm²/s "
              f"({r['runs']} runs of {r['steps']} hops)")
    f = s["arrhenius"].get(args.element)
    if f:
        print(f"Ea = {f['ea_eV']:.3f} ± {f['ea_std_eV']:.3f} eV, D0 = {f['d0_cm2_s']:.2e} cm²/s")
    print(f"written: {args.output_dir}/kmc.csv, kmc.json, kmc.png")
    return 0
