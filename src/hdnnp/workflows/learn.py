"""Active learning: ``hdnnp learn learn.yaml`` builds a training set for you.

Each iteration k:

1. **train** a committee (``committee`` members, :mod:`hdnnp.training.committee`) on the labels so far
   (``data/train_k.extxyz``) → ``iter_k/train/potential``;
2. **explore**: MD with that committee from every starting structure at every temperature (and pressure,
   NPT) listed under ``explore``, frames sampled every ``sample_every`` steps → ``iter_k/explore/``;
   a trajectory stops early once its largest per-atom force spread exceeds twice ``high`` and the RMS
   reference force (it has left physical configurations);
3. **score** every frame by its largest per-atom force disagreement (eV/Å):
   below ``low``: known; between ``low`` and ``high``: a candidate; above ``high``: unphysical;
4. **select** up to ``per_iteration`` candidates, the most diverse by farthest-point sampling on the
   committee's own descriptors (``method: random`` draws at random instead). When no frame lies in the
   band but some lie above it, the least uncertain of those are taken (a young committee disagrees
   everywhere);
5. **label** them with the reference through the label store and add them → ``data/train_{k+1}.extxyz``.

It stops when the fraction of explored frames below ``low`` reaches ``stop.confident_fraction``, when the
labels reach ``stop.max_labels``, or after ``stop.max_iterations``.

**Thresholds** (a frame's score is its *largest* per-atom force spread, eV/Å; ``report.csv`` records the
thresholds of every iteration, recomputed for each iteration's committee):

* ``low: auto`` = ``low_factor`` (2) × the committee's RMS per-atom force spread on its validation set
  (``committee.json``: ``force_std_validation``), but at most ``low_cap`` (5 %) of the RMS reference force
  (per-atom magnitude) in the training set. For a frame like the validation data the largest per-atom spread
  is about two to three times the RMS, so below ``low`` the committee knows the frame as well as its validation
  data; the cap keeps a young committee, which disagrees everywhere (also on its validation data), from calling
  everything known. Without a validation set (a handful of structures) the members agree on their training data
  whatever they do elsewhere, so ``low`` is then the 5 % alone.
* ``high: auto`` = ``high_fraction`` (50 %) of the RMS reference force (at least 2 × ``low``): members that
  disagree by half the typical force itself are no longer telling apart configurations but describing ones
  the reference would rarely see (atoms too close, exploded cells).

Both may be given in eV/Å instead.

**Nothing lost.** Every step writes its result before the next starts: the labels go to the store as they
finish, training checkpoints every epoch, each MD run writes ``md.json`` when done. ``hdnnp learn --resume
RUN`` looks at what is on disk and continues: finished MD runs and labels are reused, not recomputed.

**Report.** ``report.csv`` (one row per iteration: labels, thresholds, frames below/in/above the band, the
confident fraction, the committee's validation and test errors, the Spearman correlation of spread and error on
the test set), ``iter_k/report.json`` (with the score distribution), and ``learn.png``.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import InputError

__all__ = ["LearnConfig", "load_learn_config", "Learner", "learn", "frame_scores"]


# --- configuration --------------------------------------------------------------------------------
@dataclass
class Explore:
    structures: list[str] = field(default_factory=list)
    temperatures: list[float] = field(default_factory=lambda: [300.0])
    #: bar; given: NPT at each pressure, else NVT
    pressures: list[float] | None = None
    steps: int = 1000
    timestep: float = 1.0
    sample_every: int = 20
    #: replicate each starting cell (nx, ny, nz)
    repeat: list[int] | None = None
    #: MD engine: ase (in-process, small cells) or lammps (the hdnnp/fast plugin, committee spread included)
    engine: str = "ase"
    #: MPI ranks per MD run (lammps)
    ranks: int = 1


@dataclass
class Select:
    low: float | None = None
    high: float | None = None
    low_factor: float = 2.0
    low_cap: float = 0.05
    high_fraction: float = 0.5
    per_iteration: int = 20
    method: str = "fps"


@dataclass
class Stop:
    max_labels: int = 200
    confident_fraction: float = 0.95
    max_iterations: int = 10


@dataclass
class LearnConfig:
    reference: Any = None
    store: str = "labels.db"
    initial: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)
    #: a training configuration (mapping or YAML file); data.train and run.output are set by learn
    train: Any = None
    committee: int = 4
    explore: Explore = field(default_factory=Explore)
    select: Select = field(default_factory=Select)
    stop: Stop = field(default_factory=Stop)
    workers: int | None = None
    seed: int = 1
    output: str = "learn-run"
    base_dir: str = "."

    def path(self, p) -> Path:
        q = Path(str(p)).expanduser()
        return q if q.is_absolute() else Path(self.base_dir) / q


_SECTIONS = {"explore": Explore, "select": Select, "stop": Stop}


def _build(cls, d: dict, where: str, file):
    import dataclasses
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise InputError(f"config key '{where}': must be a mapping", file=file)
    names = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for k, v in d.items():
        if k not in names or k == "base_dir":
            raise InputError(f"config key '{where}.{k}' is not known (known: "
                             f"{', '.join(n for n in names if n != 'base_dir')})", file=file)
        if k in _SECTIONS:
            v = _build(_SECTIONS[k], v, k, file)
        out[k] = v
    return cls(**out)


def _as_list(x, key, file) -> list:
    if x is None:
        return []
    if isinstance(x, (str, int, float)):
        return [x]
    if isinstance(x, list):
        return x
    raise InputError(f"config key '{key}': a value or a list is needed", file=file)


def config_from_mapping(d: dict, *, file=None, base_dir=".") -> LearnConfig:
    cfg = _build(LearnConfig, {k: v for k, v in (d or {}).items()}, "learn", file)
    cfg.base_dir = str(base_dir)
    cfg.initial = [str(x) for x in _as_list(cfg.initial, "initial", file)]
    cfg.test = [str(x) for x in _as_list(cfg.test, "test", file)]
    e = cfg.explore
    e.structures = [str(x) for x in _as_list(e.structures, "explore.structures", file)]
    e.temperatures = [float(x) for x in _as_list(e.temperatures, "explore.temperatures", file)]
    if e.pressures is not None:
        e.pressures = [float(x) for x in _as_list(e.pressures, "explore.pressures", file)]

    def need(cond, key, msg):
        if not cond:
            raise InputError(f"config key '{key}': {msg}", file=file)

    need(cfg.reference is not None, "reference", "a reference is needed (a preset name, a YAML file or a mapping)")
    need(cfg.initial, "initial", "at least one file of starting structures is needed")
    need(e.structures or cfg.initial, "explore.structures", "starting structures for the MD are needed")
    need(e.temperatures and all(t > 0 for t in e.temperatures), "explore.temperatures", "positive temperatures (K)")
    need(e.steps >= 1 and e.sample_every >= 1 and e.timestep > 0, "explore", "steps ≥ 1, sample_every ≥ 1, timestep > 0")
    need(e.repeat is None or (isinstance(e.repeat, list) and len(e.repeat) == 3), "explore.repeat", "three integers")
    need(e.engine in ("ase", "lammps"), "explore.engine", "ase or lammps")
    need(e.ranks >= 1, "explore.ranks", "at least 1")
    s = cfg.select
    need(s.method in ("fps", "random"), "select.method", "fps or random")
    need(s.per_iteration >= 1, "select.per_iteration", "at least 1")
    need(s.low is None or s.low > 0, "select.low", "eV/Å > 0 (or leave it out: auto)")
    need(s.high is None or s.high > (s.low or 0), "select.high", "eV/Å above select.low")
    need(s.low_factor > 0 and 0 < s.low_cap < s.high_fraction, "select",
         "low_factor > 0 and 0 < low_cap < high_fraction")
    need(1 <= cfg.committee <= 64, "committee", "2 to 64 members (a committee's spread needs at least 2)")
    need(cfg.committee >= 2, "committee", "at least 2 members: the spread drives the selection")
    need(0 < cfg.stop.confident_fraction <= 1, "stop.confident_fraction", "between 0 and 1")
    need(cfg.stop.max_labels >= 1 and cfg.stop.max_iterations >= 1, "stop", "max_labels and max_iterations ≥ 1")
    return cfg


def load_learn_config(path) -> LearnConfig:
    path = Path(path)
    if not path.is_file():
        raise InputError("learn configuration not found", file=str(path))
    try:
        d = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", file=str(path)) from None
    return config_from_mapping(d, file=str(path), base_dir=path.resolve().parent)


# --- helpers --------------------------------------------------------------------------------------
def _write_xyz(path: Path, structures) -> None:
    """Atomic write (a kill leaves the old file or the new one)."""
    from ..io import write
    tmp = path.with_name(path.name + ".tmp")
    write(tmp, list(structures), format="extxyz")
    tmp.replace(path)


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    tmp.replace(path)


def frame_scores(evaluator, structures) -> np.ndarray:
    """Each structure's largest per-atom force disagreement (eV/Å) under a committee."""
    return np.array([evaluator.evaluate(s, stress=False).max_forces_std for s in structures])


