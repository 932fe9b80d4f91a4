"""``hdnnp validate POTENTIAL_DIR STRUCTURES... -r REF``: a potential against its reference code."""
from __future__ import annotations

import argparse

from ._labels import add_reference_arguments, label_from_args, reference_from_args
from ._units import add_data_units, add_potential_units, read_structures


def register(sub):
    p = sub.add_parser(
        "validate",
        help="validate a potential against its reference code on structures picked from a trajectory",
        description="Pick N structures from an MD trajectory or any structure file (uniform in time, or "
                    "farthest-point in the potential's descriptor space), label them with the reference "
                    "code through the label store (reused when already there), and report the potential's "
                    "energy, force and stress errors per group, with parity plots. Writes OUT/errors.csv "
                    "(per group), OUT/structures.csv (per structure), OUT/summary.json and OUT/parity.png.",
        epilog="example:\n  hdnnp validate run/potential md.traj -r gpaw-pbe --set 'kpts=[2,2,2]' -n 20 --pick fps",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("potential", metavar="POTENTIAL_DIR", help="n2p2 potential folder (or an hdnnp run folder)")
    p.add_argument("structures", metavar="STRUCTURES", nargs="+", help="trajectory or structure files")
    p.add_argument("-n", type=int, default=20, help="how many structures to validate on (default 20)")
    p.add_argument("--pick", default="uniform", choices=["uniform", "fps", "all"],
                   help="uniform: evenly spaced in file order (time); fps: farthest-point in descriptor space; "
                        "all (default uniform)")
    p.add_argument("-o", "--output", default="validation", metavar="DIR", help="report folder (default validation)")
    p.add_argument("--format", help="input format (default: detected)")
    add_potential_units(p)
    add_data_units(p)
    add_reference_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..errors import InputError
    from ..model.evaluator import load_potential
    from ..workflows.validate import compare, format_table, pick_structures, write_report

    pdir = Path(args.potential)
    if not (pdir / "input.nn").is_file() and (pdir / "potential" / "input.nn").is_file():
        pdir = pdir / "potential"
    ev = load_potential(pdir, length_unit=args.potential_length_unit, energy_unit=args.potential_energy_unit)
    reference = reference_from_args(args)
    structures = read_structures(args.structures, args.format, args)
    if args.n < 1:
        raise InputError("-n must be at least 1")
    idx = pick_structures(structures, args.n, args.pick, ev)
    picked = [structures[k] for k in idx]
    print(f"potential   {pdir} (elements {' '.join(ev.elements)})")
    print(f"reference   {reference.describe()}")
    print(f"picked      {len(idx)} of {len(structures)} structures ({args.pick})")
    run_ = label_from_args(args, picked, reference, desc=f"label {reference.name}")
    print(run_.summary())
    ok = [k for k, r in enumerate(run_.results) if r is not None and r.ok]
    if not ok:
        raise InputError("no structure could be labelled by the reference; nothing to validate")
    labelled = [run_.results[k].apply(picked[k]) for k in ok]
    c = compare(ev, labelled, [idx[k] for k in ok])
    meta = {"potential": str(pdir), "reference": reference.describe(), "pick": args.pick,
            "picked_indices": idx, "failed_labels": len(picked) - len(ok), "store": args.store}
    summary = write_report(c, args.output, meta=meta, title=f"{pdir} vs {reference.name}")
    print(format_table(summary["errors"]))
    n_ex = sum(1 for x in c.extrapolating_atoms if x)
    if n_ex:
        print(f"WARNING: {n_ex} of {len(labelled)} structures extrapolate (symmetry functions outside the "
              "training range): expect larger errors there")
    print(f"written     {args.output}/errors.csv, structures.csv, summary.json, parity.png")
    return 0
