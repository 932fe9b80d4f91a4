"""The ``hdnnp`` command. Each sub-command lives in its own module exposing ``register(subparsers)``,
which adds its parser and sets ``func(args) -> int``. The front end stays thin: it validates
arguments, calls the library, and prints."""
from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import HDNNPError

#: sub-command modules, in the order ``hdnnp --help`` lists them
COMMANDS = ["data", "sf", "init", "train", "predict", "committee", "md", "lammps", "label", "validate", "learn", "phonons", "thermal_conductivity", "amorphous", "defects", "diffusion", "neb", "kmc", "nmr"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="hdnnp",
        description="High-dimensional neural network potentials: read DFT data, evaluate and train "
                    "n2p2-compatible potentials, and run them. Units are eV and Å unless stated.",
        epilog="Run 'hdnnp COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"hdnnp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:  # a command still being written
            if exc.name != f"{__package__}.{name}":
                raise
            continue
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except HDNNPError as exc:
        print(f"hdnnp: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"hdnnp: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
