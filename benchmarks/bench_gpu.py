"""GPU readiness: train the embedded example (mlearn Si, the published functions, 24-24 tanh) with Adam on the CPU
and on CUDA from the same seed and minibatch order, check that the two runs agree, and report the epoch time and the
inference throughput of the network part (energies and forces of the whole training set from cached descriptors).

Without a CUDA device it says so and exits with status 0, so it can run anywhere.

    python benchmarks/bench_gpu.py [--epochs 30] [--batch-size 16]

Last line::

    gpu cpu_epoch_s=<> gpu_epoch_s=<> cpu_atom_steps_per_s=<> gpu_atom_steps_per_s=<> weights_rel_diff=<>
        test_f_rmse_cpu=<> test_f_rmse_gpu=<> match=<True|False>

``match``: the final weights agree to 1e-6 (relative, max norm) and the test force RMSEs to 1 %. Both runs are
float64; the GPU's reductions round differently, so the agreement is to accumulated rounding, not bit for bit.
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import _local  # noqa: F401  (hdnnp from src/ or the installed package)
import numpy as np
import torch


def _config(out: Path, device: str, epochs: int, batch: int):
    from hdnnp.cli.train import example_config
    cfg = example_config(str(out), epochs)
    cfg.optimizer.name = "adam"
    cfg.optimizer.batch_size = batch
    cfg.optimizer.lr = 2e-3
    cfg.optimizer.schedule = "cosine"
    cfg.loss.energy, cfg.loss.forces, cfg.loss.stress = 1.0, 1.0, 0.0
    cfg.run.device = device
    cfg.run.plots = False
    cfg.run.progress = "none"
    cfg.run.train_metrics = "exact"
    return cfg


def _epoch_seconds(run: Path) -> float:
    with open(run / "metrics.csv") as fh:
        t = [float(r["time_s"]) for r in csv.DictReader(fh)]
    return float(np.median(np.diff(t))) if len(t) > 2 else float("nan")


def _weights(run: Path) -> np.ndarray:
    return np.concatenate([np.loadtxt(f, usecols=0) for f in sorted((run / "potential").glob("weights.*.data"))])


def _throughput(cfg, repeat: int = 20) -> float:
    """Atom-steps per second of the network part: energies and forces of the whole training set."""
    from hdnnp.training.trainer import Trainer
    t = Trainer(cfg, log=lambda *a, **k: None)
    t.prepare()
    b = t.batch("train")
    sync = torch.cuda.synchronize if t.device.type == "cuda" else (lambda: None)
    for _ in range(3):
        t.model(b, forces=True, create_graph=False)
    sync()
    t0 = time.perf_counter()
    for _ in range(repeat):
        t.model(b, forces=True, create_graph=False)
    sync()
    return repeat * b.n_atoms / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workdir", type=Path, default=None)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA device here (torch.cuda.is_available() is False; torch "
              f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}): nothing to measure")
        return 0
    from hdnnp.training import train
    work = a.workdir or Path(tempfile.mkdtemp(prefix="bench_gpu_"))
    res = {}
    for dev in ("cpu", "cuda"):
        cfg = _config(work / dev, dev, a.epochs, a.batch_size)
        r = train(cfg, log=lambda *x, **k: None)
        res[dev] = {"f": r["errors"]["test"]["force_rmse"], "epoch_s": _epoch_seconds(work / dev),
                    "w": _weights(work / dev), "tput": _throughput(_config(work / f"{dev}_tput", dev, 1, 16))}
        print(f"{dev}: {res[dev]['epoch_s']:.3f} s/epoch, test force RMSE {res[dev]['f']:.2f} meV/Å, "
              f"{res[dev]['tput']:.3g} atom-steps/s ({torch.cuda.get_device_name() if dev == 'cuda' else 'CPU'})")
    wc, wg = res["cpu"]["w"], res["cuda"]["w"]
    rel = float(np.max(np.abs(wg - wc)) / np.max(np.abs(wc)))
    match = rel < 1e-6 and abs(res["cuda"]["f"] / res["cpu"]["f"] - 1) < 0.01
    print(f"gpu cpu_epoch_s={res['cpu']['epoch_s']:.3f} gpu_epoch_s={res['cuda']['epoch_s']:.3f} "
          f"cpu_atom_steps_per_s={res['cpu']['tput']:.4g} gpu_atom_steps_per_s={res['cuda']['tput']:.4g} "
          f"weights_rel_diff={rel:.2e} test_f_rmse_cpu={res['cpu']['f']:.3f} test_f_rmse_gpu={res['cuda']['f']:.3f} "
          f"match={match}")
    return 0 if match else 1


if __name__ == "__main__":
    sys.exit(main())
