"""n2p2 / RuNNer ``input.data``.

Each structure::

    begin
    comment free text                       (optional, may repeat)
    lattice ax ay az                        (0 or 3 lines; 3 = periodic)
    atom x y z element q e fx fy fz         (one per atom)
    energy E
    charge Q
    end

The file's units are given by ``length_unit`` (angstrom|bohr) and ``energy_unit`` (ev|hartree);
values are converted to Å and eV on read and back on write (forces in energy/length).
Column ``q`` (atomic charge, e) goes to ``atom_properties["charges"]`` and column ``e``
(atomic energy, energy unit) to ``atom_properties["atom_energies"]``, each only when it has a
non-zero entry; absent properties are written as 0.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError
from ..structures import Structure, symbol_to_number
from ._common import Units, fmt, fmt_row, parse_float, scale, unscale

KEYWORDS = ("begin", "comment", "lattice", "atom", "energy", "charge", "end")


def read_n2p2(path, *, units: Units | None = None, text: str | None = None) -> list[Structure]:
    """Read all structures of an input.data file (``text`` given: parse it, naming ``path``)."""
    units = units or Units()
    file = str(path)
    if text is None:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    structures: list[Structure] = []
    cur = None  # dict being filled, or None outside begin/end
    for lineno, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if not parts or parts[0].startswith("#"):
            continue
        key = parts[0].lower()
        if key not in KEYWORDS:
            raise InputError(f"unknown keyword {parts[0]!r} (expected one of {', '.join(KEYWORDS)})",
                             file=file, line=lineno)
        if key == "begin":
            if cur is not None:
                raise InputError(f"'begin' before the 'end' of the structure begun on line {cur['line']}",
                                 file=file, line=lineno)
            cur = dict(line=lineno, comments=[], lattice=[], pos=[], sym=[], q=[], e=[], f=[],
                       energy=None, charge=None)
            continue
        if cur is None:
            raise InputError(f"{parts[0]!r} outside a begin ... end block", file=file, line=lineno)
        if key == "comment":
            cur["comments"].append(raw.strip()[len(parts[0]):].strip())
        elif key == "lattice":
            if cur["pos"]:
                raise InputError("'lattice' after 'atom' lines", file=file, line=lineno)
            if len(cur["lattice"]) == 3:
                raise InputError("more than 3 'lattice' lines", file=file, line=lineno)
            if len(parts) != 4:
                raise InputError(f"'lattice' needs 3 numbers, found {len(parts) - 1}", file=file, line=lineno)
            cur["lattice"].append([parse_float(t, file=file, line=lineno, what="lattice") for t in parts[1:]])
        elif key == "atom":
            if len(parts) != 10:
                raise InputError(f"'atom' line needs 9 fields (x y z element charge energy fx fy fz), "
                                 f"found {len(parts) - 1}", file=file, line=lineno)
            if cur["energy"] is not None or cur["charge"] is not None:
                raise InputError("'atom' after 'energy'/'charge'", file=file, line=lineno)
            nums = [parse_float(t, file=file, line=lineno, what="atom field")
                    for t in parts[1:4] + parts[5:10]]
            cur["pos"].append(nums[0:3])
            cur["sym"].append(symbol_to_number(parts[4], file=file, line=lineno))
            cur["q"].append(nums[3])
            cur["e"].append(nums[4])
            cur["f"].append(nums[5:8])
        elif key in ("energy", "charge"):
            if len(parts) != 2:
                raise InputError(f"'{key}' needs 1 number, found {len(parts) - 1}", file=file, line=lineno)
            if cur[key] is not None:
                raise InputError(f"second '{key}' line in one structure", file=file, line=lineno)
            cur[key] = parse_float(parts[1], file=file, line=lineno, what=key)
        elif key == "end":
            structures.append(_finish(cur, units, file, lineno, len(structures)))
            cur = None
    if cur is not None:
        raise InputError(f"structure begun on line {cur['line']} has no 'end' (file truncated?)",
                         file=file, line=cur["line"])
    return structures


def _finish(cur, units: Units, file, lineno, index) -> Structure:
    if not cur["pos"]:
        raise InputError("structure has no 'atom' lines", file=file, line=lineno)
    nlat = len(cur["lattice"])
    if nlat not in (0, 3):
        raise InputError(f"structure has {nlat} 'lattice' line(s); need 0 (molecule) or 3 (periodic)",
                         file=file, line=cur["line"])
    props = {}
    q = np.array(cur["q"])
    if q.any():
        props["charges"] = q
    e = np.array(cur["e"])
    if e.any():
        props["atom_energies"] = scale(e, units.energy)
    info = {}
    comment = "\n".join(cur["comments"]).strip()
    if comment:
        info["comment"] = comment
    periodic = nlat == 3
    return Structure(
        numbers=np.array(cur["sym"]),
        positions=scale(np.array(cur["pos"]), units.length),
        cell=scale(np.array(cur["lattice"]), units.length) if periodic else np.zeros((3, 3)),
        pbc=periodic,
        energy=None if cur["energy"] is None else scale(cur["energy"], units.energy),
        forces=scale(np.array(cur["f"]), units.force),
        charge=0.0 if cur["charge"] is None else cur["charge"],
        atom_properties=props, info=info, source=file, index=index)


def write_n2p2(path, structures, *, units: Units | None = None) -> None:
    """Write structures as input.data in the given units. Floats are written exactly (shortest repr).

    n2p2 has no stress or free metadata: those are dropped (with a warning for stress).
    Structures without energy or forces are refused (n2p2 would read the missing labels as 0).
    """
    units = units or Units()
    lines: list[str] = []
    dropped_stress = 0
    for k, s in enumerate(structures):
        where = dict(file=s.source or str(path), structure=s.index if s.index is not None else k)
        if s.pbc.any() and not s.pbc.all():
            raise InputError(f"input.data cannot store partial periodicity pbc={s.pbc.tolist()}", **where)
        if s.energy is None:
            raise InputError("structure has no energy; input.data needs one", **where)
        if s.forces is None:
            raise InputError("structure has no forces; input.data needs them", **where)
        if s.stress is not None:
            dropped_stress += 1
        n = s.natoms
        lines.append("begin")
        comment = str(s.info.get("comment", "")).strip()
        for c in (comment.splitlines() or [""]):
            lines.append(f"comment {c}".rstrip())
        if s.pbc.all():
            for v in unscale(s.cell, units.length):
                lines.append("lattice " + fmt_row(v))
        pos = unscale(s.positions, units.length)
        q = np.asarray(s.atom_properties.get("charges", np.zeros(n)), dtype=np.float64).reshape(n)
        e = unscale(np.asarray(s.atom_properties.get("atom_energies", np.zeros(n)),
                               dtype=np.float64).reshape(n), units.energy)
        f = unscale(s.forces, units.force)
        syms = s.symbols
        for a in range(n):
            lines.append(f"atom {fmt_row(pos[a])} {syms[a]} {fmt(q[a])} {fmt(e[a])} {fmt_row(f[a])}")
        lines.append(f"energy {fmt(unscale(s.energy, units.energy))}")
        lines.append(f"charge {fmt(s.charge)}")
        lines.append("end")
    if dropped_stress:
        warnings.warn(f"input.data has no stress: dropped the stress of {dropped_stress} structure(s)",
                      stacklevel=3)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
