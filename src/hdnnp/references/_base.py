"""The contract every reference code follows, and the one function that labels a structure.

A reference code is a :class:`Code`: its name, the settings it accepts (each with a default and a
one-line meaning), its units and energy convention, and one function ``compute(settings, structure)``
that returns a :class:`Result` in eV and Å. Settings are checked once, at the edge
(:meth:`Code.validate`), and a :class:`Reference` (code + complete settings) is what the label
store keys on and what worker processes receive.
"""
from __future__ import annotations

import hashlib
import json
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from ..structures import Structure, stress_matrix

__all__ = ["Code", "Reference", "Result", "compute_label", "REQUIRED"]

#: marks a setting that has no default and must be given
REQUIRED = object()


@dataclass
class Result:
    """One reference calculation, in eV and Å.

    ``status`` is 'ok' or 'failed'; a failure carries ``error`` (the message, one line first) and no
    numbers. ``energy`` eV, ``forces`` (N, 3) eV/Å, ``stress`` (3, 3) eV/Å³ (ASE sign, periodic cells
    only), ``atom_properties`` per-atom arrays with first dimension N (charges in e, shielding tensors
    in ppm, ...), ``info`` scalars (iterations, code version, ...), ``elapsed`` seconds of compute.
    """

    status: str = "ok"
    energy: float | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    atom_properties: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def apply(self, structure: Structure) -> Structure:
        """A copy of ``structure`` carrying these labels (and the reference's per-atom properties)."""
        s = structure.copy()
        s.energy = self.energy
        s.forces = None if self.forces is None else np.array(self.forces, dtype=float)
        s.stress = None if self.stress is None else np.array(self.stress, dtype=float).reshape(3, 3)
        for k, v in self.atom_properties.items():
            s.atom_properties[k] = np.asarray(v)
        return s


@dataclass
class Code:
    """A reference code: what it accepts and how it computes.

    ``settings`` maps each accepted key to ``(default, meaning)``; a default of :data:`REQUIRED`
    means the key must be given. ``compute(settings, structure) -> Result`` runs in a worker process.
    ``module`` names the Python package the code needs (checked before any work starts, so a missing
    install is one clear error rather than one failure per structure). ``periodic``/``molecules``
    say which structures it can label.
    """

    name: str
    summary: str
    settings: dict[str, tuple[Any, str]]
    compute: Callable[[dict, Structure], Result]
    units: str
    energy_convention: str
    module: str | None = None
    install: str = ""
    periodic: bool = True
    molecules: bool = True
    check: Callable[[dict], None] | None = None
    #: whether the code computes with the structure's total charge (a bool, or a function of the settings);
    #: a charged structure given to a code that ignores the charge fails instead of getting a neutral label
    takes_charge: bool | Callable[[dict], bool] = False

    def validate(self, given: dict, where: str = "reference") -> dict:
        """Complete settings (defaults filled in); unknown or missing keys name the config key."""
        unknown = sorted(set(given) - set(self.settings))
        if unknown:
            raise InputError(f"unknown setting {unknown[0]!r} for reference code {self.name!r}; "
                             f"it accepts: {', '.join(sorted(self.settings))}", key=f"{where}.{unknown[0]}")
        out = {}
        for k, (default, _meaning) in self.settings.items():
            if k in given:
                v = given[k]
                if isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
                    v = float(v)   # 300 and 300.0 are one setting (and one label key)
                out[k] = v
            elif default is REQUIRED:
                raise InputError(f"reference code {self.name!r} needs setting {k!r} ({_meaning})",
                                 key=f"{where}.{k}")
            else:
                out[k] = default
        try:
            json.dumps(out, sort_keys=True)
        except TypeError as exc:
            raise InputError(f"settings must be plain values (numbers, strings, lists, mappings): {exc}",
                             key=where) from None
        if self.check is not None:
            self.check(out)
        return out

    def require_module(self) -> None:
        if self.module is None:
            return
        import importlib.util
        if importlib.util.find_spec(self.module) is None:
            from ..errors import HDNNPError
            raise HDNNPError(f"reference code {self.name!r} needs the Python package {self.module!r}, which is not "
                             f"installed{': ' + self.install if self.install else ''}")


