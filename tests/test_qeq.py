"""Charge equilibration for per-atom charges: the Ewald interaction matrix of Gaussian charges against the NaCl
Madelung energy and under a change of cell basis, and a property model with ``equilibrate: true`` learning charges
that a charge-equilibration model made (which local networks cannot)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from ase.build import bulk

from hdnnp.properties.qeq import COULOMB, coulomb_matrix


def _point_energy(atoms, q, sigma=0.01):
    A = coulomb_matrix(atoms.positions, atoms.numbers, atoms.cell[:], True, sigma=np.full(len(q), sigma))
    return 0.5 * q @ A @ q - COULOMB * np.sum(q ** 2) / (2 * sigma * math.sqrt(math.pi))


def test_ewald_matches_the_madelung_constant_and_any_cell_basis():
    a = 5.64
    nacl = bulk("NaCl", "rocksalt", a=a, cubic=True)
    q = np.where(nacl.numbers == 11, 1.0, -1.0)
    assert _point_energy(nacl, q) == pytest.approx(-1.74756459 * COULOMB / (a / 2) * 4, rel=1e-7)
    prim = bulk("NaCl", "rocksalt", a=a)                         # fcc primitive cell, 2 atoms
    assert _point_energy(prim, np.array([1.0, -1.0])) == pytest.approx(-1.74756459 * COULOMB / (a / 2), rel=1e-7)
    # the same crystal in a skewed basis (c' = c + a + b) and with Gaussian widths: the same matrix
    rng = np.random.default_rng(1)
    at = bulk("Si", "diamond", a=5.43).repeat((2, 1, 1))
    at.positions += rng.normal(0, 0.1, at.positions.shape)
    A1 = coulomb_matrix(at.positions, [8, 1, 8, 1], at.cell[:], True)
    cell2 = at.cell[:].copy()
    cell2[2] += cell2[0] + cell2[1]
    A2 = coulomb_matrix(at.positions, [8, 1, 8, 1], cell2, True)
    assert np.allclose(A1, A2, atol=1e-6)
    assert np.allclose(A1, A1.T)
    with pytest.raises(Exception, match="periodic in all three"):
        coulomb_matrix(at.positions, [8, 1, 8, 1], at.cell[:], [True, True, False])


def test_equilibrated_charges_are_learned(tmp_path):
    from hdnnp.io import write
    from hdnnp.properties.qeq import gaussian_widths
    from hdnnp.structures import Structure
    from hdnnp.training import config_from_dict, train
    rng = np.random.default_rng(0)
    chi, J = {1: 0.0, 8: 6.0}, {1: 4.0, 8: 3.0}
    structs = []
    for k in range(40):                   # water-like trimers at random distances: charges depend on all of them
        pos, num = [], []
        for m in range(3):
            o = rng.uniform(0, 6.0, 3)
            d = rng.normal(size=(2, 3))
            d /= np.linalg.norm(d, axis=1)[:, None]
            pos += [o, o + 0.97 * d[0], o + 0.97 * d[1]]
            num += [8, 1, 1]
        pos, num = np.array(pos), np.array(num)
        A = coulomb_matrix(pos, num) + np.diag([J[z] for z in num])
        n = len(num)
        M = np.block([[A, np.ones((n, 1))], [np.ones((1, n)), np.zeros((1, 1))]])
        q = np.linalg.solve(M, np.r_[[-chi[z] for z in num], 0.0])[:n]
        structs.append(Structure(num, pos, atom_properties={"charges": q}))
    write(tmp_path / "train.extxyz", structs[:32])
    write(tmp_path / "test.extxyz", structs[32:])
    assert np.std([s.atom_properties["charges"][1] for s in structs]) > 0.01
    assert gaussian_widths([8])[0] == pytest.approx(0.66)
    res = {}
    for eq in (True, False):
        cfg = config_from_dict({
            "data": {"train": [str(tmp_path / "train.extxyz")], "test": [str(tmp_path / "test.extxyz")],
                     "validation_fraction": 0.0},
            "model": {"symmetry_functions": {"lines": ["H 2 O 0.5 0.0 4.0", "H 2 H 0.5 0.0 4.0", "O 2 H 0.5 0.0 4.0",
                                                       "O 2 O 0.5 0.0 4.0", "H 2 O 2.0 0.97 4.0",
                                                       "O 2 H 2.0 0.97 4.0"]}},
            "loss": {"energy": 0.0, "forces": 0.0},
            "properties": {"targets": [{"name": "charges", "total_charge": True, "equilibrate": eq}],
                           "hidden": [8], "epochs": 200, "batch_size": 8, "lr": 1e-2},
            "run": {"output": str(tmp_path / f"run_{eq}"), "plots": False, "progress": "none"}})
        r = train(cfg, log=lambda *a, **k: None)
        res[eq] = r["properties"]["test"]["charges"]
    # (random trimers overlap now and then: the largest charges, and most of the error, are there)
    for el in ("H", "O"):
        assert res[True][el]["rel_rmse"] < 0.2
        assert res[False][el]["rel_rmse"] > 3 * res[True][el]["rel_rmse"]
    # the calculator's path: charges sum to the total charge, and the saved model predicts what training reported
    from hdnnp.io import read
    from hdnnp.properties.predict import PropertyPredictor
    pred = PropertyPredictor(tmp_path / "run_True" / "potential").predict(read(tmp_path / "test.extxyz"))
    assert all(abs(p["charges"][0].sum()) < 1e-10 for p in pred)


def test_charges_that_answer_to_the_potential_of_molecules_beyond_the_cutoff(tmp_path):
    """``response: true``: charge flows between neighbours in proportion to their difference of the potential the
    other atoms' charges make. Synthetic O–H dimers (0.97 ± 0.005 Å, local charges ∓0.4 e) at least 4.3 Å apart,
    beyond the 4 Å cutoff: the flow 0.5 e/V × (V_H − V_O) into each O, V the potential of the other dimers, moves
    the charges — which local networks cannot see and the response learns; the charges sum to the total charge."""
    from hdnnp.io import read, write
    from hdnnp.properties.predict import PropertyPredictor
    from hdnnp.structures import Structure
    from hdnnp.training import config_from_dict, train
    rng = np.random.default_rng(3)
    structs = []
    while len(structs) < 48:
        pos, num = [], []
        for m in range(4):
            o = rng.uniform(0, 8.0, 3)
            d = rng.normal(size=3)
            pos += [o, o + rng.uniform(0.965, 0.975) * d / np.linalg.norm(d)]
            num += [8, 1]
        pos, num = np.array(pos), np.array(num)
        mol = np.repeat(np.arange(4), 2)
        r = np.linalg.norm(pos[:, None] - pos[None], axis=2)
        if (r[mol[:, None] != mol[None]] < 4.3).any():
            continue
        q0 = np.tile([-0.4, 0.4], 4)
        A = coulomb_matrix(pos, num)
        V = np.where(mol[:, None] != mol[None], A, 0.0) @ q0       # what the other dimers make
        flow = 0.5 * (V[1::2] - V[0::2])                  # into O, out of H
        q = q0 + np.repeat(flow, 2) * np.tile([1.0, -1.0], 4)
        structs.append(Structure(num, pos, atom_properties={"charges": q}))
    resp = np.concatenate([s.atom_properties["charges"][::2] for s in structs])
    write(tmp_path / "train.extxyz", structs[:40])
    write(tmp_path / "test.extxyz", structs[40:])
    res = {}
    for on in (True, False):
        cfg = config_from_dict({
            "data": {"train": [str(tmp_path / "train.extxyz")], "test": [str(tmp_path / "test.extxyz")],
                     "validation_fraction": 0.0},
            "model": {"symmetry_functions": {"lines": ["H 2 O 0.5 0.0 4.0", "O 2 H 0.5 0.0 4.0", "H 2 O 4.0 0.97 4.0",
                                                       "O 2 H 4.0 0.97 4.0"]}},
            "loss": {"energy": 0.0, "forces": 0.0},
            "properties": {"targets": [{"name": "charges", "total_charge": True, "response": on}],
                           "hidden": [8], "basis": 4, "epochs": 150, "batch_size": 8, "lr": 1e-2},
            "run": {"output": str(tmp_path / f"run_{on}"), "plots": False, "progress": "none"}})
        res[on] = train(cfg, log=lambda *a, **k: None)["properties"]["test"]["charges"]
    assert resp.std() > 0.005
    for el in ("H", "O"):
        assert res[True][el]["rel_rmse"] < 0.2
        assert res[False][el]["rel_rmse"] > 2 * res[True][el]["rel_rmse"]
    pp = PropertyPredictor(tmp_path / "run_True" / "potential")
    assert pp.model.targets[0].response and pp.model.needs_potential and not pp.model.needs_coulomb
    test = read(tmp_path / "test.extxyz")
    assert all(abs(p["charges"][0].sum()) < 1e-10 for p in pp.predict(test))
    with pytest.raises(Exception, match=r"targets\[0\].response"):
        config_from_dict({"data": {"train": [str(tmp_path / "train.extxyz")]},
                          "model": {"symmetry_functions": {"lines": ["H 2 O 0.5 0.0 4.0", "O 2 H 0.5 0.0 4.0"]}},
                          "properties": {"targets": [{"name": "charges", "response": True}]}})
