"""Any ASE calculator, named by its import path and keyword arguments.

``{code: ase, calculator: "ase.calculators.lj.LennardJones", kwargs: {sigma: 2.3, epsilon: 0.2}}``
creates ``LennardJones(sigma=2.3, epsilon=0.2)`` once per worker process and attaches it to each
structure. Total charge is passed as ``atoms.info['charge']`` (and ``charge=`` when ``charge_kwarg``
names the calculator's keyword for it).

Units: whatever the calculator returns through ASE, which is eV, eV/Å and eV/Å³ by ASE's contract.
Energy convention: the calculator's own.
"""
from __future__ import annotations

import importlib

from ..errors import InputError
from ._base import Code, REQUIRED, Result, ase_result, fully_periodic

_CACHE: dict = {}


def _factory(path: str):
    mod, _, name = path.rpartition(".")
    if not mod:
        raise InputError(f"calculator {path!r} must be an import path like 'ase.calculators.emt.EMT'",
                         key="reference.calculator")
    try:
        return getattr(importlib.import_module(mod), name)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"cannot import calculator {path!r}: {exc}", key="reference.calculator") from None


def check(settings: dict) -> None:
    _factory(settings["calculator"])
    if not isinstance(settings["kwargs"], dict):
        raise InputError("kwargs must be a mapping of keyword arguments", key="reference.kwargs")


def compute(settings: dict, structure) -> Result:
    kwargs = dict(settings["kwargs"])
    if settings["charge_kwarg"]:
        kwargs[settings["charge_kwarg"]] = structure.charge
    key = repr((settings["calculator"], sorted(kwargs.items())))
    if not settings["reuse"] or key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = _factory(settings["calculator"])(**kwargs)
    atoms = structure.to_ase()
    atoms.calc = _CACHE[key]
    stress = fully_periodic(structure) and settings["stress"]
    return ase_result(atoms, stress=stress)


CODE = Code(
    name="ase",
    summary="any ASE calculator by import path and keyword arguments",
    settings={
        "calculator": (REQUIRED, "import path of an ASE Calculator class, e.g. ase.calculators.lj.LennardJones"),
        "kwargs": ({}, "keyword arguments for the calculator"),
        "stress": (True, "ask for stress on fully periodic cells"),
        "charge_kwarg": ("", "keyword through which the calculator takes the total charge (empty: none)"),
        "reuse": (True, "reuse one calculator object per worker process"),
    },
    compute=compute,
    check=check,
    units="eV, eV/Å, eV/Å³ (ASE's calculator contract)",
    energy_convention="the calculator's own",
    takes_charge=lambda s: bool(s["charge_kwarg"]),
)
