"""A loaded potential ready to evaluate structures: the one evaluation path behind the ASE calculator,
``hdnnp predict`` and (with the same C++ kernels) the LAMMPS pair style.

Units outside are eV and Å. n2p2 files carry no units: the potential's ``length_unit``
('angstrom'|'bohr') and ``energy_unit`` ('ev'|'hartree') come from the caller, else from a ``UNITS``
file in the folder (hdnnp writes one with every potential), else Å and eV with a check that warns when
the cutoff looks like Bohr. Positions are converted to the potential's length unit for the kernels,
and energies, forces and stress are converted back.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..neighbours import NeighbourList, csr_pairs, neighbour_list  # noqa: F401
from ..units import UnitsWarning, energy_factor, length_factor, potential_units_hint

__all__ = ["Prediction", "Evaluator", "CommitteeEvaluator", "load_potential", "COMMITTEE_FILE"]

#: the file that makes a potential folder a committee (its members' sub-folders and calibration)
COMMITTEE_FILE = "committee.json"


@dataclass
class Prediction:
    """Result of one evaluation (eV, Å).

    energy: total energy (eV), offsets included; energies: per-atom energies (eV) summing to energy;
    forces: (N, 3) eV/Å or None; stress: (3, 3) eV/Å³ (ASE convention) for periodic cells, else None;
    extrapolations: (N,) number of symmetry functions outside the scaling range, per atom.
    """

    energy: float
    energies: np.ndarray
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    extrapolations: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    #: per-atom virials (N, 3, 3), eV, centroid form (atom i's energy contributes r_ik ⊗ f_k to neighbour k;
    #: they sum to the global virial Σ r ⊗ f = −stress·V); only when asked for (``atom_virials=True``)
    virials: np.ndarray | None = None
    #: committees only: per-member total energies (M,), eV
    member_energies: np.ndarray | None = None
    #: committees only: per-atom force disagreement (N,), eV/Å: sqrt((1/M) Σ_m |F_i^m − F̄_i|²)
    forces_std: np.ndarray | None = None
    #: committees only: per-member forces (M, N, 3), eV/Å
    member_forces: np.ndarray | None = None
    #: committees only: standard deviation of the members' stress (3, 3), eV/Å³
    stress_std: np.ndarray | None = None
    #: committees only: per-atom trust score (N,): forces_std / the committee's validation disagreement
    #: + the fraction of the atom's symmetry functions outside the training range (≤ 1: like the
    #: validation data)
    uncertainty: np.ndarray | None = None

    @property
    def energy_std(self) -> float | None:
        """Standard deviation of the members' total energies, eV (committees only)."""
        return None if self.member_energies is None else float(np.std(self.member_energies))

    @property
    def energy_std_per_atom(self) -> float | None:
        """Standard deviation of the members' energies per atom, eV/atom (committees only)."""
        e = self.energy_std
        return None if e is None else e / max(len(self.energies), 1)

    @property
    def max_forces_std(self) -> float | None:
        """The largest per-atom force disagreement, eV/Å (committees only)."""
        f = self.forces_std
        return None if f is None else float(f.max()) if len(f) else 0.0

    @property
    def n_extrapolations(self) -> int:
        return int(self.extrapolations.sum())


