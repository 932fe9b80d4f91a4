"""Neighbour lists (from vesin: O(N), periodic, partly periodic and open systems, triclinic cells,
cells smaller than the cutoff).

The result is a full list (both i→j and j→i) as flat arrays, ready for the compiled kernels:
``vectors[k] = positions[j[k]] + shifts[k] @ cell - positions[i[k]]`` in Å.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["NeighbourList", "neighbour_list"]


@dataclass
class NeighbourList:
    """Full neighbour list: pairs (i, j) with integer cell shifts, vectors (Å) and distances (Å).

    Pairs are grouped by i (ascending), ``offsets[a]:offsets[a+1]`` are the pairs of atom a.
    """

    i: np.ndarray          # (P,) int64
    j: np.ndarray          # (P,) int64
    shifts: np.ndarray     # (P, 3) int64, in units of the lattice vectors
    vectors: np.ndarray    # (P, 3) float64, Å
    distances: np.ndarray  # (P,) float64, Å
    offsets: np.ndarray    # (N+1,) int64
    cutoff: float


def _vesin_box(cell, pbc):
    """Box for vesin: zero box when nothing is periodic; a full-rank box otherwise."""
    if not pbc.any():
        return np.zeros((3, 3))
    box = cell.copy()
    # vesin needs a full-rank box when any direction is periodic: replace zero non-periodic
    # lattice vectors by unit vectors orthogonal to the others (never used for images).
    for d in range(3):
        if not pbc[d] and np.linalg.norm(box[d]) == 0.0:
            others = np.array([box[k] for k in range(3) if k != d and np.linalg.norm(box[k]) > 0])
            if len(others) == 0:
                box[d] = np.eye(3)[d]
            else:
                _, _, vt = np.linalg.svd(others.reshape(-1, 3))
                box[d] = vt[-1]
    return box


def csr_pairs(positions, cutoff: float, cell, pbc, scale: float = 1.0):
    """Just what the evaluator needs, fast: ``(offsets[N+1], j, vectors * scale)`` grouped by i
    (same pairs and order as :func:`neighbour_list`)."""
    import vesin
    from . import _core

    positions = np.asarray(positions, dtype=np.float64)
    cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
    pbc = np.asarray(pbc, dtype=bool)
    if pbc.ndim == 0:
        pbc = np.repeat(pbc, 3)
    n = len(positions)
    if n == 0:
        return np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros((0, 3))
    calc = vesin.NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, D = calc.compute(points=positions, box=_vesin_box(cell, pbc),
                           periodic=pbc.tolist() if pbc.any() else False, quantities="ijD")
    return _core.csr_pairs(np.ascontiguousarray(i, np.uint64), np.ascontiguousarray(j, np.uint64),
                           np.ascontiguousarray(D, np.float64), n, float(scale))


def neighbour_list(structure_or_positions, cutoff: float, cell=None, pbc=None, *,
                   sort: bool = True) -> NeighbourList:
    """All pairs with distance < ``cutoff`` (Å), excluding an atom with itself at zero shift.

    Accepts a Structure (or ase.Atoms) or ``positions`` with ``cell`` and ``pbc``.
    Non-periodic directions may have a zero lattice vector.
    """
    import vesin

    if cell is None:
        obj = structure_or_positions
        positions = np.asarray(obj.positions, dtype=np.float64)
        cell = np.asarray(obj.cell[:] if hasattr(obj.cell, "__getitem__") else obj.cell, dtype=np.float64)
        pbc = np.asarray(obj.pbc, dtype=bool)
    else:
        positions = np.asarray(structure_or_positions, dtype=np.float64)
        cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
        pbc = np.asarray(pbc if pbc is not None else False, dtype=bool)
        if pbc.ndim == 0:
            pbc = np.repeat(pbc, 3)
    n = len(positions)
    box = _vesin_box(cell, pbc)
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return NeighbourList(z, z, np.zeros((0, 3), np.int64), np.zeros((0, 3)), np.zeros(0),
                             np.zeros(1, np.int64), cutoff)
    calc = vesin.NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, S, d, D = calc.compute(points=positions, box=box, periodic=pbc.tolist() if pbc.any() else False,
                                 quantities="ijSdD")
    i = i.astype(np.int64)
    j = j.astype(np.int64)
    S = S.astype(np.int64)
    if sort and len(i) and np.any(i[1:] < i[:-1]):  # vesin usually returns pairs grouped by i
        order = np.argsort(i, kind="stable")
        i, j, S, d, D = i[order], j[order], S[order], d[order], D[order]
    offsets = np.searchsorted(i, np.arange(n + 1)).astype(np.int64)
    return NeighbourList(i, j, S, np.ascontiguousarray(D, dtype=np.float64),
                         np.ascontiguousarray(d, dtype=np.float64), offsets, float(cutoff))
