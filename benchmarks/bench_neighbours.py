"""Neighbour-list time for a periodic diamond Si crystal of >= 100,000 atoms at a 6 Å cutoff.

Usage: python benchmarks/bench_neighbours.py [--repeat 3]
Last line: neighbour_list_s=<seconds>  (best of the repeats, one thread).
"""
import argparse
import time

import numpy as np
from ase.build import bulk

from hdnnp.neighbours import neighbour_list


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n", type=int, default=24, help="supercell n×n×n of the 8-atom cubic cell")
    args = ap.parse_args()
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat(args.n)
    print(f"atoms={len(atoms)} cutoff=6.0")
    best = np.inf
    for _ in range(args.repeat):
        t = time.perf_counter()
        nl = neighbour_list(atoms, 6.0)
        best = min(best, time.perf_counter() - t)
    print(f"pairs={len(nl.i)} pairs_per_atom={len(nl.i) / len(atoms):.1f}")
    print(f"neighbour_list_us_per_atom={best / len(atoms) * 1e6:.3f}")
    print(f"neighbour_list_s={best:.3f}")


if __name__ == "__main__":
    main()