class Evaluator:
    """Evaluate a second-generation HDNNP (an n2p2 ``Potential``) on structures.

    ``potential``: a :class:`hdnnp.model.n2p2.Potential`; ``length_unit`` / ``energy_unit``: the units of
    the potential's files (n2p2 files carry none).
    """

    def __init__(self, potential, length_unit: str | None = None, energy_unit: str | None = None):
        self.potential = potential
        # units: as given, else the folder's UNITS file (hdnnp writes one), else Å and eV (with a check)
        guessed = length_unit is None and potential.length_unit is None
        length_unit = (length_unit or potential.length_unit or "angstrom").lower()
        energy_unit = (energy_unit or potential.energy_unit or "ev").lower()
        if potential.length_unit and potential.energy_unit and \
                (length_unit, energy_unit) != (potential.length_unit, potential.energy_unit):
            warnings.warn(f"{potential.source}: its UNITS file says {potential.length_unit} {potential.energy_unit}, "
                          f"but {length_unit} {energy_unit} was asked for; using what was asked", UnitsWarning,
                          stacklevel=2)
        self.length_unit, self.energy_unit = length_unit, energy_unit
        self._L = length_factor(length_unit)   # Å per potential length unit
        self._U = energy_factor(energy_unit)   # eV per potential energy unit
        self.elements = list(potential.elements)
        self._sfset = potential.symmetry_functions
        self._core = self._compile(potential)
        self._z_to_index = {}
        from ase.data import atomic_numbers
        for k, el in enumerate(self.elements):
            self._z_to_index[atomic_numbers[el]] = k
        self._offsets = np.array([potential.atom_energy.get(el, 0.0) for el in self.elements])
        #: cutoff in Å
        self.cutoff = self._core.cutoff * self._L
        hint = potential_units_hint(self.cutoff, self.length_unit) if guessed else None
        if hint:
            warnings.warn(f"{potential.source or 'potential'}: {hint}", UnitsWarning, stacklevel=2)

    def _compile(self, potential):
        """The compiled evaluator of ``potential``'s networks on this evaluator's symmetry functions."""
        from .. import _core
        return _core.Evaluator([self._sfset.cpp_descriptor(el) for el in self.elements],
                               [potential.element_model(el) for el in self.elements])

    # ------------------------------------------------------------------------------------------
    def element_indices(self, numbers, where: str = "structure") -> np.ndarray:
        try:
            return np.array([self._z_to_index[int(z)] for z in numbers], dtype=np.int32)
        except KeyError as exc:
            from ase.data import chemical_symbols
            from ..errors import InputError
            raise InputError(f"element {chemical_symbols[exc.args[0]]} is not in the potential "
                             f"(elements: {' '.join(self.elements)})", file=where) from None

    def evaluate(self, structure, *, forces: bool = True, stress: bool = True,
                 neighbours: NeighbourList | None = None, atom_virials: bool = False) -> Prediction:
        """Energy (eV), per-atom energies, forces (eV/Å) and stress (eV/Å³, periodic cells only)
        of a Structure or ase.Atoms; ``atom_virials``: per-atom virials too (``Prediction.virials``)."""
        positions = np.asarray(structure.positions, dtype=np.float64)
        cell = np.asarray(structure.cell[:] if hasattr(structure.cell, "array") else structure.cell, float)
        pbc = np.asarray(structure.pbc, bool)
        if pbc.ndim == 0:
            pbc = np.repeat(pbc, 3)
        where = getattr(structure, "where", lambda: "structure")()
        elem = self.element_indices(structure.numbers, where)
        if neighbours is None:  # fast path: vesin pairs -> CSR in one compiled pass, already scaled
            offsets, j, rij = csr_pairs(positions, self.cutoff, cell, pbc, 1.0 / self._L)
            return self._evaluate_pairs(offsets, j, rij, elem, cell, pbc, forces, stress, scaled=True,
                                        atom_virials=atom_virials)
        nl = neighbours
        return self._evaluate_pairs(nl.offsets, nl.j, nl.vectors, elem, cell, pbc, forces, stress,
                                    atom_virials=atom_virials)

    def _evaluate_pairs(self, offsets, j, vectors_A, elem, cell, pbc, forces, stress,
                        scaled: bool = False, atom_virials: bool = False) -> Prediction:
        L, U = self._L, self._U
        p = self.potential
        rij = vectors_A if scaled else np.ascontiguousarray(vectors_A / L, dtype=np.float64)
        e_int, ea_int, f_int, w_int, extrap, va = self._core.evaluate(
            np.ascontiguousarray(offsets, np.int64), np.ascontiguousarray(j, np.int64), rij,
            elem, bool(forces or stress or atom_virials), bool(atom_virials))
        ce, mu = p.conv_energy, p.mean_energy
        energies = (np.asarray(ea_int) / ce + mu + self._offsets[elem]) * U
        # total as n2p2 forms it: network sum / conv_energy + N·mean_energy + offsets
        total = (e_int / ce + len(elem) * mu + float(self._offsets[elem].sum())) * U
        pred = Prediction(energy=float(total), energies=energies, extrapolations=np.asarray(extrap))
        if forces:
            pred.forces = np.asarray(f_int) * (U / (ce * L))
        if stress and pbc.all():
            volume = abs(np.linalg.det(cell))
            pred.stress = -np.asarray(w_int).T * (U / ce) / volume
        if atom_virials:
            pred.virials = np.asarray(va) * (U / ce)
        return pred


def load_potential(folder, length_unit: str | None = None, energy_unit: str | None = None):
    """Load an n2p2 potential folder (input.nn, scaling.data, weights.ZZZ.data) for evaluation: an
    :class:`Evaluator`, or a :class:`CommitteeEvaluator` when the folder holds a ``committee.json``
    (its top level is then the members' merged mean, which n2p2 and LAMMPS read as one potential), or a
    :class:`~hdnnp.model.charge.ChargeEvaluator` when it holds a ``charge.json`` (charge-aware potential).

    Units: as given, else the folder's ``UNITS`` file (``<length> <energy>``, e.g. ``bohr hartree``; every
    potential hdnnp writes has one), else Å and eV — with a :class:`~hdnnp.units.UnitsWarning` when the
    cutoff then looks like Bohr."""
    from pathlib import Path
    from .n2p2 import read_potential
    if (Path(folder) / COMMITTEE_FILE).is_file():
        return CommitteeEvaluator.load(folder, length_unit=length_unit, energy_unit=energy_unit)
    from .charge import ChargeEvaluator, read_charge_file
    ch = read_charge_file(folder)
    if ch is not None:        # a charge-aware potential (the structure's total charge is an input)
        return ChargeEvaluator(read_potential(folder), ch["slopes"], ch.get("charges_trained", ()),
                               length_unit=length_unit, energy_unit=energy_unit,
                               energy_per_charge=float(ch.get("energy_per_charge_eV", 0.0)))
    return Evaluator(read_potential(folder), length_unit=length_unit, energy_unit=energy_unit)


