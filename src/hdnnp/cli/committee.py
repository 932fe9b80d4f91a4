"""``hdnnp committee merge DIR... -o OUT``: one n2p2 potential that gives the mean of several."""
from __future__ import annotations

from pathlib import Path


def register(sub):
    p = sub.add_parser(
        "committee",
        help="committees of potentials (make a committee folder, merge members into one n2p2 potential)",
        description="Committees of HDNNPs trained on one training set with one symmetry-function set: "
                    "'hdnnp train' runs that differ only in run.seed, with the same explicit "
                    "symmetry_functions lines and the same training split (set data.split_seed, "
                    "which otherwise follows run.seed, or validation_fraction 0 with explicit test "
                    "files), so that scaling statistics and reference energies agree.",
    )
    cs = p.add_subparsers(dest="committee_command", metavar="ACTION")
    m = cs.add_parser(
        "merge",
        help="merge members into one n2p2 potential giving their mean energy and forces",
        description="Write one n2p2 potential folder whose energies, forces and stress are the mean of "
                    "the members': the members' networks side by side (first layers stacked, deeper "
                    "layers block diagonal, output weights divided by the number of members). Members "
                    "must share elements, symmetry functions, cutoff, scaling statistics, reference "
                    "energies and activations, as runs on the same training set with the same "
                    "symmetry functions do. The result runs wherever an n2p2 potential does (n2p2, "
                    "LAMMPS, hdnnp predict, the ASE calculator); deeper layers cost M² times a member's.",
    )
    m.add_argument("members", metavar="DIR", nargs="+",
                   help="n2p2 potential folders, or hdnnp training run folders (their potential/)")
    m.add_argument("-o", "--output", metavar="OUT_DIR", required=True, help="folder to write")
    m.set_defaults(func=merge)
    b = cs.add_parser(
        "make",
        help="make a committee folder (mean and spread) from members trained separately",
        description="Write one committee folder from member potentials that share their symmetry functions: the "
                    "members in member_k/, their merged mean at the top level when they can be merged, and "
                    "committee.json. hdnnp predict, md, the calculator and LAMMPS (hdnnp lammps export) then give the "
                    "mean and the members' spread. 'hdnnp train --committee M' writes such a folder itself, with the "
                    "committee's spread on its validation set (the unit of the trust score); a folder made here has "
                    "that calibration only when --calibration is given.")
    b.add_argument("members", metavar="DIR", nargs="+", help="n2p2 potential folders or training run folders")
    b.add_argument("-o", "--output", metavar="OUT_DIR", required=True, help="folder to write")
    b.add_argument("--calibration", type=float, metavar="EV_PER_A",
                   help="the committee's RMS per-atom force spread on validation data (eV/Å)")
    b.set_defaults(func=make)
    p.set_defaults(func=lambda args: (p.print_help(), 1)[1])


def _potential_dir(path: str) -> Path:
    from ..errors import InputError

    d = Path(path)
    if (d / "input.nn").is_file():
        return d
    if (d / "potential" / "input.nn").is_file():
        return d / "potential"
    raise InputError("not an n2p2 potential folder nor a training run folder (no input.nn and no "
                     "potential/input.nn)", file=str(d))


def merge(args) -> int:
    from ..errors import InputError
    from ..model import read_potential, write_potential
    from ..model.committee import merge_committee

    dirs = [_potential_dir(d) for d in args.members]
    members = [read_potential(d) for d in dirs]
    try:
        pot = merge_committee(members)
    except ValueError as exc:
        raise InputError(f"{exc} (members: {', '.join(str(d) for d in dirs)})") from None
    write_potential(pot, args.output)
    sizes = {el: "-".join(str(n) for n in pot.networks[el].layer_sizes) for el in pot.elements}
    print(f"merged {len(members)} members into {args.output} (networks "
          f"{', '.join(f'{el} {s}' for el, s in sizes.items())})")
    return 0


def make(args) -> int:
    from ..errors import InputError
    from ..training.committee import write_committee

    dirs = [_potential_dir(d) for d in args.members]
    if len(dirs) < 2:
        raise InputError("a committee needs at least two members")
    try:
        info = write_committee(dirs, args.output,
                               {"force_std_validation": args.calibration} if args.calibration else None)
    except ValueError as exc:
        raise InputError(f"{exc} (members: {', '.join(str(d) for d in dirs)})") from None
    print(f"committee of {len(dirs)} in {args.output}" + (" (with the merged mean at the top level)"
                                                         if info["merged_mean"] else
                                                         " (members differ in normalisation: no merged mean)"))
    return 0
