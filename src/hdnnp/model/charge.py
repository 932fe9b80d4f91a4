"""Charge-aware potentials: the structure's total charge Q as one more input of every atomic network
(``model.charge_input: true`` in the training config), so that one potential covers several charge states
(e.g. a defect in the charge states 0, 1+, 2+, 3+).

The charge enters the first layer only, like a symmetry function that is the same for every atom of the
structure: ``z = W_G x_G + w_Q x_Q(Q) + b`` with the scaled charge x_Q affine in Q. For a given Q that is an
ordinary second-generation network with the first-layer bias ``b(Q) = b(0) + s Q`` (s = w_Q times the
scaling factor of Q). So a charge-aware potential folder is

* an n2p2 potential of the neutral state (Q = 0: ``input.nn``, ``scaling.data``, ``weights.ZZZ.data``), which
  n2p2 and LAMMPS read as an ordinary potential of that state — n2p2 itself cannot take the charge as an
  input, and
* ``charge.json`` with the slopes s per element (one number per first-layer neuron) and the energy of the
  charge μ_Q (eV per e; the structure's energy has μ_Q Q added once, not per atom: fitted with the per-element
  energies, it is what removing an electron from the cell costs, about a band edge, whatever the cell's size),
  which hdnnp uses to evaluate any charge: the calculator (``atoms.info['charge']``), ``hdnnp predict`` (the structure's
  ``charge``), MD, and ``hdnnp lammps export --charge Q`` (the potential of state Q for the LAMMPS plugin).

Neutral-only potentials have no ``charge.json`` and are evaluated exactly as before.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from .evaluator import Evaluator, Prediction
from .n2p2 import ElementNetwork, Potential

__all__ = ["CHARGE_FILE", "fold_charge", "write_charge_file", "read_charge_file", "ChargeEvaluator"]

CHARGE_FILE = "charge.json"


def fold_charge(potential: Potential, slopes: dict, charge: float) -> Potential:
    """The ordinary potential of total charge ``charge`` (e): first-layer biases shifted by slope × Q."""
    nets = {}
    for el, net in potential.networks.items():
        layers = [(W.copy(), b.copy()) for W, b in net.layers()]
        W0, b0 = layers[0]
        layers[0] = (W0, b0 + np.asarray(slopes[el], np.float64) * float(charge))
        nets[el] = ElementNetwork(list(net.layer_sizes), net.activations, ElementNetwork.flatten(layers))
    return dataclasses.replace(potential, networks=nets)


def write_charge_file(folder, slopes: dict, charges_trained, energy_per_charge: float = 0.0) -> None:
    q = sorted({float(c) for c in charges_trained})
    (Path(folder) / CHARGE_FILE).write_text(json.dumps({
        "format": "hdnnp-charge-input", "version": 1,
        "meaning": "first-layer bias of each element network = bias in weights.ZZZ.data (the Q = 0 state) + "
                   "slope * Q, Q the structure's total charge in e; the structure's energy has "
                   "energy_per_charge_eV * Q added (once per structure, not per atom)",
        "charges_trained": q, "energy_per_charge_eV": float(energy_per_charge),
        "slopes": {el: [float(x) for x in s] for el, s in slopes.items()}}, indent=1))


def read_charge_file(folder) -> dict | None:
    from ..io._common import read_tagged_json
    path = Path(folder) / CHARGE_FILE
    return read_tagged_json(path, "hdnnp-charge-input", "an hdnnp charge-input file") if path.is_file() else None


class ChargeEvaluator(Evaluator):
    """An :class:`Evaluator` of a charge-aware potential: the charge of each evaluated structure
    (``Structure.charge``, or ``atoms.info['charge']`` for ASE atoms; 0 when absent) selects the folded
    networks (compiled once per distinct charge)."""

    def __init__(self, potential: Potential, slopes: dict, charges_trained=(), length_unit=None, energy_unit=None,
                 energy_per_charge: float = 0.0):
        missing = [el for el in potential.elements if el not in slopes]
        if missing:
            raise InputError(f"{CHARGE_FILE} has no slopes for {missing}", file=potential.source)
        for el in potential.elements:
            if len(slopes[el]) != potential.networks[el].layer_sizes[1]:
                raise InputError(f"{CHARGE_FILE}: {len(slopes[el])} slopes for element {el}, whose first hidden "
                                 f"layer has {potential.networks[el].layer_sizes[1]} neurons", file=potential.source)
        super().__init__(potential, length_unit=length_unit, energy_unit=energy_unit)
        self.neutral = potential
        self.slopes = slopes
        self.charges_trained = list(charges_trained)
        #: eV per e: the energy of the charge, added once per structure (Q μ_Q), shared evenly by its atoms' energies
        self.energy_per_charge = float(energy_per_charge)
        self.charge = 0.0
        self._cores = {0.0: self._core}

    def set_charge(self, charge: float) -> None:
        q = float(charge or 0.0)
        if q == self.charge:
            return
        core = self._cores.get(q)
        if core is None:
            core = self._cores[q] = self._compile(fold_charge(self.neutral, self.slopes, q))
        self._core, self.charge = core, q

    def evaluate(self, structure, **kw) -> Prediction:
        q = getattr(structure, "charge", None)
        if q is None or not isinstance(q, (int, float)):
            q = getattr(structure, "info", {}).get("charge", 0.0)
        self.set_charge(q)
        return super().evaluate(structure, **kw)

    def _evaluate_pairs(self, *args, **kw) -> Prediction:
        pred = super()._evaluate_pairs(*args, **kw)
        if self.charge and self.energy_per_charge:        # the energy of the charge, once per structure
            e = self.energy_per_charge * self.charge
            pred.energy += e
            pred.energies = pred.energies + e / max(len(pred.energies), 1)
        return pred
