"""Cost of a committee against one member, per atom-step (energy, forces and stress), one thread.

Python: the compiled evaluator on a 512-atom and a 4096-atom diamond Si cell with the embedded
example's symmetry functions (27, 5.5 Å) and 24-24 networks; members are copies with perturbed
weights (the cost does not depend on the weights). Two committee modes are timed: ``spread``
(every member's forces, for the per-atom force disagreement) and ``mean`` (mean forces from one
contraction; energy spread only), as in an MD run that checks the force spread every n steps.

Usage: python benchmarks/bench_committee.py [--members 4] [--repeat 5]
Last line: committee_cost_ratio_python=<spread / single, 4096 atoms> ...
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
    args = ap.parse_args()
    pot = _trained_or_random()
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
    print(f"committee_cost_ratio_python={ratios['spread']:.3f} committee_mean_only_ratio_python={ratios['mean']:.3f} "
          f"members={args.members}")


def _trained_or_random():
    """The example's symmetry functions with 24-24 networks and scaling from a few cells."""
    from hdnnp.cli.train import example_config
    from hdnnp.training.trainer import build_sfset
    from hdnnp.training.model import HDNNP, SCALING_MODES, scaling_statistics
    from hdnnp.training.data import DescriptorData
    from hdnnp.structures import Structure
    import torch

    cfg = example_config()
    sfset = build_sfset(cfg, ["Si"])
    cells = []
    for k in range(3):
        a = bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)
        a.rattle(0.1, seed=k)
        cells.append(Structure.from_ase(a))
    data = DescriptorData(cells, sfset, ["Si"])
    n_sf = {"Si": len(sfset.for_element("Si"))}
    model = HDNNP(["Si"], n_sf, [24, 24], "t", SCALING_MODES["scale"], 0.0, 1.0)
    model.set_scaling(scaling_statistics({"Si": [data[k].G[0] for k in range(len(data))]}, ["Si"], n_sf))
    model.init_weights(torch.Generator().manual_seed(0))
    return model.to_potential(sfset.to_n2p2_lines(), 1, 0.0)


if __name__ == "__main__":
    main()
