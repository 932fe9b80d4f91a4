"""Cost of a committee against one member, per atom-step (energy, forces and stress), one thread.

Python: the compiled evaluator on a 512-atom and a 4096-atom diamond Si cell with the embedded
example's symmetry functions (27, 5.5 Å) and 24-24 networks; members are copies with perturbed
weights (the cost does not depend on the weights). Two committee modes are timed: ``spread``
(every member's forces, for the per-atom force disagreement) and ``mean`` (mean forces from one
contraction; energy spread only), as in an MD run that checks the force spread every n steps.

LAMMPS: the same potentials exported for pair style hdnnp/fast, NVE on the 4096-atom cell, 1 rank, µs per
atom-step from LAMMPS' loop time: one member, the committee with the spread every step
(``committee_every 1``), and every 10 steps (``committee_every 10``).

Usage: python benchmarks/bench_committee.py [--members 4] [--repeat 5] [--steps 20] [--no-lammps]
Last line: committee_cost_ratio_python=<spread / single, 4096 atoms> committee_cost_ratio_lammps=<...> ...
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import _local  # noqa: E402,F401
import numpy as np  # noqa: E402
from ase.build import bulk  # noqa: E402

from hdnnp.model.evaluator import CommitteeEvaluator, Evaluator  # noqa: E402


def time_eval(ev, atoms, repeat, **kw):
    ev.evaluate(atoms, **kw)
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        ev.evaluate(atoms, **kw)
        best = min(best, time.perf_counter() - t)
    return best / len(atoms) * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--no-lammps", action="store_true")
    args = ap.parse_args()
    from hdnnp.testing import random_si_potential
    pot = random_si_potential()
    rng = np.random.default_rng(1)
    members = []
    for _ in range(args.members):
        p = pot.copy()
        for net in p.networks.values():
            net.weights = net.weights + rng.normal(0, 0.01, net.n_weights)
        members.append(p)
    single = Evaluator(members[0])
    spread = CommitteeEvaluator(members, spread=True)
    mean = CommitteeEvaluator(members, spread=False)
    ratios = {}
    for n in (4, 8):
        atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat(n)
        atoms.rattle(0.05, seed=1)
        t1 = time_eval(single, atoms, args.repeat)
        ts = time_eval(spread, atoms, args.repeat)
        tm = time_eval(mean, atoms, args.repeat)
        ratios = {"spread": ts / t1, "mean": tm / t1}
        print(f"{len(atoms)} atoms: single {t1:.2f} us/atom-step, committee of {args.members}: "
              f"spread {ts:.2f} ({ts / t1:.2f}x), mean only {tm:.2f} ({tm / t1:.2f}x)")
    lam = lammps_ratios(members, args.steps) if not args.no_lammps else {}
    print(f"committee_cost_ratio_python={ratios['spread']:.3f} committee_mean_only_ratio_python={ratios['mean']:.3f} "
          + (f"committee_cost_ratio_lammps={lam['every1']:.3f} committee_cost_ratio_lammps_every10={lam['every10']:.3f} "
             if lam else "") + f"members={args.members}")


def lammps_ratios(members, steps):
    import re
    import tempfile
    from pathlib import Path

    from hdnnp.lammps import build_plugin, export_potential
    from hdnnp.lammps.runner import lammps_cell, run_lammps, write_data
    from hdnnp.model import write_potential
    from hdnnp.training.committee import write_committee

    plugin = build_plugin()
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat(8)
    atoms.rattle(0.05, seed=1)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp)
        dirs = []
        for k, p in enumerate(members):
            write_potential(p, wd / f"m{k}")
            dirs.append(wd / f"m{k}")
        write_committee(dirs, wd / "committee")
        export_potential(wd / "m0", wd / "single.hdnnp")
        export_potential(wd / "committee", wd / "committee.hdnnp")
        at, box = lammps_cell(atoms)
        write_data(wd / "data.lmp", at, ["Si"], box)
        times = {}
        for name, pot, opts in (("single", "single.hdnnp", ""), ("every1", "committee.hdnnp", "committee_every 1"),
                                ("every10", "committee.hdnnp", "committee_every 10")):
            (wd / "in.lmp").write_text(f"""units metal
atom_style atomic
boundary p p p
read_data data.lmp
plugin load {plugin}
pair_style hdnnp/fast {opts}
pair_coeff * * {pot} Si
velocity all create 600 4928459 dist gaussian
timestep 0.001
fix 1 all nve
thermo 10
run 1
run {steps}
""")
            log = run_lammps(wd / "in.lmp", ranks=1, cwd=wd).stdout
            loops = [float(x) for x in re.findall(r"Loop time of ([0-9.eE+-]+) on", log)]
            times[name] = loops[-1] / (steps * len(atoms)) * 1e6
        print(f"LAMMPS, {len(atoms)} atoms, 1 rank: single {times['single']:.2f} us/atom-step, committee of "
              f"{len(members)}: spread every step {times['every1']:.2f} ({times['every1'] / times['single']:.2f}x), "
              f"every 10 steps {times['every10']:.2f} ({times['every10'] / times['single']:.2f}x)")
        out = {k: times[k] / times["single"] for k in ("every1", "every10")}
    return out


if __name__ == "__main__":
    main()
