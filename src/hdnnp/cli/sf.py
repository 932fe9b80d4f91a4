"""``hdnnp sf``: generate symmetry-function sets on systematic grids, and select them on data."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from .data import _formats, _unit_args, _wrap

_GEN_EPILOG = """\
grids (lengths in Å, η in Å⁻²; n2p2 form exp(-η (r - r_s)²)):
  imbalzano2018  centred: r_s = 0, η_m = ((n-1)^(m/(n-1)) / r_c)², m = 0..n-1
                 shifted: r_s,m = r_c / n^(m/n), m = 1..n, η_m = 1/(r_s,m-1 - r_s,m)²
  gastegger2018  r_m = linspace(r_min, r_c, n); centred: r_s = 0, η = 1/(2 r_m²);
                 shifted: r_s = r_m, η = 1/(2 Δr²)
  angular        centred η grid of the rule (n-angular points), λ = ±1, ζ from --zetas
  compact        radial (-r_m, r_m) (centred) and overlapping bumps (shifted), subtype p2;
                 angular radial part (-r, r), windows (-180,180), (0,360) and --angle-windows
                 overlapping windows in [0, 180] degrees
types: gaussian 2 (radial), 3 (narrow), 9 (wide); weighted 12, 13
       compact 20, 21, 22; weighted 23, 24, 25
