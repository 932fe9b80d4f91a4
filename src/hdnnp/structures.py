"""The one data type that flows through hdnnp: a labelled atomic structure, and a batch of them.

Units are always eV and Å inside the package:
positions and cell in Å, energy in eV, forces in eV/Å, stress in eV/Å³ with ASE's sign
convention (σ = (1/V)·∂E/∂ε, so a compressed cell has *negative* stress), total charge in e.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from .errors import InputError

__all__ = ["Structure", "Batch", "symbol_to_number", "stress_matrix"]


def stress_matrix(stress) -> np.ndarray:
    """A (3, 3) stress from a (3, 3) array or ASE's Voigt order xx yy zz yz xz xy."""
    st = np.asarray(stress, dtype=np.float64)
    if st.shape == (6,):
        xx, yy, zz, yz, xz, xy = st
        st = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    return st.reshape(3, 3)


def symbol_to_number(symbol: str, *, file=None, line=None, structure=None) -> int:
    """Atomic number of an element symbol; raises InputError naming the location if unknown."""
    z = atomic_numbers.get(symbol)
    if z is None or z == 0:
        raise InputError(f"unknown element symbol {symbol!r}", file=file, line=line, structure=structure)
    return z


@dataclass
class Structure:
    """One atomic structure with optional reference labels.

    Attributes
    ----------
    numbers : (N,) int array of atomic numbers.
    positions : (N, 3) float array, Å (Cartesian).
    cell : (3, 3) float array, Å; rows are the lattice vectors (zeros for a molecule).
    pbc : (3,) bool array; periodicity along each lattice vector.
    energy : total energy in eV, or None.
    forces : (N, 3) eV/Å, or None.
    stress : (3, 3) eV/Å³ (ASE convention, compressed → negative), or None.
    charge : total charge in e (default 0).
    atom_properties : named per-atom arrays with first dimension N (e.g. 'charges', 'shieldings').
    info : free-form scalar metadata (comment, group, ...).
    source, index : provenance — the file the structure came from and its 0-based index there.
    """

    numbers: np.ndarray
    positions: np.ndarray
    cell: np.ndarray = field(default_factory=lambda: np.zeros((3, 3)))
    pbc: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=bool))
    energy: float | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    charge: float = 0.0
    atom_properties: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    index: int | None = None

    def __post_init__(self):
        self.numbers = np.asarray(self.numbers, dtype=np.int64).reshape(-1)
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1, 3)
        self.cell = np.asarray(self.cell, dtype=np.float64).reshape(3, 3)
        pbc = np.asarray(self.pbc, dtype=bool)
        self.pbc = np.repeat(pbc, 3) if pbc.ndim == 0 else pbc.reshape(3)
        if self.forces is not None:
            self.forces = np.asarray(self.forces, dtype=np.float64)
        if self.stress is not None:
            s = np.asarray(self.stress, dtype=np.float64)
            self.stress = stress_matrix(s) if s.shape == (6,) else s
        if self.energy is not None:
            self.energy = float(self.energy)
        self.charge = float(self.charge)

    # -- convenience -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.numbers)

    @property
    def natoms(self) -> int:
        return len(self.numbers)

    @property
    def symbols(self) -> list[str]:
        return [chemical_symbols[z] for z in self.numbers]

    @property
    def volume(self) -> float:
        """Cell volume in Å³ (0 for a molecule without a cell)."""
        return float(abs(np.linalg.det(self.cell)))

    @property
    def is_periodic(self) -> bool:
        return bool(self.pbc.any())

    def where(self) -> str:
        """Human-readable provenance: 'file, structure 3'."""
        parts = [self.source or "<memory>"]
        if self.index is not None:
            parts.append(f"structure {self.index}")
        return ", ".join(parts)

    def error(self, message: str) -> InputError:
        """An InputError naming this structure's file and index."""
        return InputError(message, file=self.source or "<memory>", structure=self.index)

    # -- checks ------------------------------------------------------------------------------
    def validate(self, min_distance: float | None = 0.1) -> "Structure":
        """Check shapes and values; raise InputError naming the source on any problem.

        ``min_distance`` (Å): atoms closer than this (periodic images included) are an error;
        None disables the check.
        """
        n = self.natoms
        if n == 0:
            raise self.error("structure has no atoms")
        if self.positions.shape != (n, 3):
            raise self.error(f"positions have shape {self.positions.shape}, expected ({n}, 3)")
        if not np.all(np.isfinite(self.positions)):
            raise self.error("positions contain NaN or inf")
        bad = [z for z in np.unique(self.numbers) if z < 1 or z >= len(chemical_symbols)]
        if bad:
            raise self.error(f"invalid atomic number(s) {bad}")
        if not np.all(np.isfinite(self.cell)):
            raise self.error("cell contains NaN or inf")
        if self.pbc.any():
            if self.volume < 1e-6 * max(1.0, np.abs(self.cell).max() ** 3):
                raise self.error("periodic cell has zero volume (lattice vectors are linearly dependent)")
        if self.energy is not None and not np.isfinite(self.energy):
            raise self.error("energy is NaN or inf")
        if not np.isfinite(self.charge):
            raise self.error("total charge is NaN or inf")
        if self.forces is not None:
            if self.forces.shape != (n, 3):
                raise self.error(f"forces have shape {self.forces.shape}, expected ({n}, 3): "
                                 "forces missing for some atoms?")
            if not np.all(np.isfinite(self.forces)):
                raise self.error("forces contain NaN or inf")
        if self.stress is not None:
            if self.stress.shape != (3, 3):
                raise self.error(f"stress has shape {self.stress.shape}, expected (3, 3)")
            if not np.all(np.isfinite(self.stress)):
                raise self.error("stress contains NaN or inf")
        for name, arr in self.atom_properties.items():
            arr = np.asarray(arr)
            if arr.shape[:1] != (n,):
                raise self.error(f"per-atom property {name!r} has {arr.shape[:1]} values for {n} atoms")
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                raise self.error(f"per-atom property {name!r} contains NaN or inf")
        if min_distance is not None and n > 0:
            from .neighbours import neighbour_list
            nl = neighbour_list(self, min_distance)
            if len(nl.i):
                k = int(np.argmin(nl.distances))
                raise self.error(f"atoms {nl.i[k]} and {nl.j[k]} are {nl.distances[k]:.4g} Å apart, "
                                 f"closer than the minimum distance {min_distance} Å")
        return self

    # -- ASE interop -------------------------------------------------------------------------
    def to_ase(self):
        """An ase.Atoms with the labels attached through a SinglePointCalculator."""
        from ase import Atoms
        from ase.calculators.singlepoint import SinglePointCalculator

        atoms = Atoms(numbers=self.numbers, positions=self.positions, cell=self.cell, pbc=self.pbc)
        for name, arr in self.atom_properties.items():
            atoms.arrays[name] = np.asarray(arr)
        atoms.info.update(self.info)
        if self.charge:
            atoms.info["charge"] = self.charge
        results = {}
        if self.energy is not None:
            results["energy"] = self.energy
        if self.forces is not None:
            results["forces"] = self.forces
        if self.stress is not None:
            results["stress"] = self.stress
        if results:
            atoms.calc = SinglePointCalculator(atoms, **results)
        return atoms

    @classmethod
    def from_ase(cls, atoms, *, source: str | None = None, index: int | None = None) -> "Structure":
        """Build from an ase.Atoms, taking energy/forces/stress from its calculator if present."""
        energy = forces = stress = None
        calc = atoms.calc
        if calc is not None:
            res = getattr(calc, "results", {})
            energy = res.get("energy", res.get("free_energy"))
            forces = res.get("forces")
            stress = res.get("stress")
        info = dict(atoms.info)
        charge = float(info.pop("charge", 0.0) or 0.0)
        skip = {"numbers", "positions", "forces", "momenta"}
        props = {k: np.array(v) for k, v in atoms.arrays.items() if k not in skip}
        return cls(numbers=atoms.numbers.copy(), positions=atoms.positions.copy(),
                   cell=np.array(atoms.cell[:]), pbc=atoms.pbc.copy(), energy=energy,
                   forces=None if forces is None else np.array(forces),
                   stress=None if stress is None else np.array(stress), charge=charge,
                   atom_properties=props, info=info, source=source, index=index)

    def copy(self) -> "Structure":
        import copy
        return copy.deepcopy(self)


