"""tblite: GFN1-xTB and GFN2-xTB tight binding (PyPI ``tblite``), molecules and periodic cells.

Returns energy, forces, stress (periodic cells) and Mulliken-type partial charges as the per-atom
property ``charges`` (e). Total charge from the structure (``Structure.charge``); ``multiplicity``
sets the spin multiplicity (1 = closed shell).

Units: tblite works in Hartree and Bohr; its ASE calculator converts to eV, eV/Å, eV/Å³.
Energy convention: total xTB energy (not relative to isolated atoms).
Runs with one thread per worker (OMP_NUM_THREADS=1 in labelling workers).
"""
from __future__ import annotations

from ..errors import InputError
from ._base import Code, Result, ase_result, fully_periodic

METHODS = ("GFN2-xTB", "GFN1-xTB", "IPEA1-xTB")


def check(settings: dict) -> None:
    if settings["method"] not in METHODS:
        raise InputError(f"method {settings['method']!r} is not one of {', '.join(METHODS)}", key="reference.method")
    if int(settings["multiplicity"]) < 1:
        raise InputError("multiplicity must be 1 or more", key="reference.multiplicity")


def compute(settings: dict, structure) -> Result:
    from tblite.ase import TBLite

    atoms = structure.to_ase()
    calc = TBLite(method=settings["method"], charge=structure.charge,
                  multiplicity=int(settings["multiplicity"]), accuracy=float(settings["accuracy"]),
                  electronic_temperature=float(settings["electronic_temperature"]),
                  max_iterations=int(settings["max_iterations"]), verbosity=0)
    atoms.calc = calc
    res = ase_result(atoms, stress=fully_periodic(structure))
    res.atom_properties["charges"] = calc.results["charges"].copy()
    return res


CODE = Code(
    name="tblite",
    summary="GFN1/GFN2-xTB tight binding (tblite): energies, forces, stress, charges",
    settings={
        "method": ("GFN2-xTB", f"one of {', '.join(METHODS)}"),
        "multiplicity": (1, "spin multiplicity"),
        "accuracy": (1.0, "numerical accuracy (smaller is tighter)"),
        "electronic_temperature": (300.0, "electronic temperature in K"),
        "max_iterations": (250, "SCC iterations before the calculation counts as failed"),
    },
    compute=compute,
    check=check,
    module="tblite",
    install="pip install 'hdnnp[references]' (or pip install tblite)",
    units="eV, eV/Å, eV/Å³; charges in e",
    energy_convention="total xTB energy (not relative to isolated atoms)",
    takes_charge=True,
)
