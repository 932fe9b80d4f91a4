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
            for s in ("train", "validation"):
                v = [r.get(f"{s}_{key}", "") for r in rows]
                if any(v):
                    ax.plot(ep, [float(x) if x else np.nan for x in v], label=s)
            ax.set_xlabel("epoch")
            ax.set_ylabel(f"{key.replace('_', ' ')} ({unit})")
            ax.set_yscale("log")
            ax.legend()
        fig.tight_layout()
        fig.savefig(pdir / "learning_curves.png", dpi=110)
        plt.close(fig)
        written.append(pdir / "learning_curves.png")
    for name, p in preds.items():
        if len(p["energy"]) == 0:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
        e_ref, e = p["energy_ref"] / p["natoms"], p["energy"] / p["natoms"]
        axes[0].scatter(e_ref, e, s=6)
        lo, hi = np.nanmin(e_ref), np.nanmax(e_ref)
        axes[0].plot([lo, hi], [lo, hi], "k--", lw=0.8)
        axes[0].set_xlabel("reference energy (eV/atom)")
        axes[0].set_ylabel("predicted energy (eV/atom)")
        f_ref, f = p["forces_ref"].ravel(), p["forces"].ravel()
        ok = ~np.isnan(f_ref)
        if ok.any():
            axes[1].scatter(f_ref[ok], f[ok], s=2, alpha=0.4)
            lo, hi = f_ref[ok].min(), f_ref[ok].max()
            axes[1].plot([lo, hi], [lo, hi], "k--", lw=0.8)
        axes[1].set_xlabel("reference force (eV/Å)")
        axes[1].set_ylabel("predicted force (eV/Å)")
        fig.suptitle(f"{name} set")
        fig.tight_layout()
        fig.savefig(pdir / f"parity_{name}.png", dpi=110)
        plt.close(fig)
        written.append(pdir / f"parity_{name}.png")
    return written
