"""Structure fingerprints in descriptor space, and picking a diverse subset of structures.

A structure's fingerprint is, for each element of the symmetry-function set, the mean over that
element's atoms of its symmetry functions scaled to [0, 1] by the given ranges (the potential's
``scaling.data`` min/max, or the ranges over the structures themselves), concatenated in element order
(zeros for an absent element). :func:`farthest_point` then picks structures one at a time, each the
farthest (Euclidean) from those already picked, starting from the first structure: the rule
``hdnnp validate --pick fps`` documents.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from .symmetry_functions import SymmetryFunctionSet, compute_descriptors

__all__ = ["structure_fingerprints", "farthest_point", "uniform_pick"]


def structure_fingerprints(structures, sfset: SymmetryFunctionSet,
                           ranges: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
                           length_factor: float = 1.0) -> np.ndarray:
    """(S, sum of SFs per element) fingerprints. ``ranges``: {element: (gmin, gmax)}; ``length_factor``
    divides positions and cells (Å -> the SF parameters' length unit)."""
    per = []
    for s in structures:
        d = compute_descriptors(s.positions / length_factor, s.numbers, s.cell / length_factor, s.pbc, sfset)
        per.append(d.by_element())
    if ranges is None:
        ranges = {}
        for el in sfset.elements:
            blocks = [p[el][1] for p in per if len(p[el][0])]
            if blocks:
                allg = np.concatenate(blocks)
                ranges[el] = (allg.min(0), allg.max(0))
    rows = []
    for p in per:
        parts = []
        for el in sfset.elements:
            n = len(sfset.for_element(el))
            idx, G = p[el]
            if len(idx) == 0 or el not in ranges:
                parts.append(np.zeros(n))
                continue
            lo, hi = (np.asarray(r, dtype=float) for r in ranges[el])
            span = np.where(hi - lo > 0, hi - lo, 1.0)
            parts.append(((G - lo) / span).mean(axis=0))
        rows.append(np.concatenate(parts) if parts else np.zeros(0))
    return np.array(rows)


def farthest_point(X: np.ndarray, n: int, first: int = 0) -> list[int]:
    """Indices of ``n`` rows of X by farthest-point sampling from row ``first`` (ties: lowest index)."""
    m = len(X)
    n = min(int(n), m)
    if n <= 0:
        return []
    picked = [int(first)]
    d = np.sqrt(((X - X[first]) ** 2).sum(axis=1))
    d[first] = -1.0
    while len(picked) < n:
        c = int(np.argmax(d))
        picked.append(c)
        d = np.minimum(d, np.sqrt(((X - X[c]) ** 2).sum(axis=1)))
        d[picked] = -1.0
    return picked


def uniform_pick(m: int, n: int) -> list[int]:
    """``n`` indices spread evenly over ``range(m)`` (first and last included), in order."""
    if n >= m:
        return list(range(m))
    if n <= 1:
        return [0][:n]
    return sorted(set(int(round(x)) for x in np.linspace(0, m - 1, n)))
