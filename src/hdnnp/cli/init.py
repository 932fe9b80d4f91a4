"""``hdnnp init DATA...``: read the data and write a starting training configuration made for it."""
from __future__ import annotations

import re
import sys


def parse_duration(text: str) -> float:
    """'300', '300s', '5m', '1.5h' -> seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", str(text))
    if not m:
        from ..errors import InputError
        raise InputError(f"--time-budget {text!r}: give seconds, or a number with s, m or h (e.g. 10m)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def _run(args) -> int:
    from ..io import detect_format, read
    from ..training.autoconfig import choose, config_text, summarize

    structs, formats = [], []
    for f in list(args.data) + list(args.test or []):
        fmt = detect_format(f)
        formats.append(fmt)
        units = {"length_unit": args.length_unit, "energy_unit": args.energy_unit} if fmt in ("n2p2", "extxyz") else {}
        if f in args.data:
            structs += read(f, fmt, **units)
    summary = summarize(structs, formats)
    budget = parse_duration(args.time_budget) if args.time_budget else None
    settings, why = choose(summary, budget)
    text = config_text(list(args.data), list(args.test or []), formats, summary, settings, why,
                       length_unit=args.length_unit, energy_unit=args.energy_unit, output=args.run_dir)
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text)
        print(f"wrote {args.output} ({len(structs)} structures, elements {' '.join(summary.elements)})",
              file=sys.stderr)
        for w in why:
            print(f"  - {w}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def register(sub) -> None:
    p = sub.add_parser("init", help="read the data and write a training config made for it",
                       description="Read the training data (periodic cells or molecules, elements, sizes, labels, "
                                   "their spread) and write a commented YAML training configuration chosen for it: "
                                   "automatic symmetry functions, cutoff, network, optimiser, loss weights and a time "
                                   "budget that training fits its epochs into. The comments say why.",
                       epilog="example: hdnnp init train.extxyz --test test.extxyz --time-budget 10m -o train.yaml")
    p.add_argument("data", nargs="+", help="training data files")
    p.add_argument("--test", nargs="*", help="test data files")
    p.add_argument("--time-budget", metavar="T", help="training wall time: seconds, or 10m, 1h (default: 3 min per "
                                                      "1,000 training atoms, 3 to 60 min)")
    p.add_argument("--length-unit", default="angstrom", choices=["angstrom", "bohr"],
                   help="length unit of n2p2/extxyz data files (other formats have fixed units)")
    p.add_argument("--energy-unit", default="ev", choices=["ev", "hartree"],
                   help="energy unit of n2p2/extxyz data files")
    p.add_argument("--run-dir", default="run", help="run.output in the config")
    p.add_argument("-o", "--output", help="write the config here (default: stdout)")
    p.set_defaults(func=_run)
