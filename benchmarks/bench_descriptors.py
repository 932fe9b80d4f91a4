"""Time the compiled symmetry functions + derivatives on n2p2's 1080-atom water box (H2O_RPBE-D3).

Prints ``descriptor_us_per_atom=<x>`` (one core, G and dG, best of several repeats) as its last line.
Usage: PYTHONPATH=src python benchmarks/bench_descriptors.py [--shared PATH] [--repeats N]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
import _local  # noqa: E402,F401  (hdnnp from src/ or the installed package)
sys.path.insert(0, str(REPO / "tests"))

from _n2p2data import read_input_data  # noqa: E402
from hdnnp import _core  # noqa: E402
from hdnnp.descriptors import SymmetryFunctionSet  # noqa: E402
from hdnnp.neighbours import neighbour_list  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get("HDNNP_SHARED", str(REPO.parent / "shared")))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    root = Path(args.shared) / "n2p2-reference" / "H2O_RPBE-D3"
    sfset = SymmetryFunctionSet.from_input_nn(root / "input.nn")
    pos, els, cell, pbc = read_input_data(root / "n2p2_nnp-predict_1080" / "input.data", 1)[0]
    n = len(pos)
    nl = neighbour_list(pos, sfset.max_cutoff, cell, pbc)
    eidx = {e: i for i, e in enumerate(sfset.elements)}
    atom_elem = np.array([eidx[e] for e in els], dtype=np.int32)
    neigh_elem = np.ascontiguousarray(atom_elem[nl.j], dtype=np.int32)
    descs = [sfset.cpp_descriptor(e) for e in sfset.elements]
    offsets = np.ascontiguousarray(nl.offsets, dtype=np.int64)
    vectors = np.ascontiguousarray(nl.vectors)
    print(f"atoms={n} pairs={len(nl.i)} mean_neighbours={len(nl.i) / n:.1f} "
          f"nsf={ {e: len(sfset.for_element(e)) for e in sfset.elements} } cutoff={sfset.max_cutoff}")
    _core.compute_descriptors_csr(descs, atom_elem, offsets, vectors, neigh_elem, True)  # warm-up
    best_d, best_g = np.inf, np.inf
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        _core.compute_descriptors_csr(descs, atom_elem, offsets, vectors, neigh_elem, True)
        best_d = min(best_d, time.perf_counter() - t0)
        t0 = time.perf_counter()
        _core.compute_descriptors_csr(descs, atom_elem, offsets, vectors, neigh_elem, False)
        best_g = min(best_g, time.perf_counter() - t0)
    print(f"G_only_us_per_atom={best_g / n * 1e6:.2f}")
    print(f"descriptor_us_per_atom={best_d / n * 1e6:.2f}")


if __name__ == "__main__":
    main()