# --- the loop -------------------------------------------------------------------------------------
class Learner:
    def __init__(self, cfg: LearnConfig, *, log=print, progress: bool = True):
        from ..labels import LabelStore
        from ..references import PRESETS, get_reference

        self.cfg = cfg
        self.log = log
        self.progress = progress
        self.out = cfg.path(cfg.output)
        spec = cfg.reference
        if isinstance(spec, str) and spec not in PRESETS:
            spec = str(cfg.path(spec))
        self.reference = get_reference(spec, where="reference")
        self.store = LabelStore(cfg.path(cfg.store))

    # -- labels ----------------------------------------------------------------------------------
    def _label(self, structures, what: str):
        from ..labels import default_workers, label
        workers = self.cfg.workers if self.cfg.workers is not None else default_workers()
        run = label(structures, self.reference, self.store, workers=workers, progress=self.progress,
                    desc=f"label {what}")
        if run.interrupted:
            raise KeyboardInterrupt
        self.log(f"labels ({what}): {run.summary()}")
        return run.labelled

    def _read(self, files, key: str):
        from ..io import read
        out = []
        for f in files:
            p = self.cfg.path(f)
            if not p.exists():
                raise InputError(f"file not found (config key '{key}')", file=str(p))
            out += read(str(p))
        return out

    def dataset_path(self, k: int) -> Path:
        return self.out / "data" / f"train_{k}.extxyz"

    def initial_dataset(self) -> Path:
        p = self.dataset_path(0)
        if not p.is_file():
            structs = self._read(self.cfg.initial, "initial")
            lab = self._label(structs, "initial structures")
            if not lab:
                raise InputError("no initial structure could be labelled by the reference (config key 'initial')")
            p.parent.mkdir(parents=True, exist_ok=True)
            _write_xyz(p, lab)
        return p

    def test_set(self):
        if not self.cfg.test:
            return []
        if not hasattr(self, "_test"):
            self._test = self._label(self._read(self.cfg.test, "test"), "test set")
        return self._test

    # -- training --------------------------------------------------------------------------------
    def train_config(self, k: int):
        from ..training.config import config_from_dict
        t = self.cfg.train
        if t is None:
            d = self._auto_template()
        elif isinstance(t, str):
            p = self.cfg.path(t)
            if not p.is_file():
                raise InputError("training configuration not found (config key 'train')", file=str(p))
            d = yaml.safe_load(p.read_text()) or {}
        elif isinstance(t, dict):
            d = json.loads(json.dumps(t))
        else:
            raise InputError("config key 'train': a training configuration mapping or a YAML file")
        d = dict(d)
        data = dict(d.get("data") or {})
        data["train"] = [str(self.dataset_path(k).resolve())]
        data.pop("label", None)
        if self.cfg.test:
            data["test"] = [str((self.out / "data" / "test.extxyz").resolve())]
            data.pop("test_fraction", None)
        d["data"] = data
        run = dict(d.get("run") or {})
        run.update(output=str((self.out / f"iter_{k}" / "train").resolve()), committee=self.cfg.committee,
                   seed=self.cfg.seed)
        d["run"] = run
        return config_from_dict(d, file="learn: train", base_dir=str(self.cfg.base_dir))

    def _auto_template(self) -> dict:
        """No 'train' given: what 'hdnnp init' would choose for the initial data, with a budget of 40 s per
        member per iteration."""
        from ..io import read
        from ..training.autoconfig import choose, summarize
        structs = read(str(self.dataset_path(0)))
        settings, _ = choose(summarize(structs), 40.0 * self.cfg.committee)
        return {"model": {"symmetry_functions": settings["symmetry_functions"], "hidden": settings["hidden"]},
                "loss": settings["loss"], "optimizer": settings["optimizer"],
                "run": {"time_budget": settings["time_budget"], "progress": "none"}}

    def train(self, k: int) -> Path:
        from ..training import train
        pot = self.out / f"iter_{k}" / "train" / "potential"
        if (pot / "committee.json").is_file() and (self.out / f"iter_{k}" / "train" / "metadata.json").is_file():
            return pot
        if self.cfg.test:
            tp = self.out / "data" / "test.extxyz"
            if not tp.is_file():
                _write_xyz(tp, self.test_set())
        cfg = self.train_config(k)
        started = (self.out / f"iter_{k}" / "train" / "member_1").exists()
        self.log(f"iteration {k}: {'resuming' if started else 'training'} a committee of {self.cfg.committee} on "
                 f"{self.dataset_path(k).name}")
        train(cfg, resume=started, log=lambda *a, **kw: None)
        return pot

    # -- exploration -----------------------------------------------------------------------------
    @staticmethod
    def force_rms(data) -> float | None:
        """RMS per-atom reference force magnitude of the labelled ``data`` (eV/Å), or None without forces."""
        f = [np.linalg.norm(x.forces, axis=1) for x in data if x.forces is not None]
        return float(np.sqrt(np.mean(np.concatenate(f) ** 2))) if f else None

    def thresholds(self, pot: Path, f_rms: float | None) -> tuple[float, float]:
        info = json.loads((pot / "committee.json").read_text())
        cal = info.get("force_std_validation")
        s = self.cfg.select
        if (s.low is None or s.high is None) and not cal:
            raise InputError("the committee has no validation spread to set select.low/high from "
                             "(give select.low and select.high in eV/Å)")
        low = s.low
        if low is None:
            low = s.low_factor * cal
            if f_rms:
                cap = s.low_cap * f_rms
                low = cap if info.get("calibration_set") == "train" else min(low, cap)
        high = s.high
        if high is None:
            high = s.high_fraction * f_rms if f_rms else 10.0 * low
        return float(low), float(max(high, 2.0 * low))

    def explore(self, k: int, pot: Path, high: float, f_rms: float | None):
        """MD runs of iteration k (finished ones reused); returns the sampled frames (ase.Atoms). A run stops
        once the committee's largest per-atom force spread exceeds both 2 × ``high`` and the RMS reference force
        (the members then disagree by as much as the forces themselves: nothing physical is left)."""
        from ase.io import read as aread

        from ..md import MDSettings, run_md
        e = self.cfg.explore
        starts = self._read(e.structures or self.cfg.initial, "explore.structures")
        frames = []
        runs = [(i, T, P) for i in range(len(starts)) for T in e.temperatures
                for P in (e.pressures if e.pressures else [None])]
        for j, (i, T, P) in enumerate(runs):
            d = self.out / f"iter_{k}" / "explore" / f"run_{j}"
            if not (d / "md.json").is_file():
                atoms = starts[i].to_ase()
                if e.repeat:
                    atoms = atoms.repeat(tuple(int(x) for x in e.repeat))
                st = MDSettings(ensemble="npt" if P is not None else "nvt", temperature=T,
                                pressure=P if P is not None else 1.0, timestep=e.timestep, steps=e.steps,
                                thermo_every=e.sample_every, dump_every=e.sample_every,
                                tdamp=100.0 * e.timestep, seed=self.cfg.seed + 1000 * k + j, engine=e.engine,
                                ranks=e.ranks, spread_every=e.sample_every,
                                progress=self.progress, stop_above=max(2.0 * high, f_rms or 0.0))
                self.log(f"iteration {k}: MD {j + 1}/{len(runs)} from structure {i} at {T:g} K"
                         + (f", {P:g} bar" if P is not None else ""))
                run_md(atoms, pot, d, st)
            traj = d / "trajectory.extxyz"
            got = aread(traj, index=":") if traj.is_file() and traj.stat().st_size else []
            for a in got[1:]:          # the first frame is the starting structure
                a.info["explore"] = f"iter_{k}/run_{j}"
            frames += got[1:]
        return frames

    def select(self, k: int, pot: Path, frames, scores, low: float, high: float, n: int) -> list[int]:
        from ..model.evaluator import load_potential
        band = np.nonzero((scores > low) & (scores < high))[0]
        if not len(band):
            above = np.nonzero(scores >= high)[0]
            band = above[np.argsort(scores[above])][: max(n, 1)]   # the least uncertain of the unphysical
        if len(band) <= n:
            return sorted(int(b) for b in band)
        if self.cfg.select.method == "random":
            rng = np.random.default_rng(self.cfg.seed + k)
            return sorted(int(b) for b in rng.choice(band, n, replace=False))
        from ..descriptors.fingerprints import farthest_point, structure_fingerprints
        ev = load_potential(pot)
        pot_ = ev.potential
        ranges = {el: (sc.gmin, sc.gmax) for el, sc in pot_.scaling.items()}
        from ..structures import Structure
        X = structure_fingerprints([Structure.from_ase(frames[b]) for b in band], pot_.symmetry_functions, ranges)
        return sorted(int(band[i]) for i in farthest_point(X, n, first=int(np.argmax(scores[band]))))

    # -- report ----------------------------------------------------------------------------------
    def report(self, k: int, pot: Path, row: dict, scores) -> None:
        meta = json.loads((self.out / f"iter_{k}" / "train" / "metadata.json").read_text())
        err = meta.get("errors", {})
        for name in ("validation", "test"):
            e = err.get(name) or {}
            row[f"{name}_energy_rmse_meV_atom"] = e.get("energy_rmse")
            row[f"{name}_force_rmse_meV_A"] = e.get("force_rmse")
            row[f"{name}_force_spread_meV_A"] = e.get("force_std_rms")
        row["test_spearman"] = (err.get("test") or {}).get("spearman")
        rep = dict(row, scores_eV_A=[float(x) for x in scores])
        _write_json(self.out / f"iter_{k}" / "report.json", rep)
        rows = self.rows()
        rows = [r for r in rows if int(r["iteration"]) != k] + [row]
        rows.sort(key=lambda r: int(r["iteration"]))
        fields = list(row)
        tmp = self.out / "report.csv.tmp"
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({f: ("" if r.get(f) is None else r.get(f)) for f in fields})
        tmp.replace(self.out / "report.csv")
        try:
            plot_learning(self.out)
        except Exception as exc:  # noqa: BLE001 - a plot never stops the loop
            self.log(f"learn.png skipped: {exc}")

    def rows(self) -> list[dict]:
        p = self.out / "report.csv"
        if not p.is_file():
            return []
        with open(p) as fh:
            return list(csv.DictReader(fh))

    # -- the loop --------------------------------------------------------------------------------
    def run(self, *, resume: bool = False) -> dict:
        from ..io import read
        from ..model.evaluator import CommitteeEvaluator
        cfg = self.cfg
        state = self.out / "learn.yaml"
        if not resume and state.is_file():
            raise InputError(f"{self.out} already holds a learning run: continue it with "
                             f"'hdnnp learn --resume {self.out}', or choose another output")
        self.out.mkdir(parents=True, exist_ok=True)
        if not state.is_file():
            d = {k: v for k, v in _plain(cfg).items() if k != "base_dir"}
            d["base_dir"] = str(Path(cfg.base_dir).resolve())
            state.write_text("# hdnnp learn configuration of this run (hdnnp learn --resume reads it)\n"
                             + yaml.safe_dump(d, sort_keys=False))
        self.initial_dataset()
        k = 0
        while self.dataset_path(k + 1).is_file():
            k += 1
        reason = None
        while True:
            data = read(str(self.dataset_path(k)))
            pot = self.train(k)
            f_rms = self.force_rms(data)
            low, high = self.thresholds(pot, f_rms)
            prev = len(read(str(self.dataset_path(k - 1)))) if k else 0
            row = {"iteration": k, "labels": len(data), "added": len(data) - prev,
                   "low_eV_A": low, "high_eV_A": high}
            if len(data) >= cfg.stop.max_labels:
                reason = f"label budget reached ({len(data)} ≥ stop.max_labels {cfg.stop.max_labels})"
                row.update(frames=0, below=0, band=0, above=0, confident_fraction=None, selected=0)
                self.report(k, pot, row, [])
                break
            frames = self.explore(k, pot, high, f_rms)
            ev = CommitteeEvaluator.load(pot)
            scores = frame_scores(ev, frames)
            below = int((scores <= low).sum())
            above = int((scores >= high).sum())
            conf = below / len(scores) if len(scores) else 0.0
            row.update(frames=len(scores), below=below, band=len(scores) - below - above, above=above,
                       confident_fraction=conf)
            self.log(f"iteration {k}: {len(data)} labels; {len(scores)} explored frames: {below} below "
                     f"{low * 1e3:.0f} meV/Å, {row['band']} in the band, {above} above {high * 1e3:.0f} meV/Å "
                     f"(confident {conf:.0%})")
            if conf >= cfg.stop.confident_fraction:
                reason = f"{conf:.0%} of the explored frames are confident (stop.confident_fraction " \
                         f"{cfg.stop.confident_fraction:g})"
                row["selected"] = 0
                self.report(k, pot, row, scores)
                break
            if k + 1 >= cfg.stop.max_iterations:
                reason = f"stop.max_iterations ({cfg.stop.max_iterations}) reached"
                row["selected"] = 0
                self.report(k, pot, row, scores)
                break
            n = min(cfg.select.per_iteration, cfg.stop.max_labels - len(data))
            sel_path = self.out / f"iter_{k}" / "selected.extxyz"
            if not sel_path.is_file():
                pick = self.select(k, pot, frames, scores, low, high, n)
                from ..structures import Structure
                chosen = [Structure.from_ase(frames[i]) for i in pick]
                for s, i in zip(chosen, pick):
                    s.info["max_forces_std"] = float(scores[i])
                _write_xyz(sel_path, chosen)
            chosen = read(str(sel_path))
            row["selected"] = len(chosen)
            self.report(k, pot, row, scores)
            if not chosen:
                reason = "no frame to select (the exploration produced none)"
                break
            new = self._label(chosen, f"iteration {k}")
            _write_xyz(self.dataset_path(k + 1), list(data) + list(new))
            k += 1
        final = self.out / "iter_{}".format(k) / "train" / "potential"
        summary = {"iterations": k + 1, "labels": len(data), "stopped": reason,
                   "potential": str(final)}
        _write_json(self.out / "summary.json", summary)
        self.log(f"learn: stopped after iteration {k}: {reason}; potential {final}")
        return summary


