"""ASE's EMT (effective-medium theory): Al, Cu, Ag, Au, Ni, Pd, Pt (and H, C, N, O in ASE's
parametrisation). Instant, for tests, tutorials and checking a workflow before spending DFT time.

Units: eV, eV/Å, eV/Å³. Energy convention: relative to EMT's own reference (the fcc crystal is near
zero per atom), not a total electronic energy.
"""
from __future__ import annotations

from ._base import Code, Result, ase_result, fully_periodic


def compute(settings: dict, structure) -> Result:
    from ase.calculators.emt import EMT

    atoms = structure.to_ase()
    atoms.calc = EMT(asap_cutoff=bool(settings["asap_cutoff"]))
    return ase_result(atoms, stress=fully_periodic(structure))


CODE = Code(
    name="emt",
    summary="ASE's effective-medium theory (Al Cu Ag Au Ni Pd Pt; H C N O): instant, for tests and tutorials",
    settings={"asap_cutoff": (False, "use ASAP's cutoff convention instead of ASE's")},
    compute=compute,
    units="eV, eV/Å, eV/Å³",
    energy_convention="relative to EMT's reference crystals (about 0 eV/atom for the fcc metals)",
)
