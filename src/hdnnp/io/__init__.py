"""Structure readers and writers. Every reader returns a list of validated :class:`Structure`
(Å, eV, eV/Å, eV/Å³ with ASE's stress sign) with ``source`` and ``index`` set.

Formats (names for ``format=``):

========  ====================================================================  ======
name      what                                                                  r / w
========  ====================================================================  ======
extxyz    extended XYZ (ASE conventions), written loss-free                     r w
n2p2      n2p2 / RuNNer ``input.data``, units set by length_unit/energy_unit    r w
mlearn    mlearn benchmark JSON (virial_stress kbar → eV/Å³, ASE sign)          r
deepmd    DeePMD-kit npy system folder, or a folder of systems                  r
xsf       aenet XSF file, folder of .xsf, or .tar.gz of them (energy from #)     r
npz       rMD17 / sGDML ``.npz`` (kcal/mol → eV)                                 r
ase       anything ``ase.io.read`` reads (VASP OUTCAR, vasprun.xml, .traj, …)   r
========  ====================================================================  ======

``length_unit`` (angstrom|bohr) and ``energy_unit`` (ev|hartree) state the units of an n2p2 or
extxyz file; other formats have fixed units and refuse anything but the defaults.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..structures import Structure
from ._common import Units

__all__ = ["read", "write", "detect_format", "FORMATS", "READ_FORMATS", "WRITE_FORMATS"]

#: format names and a one-line description each
FORMATS = {
    "extxyz": "extended XYZ (ASE conventions: Å, eV, eV/Å, stress eV/Å³); read and write",
    "n2p2": "n2p2/RuNNer input.data (begin/lattice/atom/energy/charge/end); read and write; "
            "units via --length-unit/--energy-unit (often bohr/hartree)",
    "mlearn": "mlearn benchmark JSON list (pymatgen structure dicts; virial_stress in kbar)",
    "deepmd": "DeePMD-kit npy: a system folder (type.raw, type_map.raw, set.*/) or a folder of systems",
    "xsf": "aenet XSF (energy in '# total energy = E eV'): a file, a folder of .xsf, or a .tar.gz of them",
    "npz": "rMD17 (nuclear_charges, coords, energies, forces) or sGDML (z, R, E, F) .npz, kcal/mol",
    "ase": "anything ase.io.read understands (VASP OUTCAR, vasprun.xml, ASE .traj/.db, CP2K, ...), eV/Å",
}
READ_FORMATS = tuple(FORMATS)
WRITE_FORMATS = ("extxyz", "n2p2")
_UNIT_FORMATS = ("extxyz", "n2p2")


def detect_format(path) -> str:
    """The format name of ``path`` from its type, extension and first bytes."""
    p = Path(path)
    name = p.name.lower()
    if p.is_dir():
        from .deepmd import deepmd_systems
        if any(q.suffix.lower() == ".xsf" for q in p.iterdir()):
            return "xsf"
        if deepmd_systems(p):
            return "deepmd"
        raise InputError("folder is neither a DeePMD system (type.raw) nor a folder of .xsf files", file=str(p))
    if not p.exists():
        raise InputError("no such file", file=str(p))
    from .xsf import is_archive
    if is_archive(p):
        return "xsf"
    ext = p.suffix.lower()
    if ext == ".npz":
        return "npz"
    if ext == ".xsf":
        return "xsf"
    if ext in (".xyz", ".extxyz"):
        return "extxyz"
    head = _head(p)
    first = head.split(None, 1)[0].lower() if head.strip() else ""
    if first in ("begin", "comment") or name in ("input.data", "output.data"):
        return "n2p2"
    if ext == ".json" or first.startswith("[") or first.startswith("{"):
        if ext == ".json" or '"structure"' in head:
            return "mlearn"
    if first.isdigit() and len(head.splitlines()) > 1:
        return "extxyz"
    return "ase"


def _head(p: Path, n: int = 4096) -> str:
    with open(p, "rb") as fh:
        return fh.read(n).decode("utf-8", errors="replace")


def read(path, format: str | None = None, *, length_unit: str = "angstrom", energy_unit: str = "ev",
         min_distance: float | None = None) -> list[Structure]:
    """Read every structure in ``path`` and validate it.

    ``format``: one of :data:`FORMATS` (default: :func:`detect_format`). ``length_unit`` /
    ``energy_unit``: units of an n2p2 or extxyz file (converted to Å / eV). ``min_distance`` (Å):
    atoms closer than this are an error (None: no check). Raises InputError naming the file and
    line or structure index on any bad input.
    """
    path = Path(path)
    fmt = (format or detect_format(path)).lower()
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}", file=str(path))
    if not path.exists():
        raise InputError("no such file or folder", file=str(path))
    units = Units(length_unit, energy_unit)
    if fmt not in _UNIT_FORMATS and not units.is_native:
        raise InputError(f"format {fmt!r} has fixed units; --length-unit/--energy-unit apply only to "
                         f"{' and '.join(_UNIT_FORMATS)}", file=str(path))
    if fmt == "n2p2":
        from .n2p2 import read_n2p2
        structures = read_n2p2(path, units=units)
    elif fmt == "extxyz":
        from .extxyz import read_extxyz
        structures = read_extxyz(path, units=units)
    elif fmt == "mlearn":
        from .mlearn import read_mlearn
        structures = read_mlearn(path)
    elif fmt == "deepmd":
        from .deepmd import read_deepmd
        structures = read_deepmd(path)
    elif fmt == "xsf":
        from .xsf import read_xsf
        structures = read_xsf(path)
    elif fmt == "npz":
        from .npz import read_npz
        structures = read_npz(path)
    else:
        structures = _read_ase(path)
    if not structures:
        raise InputError(f"no structures found (read as {fmt})", file=str(path))
    for s in structures:
        s.validate(min_distance)
    return structures


def _read_ase(path: Path) -> list[Structure]:
    import ase.io
    from .extxyz import structure_from_atoms

    try:
        images = ase.io.read(str(path), index=":")
    except Exception as exc:  # ASE raises anything on unknown or bad files
        raise InputError(f"ase.io.read cannot read this file: {type(exc).__name__}: {exc}",
                         file=str(path)) from None
    if not isinstance(images, list):
        images = [images]
    return [structure_from_atoms(a, source=str(path), index=k) for k, a in enumerate(images)]


def write(path, structures, format: str | None = None, *, length_unit: str = "angstrom",
          energy_unit: str = "ev") -> None:
    """Write ``structures`` to ``path`` as extxyz or n2p2 input.data (format from the name when not
    given: ``*.xyz``/``*.extxyz`` → extxyz, ``input.data``/``*.data`` → n2p2), converting eV/Å to
    ``length_unit``/``energy_unit``. Floats are written exactly (read back bit for bit)."""
    path = Path(path)
    if format is None:
        name = path.name.lower()
        if name.endswith((".xyz", ".extxyz")):
            format = "extxyz"
        elif name.endswith(".data"):
            format = "n2p2"
        else:
            raise InputError("cannot tell the output format from the name; use a .xyz/.extxyz or .data "
                             "name, or give the format (extxyz or n2p2)", file=str(path))
    format = format.lower()
    if format not in WRITE_FORMATS:
        raise InputError(f"cannot write format {format!r}; writable: {', '.join(WRITE_FORMATS)}", file=str(path))
    units = Units(length_unit, energy_unit)
    structures = list(structures)
    if format == "n2p2":
        from .n2p2 import write_n2p2
        write_n2p2(path, structures, units=units)
    else:
        from .extxyz import write_extxyz
        write_extxyz(path, structures, units=units)
