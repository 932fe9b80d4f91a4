"""``hdnnp label STRUCTURES... -r REF``: label structures with a reference code into the label store
and export the labelled set for ``hdnnp train``."""
from __future__ import annotations

from ._labels import add_reference_arguments, label_from_args, reference_from_args
from ._units import add_data_units, read_structures


def register(sub):
    p = sub.add_parser(
        "label",
        help="label structures with a reference code (DFT, xTB, LAMMPS, EMT, any ASE calculator)",
        description="Compute reference energies, forces and stress (eV, eV/Å, eV/Å³) for structures in any "
                    "format hdnnp reads, in parallel worker processes or on a Dask cluster. Every label goes "
                    "into the label store (an ASE SQLite database) the moment it exists; labels already there "
                    "are reused, failures are recorded with their message and never stop the run, and an "
                    "interrupted run continues where it stopped when rerun. The labelled set is written for "
                    "'hdnnp train' (extxyz, or n2p2 input.data).",
        epilog="examples:\n"
               "  hdnnp label cells.xyz -r sw-si -o train.xyz\n"
               "  hdnnp label cells.xyz -r gpaw-pbe --set ecut=300 --set 'kpts=[2,2,2]' -o train.xyz\n"
               "  hdnnp label mols.xyz -r my_reference.yaml --scheduler local --workers 4 -o train.data\n"
               "  hdnnp label cells.xyz -r gpaw.yaml --check-translation 1 -o train.xyz   # egg-box check\n"
               "  hdnnp label --export -o all.xyz            # everything labelled in labels.db\n"
               "  hdnnp label --list-references",
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter,
    )
    p.add_argument("structures", metavar="STRUCTURES", nargs="*", help="structure files (any readable format)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="write the labelled structures here: .xyz/.extxyz (extxyz) or .data (n2p2 input.data)")
    p.add_argument("--format", help="input format (default: detected)")
    add_data_units(p)
    p.add_argument("--list-references", action="store_true", help="list presets and reference codes and exit")
    p.add_argument("--export", action="store_true",
                   help="write every successful label in the store (of --reference, if given) to -o and exit")
    p.add_argument("--check-translation", type=float, metavar="MEV",
                   help="first label the first structure and two rigid translations of it (0.1 Å), and stop unless "
                        "the energy changes by less than MEV meV/atom (e.g. 1): a real-space grid (GPAW LCAO/FD) "
                        "breaks translational invariance, and no potential can fit labels that do")
    add_reference_arguments(p, required=False)
    p.set_defaults(func=run)


def list_references() -> str:
    from ..references import CODES, PRESETS, get_code
    from ..references._base import REQUIRED

    lines = ["presets (-r NAME):"]
    w = max(len(n) for n in PRESETS)
    for name, (desc, spec) in PRESETS.items():
        lines.append(f"  {name:<{w}}  {desc}")
    lines += ["", "codes (a YAML file with 'code: NAME' and settings, or 'preset: NAME' plus overrides):"]
    for name in CODES:
        c = get_code(name)
        lines.append(f"  {name}: {c.summary}")
        lines.append(f"      units: {c.units}; energy: {c.energy_convention}")
        for k, (default, meaning) in c.settings.items():
            d = "required" if default is REQUIRED else f"default {default!r}"
            lines.append(f"      {k}: {meaning} ({d})")
    return "\n".join(lines)


def run(args) -> int:
    from ..errors import InputError
    from ..io import write
    from ..labels import LabelStore

    if args.list_references:
        print(list_references())
        return 0
    if args.export:
        if not args.output:
            raise InputError("--export needs -o OUT")
        store = LabelStore(args.store)
        ref = reference_from_args(args) if args.reference else None
        structures = list(store.structures(reference=ref))
        write(args.output, structures)
        print(f"written     {args.output} ({len(structures)} labelled structures from {args.store})")
        return 0
    if not args.structures:
        raise InputError("give structure files to label (or --list-references / --export)")
    if not args.reference:
        raise InputError("give the reference with -r/--reference (hdnnp label --list-references lists presets)")
    reference = reference_from_args(args)
    structures = read_structures(args.structures, args.format, args)
    print(f"reference   {reference.describe()}")
    if args.check_translation is not None:
        from ..labels import LabelStore
        from ..labels.checks import translation_spread
        t = translation_spread(structures[0], reference, LabelStore(args.store))
        print(f"translation {structures[0].where()} moved rigidly ({t['n']} translations of 0.1 Å): energy changes by "
              f"{t['energy_meV_atom']:.3g} meV/atom, forces by {t['force_meV_A']:.3g} meV/Å")
        if t["energy_meV_atom"] > args.check_translation:
            raise InputError(f"the reference's energy changes by {t['energy_meV_atom']:.3g} meV/atom when the structure "
                             f"is translated rigidly (more than --check-translation {args.check_translation:g}): its "
                             "labels are not translation-invariant (a real-space grid's egg-box effect?), and a "
                             "potential cannot fit them. Use a finer grid (h), plane waves, or a larger basis")
    run_ = label_from_args(args, structures, reference)
    print(run_.summary())
    print(f"store       {args.store}")
    if args.output:
        labelled = run_.labelled
        write(args.output, labelled)
        print(f"written     {args.output} ({len(labelled)} labelled structures)")
    return 0 if not run_.failed or run_.labelled else 1
