"""GPAW (PyPI ``gpaw`` + ``gpaw-data`` for the PAW setups): plane-wave or LCAO DFT.

``{code: gpaw, mode: pw, ecut: 300, xc: PBE, kpts: [2, 2, 2]}``. ``kpts`` is a Monkhorst–Pack grid
``[n1, n2, n3]`` or ``{density: D, gamma: false}`` (k-points per Å⁻¹, ASE's rule); molecules use Γ.
The structure's total charge is passed to GPAW (``charge=``; a compensating background in periodic
cells). ``charges: hirshfeld`` adds Hirshfeld charges (e) as the per-atom property ``charges``.
An SCF that does not converge within ``maxiter`` is recorded as a failure. The energy stored is the
Mermin free energy (``energy: free``), the one the forces are derivatives of; GPAW's default
``get_potential_energy()`` extrapolates to zero smearing, which differs from it by up to tenths of an eV
in metallic cells and would give training data whose energies and forces disagree.

Units: eV, eV/Å, eV/Å³. Energy convention: **relative to the isolated atoms of the PAW setups**
(GPAW's reference energies), not an all-electron total energy — compare only with GPAW energies of the
same setups and settings.
Install: ``bash tools/install_gpaw.sh`` (builds GPAW without MPI beside the mpich wheel, which
otherwise crashes at import). Run with one thread per worker process.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ._base import Code, Result, ase_result, fully_periodic


def check(settings: dict) -> None:
    if settings["mode"] not in ("pw", "lcao", "fd"):
        raise InputError(f"mode {settings['mode']!r} is not pw, lcao or fd", key="reference.mode")
    k = settings["kpts"]
    if isinstance(k, dict):
        unknown = set(k) - {"density", "gamma"}
        if unknown or "density" not in k:
            raise InputError("kpts as a mapping takes 'density' (and optionally 'gamma')", key="reference.kpts")
    elif not (isinstance(k, list) and len(k) == 3 and all(isinstance(n, int) and n > 0 for n in k)):
        raise InputError("kpts must be [n1, n2, n3] (positive integers) or {density: D}", key="reference.kpts")
    if settings["energy"] not in ("free", "extrapolated"):
        raise InputError("energy must be 'free' or 'extrapolated'", key="reference.energy")
    if settings["charges"] not in ("", "hirshfeld"):
        raise InputError("charges must be '' or 'hirshfeld'", key="reference.charges")


def compute(settings: dict, structure) -> Result:
    import gpaw
    from gpaw import GPAW, PW

    atoms = structure.to_ase()
    if not atoms.pbc.any():
        atoms.set_cell(np.ptp(atoms.positions, axis=0) + 2 * float(settings["vacuum"]))
        atoms.center()
        kpts = (1, 1, 1)
    else:
        k = settings["kpts"]
        kpts = dict(k) if isinstance(k, dict) else tuple(k)
    mode = settings["mode"]
    if mode == "pw":
        mode = PW(float(settings["ecut"]))
    kwargs = dict(mode=mode, xc=settings["xc"], kpts=kpts, charge=structure.charge, txt=None,
                  occupations={"name": "fermi-dirac", "width": float(settings["smearing"])},
                  convergence={"energy": float(settings["convergence_energy"])}, maxiter=int(settings["maxiter"]))
    if settings["mode"] != "pw":
        kwargs["basis"] = settings["basis"]
        kwargs["h"] = float(settings["h"])
    if settings["spinpol"]:
        kwargs["spinpol"] = True
    if settings["charges"] == "hirshfeld" and int(gpaw.__version__.split(".")[0]) >= 25:
        # GPAW's Hirshfeld partitioning works on the legacy calculator only (GPAW >= 25 makes the new one by
        # default and the partitioning then raises 'New-GPAW not supported')
        kwargs["legacy_gpaw"] = True
    calc = GPAW(**kwargs)
    atoms.calc = calc
    res = ase_result(atoms, stress=fully_periodic(structure) and settings["mode"] == "pw",
                     force_consistent=settings["energy"] == "free")
    res.info["iterations"] = int(calc.get_number_of_iterations() or 0)
    if settings["charges"] == "hirshfeld":
        from gpaw.analyse.hirshfeld import HirshfeldPartitioning
        res.atom_properties["charges"] = np.asarray(HirshfeldPartitioning(calc).get_charges(), dtype=float)
    return res


CODE = Code(
    name="gpaw",
    summary="GPAW DFT, plane waves (stress too) or LCAO; total charge passed through",
    settings={
        "mode": ("pw", "pw (plane waves), lcao or fd"),
        "ecut": (400.0, "plane-wave cutoff in eV (mode pw)"),
        "basis": ("dzp", "LCAO basis (modes lcao, fd)"),
        "h": (0.2, "real-space grid spacing in Å (modes lcao, fd)"),
        "xc": ("PBE", "exchange-correlation functional"),
        "kpts": ({"density": 3.0, "gamma": False}, "[n1, n2, n3] or {density: k-points per Å⁻¹}"),
        "smearing": (0.1, "Fermi–Dirac width in eV"),
        "convergence_energy": (5e-4, "SCF energy convergence in eV per valence electron"),
        "maxiter": (300, "SCF iterations before the calculation counts as failed"),
        "spinpol": (False, "spin-polarised calculation"),
        "vacuum": (6.0, "vacuum in Å around a molecule on each side"),
        "charges": ("", "'hirshfeld' to add Hirshfeld charges"),
        "energy": ("free", "'free': the Mermin free energy the forces derive from (train on this); "
                           "'extrapolated': extrapolated to zero smearing (not consistent with the forces)"),
    },
    compute=compute,
    check=check,
    module="gpaw",
    install="bash tools/install_gpaw.sh",
    units="eV, eV/Å, eV/Å³; charges in e",
    energy_convention="relative to the isolated atoms of GPAW's PAW setups (not a total energy)",
    takes_charge=True,
)
