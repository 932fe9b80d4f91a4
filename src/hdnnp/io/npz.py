"""NumPy ``.npz`` molecular-dynamics sets (non-periodic unless a lattice is given).

* rMD17: ``nuclear_charges`` (N,), ``coords`` (F, N, 3) Å, ``energies`` (F,) kcal/mol,
  ``forces`` (F, N, 3) kcal/mol/Å.
* sGDML: ``z``, ``R`` Å, ``E`` (F,) or (F, 1), ``F`` — kcal/mol and kcal/mol/Å unless the file's
  ``e_unit`` / ``r_unit`` say otherwise (eV, Ha, kcal/mol; Ang, bohr); optional ``lattice`` (3, 3).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..structures import Structure
from ..units import BOHR, HARTREE, KCAL_PER_MOL

_E_UNITS = {"kcal/mol": KCAL_PER_MOL, "ev": 1.0, "ha": HARTREE, "hartree": HARTREE,
            "kj/mol": KCAL_PER_MOL / 4.184}
_R_UNITS = {"ang": 1.0, "angstrom": 1.0, "a": 1.0, "bohr": BOHR, "au": BOHR}

KEYSETS = {"rmd17": ("nuclear_charges", "coords", "energies", "forces"), "sgdml": ("z", "R", "E", "F")}


def read_npz(path) -> list[Structure]:
    file = str(path)
    try:
        data = np.load(path, allow_pickle=False)
        keys = set(data.files)
    except Exception as exc:
        raise InputError(f"cannot read as .npz: {exc}", file=file) from None
    for kind, (kz, kr, ke, kf) in KEYSETS.items():
        if kz in keys and kr in keys:
            break
    else:
        raise InputError(f"unknown .npz layout (keys {sorted(keys)}); expected rMD17 "
                         "(nuclear_charges, coords, energies, forces) or sGDML (z, R, E, F)", file=file)
    e_fac, r_fac = KCAL_PER_MOL, 1.0
    if "e_unit" in keys:
        u = str(data["e_unit"]).strip().lower()
        if u not in _E_UNITS:
            raise InputError(f"unknown e_unit {u!r}", file=file)
        e_fac = _E_UNITS[u]
    if "r_unit" in keys:
        u = str(data["r_unit"]).strip().lower()
        if u not in _R_UNITS:
            raise InputError(f"unknown r_unit {u!r}", file=file)
        r_fac = _R_UNITS[u]
    z = np.asarray(data[kz]).reshape(-1)
    if z.dtype.kind not in "iu":
        raise InputError(f"{kz} must be integer atomic numbers", file=file)
    n = len(z)
    R = np.asarray(data[kr], dtype=np.float64)
    if R.ndim == 2:
        R = R[None]
    if R.shape[1:] != (n, 3):
        raise InputError(f"{kr} has shape {R.shape}; expected (frames, {n}, 3)", file=file)
    nf = len(R)
    E = F = None
    if ke in keys:
        E = np.asarray(data[ke], dtype=np.float64).reshape(-1)
        if E.shape != (nf,):
            raise InputError(f"{ke} has {E.size} values for {nf} frames", file=file)
        E = E * e_fac
    if kf in keys:
        F = np.asarray(data[kf], dtype=np.float64)
        if F.shape != (nf, n, 3):
            raise InputError(f"{kf} has shape {F.shape}; expected ({nf}, {n}, 3)", file=file)
        F = F * (e_fac / r_fac)
    cell, pbc = np.zeros((3, 3)), False
    if "lattice" in keys:
        cell, pbc = np.asarray(data["lattice"], dtype=np.float64).reshape(3, 3) * r_fac, True
    R = R * r_fac
    return [Structure(numbers=z, positions=R[f], cell=cell, pbc=pbc,
                      energy=None if E is None else float(E[f]), forces=None if F is None else F[f],
                      source=file, index=f) for f in range(nf)]