@dataclass(frozen=True)
class Reference:
    """A reference code with complete settings: what a label is computed with.

    ``key`` is a hash of the code name and settings (JSON, sorted keys); together with the structure's
    hash it identifies a label in the store. ``name`` is the preset or file it came from (for humans).
    """

    code: str
    settings_json: str
    name: str = ""

    @property
    def settings(self) -> dict:
        return json.loads(self.settings_json)

    @property
    def key(self) -> str:
        text = json.dumps({"code": self.code, "settings": self.settings}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def describe(self) -> str:
        s = ", ".join(f"{k}={v}" for k, v in sorted(self.settings.items()))
        return f"{self.name or self.code} ({self.code}: {s})"

    def compute(self, structure: Structure) -> Result:
        return compute_label(self, structure)


def structure_key(structure: Structure) -> str:
    """Hash of what a reference calculation sees: numbers, positions and cell (rounded to 1e-8 Å),
    periodicity and total charge."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(structure.numbers, dtype=np.int64).tobytes())
    for arr in (structure.positions, structure.cell):
        h.update((np.round(np.asarray(arr, dtype=np.float64), 8) + 0.0).tobytes())
    h.update(np.asarray(structure.pbc, dtype=np.uint8).tobytes())
    h.update(repr(round(float(structure.charge), 8)).encode())
    return h.hexdigest()[:24]


def compute_label(reference: Reference, structure: Structure) -> Result:
    """Run ``reference`` on ``structure`` and return a Result; never raises for a calculation that
    fails: the failure (with its message) is the result. Runs in worker processes."""
    from . import get_code

    t0 = time.perf_counter()
    try:
        code = get_code(reference.code)
        takes = code.takes_charge(reference.settings) if callable(code.takes_charge) else code.takes_charge
        if structure.charge and not takes:
            raise ValueError(f"the reference code {code.name!r} does not take the total charge, and the structure "
                             f"has charge {structure.charge:g} (a neutral label would be wrong); use a code that "
                             "does (gpaw, tblite, pyscf, or ase with charge_kwarg)")
        result = code.compute(reference.settings, structure)
        _check_result(result, structure)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, never raised
        tb = traceback.extract_tb(exc.__traceback__)
        place = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
        msg = (str(exc).strip() or "(no message)").splitlines()
        result = Result(status="failed", error=f"{type(exc).__name__}: {msg[0]}{place}"
                        + ("\n" + "\n".join(msg[1:6]) if len(msg) > 1 else ""))
    result.elapsed = time.perf_counter() - t0
    return result


def _check_result(r: Result, s: Structure) -> None:
    if r.status != "ok":
        return
    if r.energy is None or not np.isfinite(r.energy):
        raise ValueError(f"reference returned energy {r.energy!r}")
    if r.forces is not None:
        r.forces = np.asarray(r.forces, dtype=float).reshape(s.natoms, 3)
        if not np.all(np.isfinite(r.forces)):
            raise ValueError("reference returned NaN/inf forces")
    if r.stress is not None:
        r.stress = stress_matrix(r.stress)


def ase_result(atoms, *, stress: bool, extra: dict | None = None, force_consistent: bool = True) -> Result:
    """Energy, forces and (if asked) stress from an ASE Atoms with a calculator attached.

    With ``force_consistent`` the energy is the calculator's ``free_energy`` where it has one (the
    energy whose derivatives the forces are: with electronic smearing, the Mermin free energy, not
    the energy extrapolated to zero smearing), else its ``energy``.
    """
    forces = np.array(atoms.get_forces())
    energy = None
    if force_consistent:
        try:
            energy = float(atoms.calc.get_property("free_energy", atoms, allow_calculation=False))
        except Exception:  # noqa: BLE001 - no free energy: the energy is force-consistent
            energy = None
    if energy is None:
        energy = float(atoms.get_potential_energy())
    st = np.array(atoms.get_stress(voigt=False)) if stress else None
    return Result(energy=energy, forces=forces, stress=st, atom_properties=dict(extra or {}))


def fully_periodic(structure: Structure) -> bool:
    return bool(np.all(structure.pbc))