class CommitteeEvaluator(Evaluator):
    """A committee of M potentials that share symmetry functions and scaling (members trained on one
    training set with one symmetry-function set), evaluated as one: the symmetry functions once per
    atom, the M networks on them. :meth:`evaluate` returns the mean energy, forces and stress with
    the committee's spread (``member_energies``, ``forces_std``, ``stress_std``, ``uncertainty``).

    ``members``: :class:`~hdnnp.model.n2p2.Potential` objects; ``calibration``: the committee's
    typical force disagreement on its validation set (eV/Å), the unit of the trust score;
    ``spread``: compute every member's forces (for ``forces_std``) — otherwise forces are the mean
    from one contraction per atom and only energies have a spread.
    """

    def __init__(self, members, length_unit: str | None = None, energy_unit: str | None = None, *,
                 calibration: float | None = None, mean_potential=None, spread: bool = True):
        from .. import _core
        from .committee import check_members

        members = list(members)
        check_members(members, normalisation=False)
        super().__init__(mean_potential if mean_potential is not None else members[0],
                         length_unit=length_unit, energy_unit=energy_unit)
        self.members = members
        self.calibration = calibration
        self.spread = spread
        sfset = members[0].symmetry_functions
        self._committee = _core.CommitteeEvaluator(
            [sfset.cpp_descriptor(el) for el in self.elements],
            [[p.element_model(el) for el in self.elements] for p in members],
            [1.0 / p.conv_energy for p in members])
        # position-independent part of each member's atomic energy: mean_energy + the element's offset
        self._member_offsets = np.array([[p.mean_energy + p.atom_energy.get(el, 0.0) for el in self.elements]
                                         for p in members])
        self._n_sf = np.array([len(sfset.for_element(el)) for el in self.elements])

    @property
    def n_members(self) -> int:
        return len(self.members)

    @classmethod
    def load(cls, folder, length_unit: str | None = None, energy_unit: str | None = None, **kw):
        """A committee folder: ``committee.json`` naming the member sub-folders, the members' merged
        mean at the top level."""
        import json
        from pathlib import Path
        from ..errors import InputError
        from .n2p2 import read_potential

        folder = Path(folder)
        path = folder / COMMITTEE_FILE
        try:
            info = json.loads(path.read_text())
            names = info["members"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"not a committee description ({exc})", file=str(path)) from None
        if not isinstance(names, list) or not names:
            raise InputError("'members' must list the member folders", file=str(path))
        members = []
        for n in names:
            d = folder / str(n)
            if not (d / "input.nn").is_file():
                raise InputError(f"committee member {n!r}: no input.nn in {d}", file=str(path))
            members.append(read_potential(d))
        mean = read_potential(folder) if (folder / "input.nn").is_file() else None
        cal = info.get("force_std_validation")
        return cls(members, length_unit, energy_unit, calibration=float(cal) if cal else None,
                   mean_potential=mean, **kw)

    def _evaluate_pairs(self, offsets, j, vectors_A, elem, cell, pbc, forces, stress,
                        scaled: bool = False, spread: bool | None = None, atom_virials: bool = False) -> Prediction:
        L, U = self._L, self._U
        spread = self.spread if spread is None else spread
        rij = vectors_A if scaled else np.ascontiguousarray(vectors_A / L, dtype=np.float64)
        want_f = bool(forces or stress or atom_virials)
        ea, f, w, mf, mw, extrap, va = self._committee.evaluate(
            np.ascontiguousarray(offsets, np.int64), np.ascontiguousarray(j, np.int64), rij,
            elem, want_f, want_f and spread, bool(atom_virials))
        ea = (np.asarray(ea) + self._member_offsets[:, elem]) * U          # (M, N) eV
        member_e = ea.sum(axis=1)
        extrap = np.asarray(extrap)
        pred = Prediction(energy=float(member_e.mean()), energies=ea.mean(axis=0), extrapolations=extrap,
                          member_energies=member_e)
        frac = extrap / self._n_sf[elem] if len(elem) else np.zeros(0)
        if want_f:
            pred.forces = np.asarray(f) * (U / L)
            if spread:
                mf = np.asarray(mf) * (U / L)
                pred.member_forces = mf
                dev = mf - pred.forces[None]
                pred.forces_std = np.sqrt((dev ** 2).sum(axis=2).mean(axis=0))
                if self.calibration:
                    pred.uncertainty = pred.forces_std / self.calibration + frac
            if not forces:
                pred.forces = None
        if stress and want_f and pbc.all():
            volume = abs(np.linalg.det(cell))
            pred.stress = -np.asarray(w).T * U / volume
            if spread:
                ms = -np.transpose(np.asarray(mw), (0, 2, 1)) * U / volume
                pred.stress_std = ms.std(axis=0)
        if atom_virials:
            pred.virials = np.asarray(va) * U
        return pred
