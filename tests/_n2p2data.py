"""Readers of the n2p2 reference files used by the descriptor tests (positions in the file's units)."""
from __future__ import annotations

import numpy as np


def read_input_data(path, max_structures=None):
    """[(positions, element symbols, lattice, pbc)] in the file's own units (read with hdnnp.io
    without unit conversion)."""
    from hdnnp.io import read

    structures = read(path, format="n2p2")
    if max_structures is not None:
        structures = structures[:max_structures]
    return [(s.positions, s.symbols, s.cell, s.pbc) for s in structures]


def read_sf_raw(path):
    """{(struct, atom): (element, G array)} with struct/atom as written (see README)."""
    d = {}
    with open(path) as fh:
        for raw in fh:
            if raw.startswith("#") or not raw.strip():
                continue
            t = raw.split()
            s, a, el, n = int(t[0]), int(t[1]), t[2], int(t[3])
            d[(s, a)] = (el, np.array([float(x) for x in t[4:4 + n]]))
    return d


def read_sf_order(path):
    """{element: [input.nn line numbers in sorted order]}."""
    d = {}
    with open(path) as fh:
        for raw in fh:
            if raw.startswith("#") or not raw.strip():
                continue
            t = raw.split()
            d.setdefault(t[0], []).append(int(t[2].split("=")[1]))
    return d
