"""``hdnnp data``: inspect and convert structure files."""
from __future__ import annotations

import argparse
import sys
import textwrap

import numpy as np

from ..errors import InputError

_FORMATS_HELP = """\
formats (detected from the file when --format is not given):
  extxyz   extended XYZ, ASE conventions (Å, eV, eV/Å, stress eV/Å³)           read+write
  n2p2     n2p2/RuNNer input.data; give its units with --length-unit bohr
           --energy-unit hartree when it is in atomic units                    read+write
  mlearn   mlearn benchmark JSON (virial_stress kbar, VASP sign → ASE sign)   read
  deepmd   DeePMD-kit npy system folder, or a folder of system folders         read
  xsf      aenet XSF file, folder of .xsf files, or .tar.gz of them            read
  npz      rMD17 / sGDML .npz (kcal/mol converted to eV)                       read
  ase      anything ase.io.read reads: VASP OUTCAR, vasprun.xml, .traj, ...    read

Inside hdnnp everything is Å and eV; conversions happen only when reading and writing.
--length-unit / --energy-unit apply to n2p2 and extxyz files only (the other formats
have fixed units)."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "data", help="inspect and convert structure files (DFT data sets)",
        description=_wrap("Inspect and convert atomic-structure data sets. No converter scripts needed: "
                          "every format below is read directly."),
        epilog=_FORMATS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")

    info = sub.add_parser(
        "info", help="summarise files: structures, elements, labels, energy and force ranges",
        description=_wrap("Print, for each file: its format, the number of structures, elements and atom "
                          "counts, which labels are present (energy, forces, stress, charges, per-atom "
                          "properties), and the ranges of energy per atom (eV/atom) and force components "
                          "(eV/Å)."),
        epilog=_FORMATS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    info.add_argument("files", nargs="*", metavar="FILE", help="structure file or folder")
    info.add_argument("--example", metavar="NAME", choices=["si", "si-test"],
                      help="also summarise an embedded example data set: 'si' (mlearn Si training set, "
                           "214 VASP PBE structures, BSD-3) or 'si-test' (its 25-structure test set)")
    info.add_argument("--format", choices=_formats(), help="format of all FILEs (default: detect)")
    _unit_args(info, "")
    info.set_defaults(func=run_info)

    conv = sub.add_parser(
        "convert", help="convert any readable format to extxyz or n2p2 input.data",
        description=_wrap("Read IN (any format below) and write OUT as extxyz or n2p2 input.data. "
                          "The output format comes from OUT's name (*.xyz/*.extxyz → extxyz, "
                          "*.data → n2p2) unless --out-format is given. Floats are written exactly, "
                          "so converting back gives the same numbers. Example: "
                          "hdnnp data convert input.data train.xyz --in-length-unit bohr "
                          "--in-energy-unit hartree"),
        epilog=_FORMATS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    conv.add_argument("input", metavar="IN", help="file or folder to read")
    conv.add_argument("output", metavar="OUT", help="file to write")
    conv.add_argument("--in-format", choices=_formats(), help="format of IN (default: detect)")
    conv.add_argument("--out-format", choices=["extxyz", "n2p2"], help="format of OUT (default: from the name)")
    _unit_args(conv, "in-", " of IN")
    _unit_args(conv, "out-", " to write OUT in")
    conv.set_defaults(func=run_convert)

    p.set_defaults(func=lambda args: (p.print_help(), 1)[1])


def _wrap(text: str) -> str:
    return textwrap.fill(text, 88)


def _formats():
    from ..io import FORMATS
    return list(FORMATS)


def _unit_args(parser, prefix, what=""):
    parser.add_argument(f"--{prefix}length-unit", default="angstrom", choices=["angstrom", "bohr"],
                        help=f"length unit{what} (n2p2/extxyz only; default angstrom)")
    parser.add_argument(f"--{prefix}energy-unit", default="ev", choices=["ev", "hartree"],
                        help=f"energy unit{what} (n2p2/extxyz only; default ev)")


def _read(path, fmt, length_unit, energy_unit):
    from ..io import detect_format, read
    fmt = fmt or detect_format(path)
    return fmt, read(path, fmt, length_unit=length_unit, energy_unit=energy_unit)


def summarise(structures) -> dict:
    """Statistics that ``data info`` prints (energies per atom in eV/atom, forces in eV/Å)."""
    from ase.data import chemical_symbols
    natoms = np.array([s.natoms for s in structures])
    numbers = np.concatenate([s.numbers for s in structures])
    z, counts = np.unique(numbers, return_counts=True)
    with_e = [s for s in structures if s.energy is not None]
    with_f = [s for s in structures if s.forces is not None]
    props = sorted({k for s in structures for k in s.atom_properties})
    out = {
        "structures": len(structures),
        "periodic": sum(s.is_periodic for s in structures),
        "elements": {chemical_symbols[int(a)]: int(c) for a, c in zip(z, counts)},
        "atoms": (int(natoms.min()), float(np.median(natoms)), int(natoms.max())),
        "total_atoms": int(natoms.sum()),
        "labels": {"energy": len(with_e), "forces": len(with_f),
                   "stress": sum(s.stress is not None for s in structures),
                   "charge": sum(s.charge != 0 for s in structures)},
        "atom_properties": props,
    }
    if with_e:
        epa = np.array([s.energy / s.natoms for s in with_e])
        out["energy_per_atom"] = (float(epa.min()), float(epa.max()))
    if with_f:
        f = np.concatenate([s.forces.reshape(-1) for s in with_f])
        out["force_component"] = (float(f.min()), float(f.max()))
        out["force_abs_max"] = float(np.abs(f).max())
    return out


def run_info(args) -> int:
    files = list(args.files)
    if args.example:
        from ..data import example_path
        files.append(str(example_path(args.example)))
    if not files:
        raise InputError("no FILE given (or use --example si for the embedded example data set)")
    for path in files:
        fmt, structures = _read(path, args.format, args.length_unit, args.energy_unit)
        s = summarise(structures)
        n = s["structures"]
        print(f"{path}")
        print(f"  format        {fmt}")
        print(f"  structures    {n} ({s['periodic']} periodic, {n - s['periodic']} non-periodic)")
        print("  elements      " + ", ".join(f"{el} ({c} atoms)" for el, c in s["elements"].items()))
        lo, med, hi = s["atoms"]
        print(f"  atoms/struct  min {lo}, median {med:g}, max {hi} (total {s['total_atoms']})")
        lab = s["labels"]
        labels = [f"{k} {v}/{n}" for k, v in lab.items() if v]
        print("  labels        " + (", ".join(labels) if labels else "none"))
        if s["atom_properties"]:
            print("  per-atom      " + ", ".join(s["atom_properties"]))
        if "energy_per_atom" in s:
            a, b = s["energy_per_atom"]
            print(f"  energy/atom   {a:.6g} … {b:.6g} eV/atom (spread {b - a:.4g})")
        if "force_component" in s:
            a, b = s["force_component"]
            print(f"  force comps   {a:.4g} … {b:.4g} eV/Å")
    return 0


def run_convert(args) -> int:
    from ..io import write
    fmt, structures = _read(args.input, args.in_format, args.in_length_unit, args.in_energy_unit)
    write(args.output, structures, args.out_format, length_unit=args.out_length_unit,
          energy_unit=args.out_energy_unit)
    print(f"wrote {len(structures)} structures ({fmt} → {args.out_format or 'from name'}) to {args.output}",
          file=sys.stderr)
    return 0
