"""Prediction of per-atom properties from a folder written by training (``properties.json`` and
``properties.npz``, beside a potential or alone)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from .model import JSON_NAME, collate, features, load

__all__ = ["PropertyPredictor", "has_properties"]


def has_properties(folder) -> bool:
    return (Path(folder) / JSON_NAME).is_file()


class PropertyPredictor:
    """Per-atom properties of structures: ``predict(structures)`` gives, per structure, {target name:
    (mean, spread)} with (N,) arrays for scalars and (N, 3, 3) for tensors; the spread is the committee's
    standard deviation (zeros for a single network). Atoms of elements that do not carry a target get NaN."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.model, self.sfset = load(self.folder)
        self.model.eval()
        self.elements = self.model.elements
        self.targets = self.model.targets

    def target(self, name: str):
        for t in self.targets:
            if t.name == name:
                return t
        raise InputError(f"the property model has no target {name!r} (it has: "
                         f"{', '.join(t.name for t in self.targets)})", file=str(self.folder / JSON_NAME))

    def _check(self, s) -> None:
        bad = sorted(set(s.symbols) - set(self.elements))
        if bad:
            raise InputError(f"{s.where()}: element(s) {bad} not in the property model's elements {self.elements}")

    def predict(self, structures, chunk: int = 32, progress=None) -> list[dict]:
        out = []
        nel = len(self.elements)
        steps = range(0, len(structures), chunk)
        if progress is not None:
            steps = progress(steps)
        with torch.no_grad():
            for k in steps:
                part = structures[k:k + chunk]
                for s in part:
                    self._check(s)
                feats = [features(s, self.sfset, self.elements, coulomb=self.model.needs_coulomb,
                                  potential=self.model.potential_width) for s in part]
                b = collate(feats, nel)
                pred = self.model(b)
                masks = self.model.masks(b)
                offs = np.concatenate([[0], np.cumsum([f.natoms for f in feats])])
                for i in range(len(part)):
                    sl = slice(offs[i], offs[i + 1])
                    res = {}
                    for t in self.targets:
                        p = pred[t.name][:, sl].numpy()
                        mean, std = p.mean(0), p.std(0)
                        missing = ~masks[t.name][sl].numpy()
                        mean[missing] = np.nan
                        std[missing] = np.nan
                        res[t.name] = (mean, std)
                    out.append(res)
        return out
