"""Validate a potential against its reference: pick structures from a trajectory (or any file), label
them through the label store, and compare energies, forces and stress.

Picking rules (``pick``):

* ``uniform``: ``n`` structures evenly spaced in the file's order (for an MD trajectory: in time),
  first and last included.
* ``fps``: farthest-point sampling on structure fingerprints in the potential's own descriptor space
  (per element, the mean of the symmetry functions scaled by the potential's scaling.data ranges;
  :mod:`hdnnp.descriptors.fingerprints`), starting from the first structure — the most dissimilar
  structures, as the potential sees them.
* ``all``: every structure.

Errors are predicted minus reference: energies per atom (meV/atom) and per structure (meV),
force components (meV/Å), stress components (meV/Å³, fully periodic cells). Groups come from the
structures' ``group``/``config_type`` info or, failing that, their file name.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..descriptors.fingerprints import farthest_point, structure_fingerprints, uniform_pick

__all__ = ["pick_structures", "compare", "Comparison", "write_report", "PICK_RULES"]

PICK_RULES = ("uniform", "fps", "all")


def pick_structures(structures, n: int, rule: str, evaluator=None) -> list[int]:
    """Indices of the structures to validate on (see the module docstring)."""
    m = len(structures)
    if rule == "all" or n >= m:
        return list(range(m))
    if rule == "uniform":
        return uniform_pick(m, n)
    if rule == "fps":
        if evaluator is None:
            raise ValueError("fps picking needs the potential's descriptors")
        pot = evaluator.potential
        ranges = {el: (sc.gmin, sc.gmax) for el, sc in pot.scaling.items()} if pot.scaling else None
        X = structure_fingerprints(structures, pot.symmetry_functions, ranges, length_factor=evaluator._L)
        return sorted(farthest_point(X, n))
    raise ValueError(f"unknown pick rule {rule!r}; use one of {', '.join(PICK_RULES)}")


def group_of(structure) -> str:
    g = structure.info.get("group", structure.info.get("config_type"))
    if isinstance(g, str) and g:
        return g
    return Path(structure.source).name if structure.source else "all"


@dataclass
class Comparison:
    """Per-structure reference and predicted values (eV, eV/Å, eV/Å³)."""

    index: list[int] = field(default_factory=list)
    group: list[str] = field(default_factory=list)
    natoms: list[int] = field(default_factory=list)
    e_ref: list[float] = field(default_factory=list)
    e_pred: list[float] = field(default_factory=list)
    f_ref: list[np.ndarray] = field(default_factory=list)
    f_pred: list[np.ndarray] = field(default_factory=list)
    s_ref: list[np.ndarray | None] = field(default_factory=list)
    s_pred: list[np.ndarray | None] = field(default_factory=list)
    extrapolating_atoms: list[int] = field(default_factory=list)
    #: committees: per-atom force disagreement (eV/Å) and the members' energy spread (eV/atom)
    f_std: list[np.ndarray] = field(default_factory=list)
    e_std: list[float] = field(default_factory=list)

    def force_error_per_structure(self) -> np.ndarray:
        """RMS force error of each structure (eV/Å)."""
        return np.array([np.sqrt(np.mean((fp - fr) ** 2)) for fp, fr in zip(self.f_pred, self.f_ref)])

    def spread_per_structure(self) -> np.ndarray:
        """RMS per-atom force disagreement of each structure (eV/Å); committees only."""
        return np.array([np.sqrt(np.mean(f ** 2)) for f in self.f_std])

    def errors(self, mask=None) -> dict:
        """RMSE/MAE: energy meV/atom and meV/structure, forces meV/Å, stress meV/Å³."""
        sel = np.arange(len(self.index)) if mask is None else np.nonzero(mask)[0]
        out = {"structures": int(len(sel)), "atoms": int(sum(self.natoms[k] for k in sel))}
        if not len(sel):
            return out
        de = np.array([self.e_pred[k] - self.e_ref[k] for k in sel])
        dea = de / np.array([self.natoms[k] for k in sel])
        df = np.concatenate([(self.f_pred[k] - self.f_ref[k]).ravel() for k in sel])
        out.update(energy_rmse_meV_atom=_rmse(dea), energy_mae_meV_atom=_mae(dea),
                   energy_rmse_meV=_rmse(de), energy_mae_meV=_mae(de),
                   force_rmse_meV_A=_rmse(df), force_mae_meV_A=_mae(df))
        ds = [(self.s_pred[k] - self.s_ref[k]).ravel() for k in sel
              if self.s_ref[k] is not None and self.s_pred[k] is not None]
        if ds:
            ds = np.concatenate(ds)
            out.update(stress_rmse_meV_A3=_rmse(ds), stress_mae_meV_A3=_mae(ds))
        out["extrapolating_structures"] = int(sum(1 for k in sel if self.extrapolating_atoms[k]))
        if self.f_std:
            fs = np.concatenate([self.f_std[k] for k in sel])
            out["force_std_rms_meV_A"] = float(np.sqrt(np.mean(fs ** 2)) * 1e3)
            if len(sel) > 2:
                out["spread_error_spearman"] = spearman(self.spread_per_structure()[sel],
                                                        self.force_error_per_structure()[sel])
        return out


def spearman(a, b) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr
    r = spearmanr(np.asarray(a), np.asarray(b)).statistic
    return float(r) if np.isfinite(r) else float("nan")


def _rmse(x) -> float:
    return float(np.sqrt(np.mean(np.square(x))) * 1e3)


def _mae(x) -> float:
    return float(np.mean(np.abs(x)) * 1e3)


def compare(evaluator, labelled, indices=None) -> Comparison:
    """Evaluate the potential on labelled structures and collect reference/predicted pairs."""
    c = Comparison()
    for k, s in enumerate(labelled):
        p = evaluator.evaluate(s)
        c.index.append(int(indices[k]) if indices is not None else k)
        c.group.append(group_of(s))
        c.natoms.append(s.natoms)
        c.e_ref.append(float(s.energy))
        c.e_pred.append(float(p.energy))
        c.f_ref.append(np.asarray(s.forces))
        c.f_pred.append(np.asarray(p.forces))
        c.s_ref.append(s.stress)
        c.s_pred.append(p.stress)
        c.extrapolating_atoms.append(int((np.asarray(p.extrapolations) > 0).sum()))
        if p.forces_std is not None:
            c.f_std.append(np.asarray(p.forces_std))
            c.e_std.append(float(p.energy_std_per_atom))
    return c


def table(c: Comparison) -> list[dict]:
    """One row per group, then 'all'."""
    rows = []
    groups = sorted(set(c.group))
    for g in groups + (["all"] if len(groups) > 1 else []):
        mask = np.ones(len(c.group), bool) if g == "all" else np.array([x == g for x in c.group])
        rows.append({"group": g, **c.errors(mask)})
    if len(groups) == 1:
        rows[0]["group"] = groups[0]
    return rows


def format_table(rows: list[dict]) -> str:
    cols = [("group", "group", "{}"), ("structures", "n", "{}"),
            ("energy_rmse_meV_atom", "E RMSE meV/atom", "{:.3f}"), ("energy_mae_meV_atom", "E MAE meV/atom", "{:.3f}"),
            ("energy_mae_meV", "E MAE meV/struct", "{:.2f}"),
            ("force_rmse_meV_A", "F RMSE meV/Å", "{:.2f}"), ("force_mae_meV_A", "F MAE meV/Å", "{:.2f}"),
            ("stress_rmse_meV_A3", "σ RMSE meV/Å³", "{:.3f}")]
    cols = [c for c in cols if any(c[0] in r for r in rows)]
    cells = [[h for _, h, _ in cols]] + [[f.format(r[k]) if k in r else "-" for k, _, f in cols] for r in rows]
    w = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return "\n".join("  ".join(v.rjust(w[i]) if i else v.ljust(w[i]) for i, v in enumerate(row)) for row in cells)


def parity_plot(c: Comparison, path, title: str = "") -> Path:
    """Energy, force (and stress) parity panels with RMSE/MAE on each, coloured by group."""
    from ..plots import parity_figure

    groups = {}
    for g in sorted(set(c.group)):
        ks = [k for k, x in enumerate(c.group) if x == g]
        sk = [k for k in ks if c.s_ref[k] is not None and c.s_pred[k] is not None]
        groups[g] = {
            "energy": (np.array([c.e_ref[k] / c.natoms[k] for k in ks]), np.array([c.e_pred[k] / c.natoms[k] for k in ks])),
            "forces": (np.concatenate([c.f_ref[k].ravel() for k in ks]), np.concatenate([c.f_pred[k].ravel() for k in ks])),
            "stress": (np.concatenate([c.s_ref[k].ravel() for k in sk]), np.concatenate([c.s_pred[k].ravel() for k in sk]))
            if sk else None}
    return parity_figure(path, groups, title)


def write_report(c: Comparison, outdir, *, meta: dict | None = None, title: str = "") -> dict:
    """``errors.csv`` (per group), ``structures.csv`` (per structure), ``summary.json``, ``parity.png``."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rows = table(c)
    keys = sorted({k for r in rows for k in r}, key=lambda k: (k != "group", k))
    with open(out / "errors.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    with open(out / "structures.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "group", "natoms", "energy_ref_eV", "energy_pred_eV", "energy_error_meV_atom",
                    "force_rmse_meV_A", "extrapolating_atoms"])
        for k in range(len(c.index)):
            fe = c.f_pred[k] - c.f_ref[k]
            w.writerow([c.index[k], c.group[k], c.natoms[k], f"{c.e_ref[k]:.8f}", f"{c.e_pred[k]:.8f}",
                        f"{(c.e_pred[k] - c.e_ref[k]) / c.natoms[k] * 1e3:.4f}",
                        f"{np.sqrt(np.mean(fe ** 2)) * 1e3:.3f}", c.extrapolating_atoms[k]])
    summary = {"errors": rows, **(meta or {})}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    parity_plot(c, out / "parity.png", title)
    return summary
