"""Extended XYZ: read through ASE (frame by frame, so errors name the line), write loss-free.

ASE's own writer rounds per-atom columns to 8 decimals; ours writes every float as its shortest
exact text (``repr``), so read → write → read gives the same bits. Conventions are ASE's:
Å, eV, eV/Å, stress in eV/Å³ with compressed = negative, ``charge`` = total charge (e),
per-atom columns other than species/pos/forces become ``atom_properties``; per-atom 3×3 tensors are
written as 9 columns (row-major) and read back as (N, 9).
"""
from __future__ import annotations

import io as _io
import re

import numpy as np

from ..errors import InputError
from ..structures import Structure
from ._common import Units, fmt, fmt_row, scale, unscale

#: per-atom properties scaled as energies when the file is not in eV
_ENERGY_PROPS = ("atom_energies", "energies")
#: header keys written from Structure fields, never from ``info``
_RESERVED = {"lattice", "properties", "energy", "stress", "charge", "pbc"}


def structure_from_atoms(atoms, *, source=None, index=None, units: Units | None = None) -> Structure:
    """Structure from an ase.Atoms; all calculator results are kept (per-atom ones other than
    forces go to ``atom_properties``, other per-structure ones to ``info``). Converts from
    ``units`` (file units) to eV/Å."""
    units = units or Units()
    res = dict(getattr(atoms.calc, "results", {}) or {}) if atoms.calc is not None else {}
    energy = res.pop("energy", None)
    if energy is None:
        energy = res.pop("free_energy", None)
    forces = res.pop("forces", None)
    stress = res.pop("stress", None)
    for name, val in (("energy", energy), ("forces", forces), ("stress", stress)):
        if val is not None and np.asarray(val).dtype.kind not in "iuf":
            raise InputError(f"{name} {val!r} is not numeric", file=source, structure=index)
    n = len(atoms)
    props = {k: np.array(v) for k, v in atoms.arrays.items() if k not in ("numbers", "positions")}
    for k, v in props.items():
        if v.dtype.kind in "iu":
            props[k] = v.astype(np.int64)  # ASE reads integer columns as int32
        elif v.dtype.kind in "OS":
            props[k] = v.astype(str)
    info = dict(atoms.info)
    for k, v in res.items():
        if np.ndim(v) >= 1 and np.shape(v)[0] == n and k in ("charges", "magmoms", "energies",
                                                              "stresses", "born_effective_charges"):
            props[k] = np.array(v)
        else:
            info.setdefault(k, v)
    charge = info.pop("charge", 0.0)
    try:
        if isinstance(charge, (bool, np.bool_, str)):
            raise ValueError
        charge = float(charge or 0.0)
    except (TypeError, ValueError):
        raise InputError(f"charge {charge!r} is not a number", file=source, structure=index) from None
    for k in _ENERGY_PROPS:
        if k in props and props[k].dtype.kind == "f":
            props[k] = scale(props[k], units.energy)
    return Structure(
        numbers=atoms.numbers.copy(), positions=scale(atoms.positions.copy(), units.length),
        cell=scale(np.array(atoms.cell[:]), units.length), pbc=atoms.pbc.copy(),
        energy=None if energy is None else scale(float(energy), units.energy),
        forces=None if forces is None else scale(np.array(forces, dtype=float), units.force),
        stress=None if stress is None else scale(np.array(stress, dtype=float), units.stress),
        charge=charge, atom_properties=props, info=info, source=source, index=index)


def read_extxyz(path, *, units: Units | None = None, text: str | None = None) -> list[Structure]:
    """All frames of an (extended) XYZ file."""
    from ase.io.extxyz import read_xyz

    file = str(path)
    if text is None:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    lines = text.splitlines()
    out: list[Structure] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        head = i + 1  # 1-based line of the atom count
        tok = lines[i].split()
        if len(tok) != 1 or not tok[0].isdigit():
            raise InputError(f"expected the atom count of structure {len(out)}, found {lines[i].strip()[:60]!r} "
                             "(atom count in the previous header disagrees with its atom lines?)",
                             file=file, line=head)
        n = int(tok[0])
        if n == 0:
            raise InputError("structure has 0 atoms", file=file, line=head, structure=len(out))
        end = i + 2 + n
        if end > len(lines):
            raise InputError(f"header says {n} atoms but the file ends after {max(0, len(lines) - i - 2)} "
                             "atom line(s) (truncated?)", file=file, line=head, structure=len(out))
        nf = len(lines[i + 2].split())
        for k in range(i + 2, end):
            m = len(lines[k].split())
            if m != nf:
                raise InputError(f"atom line has {m} fields where the first atom line of this structure has "
                                 f"{nf} (missing values, or does the atom count {n} on line {head} not match "
                                 "the atom lines?)", file=file, line=k + 1,
                                 structure=len(out))
        frame = "\n".join(lines[i:end]) + "\n"
        try:
            atoms = read_xyz(_io.StringIO(frame), index=0)
            if not isinstance(atoms, list):
                atoms = list(atoms) if not hasattr(atoms, "positions") else [atoms]
            (atoms,) = atoms
        except InputError:
            raise
        except Exception as exc:  # ASE raises many types for bad text
            msg = f"cannot parse structure: {type(exc).__name__}: {exc}"
            if isinstance(exc, KeyError):
                msg = f"unknown element symbol or missing key {exc}"
            raise InputError(msg,
                             file=file, line=_guess_line(exc, lines, i, end, head), structure=len(out)) from None
        try:
            out.append(structure_from_atoms(atoms, source=file, index=len(out), units=units))
        except (TypeError, ValueError) as exc:  # e.g. energy=abc left as text by ASE
            if isinstance(exc, InputError):
                raise InputError(exc.reason, file=file, line=head + 1, structure=len(out)) from None
            raise InputError(f"bad value in the header: {exc}", file=file, line=head + 1,
                             structure=len(out)) from None
        i = end
    return out


