"""Data-parallel training (torch.distributed, gloo on the CPU): two ranks give the gradients and the
Levenberg–Marquardt steps of one process, and a 2-rank run resumed from a 1-rank checkpoint continues as the
1-rank run does."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from hdnnp.data import example_path
from hdnnp.io import read, write

HERE = Path(__file__).resolve().parent
LINES = ["Si 2 Si 0.05 0.0 5.0", "Si 2 Si 0.3 0.0 5.0", "Si 2 Si 0.8 2.4 5.0", "Si 3 Si Si 0.02 1 1 5.0",
         "Si 3 Si Si 0.02 -1 2 5.0"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist")
    s = sorted(read(example_path("si")), key=lambda x: x.natoms)[:13]
    write(d / "train.extxyz", s[:11])
    write(d / "test.extxyz", s[11:])
    return d


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", **extra)
    return env


def _torchrun(n: int, *args) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", *args]


def _config(tiny, tmp_path, optimizer: dict, validation: float = 0.0) -> Path:
    cfg = {"data": {"train": [str(tiny / "train.extxyz")], "test": [str(tiny / "test.extxyz")],
                    "validation_fraction": validation},
           "model": {"symmetry_functions": {"lines": LINES}, "hidden": [5, 4]},
           "loss": {"energy": 1.0, "forces": 0.1, "stress": 0.001},
           "optimizer": optimizer,
           "run": {"output": str(tmp_path / "run"), "seed": 5, "plots": False, "progress": "log", "threads": 1,
                   "train_metrics": "exact"}}
    p = tmp_path / "train.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def test_two_ranks_give_the_gradients_and_lm_steps_of_one(tiny, tmp_path):
    # force atoms and stress structures drawn per iteration (fewer than all): the draw is global
    cfg = _config(tiny, tmp_path, {"name": "lm", "epochs": 1,
                                   "lm": {"force_atoms": 25, "stress_structures": 4, "float64_jacobians": True}})
    worker = str(HERE / "_dist_worker.py")
    subprocess.run([sys.executable, worker, str(cfg), str(tmp_path / "one.npz")], check=True, env=_env())
    subprocess.run(_torchrun(2, worker, str(cfg), str(tmp_path / "two.npz")), check=True, env=_env())
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert _rel(two["loss"], one["loss"]) < 1e-12
    assert _rel(two["grad"], one["grad"]) < 1e-10
    assert _rel(two["adam_grad"], one["adam_grad"]) < 1e-10
    # autograd (Adam's loss, in the model's internal energy unit) and LM's analytic gradient (eV) are parallel
    a, g = two["adam_grad"], one["grad"]
    assert _rel(a, (a @ g) / (g @ g) * g) < 1e-8
    assert float(two["mu"]) == pytest.approx(float(one["mu"]), rel=1e-10)
    assert _rel(two["w"], one["w"]) < 1e-10                    # two LM steps, the same weights
    assert float(two["errors"]) == pytest.approx(float(one["errors"]), rel=1e-10)


def _weights(run: Path) -> np.ndarray:
    return np.concatenate([np.loadtxt(f, usecols=0) for f in sorted((run / "potential").glob("weights.*.data"))])


def test_two_ranks_resume_a_one_rank_checkpoint_identically(tiny, tmp_path):
    opt = {"name": "adam", "epochs": 2, "batch_size": 3, "lr": 0.005}
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    cfg_a = _config(tiny, a, opt, validation=0.2)
    cfg_b = _config(tiny, b, opt, validation=0.2)
    hd = [sys.executable, "-m", "hdnnp", "train"]
    subprocess.run(hd + [str(cfg_a), "--epochs", "4"], check=True, env=_env(), capture_output=True)
    subprocess.run(hd + [str(cfg_b)], check=True, env=_env(), capture_output=True)
    r = subprocess.run(hd + ["--resume", str(b / "run"), "--epochs", "4", "--nproc", "2"], env=_env(),
                       capture_output=True, text=True)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert "2 ranks (gloo)" in r.stdout + r.stderr
    assert _rel(_weights(b / "run"), _weights(a / "run")) < 1e-10
    ma = (a / "run" / "metrics.csv").read_text().splitlines()
    mb = (b / "run" / "metrics.csv").read_text().splitlines()
    assert len(ma) == len(mb) == 6
    for la, lb in zip(ma[1:], mb[1:]):
        va, vb = la.split(","), lb.split(",")
        assert va[0] == vb[0]
        assert float(va[2]) == pytest.approx(float(vb[2]), rel=1e-8)      # training loss per epoch


def test_what_does_not_split_across_ranks_says_so(tiny, tmp_path):
    cfg = _config(tiny, tmp_path, {"name": "kalman", "epochs": 1})
    r = subprocess.run([sys.executable, "-m", "hdnnp", "train", str(cfg), "--nproc", "2"], env=_env(),
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "Kalman filter" in r.stdout + r.stderr
