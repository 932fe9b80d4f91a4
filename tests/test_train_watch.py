"""Training watches itself: degenerate symmetry functions are dropped with a message (they used to stall
Levenberg–Marquardt silently), and a run says when it stalls or is still improving."""
from __future__ import annotations

import csv

import pytest

from hdnnp.data import example_path
from hdnnp.io import read, write
from hdnnp.training import config_from_dict, train

# η = 5 and 7 Bohr⁻² (17.86 and 25 Å⁻²) centred at 0: exp(-η r²) is below 1e-38 at every Si–Si
# neighbour distance (≥ 2.3 Å), as in a published input.nn reused with hdnnp
GOOD = ["Si 2 Si 0.05 0.0 5.0", "Si 2 Si 0.3 0.0 5.0", "Si 3 Si Si 0.02 1 1 5.0", "Si 3 Si Si 0.02 -1 2 5.0"]
DEGENERATE = ["Si 2 Si 17.86 0.0 5.0", "Si 2 Si 25.0 0.0 5.0"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("watch")
    s = sorted(read(example_path("si")), key=lambda x: x.natoms)[:12]
    write(d / "train.extxyz", s)
    return d


def test_degenerate_functions_are_dropped_and_lm_trains(tiny, tmp_path):
    logs = []
    cfg = config_from_dict({
        "data": {"train": [str(tiny / "train.extxyz")], "validation_fraction": 0.25},
        "model": {"symmetry_functions": {"lines": GOOD + DEGENERATE}, "hidden": [6]},
        "optimizer": {"name": "lm", "epochs": 3, "lm": {"iterations": 4}},
        "run": {"output": str(tmp_path / "run"), "seed": 3, "plots": False, "progress": "log"}})
    res = train(cfg, log=lambda *a, **k: logs.append(" ".join(map(str, a))))
    text = "\n".join(logs)
    assert "dropped 2 symmetry function(s)" in text
    assert "17.86" in text and "25" in text and "underflows" in text
    with open(tmp_path / "run" / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[-1]["loss_train"]) < 0.9 * float(rows[0]["loss_train"])   # it trains (it stalled: μ 1e6)
    pot = (tmp_path / "run" / "potential" / "input.nn").read_text()
    assert "1.786" not in pot and pot.count("symfunction_short") == 4
    assert res["errors"]["train"]["force_rmse"] < 1e4


def test_all_functions_degenerate_is_an_error(tiny, tmp_path):
    from hdnnp.errors import InputError
    cfg = config_from_dict({
        "data": {"train": [str(tiny / "train.extxyz")]},
        "model": {"symmetry_functions": {"lines": DEGENERATE}, "hidden": [4]},
        "optimizer": {"name": "lm", "epochs": 1},
        "run": {"output": str(tmp_path / "run"), "plots": False, "progress": "none"}})
    with pytest.raises(InputError, match="every symmetry function of element Si is degenerate"):
        train(cfg, log=lambda *a, **k: None)


def test_stall_is_detected_and_stops_with_a_message(tiny, tmp_path):
    logs = []
    cfg = config_from_dict({
        "data": {"train": [str(tiny / "train.extxyz")], "validation_fraction": 0.25},
        "model": {"symmetry_functions": {"lines": GOOD}, "hidden": [6]},
        "optimizer": {"name": "adam", "epochs": 12, "lr": 1e-30, "batch_size": 4},
        "run": {"output": str(tmp_path / "run"), "seed": 3, "plots": False, "progress": "log"}})
    train(cfg, log=lambda *a, **k: logs.append(" ".join(map(str, a))))
    text = "\n".join(logs)
    assert "optimizer stalled at epoch 3" in text
    with open(tmp_path / "run" / "metrics.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 4      # epochs 0..3, then it stopped


def test_still_improving_is_reported_and_resume_extends(tiny, tmp_path):
    from hdnnp.cli.main import main
    logs = []
    cfg = config_from_dict({
        "data": {"train": [str(tiny / "train.extxyz")], "validation_fraction": 0.0},
        "model": {"symmetry_functions": {"lines": GOOD}, "hidden": [6]},
        "optimizer": {"name": "lm", "epochs": 5, "lm": {"iterations": 4}},
        "run": {"output": str(tmp_path / "run"), "seed": 3, "plots": False, "progress": "log"}})
    train(cfg, log=lambda *a, **k: logs.append(" ".join(map(str, a))))
    text = "\n".join(logs)
    assert "still improving" in text and f"--resume {tmp_path / 'run'} --epochs" in text
    assert main(["train", "--resume", str(tmp_path / "run"), "--epochs", "7"]) == 0
    with open(tmp_path / "run" / "metrics.csv") as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == list(range(8))
    with open(tmp_path / "run" / "metrics.csv") as fh:
        assert "lm_mu" in next(csv.reader(fh))


def test_lm_damping_pinned_after_progress_is_convergence_not_a_stall():
    from types import SimpleNamespace

    from hdnnp.training.trainer import Trainer
    logs = []
    t = Trainer.__new__(Trainer)
    t.cfg = config_from_dict({"data": {"train": ["x.extxyz"]}, "model": {"symmetry_functions": {"lines": GOOD}},
                              "optimizer": {"name": "lm", "epochs": 50}})
    t.opt = SimpleNamespace(mu=1e6, mu_max=1e6)
    t.sets = {"validation": [1]}
    t.best_epoch, t.stop_reason, t.converged, t._loss_hist = 20, None, None, [2.0e-3]
    t.log = logs.append
    rows = [{"epoch": "1", "loss_train": "0.5"}]
    assert t._watch(31, rows, 2.0e-3, 2.5e-3)           # the loss fell 250× before the damping pinned
    assert t.stop_reason is None and "converged at epoch 31" in t.converged and "epoch 20" in t.converged
    assert logs[-1].startswith("NOTE:")
    t._loss_hist, rows = [0.4], [{"epoch": "1", "loss_train": "0.41"}]
    assert t._watch(3, rows, 0.41, 0.5)                 # pinned with no progress: a stall, with its causes
    assert "stalled" in t.stop_reason and "symmetry functions" in t.stop_reason
