"""Small, reproducible potentials for tests and benchmarks (no training)."""
from __future__ import annotations

__all__ = ["random_si_potential", "charged_si_potential"]


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


def charged_si_potential(folder, charges=(0.0, 1.0), energy=lambda q, n: 0.2 * q * n / 8, optimizer="adam",
                         epochs=2, structures=8, hidden=(5,)):
    """A small charge-aware Si potential (``model.charge_input``) trained in ``folder/run`` on the smallest embedded
    mlearn Si cells copied into every charge state q with energy E + ``energy(q, natoms)``; returns the potential
    folder. For tests of the charge input end to end (training, evaluator, LAMMPS, defects)."""
    from pathlib import Path

    from .data import example_path
    from .io import read, write
    from .training import config_from_dict, train
    folder = Path(folder)
    base = sorted(read(example_path("si")), key=lambda x: x.natoms)[:structures]
    data = []
    for q in charges:
        for s in base:
            c = s.copy()
            c.charge, c.energy, c.stress = float(q), s.energy + energy(q, s.natoms), None
            data.append(c)
    write(folder / "charged.xyz", data)
    train(config_from_dict({"data": {"train": [str(folder / "charged.xyz")], "validation_fraction": 0.2},
                            "model": {"symmetry_functions": {"lines": ["Si 2 Si 0.05 0.0 5.0", "Si 2 Si 0.3 0.0 5.0",
                                                                       "Si 3 Si Si 0.02 1 1 5.0"]},
                                      "hidden": list(hidden), "charge_input": True},
                            "optimizer": {"name": optimizer, "epochs": epochs},
                            "run": {"output": str(folder / "run"), "plots": False, "progress": "none"}}),
          log=lambda *a, **k: None)
    return folder / "run" / "potential"
