"""Minimal reader of n2p2 input.data for the descriptor tests (positions in the file's units)."""
from __future__ import annotations

import numpy as np


def read_input_data(path, max_structures=None):
    out = []
    cur = None
    with open(path) as fh:
        for raw in fh:
            t = raw.split()
            if not t:
                continue
            k = t[0]
            if k == "begin":
                cur = {"lattice": [], "pos": [], "el": []}
            elif k == "lattice":
                cur["lattice"].append([float(x) for x in t[1:4]])
            elif k == "atom":
                cur["pos"].append([float(x) for x in t[1:4]])
                cur["el"].append(t[4])
            elif k == "end":
                lat = np.array(cur["lattice"]) if cur["lattice"] else np.zeros((3, 3))
                pbc = np.array([len(cur["lattice"]) == 3] * 3)
                out.append((np.array(cur["pos"]), cur["el"], lat, pbc))
                if max_structures is not None and len(out) >= max_structures:
                    break
    return out


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
