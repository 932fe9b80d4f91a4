"""Charge-aware potentials (model.charge_input): the total charge as a network input, trained on several
charge states at once, exported as the neutral n2p2 potential + charge.json, evaluated at any charge by the
evaluator, the calculator and hdnnp predict with the same numbers as the trained model."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hdnnp.data import example_path
from hdnnp.errors import InputError
from hdnnp.io import read, write
from hdnnp.model.evaluator import load_potential
from hdnnp.training import Trainer, config_from_dict

SF = ["Si 2 Si 0.05 0.0 5.0", "Si 2 Si 0.3 0.0 5.0", "Si 3 Si Si 0.02 1 1 5.0", "Si 3 Si Si 0.02 -1 2 5.0"]


def quiet(*a, **k):
    pass


@pytest.fixture(scope="module")
def charged(tmp_path_factory):
    """Small Si cells in the charge states 0, 1, 2: E(Q) = E·(1 + 0.01 Q) + 0.3 Q, forces scaled alike."""
    d = tmp_path_factory.mktemp("charged")
    base = sorted(read(example_path("si")), key=lambda x: x.natoms)[:12]
    out = []
    for q in (0, 1, 2):
        for s in base:
            c = s.copy()
            c.charge = float(q)
            c.energy = s.energy * (1 + 0.01 * q) + 0.3 * q
            c.forces = s.forces * (1 + 0.01 * q)
            c.stress = None
            out.append(c)
    write(d / "train.xyz", [s for k, s in enumerate(out) if k % 6])
    write(d / "test.xyz", [s for k, s in enumerate(out) if k % 6 == 0])
    return d


def cfg(d, out, name="adam", charge_input=True, epochs=3):
    return config_from_dict({
        "data": {"train": [str(d / "train.xyz")], "test": [str(d / "test.xyz")], "validation_fraction": 0.2},
        "model": {"symmetry_functions": {"lines": SF}, "hidden": [6], "charge_input": charge_input},
        "optimizer": {"name": name, "epochs": epochs, "batch_size": 4, "lr": 0.01},
        "run": {"output": str(out), "seed": 1, "plots": False, "progress": "none"}})


@pytest.mark.parametrize("name", ["adam", "lm"])
def test_exported_potential_reproduces_the_trained_model_at_every_charge(charged, tmp_path, name):
    t = Trainer(cfg(charged, tmp_path / "run", name), log=quiet)
    t.run()
    pot = tmp_path / "run" / "potential"
    info = json.loads((pot / "charge.json").read_text())
    assert info["charges_trained"] == [0.0, 1.0, 2.0] and set(info["slopes"]) == {"Si"}
    p = t.predict("test")
    ev = load_potential(pot)
    test = read(charged / "test.xyz")
    assert sorted({s.charge for s in test}) == [0.0, 1.0, 2.0]
    E = np.array([ev.evaluate(s).energy for s in test])
    F = np.concatenate([ev.evaluate(s).forces for s in test])
    assert np.allclose(E, p["energy"], rtol=0, atol=1e-9 * np.abs(E).max())
    assert np.allclose(F, p["forces"], rtol=0, atol=1e-9)
    # the charge changes the energy (the networks use it), and the n2p2 files alone are the neutral state
    s = test[0].copy()
    e = [load_potential(pot).evaluate(s.copy() if q is None else _with(s, q)).energy for q in (None, 0.0, 1.0)]
    assert e[0] == e[1] != e[2]


def _with(s, q):
    c = s.copy()
    c.charge = q
    return c


def test_calculator_and_predict_take_the_charge(charged, tmp_path):
    from hdnnp.calculator import HDNNPCalculator
    Trainer(cfg(charged, tmp_path / "run"), log=quiet).run()
    pot = tmp_path / "run" / "potential"
    s = read(charged / "test.xyz")[-1]
    assert s.charge == 2.0
    atoms = s.to_ase()
    atoms.calc = HDNNPCalculator(str(pot))
    e2 = atoms.get_potential_energy()
    assert abs(e2 - load_potential(pot).evaluate(s).energy) < 1e-9
    atoms.info["charge"] = 0.0          # no reset: the calculator notices the new charge
    assert abs(atoms.get_potential_energy() - e2) > 1e-6
    r = subprocess.run([sys.executable, "-m", "hdnnp", "predict", str(pot), str(charged / "test.xyz"),
                        "-o", str(tmp_path / "p.xyz")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = read(tmp_path / "p.xyz")
    assert abs(out[-1].energy - e2) < 1e-8 and out[-1].charge == 2.0


def test_one_charge_state_is_refused_and_neutral_models_have_no_charge_file(charged, tmp_path):
    neutral = [s for s in read(charged / "train.xyz") if s.charge == 0]
    write(tmp_path / "n.xyz", neutral)
    c = cfg(charged, tmp_path / "a")
    c.data.train[0].path = str(tmp_path / "n.xyz")
    with pytest.raises(InputError, match="model.charge_input.*two charge states"):
        Trainer(c, log=quiet).run()
    c = cfg(charged, tmp_path / "b", charge_input=False)
    c.data.train[0].path = str(tmp_path / "n.xyz")
    Trainer(c, log=quiet).run()
    assert not (tmp_path / "b" / "potential" / "charge.json").exists()
    assert type(load_potential(tmp_path / "b" / "potential")).__name__ == "Evaluator"
    logs = []                                          # several charge states, but a neutral model: warned
    Trainer(cfg(charged, tmp_path / "c", charge_input=False, epochs=1), log=lambda m, *a, **k: logs.append(m)).run()
    assert any("3 total charges (0, 1, 2) but the potential cannot see them" in m for m in logs)


def test_lammps_export_folds_the_charge(charged, tmp_path):
    from hdnnp.lammps import export_potential
    from hdnnp.model.charge import fold_charge, read_charge_file
    from hdnnp.model.n2p2 import read_potential
    Trainer(cfg(charged, tmp_path / "run"), log=quiet).run()
    pot = tmp_path / "run" / "potential"
    with pytest.warns(UserWarning, match="charge-aware.*--charge Q"):
        export_potential(pot, tmp_path / "q0.hdnnp")
    with pytest.warns(UserWarning, match="leave out the energy of the charge"):
        export_potential(pot, tmp_path / "q2.hdnnp", charge=2.0)
    assert (tmp_path / "q0.hdnnp").read_text() != (tmp_path / "q2.hdnnp").read_text()
    # the folded neutral-format potential of state 2 gives the charge evaluator's numbers, but for the energy of
    # the charge (a constant 2 μ_Q the LAMMPS file leaves out)
    from hdnnp.model.evaluator import Evaluator
    ch = read_charge_file(pot)
    folded = fold_charge(read_potential(pot), ch["slopes"], 2.0)
    s = read(charged / "test.xyz")[-1]
    e_charge = 2.0 * ch["energy_per_charge_eV"]
    assert abs(Evaluator(folded).evaluate(s).energy + e_charge - load_potential(pot).evaluate(s).energy) < 1e-9
    assert np.abs(Evaluator(folded).evaluate(s).forces - load_potential(pot).evaluate(s).forces).max() < 1e-9
    with pytest.raises(InputError, match="does not take the charge"):
        c = cfg(charged, tmp_path / "n", charge_input=False, epochs=1)
        Trainer(c, log=quiet).run()
        export_potential(tmp_path / "n" / "potential", tmp_path / "n.hdnnp", charge=1.0)


def test_the_energy_of_the_charge_is_fitted_per_structure_not_per_atom(charged, tmp_path):
    """E ≈ Σ n_el μ_el + Q μ_Q: μ_Q is fitted with the per-element energies (exactly, for data made that way) and
    written to charge.json; the evaluator adds Q μ_Q once per structure, so a doubled cell does not double it."""
    from hdnnp.training.trainer import fit_atom_energies
    base = read(charged / "train.xyz")
    made = []
    for s in base:
        c = s.copy()
        c.energy = -4.5 * c.natoms + 6.8 * c.charge
        made.append(c)
    mu, mu_q = fit_atom_energies(made, ["Si"], charge=True)
    assert abs(mu[0] + 4.5) < 1e-10 and abs(mu_q - 6.8) < 1e-10
    assert np.allclose(fit_atom_energies(made, ["Si"]), np.linalg.lstsq(
        np.array([[s.natoms] for s in made], float), np.array([s.energy for s in made]), rcond=None)[0])
    Trainer(cfg(charged, tmp_path / "run", epochs=1), log=quiet).run()
    pot = tmp_path / "run" / "potential"
    mq = json.loads((pot / "charge.json").read_text())["energy_per_charge_eV"]
    assert mq != 0.0
    ev = load_potential(pot)
    s = _with(read(charged / "test.xyz")[0], 1.0)
    big = s.copy()
    big = type(s).from_ase(s.to_ase().repeat((2, 1, 1)))
    big.charge = 1.0
    one, two = ev.evaluate(s), ev.evaluate(big)
    # per atom the networks double with the cell; the energy of the charge does not
    n0 = ev.evaluate(_with(s, 0.0)).energy
    assert abs((two.energy - mq) - 2 * (one.energy - mq)) < 1e-8 * abs(two.energy)
    assert abs(one.energies.sum() - one.energy) < 1e-9 and n0 != one.energy
