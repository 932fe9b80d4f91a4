"""Shared options of the commands that compute with a potential *or* a reference code (phonons,
thermal-conductivity, defects, amorphous): ``POTENTIAL_DIR`` or ``--reference REF`` with ``--set``
overrides, and the label store and workers a reference's calculations go through."""
from __future__ import annotations


def add_engine_args(p, *, store: bool = True) -> None:
    p.add_argument("potential", metavar="POTENTIAL_DIR", nargs="?", help="potential folder (or a committee)")
    p.add_argument("--reference", "-r", metavar="REF", help="a reference preset or YAML file instead of a potential")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a reference setting")
    if store:
        p.add_argument("--store", default="labels.db", help="label store for --reference (default labels.db)")
        p.add_argument("--workers", type=int, help="labelling worker processes (--reference)")


def reference_from_args(args):
    """The validated reference of ``--reference`` (None when a potential is given); exactly one is needed."""
    from ..errors import InputError
    if (args.potential is None) == (args.reference is None):
        raise InputError("give a POTENTIAL_DIR or --reference REF (one of them)")
    if not args.reference:
        return None
    from ..references import get_reference, parse_overrides
    return get_reference(args.reference, parse_overrides(args.set), where="--reference")


def engine_from_args(args, ref=None):
    """A :class:`~hdnnp.workflows.phonons.ForceEngine` for the potential or the reference of ``args``."""
    from ..workflows.phonons import ForceEngine
    return ForceEngine(potential=args.potential, reference=ref, store=getattr(args, "store", None),
                       length_unit=getattr(args, "potential_length_unit", None),
                       energy_unit=getattr(args, "potential_energy_unit", None),
                       workers=getattr(args, "workers", None), progress=not getattr(args, "no_progress", False))


def add_relax_args(p) -> None:
    p.add_argument("--no-relax", action="store_true", help="use the structure as given")
    p.add_argument("--relax-cell", action="store_true", help="relax the cell too (symmetry kept)")
    p.add_argument("--fmax", type=float, default=1e-4, help="relaxation target, eV/Å (default 1e-4)")


def add_input_args(p) -> None:
    """The structure file's format and units, the potential's units, and --no-progress."""
    from ._units import add_data_units, add_potential_units
    p.add_argument("--format", help="structure format (default: detected)")
    add_potential_units(p)
    add_data_units(p)
    p.add_argument("--no-progress", action="store_true")


def first_structure(args, path=None):
    """The first structure of ``path`` (default ``args.structure``) as ase.Atoms (format and units from the
    options)."""
    from ._units import read_structures
    return read_structures([path if path is not None else args.structure], args.format, args)[0].to_ase()


def key_values(items, option: str, form: str, key=str) -> dict:
    """``KEY=NUMBER`` command-line items as {key(KEY): float}; ``form`` (e.g. 'EL=EV, e.g. Si=-4.63') is what the
    error asks for."""
    from ..errors import InputError
    out = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[key(k.strip())] = float(v)
        except ValueError:
            raise InputError(f"{option} {item!r}: write {form}") from None
    return out
