"""Plots shared by training reports and validation: parity panels (energy per atom, force components,
stress components) with RMSE and MAE printed on each, coloured by group."""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["parity_figure", "property_parity_figure"]


def _stats(ref, pred, scale):
    ok = ~(np.isnan(ref) | np.isnan(pred))
    d = (pred[ok] - ref[ok]) * scale
    if not d.size:
        return float("nan"), float("nan")
    return float(np.sqrt(np.mean(d ** 2))), float(np.mean(np.abs(d)))


def parity_figure(path, groups: dict, title: str = "") -> Path:
    """``groups``: {label: {"energy": (ref, pred) per atom in eV, "forces": (ref, pred) components eV/Å,
    "stress": (ref, pred) components eV/Å³ or None}}. Writes a PNG with two or three panels; the
    RMSE/MAE on each panel are over all groups (meV/atom, meV/Å, meV/Å³)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def cat(key, k):
        arrs = [np.ravel(g[key][k]) for g in groups.values() if g.get(key) is not None and len(np.ravel(g[key][k]))]
        return np.concatenate(arrs) if arrs else np.zeros(0)

    panels = [("energy", "energy (eV/atom)", "meV/atom", 1.0), ("forces", "force component (eV/Å)", "meV/Å", 1.0)]
    if len(cat("stress", 0)):
        panels.append(("stress", "stress component (meV/Å³)", "meV/Å³", 1e3))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.9 * len(panels), 4.6))
    for ax, (key, label, unit, show) in zip(np.atleast_1d(axes), panels):
        ref_all, pred_all = cat(key, 0), cat(key, 1)
        for name, g in groups.items():
            if g.get(key) is None:
                continue
            r, p = np.ravel(g[key][0]) * show, np.ravel(g[key][1]) * show
            if r.size:
                ax.scatter(r, p, s=8 if key == "energy" else 3, alpha=0.8 if key == "energy" else 0.4, label=name)
        ok = ~(np.isnan(ref_all) | np.isnan(pred_all))
        if ok.any():
            lo = min(ref_all[ok].min(), pred_all[ok].min()) * show
            hi = max(ref_all[ok].max(), pred_all[ok].max()) * show
            pad = 0.03 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_ylim(lo - pad, hi + pad)
        rmse, mae = _stats(ref_all, pred_all, 1e3)
        ax.text(0.04, 0.96, f"RMSE {rmse:.3g} {unit}\nMAE {mae:.3g} {unit}", transform=ax.transAxes, va="top",
                fontsize=9, bbox=dict(boxstyle="round", fc="white", alpha=0.8))
        ax.set_xlabel(f"reference {label}")
        ax.set_ylabel(f"predicted {label}")
    if len(groups) > 1:
        np.atleast_1d(axes)[0].legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def property_parity_figure(path, model, pred: dict, title: str = "") -> Path:
    """Per-atom targets: one panel per target and element (reference vs predicted; tensors: the isotropic
    part, and a second row with the anisotropic components), RMSE, MAE and RMSE / reference spread on each.
    ``pred``: {target: (mean, std, reference, present, element index)} as from
    :func:`hdnnp.properties.train.predict_sets`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .properties.model import anisotropic, isotropic
    cols = []
    for t in model.targets:
        mean, _, ref, present, elem = pred[t.name]
        for e, el in enumerate(model.elements):
            m = present & (elem == e)
            if m.any():
                cols.append((t, el, mean[m], ref[m]))
    if not cols:
        return Path(path)
    tensor_rows = 2 if any(t.kind == "tensor" for t, *_ in cols) else 1
    fig, axes = plt.subplots(tensor_rows, len(cols), figsize=(3.6 * len(cols), 3.5 * tensor_rows), squeeze=False)
    for k, (t, el, p, r) in enumerate(cols):
        rows = [("iso", isotropic(p), isotropic(r)),            # the anisotropic (traceless) components below
                ("anisotropic components", anisotropic(p).reshape(-1), anisotropic(r).reshape(-1))] \
            if t.kind == "tensor" else [("", p, r)]
        for j in range(tensor_rows):
            ax = axes[j, k]
            if j >= len(rows):
                ax.axis("off")
                continue
            what, pp, rr = rows[j]
            ax.scatter(rr, pp, s=4, alpha=0.5)
            lo, hi = min(rr.min(), pp.min()), max(rr.max(), pp.max())
            pad = 0.03 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_ylim(lo - pad, hi + pad)
            d = pp - rr
            rmse, mae = float(np.sqrt(np.mean(d ** 2))), float(np.mean(np.abs(d)))
            rel = rmse / np.std(rr) if np.std(rr) > 0 else float("nan")
            ax.text(0.04, 0.96, f"RMSE {rmse:.3g} {t.unit}\nMAE {mae:.3g} {t.unit}\nRMSE/std {rel:.2f}",
                    transform=ax.transAxes, va="top", fontsize=8, bbox=dict(boxstyle="round", fc="white", alpha=0.8))
            unit = f" ({t.unit})" if t.unit else ""
            ax.set_title(f"{t.name} {el}" + (f" {what}" if what else ""), fontsize=9)
            ax.set_xlabel(f"reference{unit}")
            ax.set_ylabel(f"predicted{unit}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