def _plain(cfg: LearnConfig) -> dict:
    import dataclasses
    return dataclasses.asdict(cfg)


def learn(cfg: LearnConfig, *, resume: bool = False, log=print, progress: bool = True) -> dict:
    return Learner(cfg, log=log, progress=progress).run(resume=resume)


def resume_config(run_dir) -> LearnConfig:
    p = Path(run_dir) / "learn.yaml"
    if not p.is_file():
        raise InputError("not a learning run (no learn.yaml)", file=str(run_dir))
    d = yaml.safe_load(p.read_text())
    base = d.pop("base_dir", ".")
    return config_from_mapping(d, file=str(p), base_dir=base)


# --- plot -----------------------------------------------------------------------------------------
def plot_learning(out) -> Path:
    """learn.png: labels, errors and the confident fraction against iteration; the score distributions."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    with open(out / "report.csv") as fh:
        rows = list(csv.DictReader(fh))

    def col(name):
        return np.array([float(r[name]) if r.get(name) not in (None, "") else math.nan for r in rows])

    it = col("iteration")
    fig, ax = plt.subplots(2, 2, figsize=(10, 7))
    ax[0, 0].plot(it, col("labels"), "o-")
    ax[0, 0].set_ylabel("labels in the training set")
    for name, lab in (("validation_force_rmse_meV_A", "validation"), ("test_force_rmse_meV_A", "test"),
                      ("validation_force_spread_meV_A", "validation spread (RMS)")):
        y = col(name)
        if np.isfinite(y).any():
            ax[0, 1].plot(it, y, "o-", label=lab)
    ax[0, 1].set_ylabel("force RMSE / spread (meV/Å)")
    if ax[0, 1].get_legend_handles_labels()[0]:
        ax[0, 1].legend()
    ax[1, 0].plot(it, col("confident_fraction"), "o-")
    ax[1, 0].set_ylim(0, 1.05)
    ax[1, 0].set_ylabel("explored frames below 'low'")
    for r in rows:
        p = out / f"iter_{r['iteration']}" / "report.json"
        if p.is_file():
            s = np.array(json.loads(p.read_text()).get("scores_eV_A") or [])
            if len(s):
                ax[1, 1].hist(np.log10(np.maximum(s, 1e-4)), bins=30, histtype="step", label=f"iter {r['iteration']}")
    lo, hi = col("low_eV_A"), col("high_eV_A")
    if len(lo) and np.isfinite(lo[-1]):
        ax[1, 1].axvline(np.log10(lo[-1]), color="k", ls="--", lw=0.8)
        ax[1, 1].axvline(np.log10(hi[-1]), color="k", ls=":", lw=0.8)
    ax[1, 1].set_xlabel("log10 largest per-atom force spread (eV/Å)")
    ax[1, 1].set_ylabel("explored frames")
    if ax[1, 1].get_legend_handles_labels()[0]:
        ax[1, 1].legend(fontsize=7)
    for a in ax[0, 0], ax[0, 1], ax[1, 0]:
        a.set_xlabel("iteration")
        a.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(out / "learn.png", dpi=100)
    plt.close(fig)
    return out / "learn.png"