class Batch:
    """Several structures as concatenated arrays, for vectorised descriptor and network code.

    Attributes: ``numbers`` (A,), ``positions`` (A, 3) Å, ``structure_index`` (A,) which structure
    each atom belongs to, ``ptr`` (S+1,) atom offsets, ``cells`` (S, 3, 3) Å, ``pbc`` (S, 3),
    ``energies`` (S,) eV with NaN where absent, ``forces`` (A, 3) eV/Å with NaN where absent,
    ``stresses`` (S, 3, 3) eV/Å³ with NaN where absent, ``charges`` (S,) e, and the original
    ``structures`` list (for provenance).
    """

    def __init__(self, structures: Sequence[Structure]):
        self.structures = list(structures)
        counts = np.array([s.natoms for s in self.structures], dtype=np.int64)
        self.ptr = np.concatenate([[0], np.cumsum(counts)])
        self.structure_index = np.repeat(np.arange(len(counts)), counts)
        self.numbers = np.concatenate([s.numbers for s in self.structures]) if counts.size else np.zeros(0, int)
        self.positions = (np.concatenate([s.positions for s in self.structures])
                          if counts.size else np.zeros((0, 3)))
        self.cells = np.array([s.cell for s in self.structures]).reshape(-1, 3, 3)
        self.pbc = np.array([s.pbc for s in self.structures], dtype=bool).reshape(-1, 3)
        self.energies = np.array([np.nan if s.energy is None else s.energy for s in self.structures])
        self.forces = np.concatenate([s.forces if s.forces is not None else np.full((s.natoms, 3), np.nan)
                                      for s in self.structures]) if counts.size else np.zeros((0, 3))
        self.stresses = np.array([s.stress if s.stress is not None else np.full((3, 3), np.nan)
                                  for s in self.structures]).reshape(-1, 3, 3)
        self.charges = np.array([s.charge for s in self.structures])

    def __len__(self) -> int:
        return len(self.structures)

    def __iter__(self) -> Iterator[Structure]:
        return iter(self.structures)

    def __getitem__(self, k) -> Structure:
        return self.structures[k]

    @property
    def natoms(self) -> np.ndarray:
        return np.diff(self.ptr)

    @classmethod
    def from_iter(cls, structures: Iterable[Structure]) -> "Batch":
        return cls(list(structures))
