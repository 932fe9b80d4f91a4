"""``hdnnp diffusion STRUCTURE POTENTIAL_DIR -T 600 800 1000``: MD -> MSD -> D(T) -> Arrhenius (kinisi)."""
from __future__ import annotations

import sys

from ._engine import add_engine_args, add_input_args, first_structure, reference_from_args


def register(sub):
    p = sub.add_parser(
        "diffusion", help="diffusion coefficients D(T) from LAMMPS MD and the Arrhenius activation energy",
        description="For each temperature: NVT equilibration, then a production run (NVT or NVE) in LAMMPS with a "
                    "potential (hdnnp/fast) or a LAMMPS reference, dumping unwrapped positions. Each element's "
                    "mean-square displacement gives D with an error bar from resampling its atoms (correlations "
                    "between time intervals kept); the Arrhenius fit gives Ea and D0 with error bars and D at room "
                    "temperature. Finished temperatures are not run again. Writes diffusion.csv, arrhenius.json, "
                    "msd.png, arrhenius.png and T<T>K/ folders.")
    p.add_argument("structure", metavar="STRUCTURE", help="periodic cell (e.g. amorphous.extxyz of hdnnp amorphous)")
    add_engine_args(p, store=False)
    p.add_argument("-T", "--temperatures", type=float, nargs="+", required=True, metavar="K")
    p.add_argument("--equilibrate", type=float, default=10.0, help="ps of NVT before production (default 10)")
    p.add_argument("--production", type=float, default=50.0, help="ps (default 50)")
    p.add_argument("--timestep", type=float, default=1.0, help="fs (default 1)")
    p.add_argument("--dump-every", type=float, default=0.05, help="ps between saved frames (default 0.05)")
    p.add_argument("--ensemble", choices=["nvt", "nve"], default="nvt", help="production ensemble (default nvt)")
    p.add_argument("--element", "-e", action="append", help="analyse this element (repeat; default all)")
    p.add_argument("--start-dt", type=float,
                   help="ps: the MSD fit starts here (default 10%% of the production run)")
    p.add_argument("--end-dt", type=float, help="ps: the MSD fit ends here (default 50%% of the production run)")
    p.add_argument("--room-temperature", type=float, default=300.0, help="K, for the extrapolated D (default 300)")
    p.add_argument("--kinisi", action="store_true", help="also kinisi's estimate of D, for comparison (pip install "
                                                           "kinisi)")
    p.add_argument("--samples", type=int, default=1000, help="kinisi's MCMC samples (default 1000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--replicas", type=int, default=1,
                   help="independent runs per temperature from other initial velocities (folders T<T>K_r<k>); D is "
                        "their mean, its error the larger of their scatter and their own error bars (default 1)")
    p.add_argument("--cells", nargs="+", default=[], metavar="FILE",
                   help="more cells of the same system (e.g. amorphous cells quenched from other seeds), each run at "
                        "every temperature (folders T<T>K_c<c>) and pooled with the replicas; give the same list "
                        "again with --analyse-only")
    p.add_argument("--ranks", type=int, default=1, help="MPI ranks for LAMMPS")
    p.add_argument("--analyse-only", action="store_true", help="only redo the analysis of finished temperatures")
    p.add_argument("--compare", action="append", default=[], metavar="DIR[:LABEL]",
                   help="draw another diffusion run's Arrhenius data on the same chart (arrhenius_compare.png)")
    p.add_argument("--label", default="", help="this run's label on the comparison chart")
    p.add_argument("-o", "--output-dir", default="diffusion")
    add_input_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    from pathlib import Path

    from ..workflows.diffusion import DiffusionSettings, plot_arrhenius, run_diffusion

    ref = None if args.analyse_only and not (args.potential or args.reference) else reference_from_args(args)
    atoms = first_structure(args)
    st = DiffusionSettings(temperatures=args.temperatures, equilibrate=args.equilibrate, production=args.production,
                           timestep=args.timestep, dump_every=args.dump_every, ensemble=args.ensemble,
                           elements=args.element, start_dt=args.start_dt, end_dt=args.end_dt,
                           room_temperature=args.room_temperature, kinisi=args.kinisi, samples=args.samples,
                           seed=args.seed, ranks=args.ranks, replicas=args.replicas)
    more = [first_structure(args, c) for c in args.cells]
    s = run_diffusion(atoms, args.output_dir, st, potential=args.potential, reference=ref,
                      analyse_only=args.analyse_only, log=lambda m: print(m, file=sys.stderr), more_cells=more)
    for el in s["elements"]:
        for p in s["D"][el]:
            k = p.get("kinisi")
            n = p.get("replicas", 1)
            reps = (f"; {n} replicas: " + ", ".join(f"{d:.2e}" for d in p["replica_D_cm2_s"])
                    + f" (scatter / own error bars {p['scatter_over_bootstrap']:.2f})") if n > 1 else ""
            print(f"{el} {p['T_K']:g} K: D = {p['D_cm2_s']:.3e} cm²/s (95 %: {p['D_lo_cm2_s']:.2e}–"
                  f"{p['D_hi_cm2_s']:.2e})" + (f"; kinisi {k['D_cm2_s']:.3e} ± {k['D_std_cm2_s']:.1e}" if k else "")
                  + reps)
        f = s["arrhenius"].get(el)
        if f:
            print(f"{el}: Ea = {f['ea_eV']:.3f} ± {f['ea_std_eV']:.3f} eV, D0 = {f['d0_cm2_s']:.2e} cm²/s, "
                  f"D({f['room_temperature_K']:g} K) = {f['d_room_cm2_s']:.2e} cm²/s (95 %: {f['d_room_lo_cm2_s']:.1e}"
                  f"–{f['d_room_hi_cm2_s']:.1e})" + (f"; errors ×{f['error_scale']:.2f}: the D scatter about the fit "
                                                     f"more than their error bars (χ² {f['chi2']:.1f} for {f['dof']} "
                                                     "degrees of freedom)" if f.get("error_scale", 1.0) > 1.0 else ""))
    if args.compare:
        runs = [(s, args.label or Path(args.output_dir).name)]
        for item in args.compare:
            d, _, label = item.partition(":")
            runs.append((json.loads((Path(d) / "arrhenius.json").read_text()), label or Path(d).name))
        plot_arrhenius(runs, Path(args.output_dir) / "arrhenius_compare.png")
        print(f"written: {args.output_dir}/arrhenius_compare.png")
    print(f"written: {args.output_dir}/diffusion.csv, arrhenius.json, msd.png, arrhenius.png")
    return 0
