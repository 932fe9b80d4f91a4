"""Element embedding on element-resolved SFs (``model.embedding``): config validation, forces,
LM Jacobians, exact n2p2 export, and a short training, on a tiny Cu/Ag/Au EMT set."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from hdnnp.descriptors.generate import generate_lines
from hdnnp.errors import InputError
from hdnnp.training import Trainer, config_from_dict

ELEMENTS = ["Cu", "Ag", "Au"]


@pytest.fixture(scope="module")
def alloy(tmp_path_factory):
    """12 random 4-atom fcc Cu/Ag/Au cells (strained, rattled), EMT energies and forces."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.io import write
    rng = np.random.default_rng(7)
    frames = []
    for i in range(12):
        a = bulk("Cu", "fcc", a=3.9, cubic=True)
        a.set_chemical_symbols(rng.choice(ELEMENTS, size=len(a)).tolist())
        if i < 3:   # every element present in the training part
            a.set_chemical_symbols(ELEMENTS + [ELEMENTS[i]])
        a.set_cell(a.cell[:] @ (np.eye(3) + rng.normal(0, 0.02, (3, 3))), scale_atoms=True)
        a.positions += rng.normal(0, 0.08, a.positions.shape)
        a.calc = EMT()
        a.get_potential_energy()
        a.get_forces()
        frames.append(a)
    d = tmp_path_factory.mktemp("alloy")
    write(d / "train.extxyz", frames[:10])
    write(d / "test.extxyz", frames[10:])
    return d


def sf_lines():
    return generate_lines(ELEMENTS, 5.0, 3, 1, zetas=(1,))


def cfg_dict(alloy, out, name="adam", epochs=3, channels=2, **model):
    return {"data": {"train": [str(alloy / "train.extxyz")], "test": [str(alloy / "test.extxyz")],
                     "validation_fraction": 0.2},
            "model": {"symmetry_functions": {"lines": sf_lines(), "cutoff_type": 6},
                      "hidden": [5], "embedding": {"channels": channels}, **model},
            "optimizer": {"name": name, "epochs": epochs, "batch_size": 4, "lr": 0.01,
                          "lbfgs_iterations": 3, "lm": {"force_atoms": 6}},
            "run": {"output": str(out), "seed": 3, "plots": False, "progress": "none",
                    "threads": 1}}


def quiet(*a, **k):
    pass


@pytest.mark.parametrize("value, key", [
    ({"channels": 0}, "model.embedding.channels"),
    ({"channels": "four"}, "model.embedding.channels"),
    ({"channels": 2.5}, "model.embedding.channels"),
    ({"chanels": 2}, "model.embedding.chanels"),
    (True, "model.embedding"),
])
def test_bad_embedding_config_names_key(alloy, tmp_path, value, key):
    d = cfg_dict(alloy, tmp_path / "r")
    d["model"]["embedding"] = value
    with pytest.raises(InputError) as ei:
        config_from_dict(d)
    assert f"'{key}'" in str(ei.value)


def test_embedding_config_defaults(alloy, tmp_path):
    d = cfg_dict(alloy, tmp_path / "r")
    d["model"]["embedding"] = {}
    assert config_from_dict(d).model.embedding.channels == 4
    d["model"].pop("embedding")
    assert config_from_dict(d).model.embedding is None


def test_weighted_sfs_refused(alloy, tmp_path):
    d = cfg_dict(alloy, tmp_path / "r")
    d["model"]["symmetry_functions"]["lines"] = generate_lines(ELEMENTS, 5.0, 3, 1, zetas=(1,),
                                                               weighted=True)
    t = Trainer(config_from_dict(d), log=quiet)
    with pytest.raises(InputError, match="model.embedding"):
        t.prepare()


def _prepared(alloy, tmp_path, name="adam", **kw):
    t = Trainer(config_from_dict(cfg_dict(alloy, tmp_path / "run", name, **kw)), log=quiet)
    t.prepare()
    return t


def test_input_length_independent_of_elements(alloy, tmp_path):
    t = _prepared(alloy, tmp_path, channels=3)
    # 3 radial + 2 angular (λ = ±1) shapes, 3 channels each; resolved: 3·3 + 2·6
    assert t.model.n_inputs == {el: 15 for el in ELEMENTS}
    assert t.model.n_sf == {el: 21 for el in ELEMENTS}


def test_forces_are_minus_energy_gradient(alloy, tmp_path):
    """Forces from dE/dG_resolved · dG/dr against central finite differences of the energy."""
    from hdnnp.training.data import describe, collate
    t = _prepared(alloy, tmp_path)
    s = t.sets["train"][0]
    m = t.model

    def energy_forces(st):
        b = collate([describe(st, t.sfset, t.elements)], len(t.elements))
        with torch.enable_grad():
            out = m(b, forces=True, create_graph=False)
        return float(out["energy"][0].detach()), out["forces"].detach().numpy()

    _, F = energy_forces(s)
    h = 1e-5
    for a, c in [(0, 0), (1, 2), (3, 1)]:
        sp, sm = s.copy(), s.copy()
        sp.positions = s.positions.copy()
        sm.positions = s.positions.copy()
        sp.positions[a, c] += h
        sm.positions[a, c] -= h
        fd = -(energy_forces(sp)[0] - energy_forces(sm)[0]) / (2 * h)
        assert abs(fd - F[a, c]) < 1e-6 * max(1.0, abs(fd)), (a, c, fd, F[a, c])


def test_lm_jacobians_and_gradient_match_autograd(alloy, tmp_path):
    """LM's Jacobians through the effective networks, pulled back to (W1, w)."""
    from _lm_check import assert_lm_matches_autograd
    t = _prepared(alloy, tmp_path, "lm")
    assert_lm_matches_autograd(t.model, t.batch("train"))


@pytest.mark.parametrize("name", ["lm", "adam"])
def test_training_lowers_loss_and_export_is_exact(alloy, tmp_path, name):
    from hdnnp.model.evaluator import load_potential
    cfg = config_from_dict(cfg_dict(alloy, tmp_path / "run", name, epochs=3))
    t = Trainer(cfg, log=quiet)
    t.run()
    with open(tmp_path / "run" / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[-1]["loss_train"]) < float(rows[0]["loss_train"])
    # the folded element-resolved n2p2 potential predicts what the torch model does
    ev = load_potential(tmp_path / "run" / "potential")
    pred = t.predict("test")
    k = 0
    for i, s in enumerate(t.sets["test"]):
        p = ev.evaluate(s)
        assert abs(p.energy - pred["energy"][i]) <= 1e-9 * max(1, abs(p.energy))
        np.testing.assert_allclose(p.forces, pred["forces"][k:k + s.natoms], atol=1e-9, rtol=0)
        k += s.natoms


def test_lm_block_diagonal_trains_a_multi_element_model(alloy, tmp_path):
    """optimizer.lm.block_diagonal: one Gauss–Newton block per element network (no embedding)."""
    d = cfg_dict(alloy, tmp_path / "run", "lm", epochs=3)
    del d["model"]["embedding"]
    d["optimizer"]["lm"]["block_diagonal"] = True
    t = Trainer(config_from_dict(d), log=quiet)
    t.run()
    assert t.opt.block_diagonal and len(t.opt.block) == 3
    with open(tmp_path / "run" / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[-1]["loss_train"]) < 0.5 * float(rows[0]["loss_train"])