examples:
  hdnnp sf generate --elements Ga N --cutoff 6 -o input.nn --yaml sf.yaml
  hdnnp sf generate --elements Si --cutoff 6 --kind compact --mode both --angular both"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sf", help="generate and select symmetry functions",
        description=_wrap("Generate symmetry-function sets on systematic radial and angular grids, "
                          "select the informative ones on a data set (CUR or farthest-point sampling), "
                          "or do both for a training data set."))
    sub = p.add_subparsers(dest="sf_command", metavar="ACTION")

    g = sub.add_parser("generate", help="write a symmetry-function set on systematic grids",
                       description=_wrap("Write a symmetry-function set (n2p2 input.nn block and/or the "
                                         "'model:' section of a training config) on systematic grids."),
                       epilog=_GEN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("--elements", nargs="+", required=True, metavar="EL", help="chemical symbols")
    g.add_argument("--cutoff", type=float, required=True, help="cutoff radius r_c in Å")
    _grid_args(g)
    g.add_argument("--budget", type=int, help="at most this many functions per element (shrinks the grids)")
    _out_args(g)
    g.set_defaults(func=run_generate)

    s = sub.add_parser("select", help="select symmetry functions on a data set (CUR / FPS)",
                       description=_wrap(
                           "Compute a candidate set (an input.nn given with --input-nn, or a generated one) "
                           "on DATA, drop constant, mostly-zero and near-duplicate functions, rank the rest "
                           "per element by CUR (Imbalzano et al. 2018) or farthest-point sampling, keep "
                           "--n-keep per element, and print the information kept against the number kept."),
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_GEN_EPILOG)
    s.add_argument("data", nargs="+", metavar="DATA", help="structure files (any format hdnnp reads)")
    s.add_argument("--input-nn", help="candidate set: an n2p2 input.nn in Å (default: generate one)")
    s.add_argument("--cutoff", type=float, help="cutoff of the generated candidates (Å; default from the data)")
    _grid_args(s, candidates=True)
    _select_args(s)
    _data_args(s)
    _out_args(s, report=True)
    s.set_defaults(func=run_select)

    a = sub.add_parser("auto", help="generate candidates and select a set for training data",
                       description=_wrap("What 'symmetry_functions: auto' does: cutoff from the data (unless "
                                         "given), a large Gaussian candidate set on grids adapted to the "
                                         "data's pair distances (or systematic/compact grids), selection of "
                                         "--budget functions per element."))
    a.add_argument("data", nargs="+", metavar="DATA")
    a.add_argument("--elements", nargs="+", metavar="EL", help="model elements (default: those in the data)")
    a.add_argument("--cutoff", type=float, help="cutoff in Å (default from the data)")
    a.add_argument("--budget", type=int, default=32, help="functions per element (default 32)")
    a.add_argument("--kind", choices=["gaussian", "compact"], default="gaussian")
    a.add_argument("--method", choices=["cur", "fps"], default="cur")
    a.add_argument("--grid", choices=["adaptive", "systematic"], default=None,
                   help="candidates: adaptive (default for gaussian; radial grids from the data's pair "
                        "distances) or systematic (Imbalzano grids; the only choice for compact)")
    a.add_argument("--scaling", choices=["range", "std"], default="range",
                   help="column scaling before ranking: range (min-max, as the network sees them; default) "
                        "or std")
    a.add_argument("--min-radial", type=float, default=0.5,
                   help="at least this fraction of the kept functions per element is radial (default 0.5)")
    a.add_argument("--seed", type=int, default=0)
    _data_args(a)
    _out_args(a, report=True)
    a.set_defaults(func=run_auto)


def _grid_args(p, candidates=False):
    d = "candidates: " if candidates else ""
    p.add_argument("--kind", choices=["gaussian", "compact"], default="gaussian",
                   help=f"{d}Gaussian (2/3/9, weighted 12/13) or compact polynomial (20-25) functions")
    p.add_argument("--rule", choices=["imbalzano2018", "gastegger2018"], default="imbalzano2018",
                   help=f"{d}radial grid rule (default imbalzano2018)")
    p.add_argument("--mode", choices=["shift", "center", "both"], default="both" if candidates else "shift",
                   help=f"{d}shifted or centred radial grid, or both")
    p.add_argument("--angular", choices=["narrow", "wide", "both", "none"], default="both" if candidates else "narrow",
                   help=f"{d}angular types")
    p.add_argument("--n-radial", type=int, default=12 if candidates else 8, help=f"{d}points per radial grid")
    p.add_argument("--n-angular", type=int, default=6 if candidates else 4,
                   help=f"{d}angular η values (gaussian) or radii (compact)")
    p.add_argument("--zetas", type=float, nargs="+", default=[1, 2, 4, 16], help=f"{d}ζ values (gaussian)")
    p.add_argument("--angle-windows", type=int, default=3, help=f"{d}compact angular windows inside [0, 180]")
    p.add_argument("--weighted", action="store_true", help=f"{d}weighted types (12/13, 23/24/25)")
    p.add_argument("--r-min", type=float, default=0.5, help=f"{d}smallest grid radius (gastegger2018, compact), Å")
    p.add_argument("--cutoff-type", type=int, default=6, help="n2p2 cutoff type (default 6, polynomial)")


def _select_args(p):
    p.add_argument("--n-keep", nargs="+", metavar="N|EL=N",
                   help="functions to keep per element: one number for all, or EL=N pairs "
                        "(default: the fewest explaining --min-explained of the variance)")
    p.add_argument("--method", choices=["cur", "fps"], default="cur", help="ranking (default cur)")
    p.add_argument("--max-correlation", type=float, default=0.999,
                   help="drop a function whose |correlation| with a kept one exceeds this (default 0.999)")
    p.add_argument("--max-zero-fraction", type=float, default=0.95,
                   help="drop a function that is ~0 on more than this fraction of atoms (default 0.95)")
    p.add_argument("--min-explained", type=float, default=0.999,
                   help="explained-variance target when --n-keep is not given (default 0.999)")
    p.add_argument("--max-atoms", type=int, default=2000, help="atoms per element used (seeded subsample)")
    p.add_argument("--seed", type=int, default=0)


def _data_args(p):
    p.add_argument("--format", choices=_formats(), help="format of all DATA files (default: detect)")
    _unit_args(p, "", " of DATA")


def _out_args(p, report=False):
    p.add_argument("-o", "--output", help="write the set as an n2p2 input.nn block (Å)")
    p.add_argument("--yaml", help="write the set as the 'model:' section of a training config")
    if report:
        p.add_argument("--report", help="write the selection report (.yaml or .json)")
        p.add_argument("--plot", help="write the information-vs-count plot (PNG)")


def _write_outputs(args, sfset, header, report=None) -> None:
    from ..descriptors.generate import to_config_yaml, to_input_nn
    if args.output:
        Path(args.output).write_text(to_input_nn(sfset, header=header))
        print(f"wrote {args.output}")
    if args.yaml:
        Path(args.yaml).write_text(to_config_yaml(sfset, header=header))
        print(f"wrote {args.yaml}")
    if report is not None:
        from ..descriptors.selection import plot_selection, write_report
        if getattr(args, "report", None):
            write_report(report, args.report)
            print(f"wrote {args.report}")
        if getattr(args, "plot", None):
            plot_selection(report, args.plot)
            print(f"wrote {args.plot}")


def _gen_kw(args) -> dict:
    return dict(kind=args.kind, rule=args.rule, mode=args.mode, angular=args.angular,
                n_radial=args.n_radial, n_angular=args.n_angular, zetas=args.zetas, weighted=args.weighted,
                r_min=args.r_min, n_angle_windows=args.angle_windows, cutoff_type=args.cutoff_type)


def _summary(sfset) -> str:
    from collections import Counter
    lines = []
    for el in sfset.elements:
        c = Counter(sf.type for sf in sfset.for_element(el))
        lines.append(f"  {el}: {len(sfset.for_element(el))} functions ("
                     + ", ".join(f"type {t}: {n}" for t, n in sorted(c.items())) + ")")
    return "\n".join(lines)


def run_generate(args) -> int:
    from ..descriptors.generate import generate_symmetry_functions
    kw = _gen_kw(args)
    sfset = generate_symmetry_functions(args.elements, args.cutoff, budget=args.budget, **kw)
    header = (f"hdnnp sf generate: elements {' '.join(sfset.elements)}, cutoff {args.cutoff} Å, "
              + ", ".join(f"{k}={v}" for k, v in kw.items()))
    print(f"generated {len(sfset)} symmetry functions, cutoff {args.cutoff} Å, cutoff_type {args.cutoff_type}")
    print(_summary(sfset))
    if not args.output and not args.yaml:
        from ..descriptors.generate import to_input_nn
        print(to_input_nn(sfset), end="")
    _write_outputs(args, sfset, header)
    return 0


def _read_all(args):
    from .data import _read
    structures = []
    for f in args.data:
        structures += _read(f, args.format, args.length_unit, args.energy_unit)[1]
    return structures


def _n_keep(values, elements):
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return _posint(values[0], "--n-keep")
    out = {}
    for v in values:
        if "=" not in v:
            raise InputError(f"--n-keep: give one number or EL=N pairs, got {v!r}")
        el, n = v.split("=", 1)
        if el not in elements:
            raise InputError(f"--n-keep: element {el!r} is not in the set's elements {list(elements)}")
        out[el] = _posint(n, "--n-keep")
    return out


def _posint(v, what):
    try:
        n = int(v)
    except ValueError:
        raise InputError(f"{what}: {v!r} is not an integer") from None
    if n < 1:
        raise InputError(f"{what}: must be >= 1, got {n}")
    return n


def run_select(args) -> int:
    import numpy as np

    from ..descriptors.generate import generate_symmetry_functions
    from ..descriptors.selection import default_cutoff, format_table, select_symmetry_functions
    from ..descriptors.symmetry_functions import ATOMIC_NUMBERS, SymmetryFunctionSet
    structures = _read_all(args)
    if args.input_nn:
        cand = SymmetryFunctionSet.from_input_nn(args.input_nn)
        src = args.input_nn
    else:
        zs = sorted({int(z) for s in structures for z in np.asarray(s.numbers).tolist()})
        els = [e for e, z in ATOMIC_NUMBERS.items() if z in zs]
        cutoff = args.cutoff
        if cutoff is None:
            cutoff, info = default_cutoff(structures, seed=args.seed)
            print(f"cutoff {cutoff} Å from the data ({info['rule']})")
        cand = generate_symmetry_functions(els, cutoff, **_gen_kw(args))
        src = f"generated ({args.kind}, {args.rule}, mode {args.mode}, angular {args.angular})"
    n_keep = _n_keep(args.n_keep, cand.elements)
    sel, report = select_symmetry_functions(
        cand, structures, n_keep, args.method, max_correlation=args.max_correlation,
        max_zero_fraction=args.max_zero_fraction, min_explained=args.min_explained,
        max_atoms=args.max_atoms, seed=args.seed)
    report["candidates"] = src
    print(f"candidates: {src}; {len(structures)} structures")
    print(format_table(report))
    _write_outputs(args, sel, f"hdnnp sf select ({args.method}) from {src} on {' '.join(args.data)}", report)
    return 0


def run_auto(args) -> int:
    from ..descriptors.selection import auto_symmetry_functions, format_table
    structures = _read_all(args)
    sel, report = auto_symmetry_functions(structures, args.elements, args.cutoff, args.budget, args.seed,
                                          kind=args.kind, method=args.method,
                                          grid=args.grid or ("systematic" if args.kind == "compact" else "adaptive"),
                                          scaling=args.scaling, min_radial=args.min_radial)
    ci = report["cutoff_info"]
    print(f"cutoff {report['cutoff']} Å" + (f" from the data ({ci['rule']})" if ci.get("from") == "data" else ""))
    print(format_table(report))
    _write_outputs(args, sel, f"hdnnp sf auto (budget {args.budget}, {args.method}) on {' '.join(args.data)}",
                   report)
    return 0
