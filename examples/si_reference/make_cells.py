"""Rattled and strained diamond-Si cells for labelling: ``python make_cells.py -n 60 --repeat 2 -o cells.xyz``.

Each cell is the cubic 8-atom diamond cell (``--repeat 2``: 64 atoms), isotropically strained by a
random factor in ±3 % and with every atom displaced by a Gaussian of standard deviation drawn from
``--amplitudes`` (Å), so the set spans near-equilibrium and strongly distorted configurations.
"""
import argparse

import numpy as np
from ase.build import bulk
from ase.io import write


def cells(n: int, repeat: int, amplitudes, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        a = bulk("Si", "diamond", a=5.43, cubic=True) * (repeat, repeat, repeat)
        strain = np.eye(3) + np.diag(rng.uniform(-0.03, 0.03, 3))
        a.set_cell(a.cell[:] @ strain, scale_atoms=True)
        amp = amplitudes[k % len(amplitudes)]
        a.positions += rng.normal(0.0, amp, a.positions.shape)
        a.info["group"] = f"rattle {amp:g} Å"
        out.append(a)
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("-n", type=int, default=60)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--amplitudes", type=float, nargs="+", default=[0.03, 0.06, 0.1])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default="cells.xyz")
    args = p.parse_args()
    write(args.output, cells(args.n, args.repeat, args.amplitudes, args.seed))
    print(f"written {args.output} ({args.n} cells)")
