"""DeePMD-kit npy systems: a folder with ``type.raw`` (one type index per atom), ``type_map.raw``
(element of each type) and ``set.*/`` folders with ``coord.npy`` (frames, 3N) Å, ``box.npy``
(frames, 9) Å (rows = lattice vectors), ``energy.npy`` (frames,) eV, ``force.npy`` (frames, 3N) eV/Å
and optionally ``virial.npy`` (frames, 9) eV.

DeePMD's virial is W = -V·σ with σ the stress in ASE's convention (deepmd-kit's ASE calculator sets
``stress = -virial / volume``), so stress (eV/Å³) = -virial / V. An all-zero box, or a ``nopbc`` file
in the system folder, means a non-periodic system. A parent folder of several systems is read
system by system in natural name order; ``source`` is the system folder and ``index`` the frame
number within it (sets in name order).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..structures import Structure, symbol_to_number


def _natural(p: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def deepmd_systems(path) -> list[Path]:
    """System folders at ``path`` (itself, or its sub-folders, searched recursively)."""
    path = Path(path)
    if (path / "type.raw").is_file():
        return [path]
    systems = []
    for sub in sorted((p for p in path.iterdir() if p.is_dir()), key=_natural):
        systems.extend(deepmd_systems(sub))
    return systems


def _load(f: Path, system: str):
    try:
        return np.load(f, allow_pickle=False)
    except Exception as exc:  # corrupt npy files raise several types
        raise InputError(f"cannot read {f.name}: {exc}", file=str(f)) from None


def read_deepmd(path) -> list[Structure]:
    systems = deepmd_systems(path)
    if not systems:
        raise InputError("no DeePMD system (a folder with type.raw) found", file=str(path))
    out = []
    for sysdir in systems:
        out.extend(_read_system(sysdir))
    return out


def _read_system(sysdir: Path) -> list[Structure]:
    file = str(sysdir)
    try:
        types = np.array([int(t) for t in (sysdir / "type.raw").read_text().split()], dtype=np.int64)
    except ValueError:
        raise InputError("type.raw must hold one integer type per atom", file=str(sysdir / "type.raw")) from None
    tm_file = sysdir / "type_map.raw"
    if not tm_file.is_file():
        raise InputError("type_map.raw is missing: cannot tell which element each type is", file=file)
    type_map = tm_file.read_text().split()
    if types.size == 0:
        raise InputError("type.raw lists no atoms", file=str(sysdir / "type.raw"))
    if types.min() < 0 or types.max() >= len(type_map):
        raise InputError(f"type.raw uses type {types.max()} but type_map.raw names {len(type_map)} types",
                         file=str(sysdir / "type.raw"))
    z_of_type = [symbol_to_number(s, file=str(tm_file), line=i + 1) for i, s in enumerate(type_map)]
    numbers = np.array(z_of_type)[types]
    n = len(types)
    nopbc = (sysdir / "nopbc").exists()
    out = []
    sets = sorted((p for p in sysdir.glob("set.*") if p.is_dir()), key=_natural)
    if not sets:
        raise InputError("no set.* folders", file=file)
    for sd in sets:
        arrays = {}
        for name in ("coord", "box", "energy", "force", "virial"):
            f = sd / f"{name}.npy"
            if f.is_file():
                arrays[name] = np.asarray(_load(f, file), dtype=np.float64)
        if "coord" not in arrays:
            raise InputError("coord.npy is missing", file=str(sd))
        nf = len(arrays["coord"])
        want = {"coord": 3 * n, "box": 9, "energy": 1, "force": 3 * n, "virial": 9}
        for name, arr in arrays.items():
            if arr.size != nf * want[name]:
                raise InputError(f"{name}.npy has shape {arr.shape}; expected {nf} frames × {want[name]} "
                                 f"values for {n} atoms (type.raw)", file=str(sd / f"{name}.npy"))
            arrays[name] = arr.reshape(nf, want[name])
        if "box" not in arrays and not nopbc:
            raise InputError("box.npy is missing (add a 'nopbc' file for a non-periodic system)", file=str(sd))
        for f in range(nf):
            cell = arrays["box"][f].reshape(3, 3) if "box" in arrays else np.zeros((3, 3))
            periodic = not nopbc and bool(cell.any())
            stress = None
            if "virial" in arrays and periodic:
                vol = abs(np.linalg.det(cell))
                stress = -arrays["virial"][f].reshape(3, 3) / vol if vol > 0 else np.full((3, 3), np.nan)
            out.append(Structure(
                numbers=numbers, positions=arrays["coord"][f].reshape(n, 3), cell=cell, pbc=periodic,
                energy=float(arrays["energy"][f, 0]) if "energy" in arrays else None,
                forces=arrays["force"][f].reshape(n, 3) if "force" in arrays else None,
                stress=stress, info={"set": sd.name}, source=file, index=len(out)))
    return out
