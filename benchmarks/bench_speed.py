"""Energy + force speed of the n2p2 water potential (H2O_RPBE-D3, Bohr/Hartree) on one thread:
the 1080-atom box of n2p2's nnp-predict example and a 2×2×2 replica (8,640 atoms).

Reference: n2p2 needs about 325 µs per atom-step for this on the project's 2-core machine kind.
Usage: python benchmarks/bench_speed.py [--shared ../shared] [--repeat 5]
Last line: us_per_atom_step=<µs per atom for the large box> (neighbour list included).
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from hdnnp.io import read  # noqa: E402
from hdnnp.model.evaluator import load_potential  # noqa: E402


def time_step(ev, s, repeat):
    ev.evaluate(s)  # warm-up
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        ev.evaluate(s, forces=True, stress=True)
        best = min(best, time.perf_counter() - t)
    return best / s.natoms * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    folder = Path(args.shared) / "n2p2-reference" / "H2O_RPBE-D3"
    ev = load_potential(folder, length_unit="bohr", energy_unit="hartree")
    box = read(folder / "n2p2_nnp-predict_1080" / "input.data", length_unit="bohr", energy_unit="hartree")[0]
    big = box.to_ase().repeat(2)
    from hdnnp import Structure
    big = Structure.from_ase(big)
    small_us = time_step(ev, box, args.repeat)
    print(f"box=1080 atoms us_per_atom_step={small_us:.1f}")
    big_us = time_step(ev, big, max(1, args.repeat // 2))
    print(f"box={big.natoms} atoms us_per_atom_step={big_us:.1f}")
    print(f"n2p2_reference_us_per_atom_step=325 speedup={325 / big_us:.2f}")
    print(f"us_per_atom_step={big_us:.1f}")


if __name__ == "__main__":
    main()
