"""Unit options shared by the commands: the units of a potential folder and the units of structure files
are separate (n2p2 files carry no units; a potential in Bohr/Hartree may be used on extxyz data in Å)."""
from __future__ import annotations

import warnings


def add_potential_units(p) -> None:
    p.add_argument("--potential-length-unit", "--length-unit", dest="potential_length_unit",
                   choices=["angstrom", "bohr"], default=None,
                   help="length unit of the potential files (default: the folder's UNITS file, which hdnnp writes "
                        "with every potential; else angstrom, with a warning if the cutoff looks like Bohr)")
    p.add_argument("--potential-energy-unit", "--energy-unit", dest="potential_energy_unit",
                   choices=["ev", "hartree"], default=None,
                   help="energy unit of the potential files (default: the UNITS file, else ev)")


def add_data_units(p) -> None:
    p.add_argument("--data-length-unit", choices=["angstrom", "bohr"], default="angstrom",
                   help="length unit of n2p2 input.data / extxyz structure files (default angstrom; other formats "
                        "have fixed units)")
    p.add_argument("--data-energy-unit", choices=["ev", "hartree"], default="ev",
                   help="energy unit of n2p2 input.data / extxyz structure files (default ev)")


def read_structures(paths, fmt, args, *, check: bool = True):
    """Read structure files in the --data-* units; warn when the positions look like the other unit."""
    from ..io import detect_format, read
    from ..units import UnitsWarning, structure_units_hint

    out = []
    for path in paths:
        f = fmt or detect_format(path)
        units = {}
        if f in ("n2p2", "extxyz"):
            units = {"length_unit": args.data_length_unit, "energy_unit": args.data_energy_unit}
        elif (args.data_length_unit, args.data_energy_unit) != ("angstrom", "ev"):
            from ..errors import InputError
            raise InputError(f"format {f!r} has fixed units (Å and eV after reading); --data-length-unit and "
                             "--data-energy-unit apply to n2p2 input.data and extxyz files only", file=str(path))
        structures = read(path, f, **units)
        if check:
            hint = structure_units_hint(structures)
            if hint:
                warnings.warn(f"{path}: {hint}", UnitsWarning, stacklevel=2)
        out.extend(structures)
    return out
