"""PNG plots of a finished run: learning curves (metrics.csv) and energy/force parity per data set."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def plots(run_dir, preds: dict) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    pdir = run_dir / "plots"
    pdir.mkdir(exist_ok=True)
    written = []
    with open(run_dir / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    if rows:
        ep = np.array([int(r["epoch"]) for r in rows])
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, key, unit in ((axes[0], "energy_rmse", "meV/atom"), (axes[1], "force_rmse", "meV/Å")):
            for s in ("train", "validation", "test"):
                v = [r.get(f"{s}_{key}", "") for r in rows]
                if any(v):
                    ax.plot(ep, [float(x) if x else np.nan for x in v], label=s, marker="." if len(ep) < 40 else None)
            ax.set_xlabel("epoch")
            from matplotlib.ticker import MaxNLocator
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(f"{key.replace('_', ' ')} ({unit})")
            ax.set_yscale("log")
            ax.legend()
        fig.tight_layout()
        fig.savefig(pdir / "learning_curves.png", dpi=110)
        plt.close(fig)
        written.append(pdir / "learning_curves.png")
    from ..plots import parity_figure
    for name, p in preds.items():
        if len(p["energy"]) == 0:
            continue
        stress = None
        if len(p.get("stress", [])):
            ok = ~np.isnan(np.asarray(p["stress_ref"])).any((1, 2))
            if ok.any():
                stress = (np.asarray(p["stress_ref"])[ok], np.asarray(p["stress"])[ok])
        groups = {name: {"energy": (p["energy_ref"] / p["natoms"], p["energy"] / p["natoms"]),
                         "forces": (np.asarray(p["forces_ref"]), np.asarray(p["forces"])), "stress": stress}}
        written.append(parity_figure(pdir / f"parity_{name}.png", groups, f"{name} set"))
    return written
