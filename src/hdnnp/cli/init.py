"""``hdnnp init DATA...``: write a commented starting training configuration for a data set."""
from __future__ import annotations

import sys


def default_sf_lines(elements: list[str], rc: float = 6.0) -> list[str]:
    """A small general-purpose SF set (n2p2 syntax, Å): radial G2 per pair of elements and
    angular G3 per element triple."""
    etas_r = [0.001, 0.02, 0.06, 0.15, 0.35, 0.8]
    lines = []
    for c in elements:
        for n in elements:
            for eta in etas_r:
                lines.append(f"{c} 2 {n} {eta} 0.0 {rc}")
        for i, n1 in enumerate(elements):
            for n2 in elements[i:]:
                for eta in (0.005, 0.05):
                    for lam in (-1, 1):
                        for zeta in (1, 4):
                            lines.append(f"{c} 3 {n1} {n2} {eta} {lam} {zeta} {rc}")
    return lines


def _run(args) -> int:
    from ase.data import atomic_numbers
    from ..io import read
    from ..training.config import init_config_text
    structs = []
    for f in args.data:
        structs += read(f, length_unit=args.length_unit, energy_unit=args.energy_unit)
    elements = sorted({el for s in structs for el in s.symbols}, key=lambda e: atomic_numbers[e])
    text = init_config_text(args.data, elements, test_files=args.test or [],
                            length_unit=args.length_unit, energy_unit=args.energy_unit,
                            sf_lines=default_sf_lines(elements),
                            has_forces=any(s.forces is not None for s in structs),
                            has_stress=any(s.stress is not None for s in structs),
                            output=args.run_dir)
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text)
        print(f"wrote {args.output} ({len(structs)} structures, elements {' '.join(elements)})",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def register(sub) -> None:
    p = sub.add_parser("init", help="write a commented starting training config for a data set",
                       description="Write a commented YAML training configuration (symmetry "
                                   "functions, network, loss, optimiser) for the given data.",
                       epilog="example: hdnnp init train.extxyz --test test.extxyz -o train.yaml")
    p.add_argument("data", nargs="+", help="training data files")
    p.add_argument("--test", nargs="*", help="test data files")
    p.add_argument("--length-unit", default="angstrom", choices=["angstrom", "bohr"])
    p.add_argument("--energy-unit", default="ev", choices=["ev", "hartree"])
    p.add_argument("--run-dir", default="run", help="run.output in the config")
    p.add_argument("-o", "--output", help="write the config here (default: stdout)")
    p.set_defaults(func=_run)
