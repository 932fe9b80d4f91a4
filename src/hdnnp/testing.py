"""Small, reproducible potentials for tests and benchmarks (no training)."""
from __future__ import annotations

__all__ = ["random_si_potential"]


def random_si_potential(seed: int = 0, hidden=(24, 24)):
    """A Si potential with the embedded example's 27 symmetry functions (5.5 Å), ``hidden`` tanh layers with
    random weights, and scaling statistics from three rattled 64-atom diamond cells: the cost of a real Si
    potential, physics of none."""
    import torch
    from ase.build import bulk

    from .cli.train import example_config
    from .structures import Structure
    from .training.data import DescriptorData
    from .training.model import HDNNP, SCALING_MODES, scaling_statistics
    from .training.trainer import build_sfset

    sfset = build_sfset(example_config(), ["Si"])
    cells = []
    for k in range(3):
        a = bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)
        a.rattle(0.1, seed=k)
        cells.append(Structure.from_ase(a))
    data = DescriptorData(cells, sfset, ["Si"])
    n_sf = {"Si": len(sfset.for_element("Si"))}
    model = HDNNP(["Si"], n_sf, list(hidden), "t", SCALING_MODES["scale"], 0.0, 1.0)
    model.set_scaling(scaling_statistics({"Si": [data[k].G[0] for k in range(len(data))]}, ["Si"], n_sf))
    model.init_weights(torch.Generator().manual_seed(seed))
    return model.to_potential(sfset.to_n2p2_lines(), 1, 0.0)
