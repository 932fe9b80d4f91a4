"""``hdnnp thermal-conductivity STRUCTURE POTENTIAL_DIR`` (or ``--reference REF``): κ(T) with phono3py."""
from __future__ import annotations

import sys

from ._engine import (add_engine_args, add_input_args, add_relax_args, engine_from_args, first_structure,
                      reference_from_args)


def register(sub):
    p = sub.add_parser(
        "thermal-conductivity", help="lattice thermal conductivity κ(T) (phono3py: RTA or direct LBTE)",
        description="Relax the structure (symmetry kept), compute second- and third-order force constants by "
                    "finite displacements (phono3py; the displaced supercells evaluated in one batch, or labelled "
                    "through the label store with --reference), and solve the phonon Boltzmann equation on "
                    "--mesh in the relaxation-time approximation (--method rta) or directly (lbte). Writes "
                    "kappa.csv (the κ tensor per temperature, W/m/K), kappa.png and kappa.json (with the number "
                    "of force calculations).")
    p.add_argument("structure", metavar="STRUCTURE", help="structure file (the first structure is used)")
    add_engine_args(p)
    p.add_argument("-o", "--output-dir", default="kappa", help="output folder (default kappa)")
    p.add_argument("--supercell", type=int, nargs=3, default=[2, 2, 2], metavar=("NX", "NY", "NZ"),
                   help="fc3 supercell of the input cell (default 2 2 2)")
    p.add_argument("--fc2-supercell", type=int, nargs=3, metavar=("NX", "NY", "NZ"),
                   help="a larger supercell for fc2 (default: the fc3 supercell)")
    p.add_argument("--displacement", type=float, default=0.03, help="Å (default 0.03, phono3py's)")
    p.add_argument("--mesh", type=int, nargs=3, default=[11, 11, 11], metavar=("MX", "MY", "MZ"))
    p.add_argument("--temperatures", "-T", type=float, nargs="+", default=[300.0], metavar="K")
    p.add_argument("--method", choices=["rta", "lbte", "green-kubo"], default="rta",
                   help="rta / lbte (phono3py), or green-kubo (equilibrium MD in LAMMPS, heat flux with the centroid "
                        "per-atom virial)")
    g = p.add_argument_group("green-kubo")
    g.add_argument("--equilibration", type=float, default=20.0, metavar="PS", help="NVT ps (default 20)")
    g.add_argument("--production", type=float, default=100.0, metavar="PS", help="NVE ps (default 100)")
    g.add_argument("--tau", type=float, default=10.0, metavar="PS", help="correlation time read (default 10 ps)")
    g.add_argument("--blocks", type=int, default=5, help="segments for the standard error (default 5)")
    g.add_argument("--timestep", type=float, default=1.0, metavar="FS")
    g.add_argument("--repeat", type=int, nargs=3, metavar=("NX", "NY", "NZ"), help="replicate the cell")
    g.add_argument("--ranks", type=int, default=1, help="MPI ranks")
    p.add_argument("--isotope", action="store_true", help="isotope scattering (natural abundances)")
    add_relax_args(p)
    p.add_argument("--train", action="store_true",
                   help="with --reference: label a training set made for force constants (random-displacement and "
                        "strained supercells), train a potential on it, check it on held-out displaced supercells, "
                        "and compute κ with the potential (the number of reference calculations is reported beside "
                        "the count of phono3py's own displacement set)")
    p.add_argument("--train-config", metavar="YAML", help="training configuration for --train (data.* is set)")
    p.add_argument("--train-budget", type=float, default=900.0, metavar="S",
                   help="training time budget for --train (default 900 s)")
    p.add_argument("--committee", type=int, default=1, metavar="M", help="train a committee of M for --train")
    p.add_argument("--train-cutoff", type=float, metavar="Å",
                   help="symmetry-function cutoff of --train's default configuration (default: hdnnp init's, 2.5 × the "
                        "median nearest-neighbour distance, at least 6 Å)")
    p.add_argument("--train-amplitudes", type=float, nargs="+", default=[0.03, 0.06, 0.1, 0.15, 0.2], metavar="A",
                   help="Gaussian displacement amplitudes (Å) of the --train supercells (default 0.03 0.06 0.1 0.15 0.2)")
    p.add_argument("--train-per-amplitude", type=int, default=12, metavar="N",
                   help="--train supercells per amplitude (default 12)")
    add_input_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import InputError
    from ..workflows.phonons import require_phonopy
    from ..workflows.thermal import VOIGT, require_phono3py, run_kappa

    require_phonopy()
    require_phono3py()
    ref = reference_from_args(args)
    if args.method == "green-kubo":
        return _green_kubo(args, ref)
    if args.train:
        if ref is None:
            raise InputError("--train needs --reference (the code that labels the training set)")
        return _train_then_kappa(args, ref)
    engine = engine_from_args(args, ref)
    atoms = first_structure(args)
    st = _kappa_settings(args)
    s = run_kappa(atoms, engine, args.output_dir, st, log=lambda m: print(m, file=sys.stderr))
    print(f"κ (W/m/K, {args.method.upper()}, mesh {'x'.join(map(str, args.mesh))}, {s['force_calculations']} "
          f"supercell force calculations with {engine.name}):")
    print("  T (K)  " + "".join(f"{c:>10s}" for c in VOIGT))
    for t, k in s["kappa_W_mK"].items():
        print(f"  {float(t):6.1f} " + "".join(f"{k[c]:10.3f}" for c in VOIGT))
    print(f"written: {args.output_dir}/kappa.csv, kappa.png, kappa.json")
    return 0


