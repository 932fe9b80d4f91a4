"""Ion diffusion from MD: ``hdnnp diffusion``.

For each temperature, LAMMPS runs ``equilibrate`` ps of Nosé–Hoover NVT from Maxwell–Boltzmann velocities and then
``production`` ps (NVT, or NVE with ``ensemble='nve'``) while dumping unwrapped positions every ``dump_every`` ps.

D of each element: the mean-square displacement averaged over its atoms and all time origins (the system's centre
of mass held fixed), fitted by least squares between ``start_dt`` (default 10 % of the run) and ``end_dt``
(default 50 %), D = slope / 6. Its uncertainty resamples the atoms with replacement (bootstrap): each atom's whole
MSD curve is one sample, so the strong correlation of the MSD between time intervals is kept rather than
ignored, as an ordinary least-squares error bar would. On random walks with a known D the 95 % interval covers
the true value (tests/test_diffusion.py). With ``kinisi=True`` kinisi's Bayesian estimate (McCluskey et al., J.
Chem. Theory Comput. 2024) is computed beside it for comparison.

The Arrhenius law D = D0 exp(-Ea / kT) is fitted by weighted least squares of ln D against 1/T, and the errors of
every D are propagated by refitting log-normal draws: Ea and D0 with error bars and D extrapolated to
``room_temperature`` with its 95 % interval.

Replicas (``replicas`` > 1): independent runs at each temperature from other initial velocities (folders
``T<T>K_r<k>``). One trajectory of one cell can miss the slow collective events of a glass, and the atom bootstrap
cannot see what a trajectory missed; the replicas can. D at that temperature is their mean, with the variance of a
replica taken as the larger of the replicas' scatter (sample variance) and their mean bootstrap variance, divided
by their number. More cells (``cells``: other amorphous cells of the same system, e.g. melt-quenches from other
seeds) are run the same way (folders ``T<T>K_c<c>[_r<k>]``) and pooled with the replicas: one cell samples one
arrangement of a glass, whose diffusion pathways differ from cell to cell more than trajectories in one cell do.

Resumable: a temperature (or replica) whose folder holds ``md.json`` is not run again (delete the folder to redo
it); the analysis is always redone from the trajectories. Units: D in cm²/s, Ea in eV, times in ps.
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..units import KB_EV as K_B

__all__ = ["DiffusionSettings", "run_diffusion", "run_temperature", "analyse", "read_dump", "arrhenius_fit",
           "require_kinisi"]


@dataclass
class DiffusionSettings:
    temperatures: list = field(default_factory=list)   # K
    equilibrate: float = 10.0       # ps
    production: float = 50.0        # ps
    timestep: float = 1.0           # fs
    dump_every: float = 0.05        # ps
    ensemble: str = "nvt"           # production: nvt | nve
    elements: list | None = None    # the elements analysed (None: all)
    start_dt: float | None = None   # ps, start of the fitted MSD window (None: 10 % of production)
    end_dt: float | None = None     # ps, its end (None: 50 % of production)
    room_temperature: float = 300.0
    kinisi: bool = False            # also kinisi's estimate of D (cross-check)
    samples: int = 1000             # kinisi's MCMC samples
    seed: int = 1
    ranks: int = 1
    replicas: int = 1               # independent runs per temperature (other initial velocities)


def require_kinisi():
    try:
        import kinisi  # noqa: F401
    except ImportError as exc:
        raise InputError("--kinisi needs kinisi: pip install kinisi") from exc


def _tdir(out: Path, T: float, replica: int = 0, cell: int = 0) -> Path:
    return Path(out) / (f"T{T:g}K" + (f"_c{cell}" if cell else "") + (f"_r{replica}" if replica else ""))


#: the velocity seed of replica k at temperature T is seed + int(T) + REPLICA_SEED_STRIDE * k
REPLICA_SEED_STRIDE = 7919


def run_temperature(atoms, out: Path, T: float, s: DiffusionSettings, *, potential=None, reference=None,
                    log=print, replica: int = 0, cell: int = 0) -> dict:
    """MD at one temperature in ``out``; writes traj.lammpstrj and md.json (skipped when md.json exists).
    ``replica`` k > 0 starts from other velocities (seed + int(T) + REPLICA_SEED_STRIDE·k)."""
    from ..lammps.runner import md_setup, run_in

    out = Path(out)
    done = out / "md.json"
    if done.is_file():
        return json.loads(done.read_text())
    out.mkdir(parents=True, exist_ok=True)
    dt = s.timestep / 1000.0
    at, head, elements = md_setup(atoms, out, potential, reference, timestep_ps=dt)
    n_eq = int(round(s.equilibrate / dt))
    n_prod = int(round(s.production / dt))
    every = max(1, int(round(s.dump_every / dt)))
    damp = 100 * dt
    prod = f"fix prod all nvt temp {T} {T} {damp}" if s.ensemble == "nvt" else "fix prod all nve"
    script = f"""# hdnnp diffusion: {T:g} K
{head}
thermo_style custom step time temp pe press
thermo_modify format float %.10g
thermo {max(every, n_prod // 200)}
velocity all create {T} {s.seed + int(T) + REPLICA_SEED_STRIDE * replica} dist gaussian mom yes rot yes
fix eq all nvt temp {T} {T} {damp}
run {n_eq}
unfix eq
reset_timestep 0
{prod}
dump d all custom {every} traj.lammpstrj id element xu yu zu
dump_modify d element {' '.join(elements)} sort id format float %.8f
run {n_prod}
"""
    (out / "in.lmp").write_text(script)
    log(f"diffusion: {T:g} K{f' (replica {replica + 1})' if replica else ''}{f' (cell {cell + 1})' if cell else ''}, "
        f"{len(at)} atoms, "
        f"{s.equilibrate:g} ps NVT then {s.production:g} ps {s.ensemble.upper()}, {s.ranks} rank(s)")
    t0 = time.perf_counter()
    text = run_in(out, s.ranks)
    wall = time.perf_counter() - t0
    perf = [float(x) for x in re.findall(r"Performance:\s+([0-9.eE+-]+) ns/day", text)]
    temps = _production_temperatures(text)
    info = {"temperature_K": T, "atoms": len(at), "production_ps": n_prod * dt, "equilibrate_ps": n_eq * dt,
            "timestep_fs": s.timestep, "dump_every_steps": every, "ensemble": s.ensemble, "ranks": s.ranks,
            "replica": replica, "cell": cell,
            "ns_per_day": perf[-1] if perf else None, "wall_s": wall,
            "mean_temperature_K": float(np.mean(temps)) if temps else None}
    done.write_text(json.dumps(info, indent=2))
    return info


def _production_temperatures(log_text: str) -> list:
    """Temperatures of the last thermo block (the production run)."""
    from ..lammps.runner import thermo_blocks
    blocks = thermo_blocks(log_text)
    return [row[2] for row in blocks[-1]] if blocks else []


def read_dump(path: Path):
    """Unwrapped positions of a LAMMPS ``dump custom id element xu yu zu`` sorted by id: (symbols,
    positions[n_frames, n_atoms, 3], timesteps)."""
    lines = Path(path).read_text().splitlines()
    if not lines:
        raise InputError(f"{path}: empty trajectory")
    n = int(lines[3])
    per = 9 + n
    nf = len(lines) // per
    if nf == 0:
        raise InputError(f"{path}: no complete frame")
    cols = lines[8].split()[2:]
    ie, ix = cols.index("element"), cols.index("xu")
    symbols = [lines[9 + k].split()[ie] for k in range(n)]
    pos = np.empty((nf, n, 3))
    steps = np.empty(nf, dtype=np.int64)
    for f in range(nf):
        b = f * per
        steps[f] = int(lines[b + 1])
        block = lines[b + 9:b + 9 + n]
        pos[f] = np.array([ln.split()[ix:ix + 3] for ln in block], dtype=float)
    return symbols, pos, steps


def msd_per_atom(pos: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Each atom's mean-square displacement at each lag (frames), averaged over all time origins:
    out[l, i] = < |r_i(t + lags[l]) - r_i(t)|^2 >_t. ``pos``: unwrapped positions [frames, atoms, 3]."""
    out = np.empty((len(lags), pos.shape[1]))
    for k, lag in enumerate(lags):
        d = pos[lag:] - pos[:-lag]
        out[k] = np.einsum("fic,fic->i", d, d) / d.shape[0]
    return out


def diffusion_coefficient(pos: np.ndarray, frame_ps: float, start_dt: float, end_dt: float, *, n_boot: int = 1000,
                          seed: int = 1) -> dict:
    """Self-diffusion coefficient of one element from its unwrapped positions [frames, atoms, 3] (Å), frames
    ``frame_ps`` apart: the least-squares slope of the MSD (averaged over atoms and time origins) between
    ``start_dt`` and ``end_dt`` ps, divided by 6. Its uncertainty comes from resampling the atoms with replacement
    (each atom's whole MSD curve is one sample, so the strong correlation between the MSD at different time
    intervals is kept): ``n_boot`` bootstrap slopes give the standard deviation and the 95 % interval. D in
    cm²/s (1 Å²/ps = 1e-4 cm²/s)."""
    nf = pos.shape[0]
    lags = np.unique(np.linspace(1, nf - 1, min(nf - 1, 200)).astype(int))
    t = lags * frame_ps
    per = msd_per_atom(pos, lags)                 # [lags, atoms]
    msd = per.mean(axis=1)
    w = (t >= start_dt - 1e-12) & (t <= end_dt + 1e-12)
    if w.sum() < 3:
        raise InputError(f"the MSD fit window {start_dt:g}-{end_dt:g} ps holds fewer than 3 time intervals")
    A = np.vstack([t[w], np.ones(w.sum())]).T
    pinv = np.linalg.pinv(A)                       # [2, nw]: (slope, intercept) = pinv @ msd
    coef = pinv @ msd[w]
    rng = np.random.default_rng(seed)
    n = per.shape[1]
    idx = rng.integers(0, n, size=(n_boot, n))
    boot_curves = np.stack([per[:, i].mean(axis=1) for i in idx])          # [boot, lags]
    boot = (pinv @ boot_curves[:, w].T)                                     # [2, boot]
    D = boot[0] / 6.0 * 1e-4
    fit = boot[0][None, :] * t[:, None] + boot[1][None, :]                  # [lags, boot]
    return {"D_cm2_s": float(coef[0] / 6.0 * 1e-4), "D_std_cm2_s": float(np.std(D)),
            "D_lo_cm2_s": float(np.percentile(D, 2.5)), "D_hi_cm2_s": float(np.percentile(D, 97.5)),
            "intercept_A2": float(coef[1]),
            "msd": {"t_ps": t.tolist(), "msd_A2": msd.tolist(), "msd_std_A2": boot_curves.std(axis=0).tolist(),
                    "fit_median_A2": (coef[0] * t + coef[1]).tolist(),
                    "fit_lo_A2": np.percentile(fit, 2.5, axis=1).tolist(),
                    "fit_hi_A2": np.percentile(fit, 97.5, axis=1).tolist()}}


def kinisi_coefficient(symbols, pos, cell, el: str, frame_ps: float, every: int, start_dt: float, samples: int,
                       seed: int) -> dict:
    """kinisi's estimate of D for element ``el`` (cross-check; None when kinisi is not installed)."""
    try:
        import contextlib
        import io

        import scipp as sc
        from ase import Atoms
        from kinisi.analyze import DiffusionAnalyzer
    except ImportError:
        return None
    frames = [Atoms(symbols=symbols, positions=p, cell=cell, pbc=True) for p in pos]
    with contextlib.redirect_stderr(io.StringIO()):
        a = DiffusionAnalyzer.from_ase(frames, specie=el, time_step=sc.scalar(frame_ps / every, unit="ps"),
                                       step_skip=sc.scalar(every), progress=False)
        a.diffusion(sc.scalar(start_dt, unit="ps"), n_samples=samples, progress=False,
                    random_state=np.random.RandomState(seed))
    D = np.asarray(a.D.values)
    return {"D_cm2_s": float(np.mean(D)), "D_std_cm2_s": float(np.std(D))}


def analyse_temperature(folder: Path, atoms_cell, s: DiffusionSettings, elements: list[str]) -> dict:
    """D of each element from ``folder``'s trajectory (and kinisi's, when installed); writes diffusion.json."""
    from ase.data import atomic_masses, atomic_numbers

    folder = Path(folder)
    md = json.loads((folder / "md.json").read_text())
    symbols, pos, steps = read_dump(folder / "traj.lammpstrj")
    if len(steps) < 10:
        raise InputError(f"{folder}: only {len(steps)} frames; lower --dump-every or run longer")
    dt = md["timestep_fs"] / 1000.0
    every = int(md["dump_every_steps"])
    frame_ps = every * dt
    length = (len(steps) - 1) * frame_ps
    start = s.start_dt if s.start_dt is not None else 0.1 * length
    end = s.end_dt if s.end_dt is not None else 0.5 * length
    if not (0 < start < end <= length):
        raise InputError(f"the MSD fit window {start:g}-{end:g} ps must lie inside the production run "
                         f"(0, {length:g}] ps (--start-dt, --end-dt)")
    # the system's centre of mass does not move in the frame the MSD is measured in
    m = np.array([atomic_masses[atomic_numbers[x]] for x in symbols])
    com = (pos * m[None, :, None]).sum(axis=1) / m.sum()
    pos = pos - (com - com[0])[:, None, :]
    out = {"temperature_K": md["temperature_K"], "mean_temperature_K": md.get("mean_temperature_K"),
           "production_ps": length, "start_dt_ps": start, "end_dt_ps": end, "elements": {}}
    sym = np.array(symbols)
    for el in elements:
        sel = sym == el
        if not sel.any():
            raise InputError(f"element {el} is not in the trajectory ({' '.join(sorted(set(symbols)))})")
        r = diffusion_coefficient(pos[:, sel], frame_ps, start, end, seed=s.seed)
        r["atoms"] = int(sel.sum())
        if s.kinisi:
            r["kinisi"] = kinisi_coefficient(symbols, pos, atoms_cell, el, frame_ps, every, start, s.samples, s.seed)
        out["elements"][el] = r
    (folder / "diffusion.json").write_text(json.dumps(out, indent=1))
    return out


def arrhenius_fit(T, D, D_std, *, room_temperature: float = 300.0, samples: int = 2000, seed: int = 1,
                  scale_errors: bool = True) -> dict:
    """D = D0 exp(-Ea/kT) fitted to D(T) ± D_std (cm²/s) by weighted least squares of ln D against 1/T
    (σ(ln D) = D_std / D). The uncertainty is propagated by refitting ``samples`` draws of every D from its
    log-normal error: Ea (eV) and D0 (cm²/s) with standard deviations and 95 % intervals, D at ``room_temperature``
    with its 95 % interval, and the fit's band over T. With ``scale_errors`` and more than two temperatures, errors
    the scatter about the fit shows to be too small are scaled by √(χ²/dof) first (``error_scale``)."""
    T, D, D_std = (np.asarray(x, dtype=float) for x in (T, D, D_std))
    if len(T) < 2:
        raise InputError("the Arrhenius fit needs at least two temperatures")
    if np.any(D <= 0):
        raise InputError(f"non-positive diffusion coefficients {D.tolist()}: no diffusion at some temperature; "
                         "run longer or hotter")
    x = -1.0 / (K_B * T)
    sl = np.maximum(D_std / D, 1e-6)
    A = np.vstack([x, np.ones_like(x)]).T
    Wm = A / sl[:, None] ** 2
    P = np.linalg.solve(A.T @ Wm, Wm.T)            # (Ea, ln D0) = P @ ln D
    ea, lnd0 = P @ np.log(D)
    chi2 = float(np.sum(((np.log(D) - (A @ np.array([ea, lnd0]))) / sl) ** 2))
    dof = len(T) - 2
    # where the points scatter about the line more than their error bars allow (χ²/dof > 1), the error bars were
    # too small — each D comes from one trajectory of one cell — and are scaled up by the Birge ratio √(χ²/dof)
    scale = math.sqrt(chi2 / dof) if scale_errors and dof > 0 and chi2 > dof else 1.0
    rng = np.random.default_rng(seed)
    draws = np.log(D)[None, :] + rng.normal(size=(samples, len(T))) * (scale * sl)[None, :]
    ea_s, lnd0_s = P @ draws.T
    d0_s = np.exp(lnd0_s)
    d_rt = np.exp(lnd0_s - ea_s / (K_B * room_temperature))
    out = {"ea_eV": float(ea), "ea_std_eV": float(np.std(ea_s)), "ea_lo_eV": float(np.percentile(ea_s, 2.5)),
           "ea_hi_eV": float(np.percentile(ea_s, 97.5)), "d0_cm2_s": float(math.exp(lnd0)),
           "d0_lo_cm2_s": float(np.percentile(d0_s, 2.5)), "d0_hi_cm2_s": float(np.percentile(d0_s, 97.5)),
           "room_temperature_K": room_temperature, "d_room_cm2_s": float(math.exp(lnd0 - ea / (K_B * room_temperature))),
           "d_room_lo_cm2_s": float(np.percentile(d_rt, 2.5)), "d_room_hi_cm2_s": float(np.percentile(d_rt, 97.5)),
           "chi2": chi2, "dof": dof, "error_scale": scale}
    tt = np.linspace(min(room_temperature, T.min()), T.max(), 60)
    band = np.exp(lnd0_s[None, :] - ea_s[None, :] / (K_B * tt[:, None]))
    out["band"] = {"T_K": tt.tolist(), "lo": np.percentile(band, 2.5, axis=1).tolist(),
                   "median": np.exp(lnd0 - ea / (K_B * tt)).tolist(), "hi": np.percentile(band, 97.5, axis=1).tolist()}
    return out


def combine_replicas(D, D_std) -> dict:
    """One D from independent replicas at a temperature: their mean, and its standard error from a per-replica
    variance max(sample variance of the D, mean of the D_std²) — the scatter between trajectories where it exceeds
    what the atom bootstrap of each one saw. The 95 % interval is log-normal, as the Arrhenius fit treats it."""
    D, D_std = np.asarray(D, dtype=float), np.asarray(D_std, dtype=float)
    n = len(D)
    m = float(D.mean())
    var_boot = float(np.mean(D_std ** 2))
    var_scatter = float(D.var(ddof=1)) if n > 1 else 0.0
    sd = math.sqrt(max(var_scatter, var_boot) / n)
    f = math.exp(1.96 * sd / m) if m > 0 else float("nan")
    return {"D_cm2_s": m, "D_std_cm2_s": sd, "D_lo_cm2_s": m / f, "D_hi_cm2_s": m * f,
            "replicas": n, "replica_D_cm2_s": D.tolist(), "replica_D_std_cm2_s": D_std.tolist(),
            "scatter_over_bootstrap": math.sqrt(var_scatter / var_boot) if var_boot > 0 else float("nan")}


def analyse(out: Path, cells: list, s: DiffusionSettings, elements: list[str], log=print) -> dict:
    """D(T) of every finished temperature (replicas and cells combined), the Arrhenius fits, diffusion.csv,
    arrhenius.json and the plots. ``cells``: the cell matrix of every cell, the first one's runs first."""
    out = Path(out)
    per_t = []
    for T in sorted(s.temperatures):
        folders = [(_tdir(out, T, k, c), cm) for c, cm in enumerate(cells) for k in range(max(1, s.replicas))]
        reps = [analyse_temperature(f, cm, s, elements) for f, cm in folders if (f / "md.json").is_file()]
        if not reps:
            continue
        r = reps[0]                  # its MSD curves are the ones drawn
        if len(reps) > 1:
            for el in elements:
                c = combine_replicas([x["elements"][el]["D_cm2_s"] for x in reps],
                                     [x["elements"][el]["D_std_cm2_s"] for x in reps])
                r["elements"][el] = {**r["elements"][el], **c}
            r["mean_temperature_K"] = (float(np.mean([x["mean_temperature_K"] for x in reps]))
                                       if all(x["mean_temperature_K"] is not None for x in reps) else None)
        per_t.append(r)
    if not per_t:
        raise InputError(f"{out}: no finished temperature to analyse")
    with open(out / "diffusion.csv", "w") as fh:
        fh.write("element,temperature_K,mean_temperature_K,D_cm2_s,D_std_cm2_s,D_lo_cm2_s,D_hi_cm2_s,production_ps,"
                 "replicas\n")
        for r in per_t:
            for el, e in r["elements"].items():
                fh.write(f"{el},{r['temperature_K']:g},{r['mean_temperature_K'] or float('nan'):.2f},{e['D_cm2_s']:.6e},"
                         f"{e['D_std_cm2_s']:.6e},{e['D_lo_cm2_s']:.6e},{e['D_hi_cm2_s']:.6e},{r['production_ps']:g},"
                         f"{e.get('replicas', 1)}\n")
    fits = {}
    for el in elements:
        T = [r["temperature_K"] for r in per_t]
        D = [r["elements"][el]["D_cm2_s"] for r in per_t]
        sd = [r["elements"][el]["D_std_cm2_s"] for r in per_t]
        if len(T) >= 2:
            try:
                fits[el] = arrhenius_fit(T, D, sd, room_temperature=s.room_temperature, seed=s.seed)
            except InputError as exc:
                log(f"diffusion: no Arrhenius fit for {el}: {exc}")
    summary = {"temperatures_K": [r["temperature_K"] for r in per_t], "elements": elements,
               "D": {el: [{"T_K": r["temperature_K"], **{k: v for k, v in r["elements"][el].items() if k != "msd"}}
                          for r in per_t] for el in elements},
               "arrhenius": fits}
    (out / "arrhenius.json").write_text(json.dumps(summary, indent=1))
    plot_msd(per_t, out / "msd.png")
    plot_arrhenius([(summary, "")], out / "arrhenius.png")
    return summary


def run_diffusion(atoms, out, s: DiffusionSettings, *, potential=None, reference=None, analyse_only=False,
                  log=print, more_cells=()) -> dict:
    """Every temperature, replica and cell (``atoms`` and then ``more_cells``, ase.Atoms of the same elements),
    replica-major, then the analysis (:func:`analyse`)."""
    if s.kinisi:
        require_kinisi()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not s.temperatures:
        raise InputError("give the temperatures (-T 600 800 1000)")
    if s.replicas < 1:
        raise InputError(f"--replicas {s.replicas}: at least 1")
    if s.ensemble not in ("nvt", "nve"):
        raise InputError(f"ensemble {s.ensemble!r}: nvt or nve")
    present = sorted(set(atoms.get_chemical_symbols()))
    elements = list(s.elements) if s.elements else present
    for el in elements:
        if el not in present:
            raise InputError(f"--element {el}: not in the structure ({' '.join(present)})")
    structures = [atoms, *more_cells]
    for c, other in enumerate(structures[1:], 1):
        if sorted(set(other.get_chemical_symbols())) != present:
            raise InputError(f"cell {c + 1} has the elements {' '.join(sorted(set(other.get_chemical_symbols())))}, "
                             f"the first {' '.join(present)}: more cells must be of the same system")
    from ..lammps.runner import lammps_cell
    cells = [np.asarray(lammps_cell(a)[0].cell) for a in structures]
    if not analyse_only:
        from tqdm import tqdm
        import sys
        runs = [(T, k, c) for k in range(s.replicas) for c in range(len(structures)) for T in sorted(s.temperatures)]
        desc, unit = ("runs", "run") if len(runs) > len(s.temperatures) else ("temperatures", "T")
        for T, k, c in tqdm(runs, desc=desc, unit=unit, file=sys.stderr, leave=False):
            run_temperature(structures[c], _tdir(out, T, k, c), T, s, potential=potential, reference=reference,
                            log=log, replica=k, cell=c)
    return analyse(out, cells, s, elements, log=log)


# --- plots ------------------------------------------------------------------------------------------------------
def plot_msd(per_t: list, png: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    els = list(per_t[0]["elements"])
    fig, axes = plt.subplots(1, len(els), figsize=(5.2 * len(els), 4), squeeze=False)
    cmap = plt.get_cmap("plasma")
    for ax, el in zip(axes[0], els):
        for k, r in enumerate(per_t):
            m = r["elements"][el]["msd"]
            c = cmap(0.1 + 0.8 * k / max(1, len(per_t) - 1))
            t, y, sd = (np.asarray(m[x]) for x in ("t_ps", "msd_A2", "msd_std_A2"))
            ax.plot(t, y, color=c, lw=1.2, label=f"{r['temperature_K']:g} K")
            ax.fill_between(t, y - sd, y + sd, color=c, alpha=0.15, lw=0)
            w = t >= r["start_dt_ps"]
            ax.plot(t[w], np.asarray(m["fit_median_A2"])[w], color=c, ls="--", lw=1)
            ax.fill_between(t[w], np.asarray(m["fit_lo_A2"])[w], np.asarray(m["fit_hi_A2"])[w], color=c, alpha=0.25,
                            lw=0)
            ax.axvline(r["start_dt_ps"], color=c, lw=0.6, ls=":")
        ax.set_xlabel("time interval (ps)")
        ax.set_ylabel(f"MSD of {el} (Å²)")
        first = " (first replica)" if any(r["elements"][el].get("replicas", 1) > 1 for r in per_t) else ""
        ax.set_title(f"{el}: MSD ± σ{first}, fit (dashed, 95 %) from the dotted line", fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def plot_arrhenius(runs: list, png: Path) -> None:
    """``runs``: [(arrhenius.json contents, label)] drawn on one chart (log10 D against 1000/T)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    k = 0
    for summary, label in runs:
        for el in summary["elements"]:
            c = colours[k % len(colours)]
            k += 1
            pts = summary["D"][el]
            T = np.array([p["T_K"] for p in pts])
            D = np.array([p["D_cm2_s"] for p in pts])
            lo = np.array([p["D_lo_cm2_s"] for p in pts])
            hi = np.array([p["D_hi_cm2_s"] for p in pts])
            name = f"{label} {el}".strip()
            fit = summary["arrhenius"].get(el)
            if fit:
                name += f": Ea = {fit['ea_eV']:.3f} ± {fit['ea_std_eV']:.3f} eV"
                b = fit["band"]
                tb = 1000.0 / np.asarray(b["T_K"])
                ax.fill_between(tb, b["lo"], b["hi"], color=c, alpha=0.2, lw=0)
                ax.plot(tb, b["median"], color=c, lw=1)
                ax.errorbar([1000.0 / fit["room_temperature_K"]], [fit["d_room_cm2_s"]],
                            yerr=[[fit["d_room_cm2_s"] - fit["d_room_lo_cm2_s"]],
                                  [fit["d_room_hi_cm2_s"] - fit["d_room_cm2_s"]]], fmt="s", color=c, mfc="white")
            ax.errorbar(1000.0 / T, D, yerr=[np.maximum(D - lo, 0), np.maximum(hi - D, 0)], fmt="o", color=c,
                        label=name, capsize=3)
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel("D (cm²/s)")
    ax.set_title("Arrhenius: points 95 % intervals, band 95 % of the fit; squares: extrapolation", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
