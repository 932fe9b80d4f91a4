"""ASE calculator for hdnnp potentials: ``energy``, ``free_energy``, ``energies``, ``forces``, ``stress``
(eV, eV/Å, eV/Å³ in ASE's convention). Works with ASE's MD, optimisers and NEB.

The neighbour list is built with a skin and reused while no atom has moved more than half the skin
and the cell is unchanged; each step only recomputes the pair vectors.
"""
from __future__ import annotations

import warnings

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from .model.evaluator import Evaluator, load_potential
from .neighbours import neighbour_list

__all__ = ["HDNNPCalculator", "ExtrapolationWarning"]


class ExtrapolationWarning(UserWarning):
    """Symmetry functions left the range seen in training (the scaling.data min/max)."""


class HDNNPCalculator(Calculator):
    """ASE calculator.

    Parameters
    ----------
    potential : path of an n2p2 potential folder, or an :class:`~hdnnp.model.evaluator.Evaluator`.
    length_unit, energy_unit : units of the potential files ('angstrom'|'bohr', 'ev'|'hartree'); default: the
        folder's UNITS file (every potential hdnnp writes has one), else Å and eV with a
        :class:`~hdnnp.units.UnitsWarning` when the cutoff looks like Bohr. Atoms are always in Å (ASE).
    skin : neighbour-list skin in Å (0 rebuilds every step).
    warn_extrapolation : issue an :class:`ExtrapolationWarning` when any atom extrapolates.

    After a calculation, ``results['extrapolations']`` holds the per-atom count of symmetry functions
    outside the scaling range and ``self.n_extrapolations`` their total.

    A committee folder (``committee.json`` beside the merged mean, as ``hdnnp train`` writes with
    ``run.committee``) gives the mean energy, forces and stress and, in ``results``, their spread:
    ``energy_std`` (eV), ``energy_std_per_atom`` (eV/atom), ``forces_std`` (per atom, eV/Å:
    sqrt((1/M) Σ_m |F_i^m − F̄_i|²)), ``stress_std`` (Voigt, eV/Å³), ``member_energies`` (M,), and
    ``uncertainty`` (per-atom trust score, see :class:`~hdnnp.model.evaluator.CommitteeEvaluator`).

    A charge-aware potential (``charge.json`` in the folder, ``model.charge_input`` in training) takes the
    total charge from ``atoms.info['charge']`` (0 when absent).

    Per-atom properties: a potential folder with per-atom property networks (``properties.json``, as
    ``hdnnp train`` writes with ``properties:`` in the config), or ``properties=FOLDER``, adds every target
    to ``results`` under its name (scalars (N,), tensors (N, 3, 3)) and its committee spread as
    ``<name>_std``; a target named ``charges``, or else one constrained to the total charge, is also
    ``results['charges']``, so ``atoms.get_charges()`` works. The total charge is ``atoms.info['charge']``.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, potential, length_unit: str | None = None, energy_unit: str | None = None,
                 skin: float = 0.5, warn_extrapolation: bool = True, properties=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(potential, Evaluator):
            self.evaluator = potential
        else:
            self.evaluator = load_potential(potential, length_unit=length_unit, energy_unit=energy_unit)
        from .properties.predict import PropertyPredictor, has_properties
        if properties is None and not isinstance(potential, Evaluator) and has_properties(potential):
            properties = potential
        self.properties = properties if properties is None or isinstance(properties, PropertyPredictor) \
            else PropertyPredictor(properties)
        if self.properties is not None:
            names = [t.name for t in self.properties.targets]
            # a scalar target constrained to the total charge is also ASE's 'charges' (atoms.get_charges())
            self._charges_from = next((t.name for t in self.properties.targets if t.name == "charges"),
                                      next((t.name for t in self.properties.targets if t.total_charge), None))
            self.implemented_properties = list(type(self).implemented_properties) + names + \
                [n + "_std" for n in names] + (["charges"] if self._charges_from else [])
        self.skin = float(skin)
        self.warn_extrapolation = warn_extrapolation
        self.n_extrapolations = 0
        self._nl = None
        self._nl_positions = None
        self._nl_cell = None
        self._nl_pbc = None

    def _neighbours(self, atoms):
        """(offsets, j, vectors) within the cutoff, from a cached skin list when still valid."""
        pos = atoms.positions
        cell = np.array(atoms.cell[:])
        pbc = atoms.pbc.copy()
        rc = self.evaluator.cutoff
        valid = (self._nl is not None and self._nl_positions.shape == pos.shape
                 and np.array_equal(cell, self._nl_cell) and np.array_equal(pbc, self._nl_pbc))
        if valid:
            disp = np.sqrt(((pos - self._nl_positions) ** 2).sum(axis=1)).max() if len(pos) else 0.0
            valid = 2.0 * disp < self.skin
        if not valid:
            self._nl = neighbour_list(pos, rc + self.skin, cell, pbc)
            self._nl_positions, self._nl_cell, self._nl_pbc = pos.copy(), cell, pbc
        nl = self._nl
        if self.skin == 0.0:
            return nl.offsets, nl.j, nl.vectors
        vec = pos[nl.j] + nl.shifts @ cell - pos[nl.i]
        keep = np.einsum("ij,ij->i", vec, vec) < rc * rc
        counts = np.bincount(nl.i[keep], minlength=len(pos))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return offsets, nl.j[keep], vec[keep]

    def check_state(self, atoms, tol=1e-15):
        """ASE's changes, plus a changed total charge (``atoms.info['charge']``), which ASE does not track."""
        changes = super().check_state(atoms, tol)
        if self.atoms is not None and atoms.info.get("charge", 0.0) != self.atoms.info.get("charge", 0.0):
            changes.append("charge")
        return changes

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        want_f = any(p in properties for p in ("forces", "stress"))
        offsets, j, vec = self._neighbours(atoms)
        ev = self.evaluator
        if hasattr(ev, "set_charge"):        # a charge-aware potential: the total charge is an input
            ev.set_charge(atoms.info.get("charge", 0.0))
        elem = ev.element_indices(atoms.numbers, "atoms")
        pbc = atoms.pbc
        pred = ev._evaluate_pairs(offsets, j, vec, elem, np.array(atoms.cell[:]), pbc,
                                  forces=True if want_f else False, stress=want_f)
        self.results["energy"] = pred.energy
        self.results["free_energy"] = pred.energy
        self.results["energies"] = pred.energies
        self.results["extrapolations"] = pred.extrapolations
        if pred.forces is not None:
            self.results["forces"] = pred.forces
        if pred.stress is not None:
            s = pred.stress
            self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
        elif "stress" in properties:
            from ase.calculators.calculator import PropertyNotImplementedError
            raise PropertyNotImplementedError("stress needs a cell that is periodic in all three directions")
        if pred.member_energies is not None:
            self.results["member_energies"] = pred.member_energies
            self.results["energy_std"] = pred.energy_std
            self.results["energy_std_per_atom"] = pred.energy_std_per_atom
            for key in ("forces_std", "uncertainty"):
                if getattr(pred, key) is not None:
                    self.results[key] = getattr(pred, key)
            if pred.stress_std is not None:
                s = pred.stress_std
                self.results["stress_std"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
        if self.properties is not None:
            from .structures import Structure
            (props,) = self.properties.predict([Structure.from_ase(atoms)])
            for name, (mean, std) in props.items():
                self.results[name] = mean
                self.results[name + "_std"] = std
            if self._charges_from:
                self.results["charges"] = self.results[self._charges_from]
        self.n_extrapolations = pred.n_extrapolations
        if self.warn_extrapolation and self.n_extrapolations:
            natoms = int((pred.extrapolations > 0).sum())
            warnings.warn(f"extrapolation: {self.n_extrapolations} symmetry-function values on {natoms} "
                          "atom(s) are outside the training range (scaling.data)", ExtrapolationWarning,
                          stacklevel=2)
