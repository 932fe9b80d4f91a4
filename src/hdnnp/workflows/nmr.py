"""NMR spectra from a trajectory: per-atom shieldings predicted for every frame by per-atom property
networks (``hdnnp train`` with ``properties:``), chemical shifts against a reference, the averaged spectrum
per element with Lorentzian broadening (every site at its shift averaged over the frames — motional averaging in
a liquid; in a glass every site is its own environment — with the distribution of the instantaneous shifts
beside it), and the distribution of every site.

δ_i = σ_ref(element) − σ_iso,i with σ_iso = trace(σ)/3 for a tensor target. Without a reference shielding
for an element its axis is −σ (ppm), which has the same shape. A site is an atom index (the same atom in every
frame). Optionally a few frames are labelled with the reference code through the label store, which gives the
reference's time per frame beside the model's and the model's errors on those frames.

Writes ``sites.csv`` (per site: element, mean and standard deviation over the frames of σ_iso and δ, the
span Ω = σ11 − σ33 of the mean tensor for tensor targets, and the committee's spread), ``spectrum_<El>.csv``,
``spectrum.png``, ``sites.png`` and ``nmr.json``.
"""
from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["NMRSettings", "run_nmr", "lorentzian_spectrum"]

#: default Lorentzian FWHM (ppm) per element; others get DEFAULT_WIDTH
WIDTHS = {"H": 0.05, "Li": 0.5, "C": 0.5, "N": 1.0, "O": 1.0, "F": 1.0, "P": 1.0}
DEFAULT_WIDTH = 1.0


@dataclass
class NMRSettings:
    target: str | None = None                   # the shielding target of the model (default: shielding, or the first)
    reference_shielding: dict = field(default_factory=dict)   # element -> σ_ref (ppm)
    widths: dict = field(default_factory=dict)  # element -> FWHM (ppm)
    elements: list = field(default_factory=list)  # default: every element that carries the target
    skip: int = 0                               # frames dropped at the start (equilibration)
    every: int = 1                              # use every n-th frame
    points: int = 2000                          # spectrum grid points per element


