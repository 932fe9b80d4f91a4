"""mlearn benchmark JSON (Zuo et al. 2020): a list of records
``{structure: pymatgen Structure dict, outputs: {energy, forces, virial_stress}, num_atoms, group, ...}``.

Units: Å, eV (total energy), eV/Å. ``virial_stress`` is in kbar, as VASP's OUTCAR prints it:
order XX YY ZZ XY YZ ZX and the *pressure* sign (compressed cell → positive). Established from the
data (tests/test_io_formats.py::test_mlearn_virial_stress_convention): in the Si ``Elastic`` group a
cell shortened along x has a large positive component 0, and a cell sheared in the xy / yz / xz plane
has its only non-zero off-diagonal entry at index 3 / 4 / 5 respectively. It is converted to ASE's
convention: stress (eV/Å³) = -virial_stress · KBAR.
"""
from __future__ import annotations

import json

import numpy as np

from ..errors import InputError
from ..structures import Structure, symbol_to_number
from ..units import KBAR

#: component order of ``virial_stress`` (VASP OUTCAR order)
VIRIAL_ORDER = ("xx", "yy", "zz", "xy", "yz", "zx")


def mlearn_stress_to_ase(v) -> np.ndarray:
    """(6,) kbar, VASP order and pressure sign → (3, 3) eV/Å³, ASE sign."""
    xx, yy, zz, xy, yz, zx = (float(x) for x in v)
    return -KBAR * np.array([[xx, xy, zx], [xy, yy, yz], [zx, yz, zz]])


def read_mlearn(path) -> list[Structure]:
    file = str(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from None
    except UnicodeDecodeError:
        raise InputError("not a text (JSON) file", file=file) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise InputError("expected a JSON list of mlearn records", file=file)
    out = []
    for k, rec in enumerate(data):
        try:
            out.append(_record(rec, file, k))
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            what = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
            raise InputError(f"malformed mlearn record ({what})", file=file, structure=k) from None
    return out


def _num(x, file, k, what):
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise InputError(f"{what} is {x!r}, not a number", file=file, structure=k)
    return float(x)


def _record(rec, file, k) -> Structure:
    st = rec["structure"]
    sites = st["sites"]
    if "num_atoms" in rec and rec["num_atoms"] != len(sites):
        raise InputError(f"num_atoms is {rec['num_atoms']} but the structure has {len(sites)} sites",
                         file=file, structure=k)
    numbers = []
    pos = []
    for a, site in enumerate(sites):
        species = site["species"]
        if len(species) != 1:
            raise InputError(f"site {a} has {len(species)} species (partial occupancy is not supported)",
                             file=file, structure=k)
        numbers.append(symbol_to_number(str(species[0]["element"]), file=file, structure=k))
        xyz = site["xyz"]
        if len(xyz) != 3:
            raise InputError(f"site {a} has {len(xyz)} coordinates", file=file, structure=k)
        pos.append([_num(x, file, k, f"site {a} coordinate") for x in xyz])
    cell = np.array([[_num(x, file, k, "lattice") for x in row] for row in st["lattice"]["matrix"]])
    if cell.shape != (3, 3):
        raise InputError(f"lattice matrix has shape {cell.shape}", file=file, structure=k)
    outputs = rec.get("outputs") or {}
    energy = outputs.get("energy")
    forces = outputs.get("forces")
    vs = outputs.get("virial_stress")
    if forces is not None:
        forces = np.array([[_num(x, file, k, "force") for x in row] for row in forces])
        if forces.shape != (len(sites), 3):
            raise InputError(f"forces have shape {forces.shape} for {len(sites)} atoms "
                             "(forces missing for some atoms?)", file=file, structure=k)
    stress = None
    if vs is not None:
        if len(vs) != 6:
            raise InputError(f"virial_stress has {len(vs)} components, expected 6", file=file, structure=k)
        stress = mlearn_stress_to_ase([_num(x, file, k, "virial_stress") for x in vs])
    info = {key: rec[key] for key in ("group", "description", "tag") if isinstance(rec.get(key), str)}
    return Structure(numbers=numbers, positions=pos, cell=cell, pbc=True,
                     energy=None if energy is None else _num(energy, file, k, "energy"),
                     forces=forces, stress=stress, charge=float(st.get("charge") or 0.0),
                     info=info, source=file, index=k)
