"""hdnnp init reads the data and decides; training fits its epochs into the time budget."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import yaml

from hdnnp.cli.main import main
from hdnnp.data import example_path
from hdnnp.io import read, write
from hdnnp.training import load_config


def test_init_periodic_solid_chooses_auto_sfs_and_lm(tmp_path, capsys):
    train = example_path("si")
    assert main(["init", str(train), "--time-budget", "2m", "-o", str(tmp_path / "c.yaml")]) == 0
    text = (tmp_path / "c.yaml").read_text()
    assert "Why these settings" in text and "periodic cells" in text
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.model.symmetry_functions.auto is not None and cfg.model.symmetry_functions.auto.budget == 24
    assert cfg.optimizer.name == "lm" and cfg.loss.stress > 0 and cfg.run.time_budget == 120
    assert "mlearn" not in text or "energy_unit" not in text.split("train:")[1].split("test:")[0]   # fixed units


def test_init_makes_a_charge_aware_potential_for_several_charge_states(tmp_path):
    data = []
    for q in (0.0, 1.0):
        for st in read(example_path("si"))[:6]:
            c = st.copy()
            c.charge = q
            data.append(c)
    write(tmp_path / "q.xyz", data)
    assert main(["init", str(tmp_path / "q.xyz"), "-o", str(tmp_path / "c.yaml")]) == 0
    assert "2 total charges in the data (0, 1)" in (tmp_path / "c.yaml").read_text()
    assert load_config(tmp_path / "c.yaml").model.charge_input is True
    write(tmp_path / "n.xyz", data[:6])
    assert main(["init", str(tmp_path / "n.xyz"), "-o", str(tmp_path / "n.yaml")]) == 0
    assert load_config(tmp_path / "n.yaml").model.charge_input is False


def test_init_molecules_choose_adam_and_wider_nets(tmp_path):
    from ase.build import molecule
    from hdnnp.structures import Structure
    rng = np.random.default_rng(0)
    mols = []
    for k in range(12):
        a = molecule("CH3CH2OH")
        a.positions += rng.normal(0, 0.05, a.positions.shape)
        s = Structure.from_ase(a)
        s.energy, s.forces = float(rng.normal()), rng.normal(size=(9, 3))
        mols.append(s)
    write(tmp_path / "m.xyz", mols)
    assert main(["init", str(tmp_path / "m.xyz"), "-o", str(tmp_path / "c.yaml")]) == 0
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.optimizer.name == "adam" and cfg.loss.forces == 1.0 and len(cfg.model.hidden) == 3
    assert cfg.model.symmetry_functions.auto.zetas == [1, 2, 4, 8, 16]
    assert cfg.run.time_budget == 180       # the minimum default budget


def test_init_npz_has_no_unit_keys(tmp_path):
    from conftest import require_shared
    npz = require_shared("data", "rmd17", "rmd17_ethanol_test_01.npz")
    assert main(["init", str(npz), "-o", str(tmp_path / "c.yaml")]) == 0
    d = yaml.safe_load((tmp_path / "c.yaml").read_text())
    assert "energy_unit" not in d["data"]["train"][0] and "fixed units" in (tmp_path / "c.yaml").read_text()


def test_time_budget_fits_epochs(tmp_path):
    from hdnnp.training import config_from_dict, train
    s = sorted(read(example_path("si")), key=lambda x: x.natoms)[:12]
    write(tmp_path / "t.extxyz", s)
    cfg = config_from_dict({
        "data": {"train": [str(tmp_path / "t.extxyz")], "validation_fraction": 0.25},
        "model": {"symmetry_functions": {"lines": ["Si 2 Si 0.05 0.0 5.0", "Si 2 Si 0.3 0.0 5.0"]}, "hidden": [4]},
        "optimizer": {"name": "adam", "epochs": 100000, "schedule": "cosine", "batch_size": 4},
        "run": {"output": str(tmp_path / "run"), "plots": False, "progress": "none", "time_budget": 4}})
    logs = []
    res = train(cfg, log=lambda *a, **k: logs.append(" ".join(map(str, a))))
    assert any("time budget 4 s" in x for x in logs)
    assert res["wall_s"] < 12
    saved = load_config(tmp_path / "run" / "config.yaml")
    with open(tmp_path / "run" / "metrics.csv") as fh:
        assert int(list(csv.DictReader(fh))[-1]["epoch"]) == saved.optimizer.epochs < 100000


def test_time_budget_parse():
    from hdnnp.cli.init import parse_duration
    from hdnnp.errors import InputError
    assert parse_duration("90") == 90 and parse_duration("10m") == 600 and parse_duration("1.5h") == 5400
    with pytest.raises(InputError):
        parse_duration("ten minutes")
