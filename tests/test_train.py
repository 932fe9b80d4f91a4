"""Training: short runs on a tiny Si set (embedded mlearn example), resume, config errors, export."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from hdnnp.data import example_path
from hdnnp.errors import InputError
from hdnnp.io import read, write
from hdnnp.training import Trainer, config_from_dict, load_config, train

SF = ["Si 2 Si 0.05 0.0 5.0", "Si 2 Si 0.3 0.0 5.0", "Si 3 Si Si 0.02 1 1 5.0",
      "Si 3 Si Si 0.02 -1 2 5.0"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    s = sorted(read(example_path("si")), key=lambda x: x.natoms)[:10]
    write(d / "train.extxyz", s[:8])
    write(d / "test.extxyz", s[8:])
    return d


def cfg_dict(tiny, out, name="adam", epochs=3, **opt):
    return {"data": {"train": [str(tiny / "train.extxyz")], "test": [str(tiny / "test.extxyz")],
                     "validation_fraction": 0.25},
            "model": {"symmetry_functions": {"lines": SF}, "hidden": [6]},
            "optimizer": {"name": name, "epochs": epochs, "batch_size": 3, "lr": 0.01,
                          "lbfgs_iterations": 3, **opt},
            "run": {"output": str(out), "seed": 3, "plots": False, "progress": "none"}}


def quiet(*a, **k):
    pass


@pytest.mark.parametrize("name", ["adam", "lbfgs", "kalman", "lm"])
def test_short_training_lowers_loss_and_writes_outputs(tiny, tmp_path, name):
    cfg = config_from_dict(cfg_dict(tiny, tmp_path / "run", name))
    if name == "adam":
        cfg.run.plots = True
    res = train(cfg, log=quiet)
    run = tmp_path / "run"
    with open(run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert float(rows[-1]["loss_train"]) < float(rows[0]["loss_train"])
    for f in ("config.yaml", "checkpoint.pt", "best.pt", "errors.txt", "metadata.json",
              "potential/input.nn", "potential/scaling.data", "potential/weights.014.data"):
        assert (run / f).is_file(), f
    if name == "adam":
        for f in ("learning_curves.png", "parity_train.png", "parity_test.png"):
            assert (run / "plots" / f).is_file()
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["elements"] == ["Si"] and "test" in meta["errors"]
    assert res["errors"]["test"]["force_rmse"] > 0
    # the resolved config reproduces the run's configuration
    again = load_config(run / "config.yaml")
    assert again.optimizer == cfg.optimizer and again.model == cfg.model


@pytest.mark.parametrize("name", ["adam", "kalman", "lm"])
def test_resume_gives_uninterrupted_weights(tiny, tmp_path, name, monkeypatch):
    full = config_from_dict(cfg_dict(tiny, tmp_path / "full", name, epochs=4))
    t = Trainer(full, log=quiet)
    t.run()
    w_full = {k: v.clone() for k, v in t.model.state_dict().items()}
    ck_full = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)

    cfg = config_from_dict(cfg_dict(tiny, tmp_path / "cut", name, epochs=4))
    calls = {"n": 0}
    orig = getattr(Trainer, f"epoch_{name}")

    def dying(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # killed during epoch 3
        return orig(self)
    monkeypatch.setattr(Trainer, f"epoch_{name}", dying)
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, log=quiet).run()
    monkeypatch.setattr(Trainer, f"epoch_{name}", orig)
    assert torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["epoch"] == 2
    t2 = Trainer(load_config(tmp_path / "cut" / "config.yaml"), resume=True, log=quiet)
    t2.run()
    ck = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    for k, v in ck_full["model"].items():
        assert torch.equal(v, ck["model"][k]), k
    for k, v in t2.model.state_dict().items():
        assert torch.equal(v, w_full[k]), k
    with open(tmp_path / "cut" / "metrics.csv") as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("patch, key", [
    ({"optimizer": {"name": "sgd"}}, "optimizer.name"),
    ({"optimizer": {"lr": "fast"}}, "optimizer.lr"),
    ({"optimizer": {"learning_rate": 0.1}}, "optimizer.learning_rate"),
    ({"model": {"activation": "x"}}, "model.activation"),
    ({"model": {"hidden": [0]}}, "model.hidden"),
    ({"run": {"device": "tpu"}}, "run.device"),
    ({"data": {"validation_fraction": 1.5}}, "data.validation_fraction"),
    ({"loss": {"forces": -1}}, "loss.forces"),
    ({"bogus": 1}, "bogus"),
])
def test_bad_config_names_key(tiny, tmp_path, patch, key):
    d = cfg_dict(tiny, tmp_path / "r")
    for sec, v in patch.items():
        if isinstance(v, dict):
            d.setdefault(sec, {}).update(v)
        else:
            d[sec] = v
    with pytest.raises(InputError) as ei:
        config_from_dict(d)
    assert f"'{key}'" in str(ei.value)


def test_missing_sf_config_error(tiny, tmp_path):
    d = cfg_dict(tiny, tmp_path / "r")
    d["model"]["symmetry_functions"] = {}
    with pytest.raises(InputError, match="model.symmetry_functions"):
        config_from_dict(d)


def test_export_matches_model(tiny, tmp_path):
    from hdnnp.model.evaluator import load_potential
    cfg = config_from_dict(cfg_dict(tiny, tmp_path / "run", "adam", epochs=2))
    t = Trainer(cfg, log=quiet)
    t.run()
    ev = load_potential(tmp_path / "run" / "potential")
    pred = t.predict("test")
    structs = t.sets["test"]
    k = 0
    for i, s in enumerate(structs):
        p = ev.evaluate(s)
        assert abs(p.energy - pred["energy"][i]) <= 1e-10 * max(1, abs(p.energy))
        np.testing.assert_allclose(p.forces, pred["forces"][k:k + s.natoms], atol=1e-10, rtol=0)
        k += s.natoms


def test_sf_units_bohr(tiny, tmp_path):
    """SFs given in Bohr are converted to Å: same descriptors as the Å lines."""
    from hdnnp.training.trainer import build_sfset
    from hdnnp.units import BOHR
    d = cfg_dict(tiny, tmp_path / "r")
    bohr = [f"Si 2 Si {0.05 * BOHR ** 2!r} 0.0 {5.0 / BOHR!r}"]
    d["model"]["symmetry_functions"] = {"lines": bohr, "length_unit": "bohr"}
    sf = build_sfset(config_from_dict(d), ["Si"])
    f = sf.for_element("Si")[0]
    assert f.eta == pytest.approx(0.05) and f.rc == pytest.approx(5.0)


def test_cli_init_and_train(tiny, tmp_path, capsys):
    from hdnnp.cli.main import main
    out = tmp_path / "c.yaml"
    assert main(["init", str(tiny / "train.extxyz"), "-o", str(out), "--run-dir",
                 str(tmp_path / "run")]) == 0
    cfg = load_config(out)
    assert cfg.model.elements == ["Si"] and cfg.model.symmetry_functions.auto is not None
    assert main(["train", str(out), "--epochs", "1"]) == 0
    assert "potential" in capsys.readouterr().out
    assert (tmp_path / "run" / "potential" / "input.nn").is_file()


@pytest.mark.parametrize("act", ["t", "s", "p"])
def test_lm_analytic_jacobians_match_autograd(tiny, tmp_path, act):
    from _lm_check import assert_lm_matches_autograd
    d = cfg_dict(tiny, tmp_path / "run", "lm")
    d["model"]["hidden"] = [5, 4]
    d["model"]["activation"] = act
    t = Trainer(config_from_dict(d), log=quiet)
    t.prepare()
    b = t.batch("train")
    assert bool((~torch.isnan(b.stress).any((1, 2))).any())      # the stress rows are checked too
    assert_lm_matches_autograd(t.model, b)


def test_running_train_metrics_match_exact_in_the_limit(tiny, tmp_path):
    """run.train_metrics only changes what is logged: same weights either way; the running
    RMSEs are the minibatch means, which equal the exact pass when the weights do not move."""
    res = {}
    for mode in ("running", "exact"):
        d = cfg_dict(tiny, tmp_path / mode, "adam", epochs=2)
        d["run"]["train_metrics"] = mode
        train(config_from_dict(d), log=quiet)
        with open(tmp_path / mode / "metrics.csv") as fh:
            res[mode] = list(csv.DictReader(fh))
        w = (tmp_path / mode / "potential" / "weights.014.data").read_text()
        res[mode + "_w"] = w
    assert res["running_w"] == res["exact_w"]
    assert all(float(r["train_force_rmse"]) > 0 for r in res["running"])
    assert res["running"][0]["train_energy_rmse"] == res["exact"][0]["train_energy_rmse"]
    # lr ~0: the weights stay put, so the minibatch means are the exact errors
    for mode in ("running", "exact"):
        d = cfg_dict(tiny, tmp_path / (mode + "0"), "adam", epochs=1, lr=1e-12, schedule="none")
        d["run"]["train_metrics"] = mode
        train(config_from_dict(d), log=quiet)
        with open(tmp_path / (mode + "0") / "metrics.csv") as fh:
            res[mode + "0"] = list(csv.DictReader(fh))[-1]
    for k in ("train_energy_rmse", "train_force_rmse"):
        assert float(res["running0"][k]) == pytest.approx(float(res["exact0"][k]), rel=1e-3)
    assert float(res["running0"]["loss_train"]) == pytest.approx(
        float(res["exact0"]["loss_train"]), rel=1e-3)
    # no validation set and the plateau schedule: the training loss steers the run, so the
    # exact pass is kept and both settings give the same rows
    for mode in ("running", "exact"):
        d = cfg_dict(tiny, tmp_path / (mode + "p"), "adam", epochs=2, schedule="plateau")
        d["data"]["validation_fraction"] = 0.0
        d["run"]["train_metrics"] = mode
        train(config_from_dict(d), log=quiet)
        with open(tmp_path / (mode + "p") / "metrics.csv") as fh:
            res[mode + "p"] = [{k: v for k, v in r.items() if k != "time_s"}
                               for r in csv.DictReader(fh)]
    assert res["runningp"] == res["exactp"]
