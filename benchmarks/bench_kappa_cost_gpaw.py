"""Cost against DFT for κ (issue: phonons and lattice thermal conductivity): one GPAW PBE force call on the fc3
supercell of Si (the conventional 8-atom cell's 2×2×2 supercell, 64 atoms, one atom displaced by 0.03 Å) against
the potential's force call on the same cell, and what that makes of the whole κ calculation.

GPAW settings (the ``gpaw-pbe`` preset with 2×2×2 k-points): plane waves 400 eV, PBE, Monkhorst–Pack 2×2×2 on the
10.86 Å cell (4×4×4 of the 8-atom cell), one thread, no MPI — forces converged to a few meV/Å for Si.

Two ratios, both printed:
- ``ratio_per_call``: a GPAW force call against the potential's; it is also the ratio for phono3py's whole
  displacement set (``--direct`` supercells, 111 for Si 2×2×2) once the potential exists;
- ``ratio_with_labels``: phono3py's set computed with GPAW against the route of ``thermal-conductivity --train``:
  ``--labels`` GPAW calls for the training set (68 for Si) plus ``--train-s`` of training plus the potential's
  force set.

Usage: python benchmarks/bench_kappa_cost_gpaw.py [--potential DIR] [--timeout 3600] [--direct 111] [--labels 68]
       [--train-s 900]
Last line: gpaw_s_per_call=… hdnnp_s_per_call=… ratio_per_call=… ratio_with_labels=…
(">" before a figure where the GPAW call ran past --timeout: then the figures are bounds). The GPAW call is stored
in WORKDIR/gpaw_call.json and reused; the potential is timed on every run, with one thread.

Measured 2026-12-07 (2-core machine, one single-threaded job on the other core): GPAW 272.5 s, the mlearn Si
potential 3.85 ms: ``gpaw_s_per_call=272.5 hdnnp_s_per_call=0.003847 ratio_per_call=7.083e+04
ratio_with_labels=1.517`` (``--train-s 1405``: the whole Si benchmark's wall time, an upper bound on its training).
"""
import argparse
import json
import time
from pathlib import Path

from _local import ROOT, timed_label
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/work/bench_kappa_cost")
    ap.add_argument("--potential", default=str(ROOT.parent / "shared" / "n2p2-reference" / "mlearn_Si"),
                    help="potential folder (default: the published mlearn Si n2p2 potential in ../shared)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="s for the GPAW call")
    ap.add_argument("--direct", type=int, default=111, help="phono3py's displacement set for the κ calculation")
    ap.add_argument("--labels", type=int, default=68, help="reference labels of the --train route")
    ap.add_argument("--train-s", type=float, default=900.0, help="training seconds of the --train route")
    args = ap.parse_args()
    from ase.build import bulk

    from hdnnp.model.evaluator import load_potential
    from hdnnp.structures import Structure
    wd = Path(args.workdir)
    wd.mkdir(parents=True, exist_ok=True)
    cell = bulk("Si", "diamond", a=5.431, cubic=True).repeat(2)
    cell.positions[0, 0] += 0.03
    cell.write(wd / "si64_displaced.extxyz")
    gfile = wd / "gpaw_call.json"
    if not gfile.is_file():
        g = timed_label(wd / "si64_displaced.extxyz", "gpaw-pbe", args.timeout, {"kpts": [2, 2, 2]})
        gfile.write_text(json.dumps(g))
    g = json.loads(gfile.read_text())
    from hdnnp.threads import configure_torch
    configure_torch(1)                      # one thread, like the GPAW call
    ev = load_potential(args.potential)
    s = Structure.from_ase(cell)
    for _ in range(3):
        ev.evaluate(s, stress=False)
    n, t0 = 50, time.perf_counter()
    for _ in range(n):
        ev.evaluate(s, stress=False)
    t_pot = (time.perf_counter() - t0) / n
    bound = "" if g["finished"] else ">"
    t_g = g["seconds"]
    with_labels = args.direct * t_g / (args.labels * t_g + args.train_s + args.direct * t_pot)
    print(f"GPAW PBE (400 eV, 2×2×2 k, 1 thread) on the 64-atom supercell: {bound}{t_g:.1f} s; the potential: "
          f"{t_pot * 1e3:.2f} ms ({args.potential})")
    print(f"gpaw_s_per_call={bound}{t_g:.4g} hdnnp_s_per_call={t_pot:.4g} ratio_per_call={bound}{t_g / t_pot:.4g} "
          f"ratio_with_labels={bound}{with_labels:.4g}")
    assert np.isfinite(t_pot)


if __name__ == "__main__":
    main()