def _guess_line(exc, lines, start, end, head) -> int:
    """The line holding the token an ASE ValueError complains about, else the header line."""
    m = re.search(r"'([^']*)'", str(exc))
    if m:
        bad = m.group(1)
        for k in range(start + 2, end):
            if bad in lines[k].split():
                return k + 1
        if bad in lines[start + 1]:
            return start + 2
    return head


def _info_value(key, v):
    if isinstance(v, (bool, np.bool_)):
        return "T" if v else "F"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return fmt(v)
    if isinstance(v, str):
        if "\n" in v:
            v = v.replace("\n", "; ")
        if v and re.fullmatch(r"[A-Za-z_][\w.+\-/]*", v) and v not in ("T", "F", "True", "False"):
            return v
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    arr = np.asarray(v)
    if arr.ndim == 1 and arr.dtype.kind in "if":
        return '"' + " ".join(_info_value(key, x) for x in arr.tolist()) + '"'
    import json
    try:
        return '"_JSON ' + json.dumps(arr.tolist() if isinstance(v, np.ndarray) else v).replace('"', '\\"') + '"'
    except TypeError:
        return None


def _column(name, arr, n, file, index):
    arr = np.asarray(arr)
    if arr.shape[:1] != (n,) or arr.ndim > 2:
        raise InputError(f"per-atom property {name!r} has shape {arr.shape}, not ({n},) or ({n}, k)",
                         file=file, structure=index)
    cols = arr.reshape(n, -1)
    kind = arr.dtype.kind
    if kind == "f":
        t, conv = "R", lambda row: fmt_row(row)
    elif kind in "iu":
        t, conv = "I", lambda row: " ".join(str(int(x)) for x in row)
    elif kind == "b":
        t, conv = "L", lambda row: " ".join("T" if x else "F" for x in row)
    else:
        t = "S"
        if any(len(str(x).split()) != 1 for x in cols.reshape(-1)):
            raise InputError(f"string property {name!r} has empty or blank-containing values",
                             file=file, structure=index)
        conv = lambda row: " ".join(str(x) for x in row)  # noqa: E731
    return f"{name}:{t}:{cols.shape[1]}", [conv(r) for r in cols]


def write_extxyz(path, structures, *, units: Units | None = None) -> None:
    """Write structures as extended XYZ, every float exact."""
    units = units or Units()
    with open(path, "w", encoding="utf-8") as fh:
        for k, s in enumerate(structures):
            fh.write(_frame(s, units, str(path), k))


def _frame(s: Structure, units: Units, path: str, k: int) -> str:
    n = s.natoms
    file, index = s.source or path, s.index if s.index is not None else k
    head = []
    if s.cell.any():
        head.append('Lattice="' + fmt_row(unscale(s.cell, units.length)) + '"')
    props = ["species:S:1", "pos:R:3"]
    cols = [s.symbols, [fmt_row(r) for r in unscale(s.positions, units.length)]]
    if s.forces is not None:
        props.append("forces:R:3")
        cols.append([fmt_row(r) for r in unscale(s.forces, units.force)])
    for name, arr in s.atom_properties.items():
        if not re.fullmatch(r"[A-Za-z_]\w*", name) or name in ("species", "pos", "forces"):
            raise InputError(f"per-atom property name {name!r} cannot be written to extxyz",
                             file=file, structure=index)
        arr = np.asarray(arr)
        if arr.ndim == 3 and arr.shape[1:] == (3, 3):     # per-atom tensors: 9 columns, row-major
            arr = arr.reshape(n, 9)
        if name in _ENERGY_PROPS and arr.dtype.kind == "f":
            arr = unscale(arr, units.energy)
        p, c = _column(name, arr, n, file, index)
        props.append(p)
        cols.append(c)
    head.append("Properties=" + ":".join(props))
    if s.energy is not None:
        head.append("energy=" + fmt(unscale(s.energy, units.energy)))
    if s.stress is not None:
        head.append('stress="' + fmt_row(unscale(s.stress, units.stress)) + '"')
    if s.charge:
        head.append("charge=" + fmt(s.charge))
    for key, v in s.info.items():
        if str(key).lower() in _RESERVED or not re.fullmatch(r"[A-Za-z_][\w\-]*", str(key)):
            continue
        text = _info_value(key, v)
        if text is not None:
            head.append(f"{key}={text}")
    head.append('pbc="' + " ".join("T" if p else "F" for p in s.pbc) + '"')
    body = [" ".join(parts) for parts in zip(*cols)]
    return f"{n}\n" + " ".join(head) + "\n" + "\n".join(body) + "\n"
