"""``hdnnp defects BULK POTENTIAL_DIR`` (or ``--reference REF``): point-defect formation energies."""
from __future__ import annotations

import sys

from ._engine import add_engine_args, engine_from_args, key_values, reference_from_args


def register(sub):
    p = sub.add_parser(
        "defects", help="point defects: vacancies, interstitials, substitutions, antisites; formation energies",
        description="Build defect supercells of a bulk structure (symmetry-distinct sites), relax each from the "
                    "ideal site and from bond-distorted and rattled starts (a plain relaxation can stay on a "
                    "symmetry-protected stationary point), and write the lowest formation energies with the spread "
                    "of the minima: defects.csv, defects.json, distortions.png and the relaxed cells. With --charges "
                    "(a charge-aware potential or a reference that takes the charge), formation energies against "
                    "the Fermi level from --vbm, with a point-charge or your own finite-size correction, the "
                    "transition levels and formation_vs_fermi.png.")
    p.add_argument("bulk", metavar="BULK", help="bulk structure (unit cell; the first structure of the file)")
    add_engine_args(p, store=False)
    p.add_argument("--store", metavar="FILE.db",
                   help="with --reference: keep every calculation of the relaxations in this label store (training "
                        "data for a potential; a rerun replays the stored steps instead of computing them)")
    p.add_argument("--supercell", type=int, nargs=3, default=[2, 2, 2], metavar=("NX", "NY", "NZ"))
    p.add_argument("--no-vacancies", action="store_true")
    p.add_argument("--vacancies", nargs="+", default=[], metavar="EL",
                   help="vacancies of these elements only (default: of every element)")
    p.add_argument("--interstitials", nargs="+", default=[], metavar="EL", help="elements to insert")
    p.add_argument("--substitutions", nargs="+", default=[], metavar="HOST:DOPANT", help="e.g. Si:Ge")
    p.add_argument("--antisites", action="store_true")
    p.add_argument("--mu", nargs="+", default=[], metavar="EL=EV", help="chemical potentials, eV/atom")
    p.add_argument("--distortions", type=float, nargs="+", default=[-0.6, -0.4, -0.2, 0.0, 0.2, 0.4],
                   help="fractions of the neighbours' distance to the defect (default -0.6 ... 0.4)")
    p.add_argument("--rattle", type=float, default=0.05, help="Å (default 0.05)")
    p.add_argument("--rattle-seeds", type=int, default=1)
    p.add_argument("--fmax", type=float, default=0.01, help="eV/Å (default 0.01)")
    p.add_argument("--no-relax-bulk", action="store_true",
                   help="use the bulk positions as given (default: the perfect supercell is relaxed first, positions "
                        "only, symmetry kept, so that E_f holds no relaxation energy of the bulk itself)")
    g = p.add_argument_group("charged defects (a charge-aware potential, or a reference that takes the charge)")
    g.add_argument("--charges", type=int, nargs="+", default=[0], metavar="Q",
                   help="charge states, e.g. 0 1 2 3 (default 0)")
    g.add_argument("--vbm", type=float, metavar="EV", help="valence-band maximum of the bulk, eV, on the energy "
                   "scale of the potential's reference (needed for charged states)")
    g.add_argument("--gap", type=float, metavar="EV", help="band gap, eV (the Fermi-level range of the plot)")
    g.add_argument("--dielectric", type=float, metavar="EPS", help="static dielectric constant (point-charge "
                   "correction)")
    g.add_argument("--correction", choices=["none", "makov-payne", "lany-zunger"], default="none",
                   help="finite-size correction from --dielectric (default none)")
    g.add_argument("--corrections", nargs="+", default=[], metavar="Q=EV",
                   help="per-charge corrections you computed from your DFT supercells (override --correction)")
    g = p.add_argument_group("defect phonons (harmonic, Γ point of the supercells; phonopy)")
    g.add_argument("--phonons", action="store_true",
                   help="vibrational free energy of formation against T from the phonons of the relaxed defect and "
                        "bulk supercells, and the transition levels against T (free_energies.csv/.png)")
    g.add_argument("--t-max", type=float, default=1000.0, help="K (default 1000)")
    g.add_argument("--t-step", type=float, default=50.0, help="K (default 50)")
    g.add_argument("--phonon-fmax", type=float, default=1e-3, help="eV/Å, relaxation before the displacements")
    p.add_argument("-o", "--output-dir", default="defects")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np
    from ..errors import InputError
    from ..io import read
    from ..workflows.defects import DefectSettings, run_defects

    ref = reference_from_args(args)
    mu = key_values(args.mu, "--mu", "EL=EV, e.g. Si=-4.63")
    subs = []
    for item in args.substitutions:
        if ":" not in item:
            raise InputError(f"--substitutions {item!r}: write HOST:DOPANT, e.g. Si:Ge")
        subs.append(tuple(item.split(":", 1)))
    corr = key_values(args.corrections, "--corrections", "Q=EV, e.g. 2=0.35", key=int)
    st = DefectSettings(supercell=args.supercell, vacancies=not args.no_vacancies, vacancy_elements=args.vacancies,
                        interstitials=args.interstitials,
                        substitutions=subs, antisites=args.antisites, distortions=args.distortions,
                        rattle=args.rattle, rattle_seeds=args.rattle_seeds, fmax=args.fmax, mu=mu,
                        relax_bulk=not args.no_relax_bulk,
                        charges=args.charges, vbm=args.vbm, gap=args.gap, dielectric=args.dielectric,
                        correction=args.correction, corrections=corr, phonons=args.phonons,
                        phonon_fmax=args.phonon_fmax,
                        temperatures=[float(t) for t in np.arange(0.0, args.t_max + 1e-9, args.t_step)])
    engine = engine_from_args(args, ref)
    bulk = read(args.bulk)[0].to_ase()
    s = run_defects(bulk, engine, args.output_dir, st, log=lambda m: print(m, file=sys.stderr))
    print(f"{'defect':16s}{'E_f (eV)':>10s}{'plain':>10s}{'unrelaxed':>11s}{'spread':>9s}  best start")
    for r in s["defects"]:
        print(f"{r['defect']:16s}{r['formation_energy_eV']:10.3f}{r['plain_relaxation_eV']:10.3f}"
              f"{r['unrelaxed_eV']:11.3f}{r['spread_of_minima_eV']:9.3f}  {r['best_start']}")
    for name, lv in s.get("transition_levels", {}).items():
        if lv:
            print(f"{name}: transition levels above the VBM: " + ", ".join(
                f"({t['from']:+d}/{t['to']:+d}) {t['level_eV']:.3f} eV" for t in lv))
    vib = s.get("vibrational")
    if vib:
        T = vib["temperatures_K"]
        for name, byq in vib["formation_free_energy_eV"].items():
            for q, v in byq.items():
                label = name if len(st.charges) == 1 and int(q) == 0 else f"{name} q={int(q):+d}"
                print(f"{label}: F_f {v[0]:.3f} eV at {T[0]:g} K, {v[-1]:.3f} eV at {T[-1]:g} K "
                      "(with the harmonic vibrational free energy of formation)")
    extra = ", transition_levels.csv, formation_vs_fermi.png" if "transition_levels" in s else ""
    extra += ", free_energies.csv, free_energies.png" if vib else ""
    print(f"written: {args.output_dir}/defects.csv, defects.json, distortions.png{extra}")
    return 0