def _kappa_settings(args):
    from ..workflows.thermal import KappaSettings
    return KappaSettings(supercell=args.supercell, fc2_supercell=args.fc2_supercell, displacement=args.displacement,
                         mesh=args.mesh, temperatures=args.temperatures, method=args.method, isotope=args.isotope,
                         relax=not args.no_relax, relax_cell=args.relax_cell, fmax=args.fmax)


def _train_then_kappa(args, ref) -> int:
    from pathlib import Path

    import yaml

    from ..workflows.phonons import relax
    from ..references import ReferenceCalculator
    from ..workflows.thermal import KappaTraining, run_kappa, train_for_kappa

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    atoms = first_structure(args)
    st = _kappa_settings(args)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if st.relax:          # relaxed once with the reference; the potential then relaxes it again (its own minimum)
        atoms, _ = relax(atoms, ReferenceCalculator(ref), fmax=st.fmax, relax_cell=st.relax_cell,
                         max_steps=st.max_steps, symprec=st.symprec, log=log)
    t = KappaTraining(committee=args.committee, time_budget=args.train_budget, amplitudes=args.train_amplitudes,
                      per_amplitude=args.train_per_amplitude, cutoff=args.train_cutoff,
                      config=yaml.safe_load(Path(args.train_config).read_text()) if args.train_config else None)
    tr = train_for_kappa(atoms, ref, args.store, out / "training", st, t, workers=args.workers, log=log)
    from ..workflows.phonons import ForceEngine
    engine = ForceEngine(potential=tr["potential"], progress=not args.no_progress)
    s = run_kappa(atoms, engine, out, st, log=log,
                  extra={k: tr[k] for k in ("labels_used", "check_force_rmse_meV_A", "check_relative", "amplitudes_A",
                                            "stiffening")})
    direct = s["force_calculations"]       # phono3py's displacement set: what the reference would have computed
    print(f"κ with the trained potential ({tr['labels_used']} reference calculations; phono3py's displacement set "
          f"needs {direct}); held-out force RMSE {tr['check_force_rmse_meV_A']:.2f} meV/Å "
          f"({tr['check_relative']:.1%}):")
    for T, k in s["kappa_W_mK"].items():
        print(f"  {float(T):6.1f} K  κ_xx {k['xx']:.3f}  κ_yy {k['yy']:.3f}  κ_zz {k['zz']:.3f} W/m/K")
    print(f"labels_used={tr['labels_used']} direct_displacements={direct}")
    return 0


def _green_kubo(args, ref) -> int:
    from ..workflows.green_kubo import GKSettings, run_green_kubo

    atoms = first_structure(args)
    out = {}
    for T in args.temperatures:
        st = GKSettings(temperature=T, timestep=args.timestep, equilibration=args.equilibration,
                        production=args.production, tau=args.tau, blocks=args.blocks, repeat=args.repeat,
                        ranks=args.ranks)
        d = args.output_dir if len(args.temperatures) == 1 else f"{args.output_dir}/T{T:g}"
        s = run_green_kubo(atoms, d, st, potential=args.potential, reference=ref,
                           length_unit=args.potential_length_unit, energy_unit=args.potential_energy_unit,
                           log=lambda m: print(m, file=sys.stderr))
        out[T] = s
        print(f"Green-Kubo κ at {T:g} K: {s['kappa_W_mK']:.4g} ± {s['kappa_sem_W_mK']:.2g} W/m/K "
              f"(τ = {args.tau:g} ps, {s['atoms']} atoms, {args.production:g} ps NVE, s.e. over {args.blocks} blocks); "
              f"{d}/gk.png")
    return 0