def lorentzian_spectrum(shifts: np.ndarray, fwhm: float, grid: np.ndarray) -> np.ndarray:
    """Sum of unit-area Lorentzians of full width ``fwhm`` at ``shifts``, on ``grid``, divided by len(shifts)."""
    g = 0.5 * fwhm
    out = np.zeros_like(grid)
    for chunk in np.array_split(np.asarray(shifts, float), max(1, len(shifts) // 4096)):
        out += (g / np.pi / ((grid[:, None] - chunk[None, :]) ** 2 + g * g)).sum(1)
    return out / max(len(shifts), 1)


def _iso(a: np.ndarray, tensor: bool) -> np.ndarray:
    """The isotropic part trace/3 of (..., 3, 3) tensors, or the scalars themselves."""
    from ..properties.model import isotropic
    return isotropic(a) if tensor else a


def run_nmr(frames, model_dir, out_dir, settings: NMRSettings, *, reference=None, store=None, reference_frames: int = 0,
            workers: int | None = None, log=print, progress: bool = True) -> dict:
    """Predict shieldings on ``frames`` (a list of Structures with the same atoms in the same order)."""
    from tqdm import tqdm

    from ..properties.predict import PropertyPredictor

    pp = PropertyPredictor(model_dir)
    names = [t.name for t in pp.targets]
    tname = settings.target or ("shielding" if "shielding" in names else names[0])
    target = pp.target(tname)
    frames = list(frames)[settings.skip::max(1, settings.every)]
    if not frames:
        raise InputError("no frames left after --skip/--every")
    n = frames[0].natoms
    sym = frames[0].symbols
    for k, f in enumerate(frames):
        if f.symbols != sym:
            raise InputError(f"{f.where()}: frame {k} has other atoms than the first frame (a trajectory of one "
                             "system is needed: sites are atom indices)")
    carriers = [el for el in pp.elements if not target.elements or el in target.elements]
    elements = settings.elements or [el for el in carriers if el in sym]
    for el in elements:
        if el not in carriers:
            raise InputError(f"element {el} does not carry the target {tname!r} of {model_dir} "
                             f"(it has {carriers})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    preds = pp.predict(frames, progress=lambda it: tqdm(it, desc="nmr", unit="batch", disable=not progress,
                                                        leave=False))
    t_model = (time.perf_counter() - t0) / len(frames)
    sigma = np.stack([p[tname][0] for p in preds])            # (F, N) or (F, N, 3, 3)
    spread = np.stack([p[tname][1] for p in preds])
    tensor = target.kind == "tensor"
    iso = _iso(sigma, tensor)                                  # (F, N)
    iso_spread = _iso(spread, tensor)
    ref = {el: float(v) for el, v in settings.reference_shielding.items()}
    shift = np.full_like(iso, np.nan)
    for i, el in enumerate(sym):
        if el in ref:
            shift[:, i] = ref[el] - iso[:, i]
    # per-site table
    rows = []
    for i, el in enumerate(sym):
        if el not in elements:
            continue
        r = {"site": i, "element": el, "sigma_iso_mean_ppm": float(iso[:, i].mean()),
             "sigma_iso_std_ppm": float(iso[:, i].std()),
             "shift_mean_ppm": float(shift[:, i].mean()) if el in ref else "",
             "shift_std_ppm": float(shift[:, i].std()) if el in ref else "",
             "committee_spread_ppm": float(iso_spread[:, i].mean())}
        if tensor:
            w = np.linalg.eigvalsh(sigma[:, i].mean(0))
            r["span_ppm"] = float(w[-1] - w[0])
        rows.append(r)
    with open(out / "sites.csv", "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
        wr.writeheader()
        wr.writerows(rows)
    # spectra
    spectra = {}
    for el in elements:
        idx = [i for i, s in enumerate(sym) if s == el]
        x = shift[:, idx] if el in ref else -iso[:, idx]
        fwhm = float(settings.widths.get(el, WIDTHS.get(el, DEFAULT_WIDTH)))
        lo, hi = float(x.min()), float(x.max())
        pad = max(10 * fwhm, 0.05 * (hi - lo))
        grid = np.linspace(lo - pad, hi + pad, settings.points)
        # the spectrum: each site at its shift averaged over the frames (motional averaging; in a glass every site
        # is its own environment), broadened; beside it the distribution of the instantaneous shifts
        y = lorentzian_spectrum(x.mean(0), fwhm, grid) * len(idx)         # area = number of sites
        y_inst = lorentzian_spectrum(x.ravel(), fwhm, grid) * len(idx)
        spectra[el] = {"grid": grid, "intensity": y, "instantaneous": y_inst, "axis": "shift" if el in ref else
                       "-sigma", "fwhm": fwhm, "sites": idx}
        np.savetxt(out / f"spectrum_{el}.csv", np.column_stack([grid, y, y_inst]), delimiter=",",
                   header=("shift_ppm" if el in ref else "minus_sigma_iso_ppm") + ",intensity,instantaneous",
                   comments="")
    summary = {"model": str(model_dir), "target": tname, "kind": target.kind, "frames": len(frames), "atoms": n,
               "elements": elements, "reference_shielding_ppm": ref, "model_s_per_frame": t_model,
               "widths_ppm": {el: spectra[el]["fwhm"] for el in elements},
               "committee": pp.model.committee}
    if reference is not None and reference_frames > 0:
        summary["reference"] = _reference_check(frames, reference, store, reference_frames, tname, target, sigma,
                                                elements, workers, progress)
        summary["reference"]["speedup"] = summary["reference"]["s_per_frame"] / max(t_model, 1e-12)
    (out / "nmr.json").write_text(json.dumps(summary, indent=2))
    _plots(out, spectra, iso, shift, sym, elements, ref, summary)
    log(f"nmr: {len(frames)} frames of {n} atoms, {t_model * 1e3:.2f} ms per frame with the model")
    summary["sites"] = rows
    return summary


def _reference_check(frames, reference, store, k, tname, target, sigma, elements, workers, progress) -> dict:
    from ..labels import LabelStore, label
    from ..labels.executor import default_workers
    from ..properties.model import target_array

    pick = np.unique(np.linspace(0, len(frames) - 1, min(k, len(frames))).round().astype(int))
    store = store if isinstance(store, LabelStore) else LabelStore(store or "labels.db")
    run = label([frames[i] for i in pick], reference, store, workers=default_workers() if workers is None else workers,
                progress=progress, desc="nmr reference")
    per_el, times = {}, []
    for j, (i, res) in enumerate(zip(pick, run.results)):
        if res is None or not res.ok:
            continue
        times.append(float(res.elapsed))
        s = res.apply(frames[i])
        ref = target_array(s, target)
        if ref is None:
            raise InputError(f"the reference {reference.name or reference.code} gave no {tname!r} (its per-atom "
                             f"results: {sorted(s.atom_properties)})")
        for el in elements:
            m = np.array([x == el for x in s.symbols])
            tensor = target.kind == "tensor"
            per_el.setdefault(el, []).append((_iso(sigma[i][m], tensor), _iso(ref[m], tensor)))
    errs = {}
    for el, parts in per_el.items():
        d = np.concatenate([a - b for a, b in parts])
        errs[el] = {"iso_rmse_ppm": float(np.sqrt(np.mean(d ** 2))), "iso_mae_ppm": float(np.mean(np.abs(d))),
                    "atoms": int(d.size)}
    return {"name": reference.name or reference.code, "frames": len(times),
            "s_per_frame": float(np.mean(times)) if times else float("nan"), "errors": errs}


def _plots(out: Path, spectra, iso, shift, sym, elements, ref, summary) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(elements), figsize=(5.2 * len(elements), 3.8), squeeze=False)
    for ax, el in zip(axes[0], elements):
        sp = spectra[el]
        ax.plot(sp["grid"], sp["intensity"], lw=1.2, label="sites averaged over the frames")
        ax.plot(sp["grid"], sp["instantaneous"] * sp["intensity"].max() / max(sp["instantaneous"].max(), 1e-300),
                lw=0.8, color="0.55", ls="--", label="instantaneous shifts (scaled)")
        ax.legend(fontsize=7, loc="upper left")
        x = shift if el in ref else -iso
        for i in sp["sites"]:
            ax.axvline(float(x[:, i].mean()), color="0.6", lw=0.6, ymax=0.15)
        ax.invert_xaxis()                       # NMR convention: shift grows to the left
        ax.set_xlabel(f"δ({el}) (ppm, σ_ref = {ref[el]:g})" if el in ref else f"−σ_iso({el}) (ppm)")
        ax.set_ylabel("intensity (sites per ppm)")
        ax.set_title(f"{el}: {len(sp['sites'])} sites, {summary['frames']} frames, FWHM {sp['fwhm']:g} ppm",
                     fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "spectrum.png", dpi=110)
    plt.close(fig)
    fig, axes = plt.subplots(1, len(elements), figsize=(5.2 * len(elements), 3.8), squeeze=False)
    for ax, el in zip(axes[0], elements):
        idx = spectra[el]["sites"]
        x = shift if el in ref else -iso
        ax.violinplot([x[:, i] for i in idx], positions=range(len(idx)), showmeans=True, widths=0.8)
        ax.set_xticks(range(len(idx)))
        ax.set_xticklabels([str(i) for i in idx], fontsize=7, rotation=90 if len(idx) > 20 else 0)
        ax.set_xlabel(f"{el} site (atom index)")
        ax.set_ylabel(f"δ({el}) (ppm)" if el in ref else f"−σ_iso({el}) (ppm)")
        ax.set_title(f"{el}: distribution over {summary['frames']} frames", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "sites.png", dpi=110)
    plt.close(fig)
