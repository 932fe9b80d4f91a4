"""The training run: data -> descriptors (cached) -> reference energies and scaling -> optimiser
loop with checkpoints -> evaluation, plots, n2p2 export.

Run folder::

    config.yaml             resolved configuration (every default written)
    metrics.csv             one row per epoch
    checkpoint.pt           last state (weights, optimiser, RNG, epoch): torch state dicts only
    best.pt                 weights at the best validation loss
    potential/              n2p2 folder (input.nn, scaling.data, weights.ZZZ.data)
    metadata.json           units, elements, data provenance, errors reached
    errors.txt              RMSE / MAE table per data set and element
    plots/*.png             learning curves and parity plots
"""
from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from .. import __version__
from ..descriptors import SymmetryFunctionSet
from ..errors import InputError
from ..io import read
from ..structures import Structure
from ..units import length_factor
from . import config as C
from .autoconfig import fit_atom_energies
from .data import DescriptorData, collate, convert_sf_units
from .distributed import Dist
from .model import HDNNP, SCALING_MODES, degenerate_functions, scaling_statistics
from .optimizers import KalmanFilter, flat_grad

ENERGY_KEYS = ("energy", "forces", "stress")


# ----------------------------------------------------------------------------------------------
def _atomic_write(path: Path, writer) -> None:
    tmp = path.with_name(path.name + ".tmp")
    writer(tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_state(path: Path, state: dict) -> None:
    _atomic_write(Path(path), lambda p: torch.save(state, p))


def load_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def select_device(name: str) -> torch.device:
    if name == "cuda":
        if not torch.cuda.is_available():
            raise InputError("config key 'run.device': cuda requested but not available "
                             "(use cpu or auto)")
        return torch.device("cuda")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device("cpu")


# ----------------------------------------------------------------------------------------------
@dataclass
class Setup:
    """Everything derived from the configuration before the loop."""
    cfg: C.TrainConfig
    elements: list[str]
    sfset: SymmetryFunctionSet
    sets: dict                              # name -> list[Structure]
    data: dict = field(default_factory=dict)  # name -> DescriptorData


def load_structures(cfg: C.TrainConfig, files: list[C.DataFile]) -> list[Structure]:
    out = []
    for f in files:
        p = C.resolve_path(cfg, f.path)
        if not p.exists():
            raise InputError("data file not found (config key 'data')", file=str(p))
        out += read(str(p), f.format, length_unit=f.length_unit, energy_unit=f.energy_unit)
    if cfg.data.label is not None and out:
        out = label_with_reference(cfg, out)
    return out


def label_with_reference(cfg: C.TrainConfig, structures: list[Structure]) -> list[Structure]:
    """``data.label``: the structures labelled by the reference through the store (failures dropped,
    with a message)."""
    from ..labels import LabelStore, default_workers, label

    lc = cfg.data.label
    ref = C.label_reference(cfg)
    store = LabelStore(C.resolve_path(cfg, lc.store))
    workers = lc.workers if lc.workers is not None else default_workers()
    run = label(structures, ref, store, workers=workers, scheduler=lc.scheduler)
    if run.interrupted:
        raise KeyboardInterrupt
    print(f"labels ({ref.name}, store {store.path}): " + run.summary(), flush=True)
    if not run.labelled:
        raise InputError("no structure could be labelled by the reference (config key 'data.label')")
    return run.labelled


def build_sfset(cfg: C.TrainConfig, elements: list[str]) -> SymmetryFunctionSet:
    sfc = cfg.model.symmetry_functions
    if sfc.input_nn:
        p = C.resolve_path(cfg, sfc.input_nn)
        if not p.is_file():
            raise InputError("config key 'model.symmetry_functions.input_nn': file not found",
                             file=str(p))
        full = SymmetryFunctionSet.from_input_nn(p)
    else:
        lines = [(i + 1, ln.split()[1:] if ln.split()[0] == "symfunction_short" else ln.split())
                 for i, ln in enumerate(sfc.lines)]
        full = SymmetryFunctionSet.from_n2p2_lines(elements, lines, sfc.cutoff_type,
                                                   sfc.cutoff_alpha, file="config:model."
                                                   "symmetry_functions.lines")
    missing = [el for el in elements if el not in full.elements]
    if missing:
        raise InputError(f"config key 'model.symmetry_functions': no symmetry functions for "
                         f"element(s) {missing}")
    funcs = [sf for sf in full.functions
             if sf.element in elements and all(e in elements for e in sf.neighbours)]
    sfset = SymmetryFunctionSet(elements, funcs)
    for el in sfset.elements:
        if not sfset.for_element(el):
            raise InputError(f"config key 'model.symmetry_functions': element {el} has no "
                             "symmetry functions")
    return convert_sf_units(sfset, length_factor(sfc.length_unit))


def choose_symmetry_functions(cfg: C.TrainConfig, elements: list[str], train: list[Structure],
                              out: Path, log=print) -> None:
    """``symmetry_functions: auto``: generate candidates and select per element on the training
    split only; the chosen lines replace ``auto`` in ``cfg`` (so config.yaml records them and a
    resumed or repeated run uses the same set) and the selection report goes to
    ``RUN_DIR/sf_selection.yaml`` (+ ``plots/sf_selection.png``)."""
    from ..descriptors.selection import auto_symmetry_functions, plot_selection, write_report

    sfc = cfg.model.symmetry_functions
    a = sfc.auto
    sfset, report = auto_symmetry_functions(train, elements, cutoff=a.cutoff, budget=a.budget,
                                            seed=cfg.run.seed, kind=a.kind, method=a.method,
                                            cutoff_type=sfc.cutoff_type,
                                            grid="systematic" if a.kind == "compact" else a.grid,
                                            scaling=a.scaling, min_radial=a.min_radial, zetas=a.zetas)
    out.mkdir(parents=True, exist_ok=True)
    report = dict(report, requested={"budget": a.budget, "cutoff": a.cutoff, "kind": a.kind,
                                     "method": a.method, "grid": a.grid, "scaling": a.scaling,
                                     "zetas": a.zetas})
    write_report(report, out / "sf_selection.yaml")
    if cfg.run.plots:
        (out / "plots").mkdir(exist_ok=True)
        plot_selection(report, out / "plots" / "sf_selection.png")
    sfc.lines = list(report["lines"])
    sfc.cutoff_type = int(report["cutoff_type"])
    sfc.cutoff_alpha = float(report["cutoff_alpha"])
    sfc.length_unit = report.get("length_unit", "angstrom")
    sfc.auto = None
    log(f"symmetry functions: auto-selected {', '.join(f'{el} {len(sfset.for_element(el))}' for el in sfset.elements)} "
        f"(report: {out / 'sf_selection.yaml'})")


def _cutoff(cfg: C.TrainConfig) -> tuple[int, float]:
    sfc = cfg.model.symmetry_functions
    if sfc.input_nn:
        for raw in C.resolve_path(cfg, sfc.input_nn).read_text().splitlines():
            t = raw.split("#")[0].split()
            if t and t[0] == "cutoff_type":
                return int(t[1]), float(t[2]) if len(t) > 2 else 0.0
    return sfc.cutoff_type, sfc.cutoff_alpha


def split_sets(cfg: C.TrainConfig, train_all: list[Structure], test: list[Structure]) -> dict:
    seed = cfg.run.seed if cfg.data.split_seed is None else cfg.data.split_seed
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train_all))
    n = len(train_all)
    n_val = int(round(cfg.data.validation_fraction * n))
    n_test = 0 if test else int(round(cfg.data.test_fraction * n))
    if n - n_val - n_test < 1:
        raise InputError("config key 'data.validation_fraction': no training structures left")
    val_idx = np.sort(order[:n_val])
    test_idx = np.sort(order[n_val:n_val + n_test])
    train_idx = np.sort(order[n_val + n_test:])
    sets = {"train": [train_all[i] for i in train_idx], "validation": [train_all[i] for i in val_idx]}
    sets["test"] = test if test else [train_all[i] for i in test_idx]
    return sets


class RunningErrors:
    """Training-set errors accumulated over an epoch's minibatches (``run.train_metrics:
    running``) from the residuals the loss used (:meth:`Trainer._residuals`): RMSEs of energy
    per atom (meV/atom), force components (meV/Å) and stress (meV/Å³), and the training loss by
    the exact pass's formula, each minibatch's residuals taken before its update. Accumulates on
    the batches' device; one host transfer per epoch."""

    NAMES = {"energy": "energy_rmse", "forces": "force_rmse", "stress": "stress_rmse"}

    def __init__(self, weights: dict):
        self.w = weights
        self.sq, self.n, self.unit = {}, {}, {}

    def add(self, residuals: dict) -> None:
        with torch.no_grad():
            for k, (d, unit) in residuals.items():
                self.sq[k] = self.sq.get(k, 0.0) + (d * d).sum()
                self.n[k] = self.n.get(k, 0) + int(d.numel())
                self.unit[k] = unit

    def _mse(self) -> dict:
        """Mean squared residual per target, in loss units."""
        return {k: float(self.sq[k]) / self.n[k] for k in self.sq if self.n[k]}

    def loss(self) -> float:
        return sum(self.w[k] * v for k, v in self._mse().items())

    def errors(self) -> dict:
        return {self.NAMES[k]: math.sqrt(v) / float(self.unit[k]) * 1000
                for k, v in self._mse().items()}


# ----------------------------------------------------------------------------------------------
class Trainer:
    def __init__(self, cfg: C.TrainConfig, *, resume: bool = False, log=print):
        self.cfg = cfg
        self.log = log
        self.out = C.resolve_path(cfg, cfg.run.output)
        self.device = select_device(cfg.run.device)
        self.dist = Dist.from_env(self.device)
        if self.dist.parallel:
            if not self.dist.main:
                self.log = log = _quiet
            if self.device.type == "cuda":
                torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
                self.device = torch.device("cuda", torch.cuda.current_device())
        from ..threads import available_cores, configure_torch
        # ranks on one machine share its cores: each gets its share unless run.threads says otherwise
        self.threads = configure_torch(cfg.run.threads or
                                       (max(1, available_cores() // self.dist.local_world) if self.dist.parallel else 0))
        self.resume = resume
        self._running = None        # RunningErrors of the last Adam epoch (run.train_metrics)

    # -- set-up -------------------------------------------------------------------------------
    def prepare(self) -> None:
        cfg = self.cfg
        t0 = time.perf_counter()
        train_all = load_structures(cfg, cfg.data.train)
        test = load_structures(cfg, cfg.data.test) if cfg.data.test else []
        if cfg.model.elements:
            from ase.data import atomic_numbers
            for el in cfg.model.elements:
                if atomic_numbers.get(el, 0) == 0:
                    raise InputError(f"config key 'model.elements': unknown element {el!r}")
            elements = sorted(set(cfg.model.elements), key=lambda e: atomic_numbers[e])
        else:
            from ase.data import atomic_numbers
            elements = sorted({el for s in train_all for el in s.symbols},
                              key=lambda e: atomic_numbers[e])
        self.elements = elements
        self.sets = split_sets(cfg, train_all, test)
        charges = sorted({s.charge for s in self.sets["train"]})
        if cfg.model.charge_input:
            if len(charges) < 2:
                raise InputError(f"config key 'model.charge_input': every training structure has total charge "
                                 f"{charges[0] if charges else 0:g}; the charge input needs at least two charge "
                                 "states in the training set (extxyz charge=, n2p2 'charge' lines)")
            self.log(f"charge input: total charges {', '.join(f'{q:g}' for q in charges)} in the training set")
        elif len(charges) > 1:
            self.log(f"WARNING: the training set holds {len(charges)} total charges "
                     f"({', '.join(f'{q:g}' for q in charges[:6])}{', ...' if len(charges) > 6 else ''}) but the "
                     "potential cannot see them: one structure in two charge states would get one energy. Set "
                     "model.charge_input: true for a charge-aware potential (hdnnp init does so for such data).")
        # a charge-aware potential: the energy of the charge per structure (μ_Q Q) is fitted with the per-element
        # energies and kept outside the networks, which learn the rest (charge.json keeps μ_Q)
        self.charge_energy, self.atom_mu = 0.0, np.zeros(len(elements))
        if cfg.model.fit_atom_energies and cfg.model.charge_input:
            self.atom_mu, self.charge_energy = fit_atom_energies(self.sets["train"], elements, charge=True)
            self.log(f"charge input: the energy of the charge, {self.charge_energy:.4f} eV per e per structure, "
                     "fitted with the per-element energies and kept outside the networks")
        elif cfg.model.fit_atom_energies:
            self.atom_mu = fit_atom_energies(self.sets["train"], elements)
        if self.dist.parallel:
            self._check_parallel()
        if cfg.model.symmetry_functions.auto is not None:
            if self.dist.main:
                choose_symmetry_functions(cfg, elements, self.sets["train"], self.out, self.log)
            cfg.model.symmetry_functions = self.dist.broadcast(cfg.model.symmetry_functions)
        self.sfset = build_sfset(cfg, elements)
        self.cutoff_type, self.cutoff_alpha = _cutoff(cfg)
        # each rank holds the descriptors of its contiguous shard of every set (all of them with one process)
        self.shards = {name: self.dist.shard(len(v)) for name, v in self.sets.items()}
        self.data = {"train": self._descriptors(self._local("train"))}
        self._drop_degenerate_functions()
        for name in ("validation", "test"):
            self.data[name] = self._descriptors(self._local(name))
        self.t_descriptors = time.perf_counter() - t0
        # network inputs: the symmetry functions, and the total charge last (model.charge_input)
        n_sf = {el: len(self.sfset.for_element(el)) + int(cfg.model.charge_input) for el in elements}
        net_args = (cfg.model.hidden, cfg.model.activation, SCALING_MODES[cfg.model.scaling],
                    cfg.model.scale_min, cfg.model.scale_max)
        if cfg.model.embedding is not None:
            from .embedding import EmbeddingHDNNP
            self.model = EmbeddingHDNNP(elements, self.sfset, cfg.model.embedding.channels,
                                        *net_args)
        else:
            self.model = HDNNP(elements, n_sf, *net_args)
        self.model = self.model.to(self.device)
        # scaling statistics from the training set only
        tr = self.data["train"]
        Gper = {el: [tr[k].G[e] for k in range(len(tr))] for e, el in enumerate(elements)}
        self.model.set_scaling(scaling_statistics(Gper, elements, n_sf, self.dist))
        mu = self.atom_mu
        res = [(s.energy - self.charge_energy * s.charge - sum(mu[elements.index(x)] for x in s.symbols)) / s.natoms
               for s in self.sets["train"] if s.energy is not None]
        sigma = float(np.std(res)) if len(res) > 1 else 1.0
        with torch.no_grad():
            self.model.atom_energy.copy_(torch.from_numpy(mu))
            self.model.conv_energy.fill_(1.0 / max(sigma, 1e-3))
        self.gen = torch.Generator().manual_seed(int(cfg.run.seed))
        self.model.init_weights(self.gen)
        self.params = [p for p in self.model.parameters()]
        self.has = {k: self._has(k) for k in ENERGY_KEYS}
        inputs = f" (embedding: network inputs {self.model.n_inputs})" \
            if cfg.model.embedding is not None else ""
        mb = sum(d.nbytes() for d in self.data.values()) / 1e6
        self.log(f"data: {len(self.sets['train'])} train, {len(self.sets['validation'])} "
                 f"validation, {len(self.sets['test'])} test structures; elements "
                 f"{' '.join(elements)}; SFs {n_sf}{inputs}; descriptors "
                 f"{'cached' if tr.cached else 'on the fly'} "
                 + (f"({mb:.0f} MB) in " if not self.dist.parallel else
                    f"({mb:.0f} MB on rank 0, a shard of 1/{self.dist.world}) in ")
                 + f"{self.t_descriptors:.1f} s")
        from ..threads import describe
        why = ""
        batch_atoms = cfg.optimizer.batch_size * sum(x.natoms for x in self.sets["train"]) / max(len(self.sets["train"]), 1)
        if cfg.run.threads == 0 and cfg.optimizer.name == "adam" and self.threads > 1 and batch_atoms < SMALL_BATCH_ATOMS:
            # minibatches this small are many tiny operations: a second thread costs more than it brings (rMD17 ethanol,
            # batch 16: 0.61 s per epoch on one thread, 0.72 on two spinning, 1.1 on two with OMP_WAIT_POLICY=PASSIVE)
            torch.set_num_threads(1)
            self.threads = 1
            why = f" (Adam on minibatches of ~{batch_atoms:.0f} atoms runs fastest on one; run.threads sets it)"
        ranks = f"{self.dist.world} ranks ({self.dist.backend}), " if self.dist.parallel else ""
        self.log(f"threads: {ranks}torch {self.threads} intra-op{why}; {describe()}")
        self.w = {"energy": cfg.loss.energy if self.has["energy"] else 0.0,
                  "forces": cfg.loss.forces if self.has["forces"] else 0.0,
                  "stress": cfg.loss.stress if self.has["stress"] else 0.0}
        self._full = {}

    def _descriptors(self, structs) -> DescriptorData:
        cfg = self.cfg
        # per-atom targets alone need no derivatives (a tenth of the memory)
        alone = cfg.properties is not None and cfg.loss.energy + cfg.loss.forces + cfg.loss.stress == 0
        return DescriptorData(structs, self.sfset, self.elements, float32=cfg.run.float32_cache,
                              max_cache_gb=cfg.run.max_cache_gb, derivatives=not alone,
                              charge_input=cfg.model.charge_input, charge_energy=self.charge_energy)

    def _local(self, name: str) -> list[Structure]:
        """This rank's shard of set ``name`` (the whole set with one process)."""
        lo, hi = self.shards[name]
        return self.sets[name][lo:hi]

    def _check_parallel(self) -> None:
        """What data-parallel training does not do (yet), said before any work."""
        cfg = self.cfg
        if cfg.optimizer.name == "kalman":
            raise InputError("config key 'optimizer.name': the Kalman filter updates the weights structure by "
                             "structure and cannot be split across ranks; use lm, adam or lbfgs with --nproc/torchrun")
        if cfg.properties is not None:
            raise InputError("config key 'properties': per-atom property networks train in one process; run "
                             "them without --nproc/torchrun")
        if len(self.sets["train"]) < self.dist.world:
            raise InputError(f"{len(self.sets['train'])} training structures for {self.dist.world} ranks: "
                             "every rank needs at least one")

    def _drop_degenerate_functions(self) -> None:
        """Drop symmetry functions whose training range carries no information (see
        :func:`~hdnnp.training.model.degenerate_functions`), with a message naming each; the exported
        potential leaves them out. Deterministic, so a resumed run drops the same ones."""
        self.dropped_functions = []
        tr = self.data["train"]
        nsf = {el: len(self.sfset.for_element(el)) for el in self.elements}
        Gper = {el: [tr[k].G[e][:, :nsf[el]] for k in range(len(tr))] for e, el in enumerate(self.elements)}
        bad = degenerate_functions(Gper, self.sfset, self.dist)
        if not bad:
            return
        lines = []
        keep = []
        for el in self.sfset.elements:
            funcs = self.sfset.for_element(el)
            drop = dict(bad.get(el, []))
            if len(drop) == len(funcs):
                raise InputError(f"every symmetry function of element {el} is degenerate on the training set "
                                 f"(e.g. {funcs[0].to_n2p2_line()}: {drop[0]}); choose functions that see "
                                 "the neighbour distances of the data (config key 'model.symmetry_functions')")
            for k, f in enumerate(funcs):
                if k in drop:
                    lines.append(f"  {f.to_n2p2_line()}  -- {drop[k]}")
                else:
                    keep.append(f)
        self.log(f"WARNING: dropped {len(lines)} symmetry function(s) whose training range carries no "
                 "information (they would make the scaling divide by ~0 and stall the optimizer):\n"
                 + "\n".join(lines))
        self.dropped_functions = [ln.strip() for ln in lines]
        self.sfset = SymmetryFunctionSet(self.sfset.elements, keep)
        self.data["train"] = self._descriptors(self._local("train"))

    def _has(self, key) -> bool:
        s = self.sets["train"]
        if key == "energy":
            return any(x.energy is not None for x in s)
        if key == "forces":
            return any(x.forces is not None for x in s)
        return any(x.stress is not None and np.all(x.pbc) for x in s)

    def batch(self, name: str, idx=None):
        d = self.data[name]
        if idx is None:
            if name not in self._full and d.cached:
                self._full[name] = collate([d[k] for k in range(len(d))], len(self.elements),
                                           self.device)
            if name in self._full:
                return self._full[name]
            idx = range(len(d))
        return collate([d[int(k)] for k in idx], len(self.elements), self.device)

    # -- loss ---------------------------------------------------------------------------------
    def loss(self, b, create_graph=True) -> tuple[torch.Tensor, dict, dict]:
        """Weighted loss, its terms and the residuals (:meth:`_residuals`) of batch ``b``."""
        w = self.w
        out = self.model(b, forces=w["forces"] > 0, stress=w["stress"] > 0,
                         create_graph=create_graph)
        res = self._residuals(out, b)
        return (*self._loss_from(res, b.energy.device), res)

    def _residuals(self, out: dict, ref) -> dict:
        """Per weighted target (energy, forces, stress): the residuals of predictions ``out``
        against the references of ``ref`` (energy, natoms, forces, stress, volume) where a
        reference exists, in internal loss units, and the factor from eV-based units (energy
        per atom, eV/Å, eV/Å³) to those."""
        w = self.w
        ce = self.model.conv_energy
        res = {}
        if w["energy"] > 0:
            m = ~torch.isnan(ref.energy)
            res["energy"] = (((out["energy"] - ref.energy) / ref.natoms)[m] * ce, ce)
        if w["forces"] > 0:
            m = ~torch.isnan(ref.forces)
            res["forces"] = ((out["forces"] - ref.forces)[m] * ce, ce)
        if w["stress"] > 0:
            m = ~torch.isnan(ref.stress) & (ref.volume > 0)[:, None, None]
            res["stress"] = ((out["stress"] - ref.stress)[m] * ce * 100.0, ce * 100.0)
        return res

    def _loss_from(self, res: dict, device) -> tuple[torch.Tensor, dict]:
        """Weighted loss and its terms (mean squared residuals) from :meth:`_residuals`."""
        total = torch.zeros((), dtype=torch.float64, device=device)
        terms = {}
        for k, (d, _) in res.items():
            terms[k] = (d * d).mean() if d.numel() else total * 0
            total = total + self.w[k] * terms[k]
        return total, terms

    def _loss_terms(self, out: dict, ref) -> tuple[torch.Tensor, dict]:
        """Weighted loss and its terms from predictions ``out`` and the references of ``ref``."""
        return self._loss_from(self._residuals(out, ref), ref.energy.device)

    # -- evaluation ---------------------------------------------------------------------------
    def predict(self, name: str, chunk: int = 64) -> dict:
        """Predictions and references of every structure of set ``name`` (with several ranks: each predicts
        its shard and the parts are gathered in structure order)."""
        p = self._predict_local(name, chunk)
        if not self.dist.parallel:
            return p
        parts = self.dist.gather(p)
        return {k: np.concatenate([q[k] for q in parts if len(q[k])]) if any(len(q[k]) for q in parts)
                else np.zeros(0) for k in p}

    def _predict_local(self, name: str, chunk: int = 64) -> dict:
        d = self.data[name]
        res = {"energy": [], "energy_ref": [], "natoms": [], "forces": [], "forces_ref": [],
               "elem": [], "stress": [], "stress_ref": [], "volume": []}
        if len(d) == 0:
            return {k: np.zeros(0) for k in res}
        parts = [None] if (d.cached and name in ("train", "validation", "test")) else \
            [range(i, min(i + chunk, len(d))) for i in range(0, len(d), chunk)]
        local = self._local(name)
        for idx in parts:
            b = self.batch(name, idx)
            with torch.enable_grad():
                out = self.model(b, forces=True, stress=self.has["stress"], create_graph=False)
            # the energy of the charge (charge-aware potentials; 0 otherwise) back on both sides
            qe = self.charge_energy * np.array([local[k].charge for k in (range(len(local)) if idx is None else idx)])
            res["energy"].append(out["energy"].detach().cpu().numpy() + qe)
            res["energy_ref"].append(b.energy.cpu().numpy() + qe)
            res["natoms"].append(b.natoms.cpu().numpy())
            res["forces"].append(out["forces"].detach().cpu().numpy())
            res["forces_ref"].append(b.forces.cpu().numpy())
            res["elem"].append(b.elem.cpu().numpy())
            res["volume"].append(b.volume.cpu().numpy())
            if "stress" in out:
                res["stress"].append(out["stress"].detach().cpu().numpy())
                res["stress_ref"].append(b.stress.cpu().numpy())
        return {k: np.concatenate(v) if v else np.zeros(0) for k, v in res.items()}

    def loss_of(self, p: dict) -> float:
        """The training loss (as :meth:`loss`) from a :meth:`predict` result."""
        t = {k: torch.from_numpy(np.asarray(v)).to(self.model.conv_energy.device)
             for k, v in p.items()}
        ref = SimpleNamespace(energy=t["energy_ref"], natoms=t["natoms"], forces=t["forces_ref"],
                              stress=t["stress_ref"], volume=t["volume"])
        return float(self._loss_terms(t, ref)[0])

    def errors(self, name: str, pred: dict | None = None) -> dict:
        """RMSE/MAE: energy per atom (meV/atom), force components (meV/Å), stress (meV/Å³);
        per element for forces."""
        p = self.predict(name) if pred is None else pred
        out = {}
        if len(p["energy"]) == 0:
            return out
        m = ~np.isnan(p["energy_ref"])
        de = ((p["energy"] - p["energy_ref"]) / p["natoms"])[m] * 1000
        if de.size:
            out["energy_rmse"] = float(np.sqrt(np.mean(de ** 2)))
            out["energy_mae"] = float(np.mean(np.abs(de)))
            dm = (p["energy"] - p["energy_ref"])[m] * 1000
            out["energy_rmse_per_structure"] = float(np.sqrt(np.mean(dm ** 2)))
            out["energy_mae_per_structure"] = float(np.mean(np.abs(dm)))
        df = (p["forces"] - p["forces_ref"]) * 1000
        ok = ~np.isnan(df).any(1)
        if ok.any():
            out["force_rmse"] = float(np.sqrt(np.mean(df[ok] ** 2)))
            out["force_mae"] = float(np.mean(np.abs(df[ok])))
            for e, el in enumerate(self.elements):
                sel = ok & (p["elem"] == e)
                if sel.any():
                    out[f"force_rmse_{el}"] = float(np.sqrt(np.mean(df[sel] ** 2)))
                    out[f"force_mae_{el}"] = float(np.mean(np.abs(df[sel])))
        if len(p["stress"]):
            ds = (p["stress"] - p["stress_ref"]) * 1000
            ok = ~np.isnan(ds).any((1, 2))
            if ok.any():
                out["stress_rmse"] = float(np.sqrt(np.mean(ds[ok] ** 2)))
                out["stress_mae"] = float(np.mean(np.abs(ds[ok])))
        return out

    # -- optimiser state ----------------------------------------------------------------------
    def make_optimizer(self):
        o = self.cfg.optimizer
        self.sched = None
        if o.name == "adam":
            self.opt = torch.optim.Adam(self.params, lr=o.lr, weight_decay=o.weight_decay)
            if o.schedule == "plateau":
                self.sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                    self.opt, factor=o.schedule_factor, patience=o.schedule_patience,
                    min_lr=o.min_lr)
            elif o.schedule == "cosine":
                self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(
                    self.opt, T_max=max(o.epochs, 1), eta_min=o.min_lr)
        elif o.name == "lbfgs":
            self.opt = torch.optim.LBFGS(self.params, lr=1.0, max_iter=o.lbfgs_iterations,
                                         history_size=o.lbfgs_history,
                                         line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                                         tolerance_change=1e-14)
        elif o.name == "lm":
            if not self.data["train"].cached:
                raise InputError("optimizer.name lm needs the training descriptors cached "
                                 "(raise run.max_cache_gb or use adam)")
            if self.device.type != "cpu":
                raise InputError("config key 'optimizer.name': lm runs on the CPU (set run.device "
                                 "cpu; the ~10³-weight n2p2 networks gain nothing on a GPU)")
            from .lm import LevenbergMarquardt
            self.opt = LevenbergMarquardt(self.model, self.batch("train"),
                                          energy_weight=self.w["energy"],
                                          force_weight=self.w["forces"],
                                          stress_weight=self.w["stress"],
                                          stress_structures=o.lm.stress_structures,
                                          block_diagonal=o.lm.block_diagonal,
                                          force_atoms=o.lm.force_atoms, mu0=o.lm.mu0,
                                          l2=o.lm.l2, dist=self.dist,
                                          jacobian_dtype=torch.float64 if o.lm.float64_jacobians
                                          else torch.float32)
        else:
            k = o.kalman
            self.opt = KalmanFilter(self.params, epsilon=k.epsilon, q0=k.q0, qtau=k.qtau,
                                    qmin=k.qmin, eta0=k.eta0, etatau=k.etatau, etamax=k.etamax)

    # -- epochs -------------------------------------------------------------------------------
    def epoch_adam(self) -> None:
        if self.dist.parallel:
            return self._epoch_adam_parallel()
        n = len(self.data["train"])
        order = torch.randperm(n, generator=self.gen).tolist()
        bs = self.cfg.optimizer.batch_size
        w = self.w
        o = self.cfg.optimizer
        # running means cover only what the loss computes (an unfitted target needs the exact
        # pass), and they must not steer training: without a validation set the training loss
        # drives the plateau schedule and early stopping, so those keep the exact pass
        running = self.cfg.run.train_metrics == "running" and \
            all(w[k] > 0 or not self.has[k] for k in ENERGY_KEYS) and \
            (len(self.sets["validation"]) > 0 or (o.schedule != "plateau" and o.early_stopping == 0))
        acc = RunningErrors(w) if running else None
        for i in range(0, n, bs):
            b = self.batch("train", order[i:i + bs])
            self.opt.zero_grad(set_to_none=True)
            loss, _, res = self.loss(b)
            loss.backward()
            self.opt.step()
            if acc is not None:
                acc.add(res)
        self._running = acc

    def _epoch_adam_parallel(self) -> None:
        """Adam across ranks: the same global minibatches as one process (one permutation from the shared
        generator), each rank computing the loss terms of its structures in them over the global counts."""
        n = len(self.sets["train"])
        lo, hi = self.shards["train"]
        order = torch.randperm(n, generator=self.gen).tolist()
        bs = self.cfg.optimizer.batch_size
        for i in range(0, n, bs):
            mine = [k - lo for k in order[i:i + bs] if lo <= k < hi]
            self.opt.zero_grad(set_to_none=True)
            self.global_loss(self.batch("train", mine) if mine else None).backward()
            self.dist.sum_grads(self.params)
            self.opt.step()
        self._running = None

    def global_loss(self, b) -> torch.Tensor:
        """This rank's part of the loss over all ranks' structures of one (global) batch: its sums of squared
        residuals over the global counts, so that the parts add up to the loss of the whole batch. ``b`` None:
        no structure of this rank in the batch (it still takes part in the sums)."""
        keys = [k for k in ENERGY_KEYS if self.w[k] > 0]
        dev = self.model.conv_energy.device
        if b is None:
            sq = {k: sum(p.sum() * 0.0 for p in self.params) for k in keys}
            cnt = torch.zeros(len(keys), dtype=torch.float64, device=dev)
        else:
            out = self.model(b, forces=self.w["forces"] > 0, stress=self.w["stress"] > 0, create_graph=True)
            res = self._residuals(out, b)
            sq = {k: (res[k][0] ** 2).sum() for k in keys}
            cnt = torch.tensor([float(res[k][0].numel()) for k in keys], dtype=torch.float64, device=dev)
        self.dist.sum_(cnt)
        total = torch.zeros((), dtype=torch.float64, device=dev)
        for k, c in zip(keys, cnt):
            if c > 0:
                total = total + self.w[k] * sq[k] / c
        return total

    def epoch_lbfgs(self) -> None:
        b = self.batch("train")
        if self.dist.parallel:
            def closure():
                self.opt.zero_grad(set_to_none=True)
                loss = self.global_loss(b)
                loss.backward()
                self.dist.sum_grads(self.params)
                return self.dist.sum_(loss.detach().clone())
        else:
            def closure():
                self.opt.zero_grad(set_to_none=True)
                loss = self.loss(b)[0]
                loss.backward()
                return loss
        self.opt.step(closure)

    def epoch_lm(self) -> None:
        for _ in range(self.cfg.optimizer.lm.iterations):
            self.opt.step(self.gen)

    def epoch_kalman(self) -> None:
        k = self.cfg.optimizer.kalman
        d = self.data["train"]
        n = len(d)
        ce = float(self.model.conv_energy)
        # measurements in Hartree/atom and Hartree/Bohr (n2p2's usual atomic-unit data), so that
        # the kalman_* settings of n2p2 set-ups carry over unchanged
        from ..units import BOHR, HARTREE
        we = math.sqrt(self.w["energy"]) / (ce * HARTREE)
        wf = k.force_weight * math.sqrt(self.w["forces"]) * BOHR / (ce * HARTREE)
        order = torch.randperm(n, generator=self.gen).tolist()
        # which structures give an energy measurement this epoch (energy_fraction of them)
        n_e = int(round(k.energy_fraction * n))
        use_e = torch.zeros(n, dtype=torch.bool)
        use_e[torch.randperm(n, generator=self.gen)[:n_e]] = True
        u = torch.rand(n, generator=self.gen)
        rmse_f = getattr(self, "_rmse_f_int", None)
        g = k.structures_per_update
        model = self.model
        for i0 in range(0, n, g):
            idx = order[i0:i0 + g]
            b = self.batch("train", idx)
            need_f = self.w["forces"] > 0
            # per-element network outputs; dE/dG only through the networks (the selected force
            # components are contracted with their constant dG rows, no full force evaluation)
            Gs, ys = [], []
            for e, el in enumerate(model.elements):
                G = b.G[e].detach().requires_grad_(need_f)
                Gs.append(G)
                ys.append(model.atomic(el, G) if G.shape[0] else None)
            preds, errs, scale = [], [], []
            if self.w["energy"] > 0:
                e_atoms = torch.zeros(b.n_atoms, dtype=torch.float64, device=b.energy.device)
                for e, y in enumerate(ys):
                    if y is not None:
                        e_atoms = e_atoms.index_put((b.atoms[e],), y)
                E_int = torch.zeros(b.n_structures, dtype=torch.float64,
                                    device=e_atoms.device).index_add(0, b.atom_struct, e_atoms)
                ref = (b.energy - model.atom_energy[b.elem].new_zeros(1) -
                       torch.zeros_like(b.energy).index_add(0, b.atom_struct,
                                                            model.atom_energy[b.elem])) * ce
                sel = torch.tensor([bool(use_e[i]) for i in idx]) & ~torch.isnan(b.energy).cpu()
                if sel.any():
                    sel = sel.to(b.energy.device)
                    pe = (E_int / b.natoms)[sel]
                    preds.append(pe)
                    errs.append((ref / b.natoms)[sel].detach() - pe.detach())
                    scale.append(torch.full_like(pe, we))
            if need_f:
                used = [e for e, y in enumerate(ys) if y is not None]
                grads = torch.autograd.grad([ys[e].sum() for e in used], [Gs[e] for e in used],
                                            create_graph=True)
                gd = dict(zip(used, grads))
                comps = []   # (global atom, direction)
                start = 0
                for j, i in enumerate(idx):
                    na = int(b.natoms[j])
                    a0 = start
                    start += na
                    if torch.isnan(b.forces[a0, 0]):
                        continue
                    nc = 3 * na
                    m = max(1, int(math.floor(k.force_fraction * nc + float(u[i]))))
                    trials = max(k.threshold_trials, 1)
                    # drawn on the CPU (the generator's stream), used where the batch lives
                    cand = (torch.randint(0, nc, (m * trials,), generator=self.gen) + 3 * a0
                            ).to(b.forces.device)
                    if rmse_f is not None and k.force_threshold > 0:
                        F_all = self._kalman_forces(b, gd, cand).detach()
                        err = b.forces.reshape(-1)[cand] * ce - F_all
                        good = cand[err.abs() > k.force_threshold * rmse_f * ce]
                        pick = torch.cat([good, cand])[:m]
                    else:
                        pick = cand[:m]
                    comps.append(pick)
                if comps:
                    pick = torch.cat(comps)
                    Fk = self._kalman_forces(b, gd, pick)
                    preds.append(Fk)
                    errs.append(b.forces.reshape(-1)[pick] * ce - Fk.detach())
                    scale.append(torch.full((len(pick),), wf, dtype=Fk.dtype, device=Fk.device))
            if not preds:
                continue
            y = torch.cat(preds)
            xi = torch.cat(errs)
            sc = torch.cat(scale)
            eye = torch.eye(len(y), dtype=y.dtype, device=y.device)
            H = flat_grad(y, self.params, grad_outputs=eye, batched=True, retain_graph=False).T
            self.opt.update(H * sc, xi * sc)

    @staticmethod
    def _kalman_forces(b, gd: dict, comps: torch.Tensor) -> torch.Tensor:
        """Internal force components ``comps`` (3·atom + direction) from dE_int/dG ``gd``."""
        atom, c = comps // 3, comps % 3
        out = 0.0
        for e, g in gd.items():
            pj, pi, pc, dG = b.pj[e], b.pi[e], b.pc[e], b.dG[e]
            # (m, P) signs: +1 where the component's atom is the pair's neighbour, -1 its centre
            M = (pj[None, :] == atom[:, None]).to(dG.dtype) - (pi[None, :] == atom[:, None]).to(dG.dtype)
            nz = M.abs().sum(0) > 0
            if not bool(nz.any()):
                continue
            Mp, dGp, pcp = M[:, nz], dG[nz], pc[nz]                # (m, P'), (P', s, 3)
            dGc = dGp[:, :, c].permute(2, 0, 1)                    # (m, P', s)
            contrib = (g[pcp][None, :, :] * dGc).sum(-1)           # (m, P')
            out = out - (Mp * contrib).sum(-1)
        return out

    # -- checkpoints ----------------------------------------------------------------------------
    def state(self, epoch: int) -> dict:
        st = {"epoch": epoch, "model": self.model.state_dict(), "gen": self.gen.get_state(),
              "torch_rng": torch.get_rng_state(), "best_val": self.best_val,
              "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
              "rmse_f_int": -1.0 if getattr(self, "_rmse_f_int", None) is None
              else float(self._rmse_f_int)}
        if self.cfg.optimizer.name in ("adam", "lbfgs"):
            st["optimizer"] = self.opt.state_dict()
        elif self.cfg.optimizer.name == "lm":
            st["lm"] = self.opt.state_dict()
        else:
            st["kalman"] = self.opt.state_dict()
        if self.sched is not None:
            st["scheduler"] = self.sched.state_dict()
        return st

    def load(self, st: dict) -> int:
        self.model.load_state_dict(st["model"])
        self.gen.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        self.best_val, self.best_epoch = float(st["best_val"]), int(st["best_epoch"])
        self.bad_epochs = int(st["bad_epochs"])
        self._rmse_f_int = None if st["rmse_f_int"] < 0 else float(st["rmse_f_int"])
        if "optimizer" in st:
            self.opt.load_state_dict(st["optimizer"])
        if "kalman" in st:
            self.opt.load_state_dict(st["kalman"])
        if "lm" in st:
            self.opt.load_state_dict(st["lm"])
        if self.sched is not None and "scheduler" in st:
            self.sched.load_state_dict(st["scheduler"])
        return int(st["epoch"])

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> dict:
        cfg = self.cfg
        out = self.out
        ckpt = out / "checkpoint.pt"
        if self.resume:
            if not ckpt.is_file():
                raise InputError("no checkpoint to resume from", file=str(ckpt))
        elif ckpt.exists():
            raise InputError(f"run folder {out} already holds a run (use --resume RUN_DIR to "
                             "continue it, or choose another run.output)")
        out.mkdir(parents=True, exist_ok=True)
        t_start = time.perf_counter()
        self.prepare()
        if not self.resume and self.dist.main:
            C.dump_config(cfg, out / "config.yaml")
        if not any(self.w.values()):
            return self.finish_properties_only(time.perf_counter() - t_start)
        self.make_optimizer()
        self.best_val, self.best_epoch, self.bad_epochs = math.inf, -1, 0
        self.stop_reason, self.notes, self._loss_hist, self.converged = None, [], [], None
        start = 0
        if self.resume:
            start = self.load(load_state(ckpt))
            self.log(f"resumed {out} at epoch {start}")
        self.step_column = STEP_COLUMN.get(cfg.optimizer.name, "lr")
        fields = ["epoch", "time_s", "loss_train", "loss_validation", self.step_column] + \
            [f"{s}_{m}" for s in ("train", "validation", "test")
             for m in ("energy_rmse", "force_rmse", "stress_rmse")]
        csv_path = out / "metrics.csv"
        rows = []
        if self.resume and csv_path.is_file():
            with open(csv_path) as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["epoch"]) <= start]
            self.dist.barrier()        # every rank has read it before rank 0 rewrites it
        self._write_csv(csv_path, fields, rows)
        epochs = cfg.optimizer.epochs
        bar = self._progress(start, epochs)
        has_val = len(self.sets["validation"]) > 0
        if start == 0:
            self._evaluate_epoch(0, rows, fields, csv_path, t_start, bar, has_val, train_step=False)
        epoch = start
        while epoch < epochs:
            epoch += 1
            t_epoch = time.perf_counter()
            getattr(self, f"epoch_{cfg.optimizer.name}")()
            stop = self._evaluate_epoch(epoch, rows, fields, csv_path, t_start, bar, has_val)
            if epoch == 1 and cfg.run.time_budget:
                epochs = self._fit_time_budget(time.perf_counter() - t_epoch, time.perf_counter() - t_start, bar)
            if (epoch % cfg.run.checkpoint_every == 0 or epoch == epochs or stop) and self.dist.main:
                save_state(ckpt, self.state(epoch))
            if stop:
                if self.stop_reason is None and self.converged is None:
                    self.log(f"early stopping at epoch {epoch} (best {self.best_epoch})")
                break
        if bar is not None:
            bar.close()
        annealed = self._anneals() and self.stop_reason is None
        self.dist.barrier()            # rank 0 has written best.pt
        if (out / "best.pt").is_file() and has_val and not annealed:
            self.model.load_state_dict(load_state(out / "best.pt")["model"])
        elif annealed and has_val and self.best_epoch != epoch:
            # a cosine schedule anneals to its end: the final weights are the converged ones; the lowest
            # validation loss mid-run (at a high learning rate, dominated by the force term) is not a
            # better choice (rMD17 ethanol: best-loss epoch 1169 of 3218 had 1.33 meV/atom against 0.69)
            self.log(f"keeping the final (annealed) weights; the validation loss was lowest at epoch {self.best_epoch}")
        self.notes = self._final_checks(rows, has_val)
        return self.finish(time.perf_counter() - t_start)

    def _evaluate_epoch(self, epoch, rows, fields, csv_path, t_start, bar, has_val, train_step=True):
        running, self._running = self._running, None
        if train_step and running is not None:        # minibatch means of the epoch just run
            loss_tr, err_tr = running.loss(), running.errors()
        else:
            p_tr = self.predict("train")                  # one pass gives the loss and errors
            loss_tr = self.loss_of(p_tr)
            err_tr = self.errors("train", p_tr)
        if "force_rmse" in err_tr:
            self._rmse_f_int = err_tr["force_rmse"] / 1000
        row = {"epoch": epoch, "time_s": f"{time.perf_counter() - t_start:.2f}",
               "loss_train": f"{loss_tr:.6e}"}
        err_va = {}
        if has_val:
            p_va = self.predict("validation")
            loss_va = self.loss_of(p_va)
            err_va = self.errors("validation", p_va)
            row["loss_validation"] = f"{loss_va:.6e}"
            crit = loss_va
        else:
            row["loss_validation"] = ""
            crit = loss_tr
        lr = self.opt.param_groups[0]["lr"] if hasattr(self.opt, "param_groups") else \
            getattr(self.opt, "eta", getattr(self.opt, "mu", ""))
        row[self.step_column] = lr
        err_te = {}
        n_ep = self.cfg.optimizer.epochs
        if len(self.sets["test"]) and (epoch <= 1 or epoch % max(1, n_ep // 50) == 0 or epoch == n_ep):
            err_te = self.errors("test")     # for the learning curves only; never steers the run
        for s, e in (("train", err_tr), ("validation", err_va), ("test", err_te)):
            for m in ("energy_rmse", "force_rmse", "stress_rmse"):
                row[f"{s}_{m}"] = f"{e[m]:.4f}" if m in e else ""
        rows.append(row)
        self._write_csv(csv_path, fields, rows)
        stop = False
        if train_step:
            if crit < self.best_val:
                self.best_val, self.best_epoch, self.bad_epochs = crit, epoch, 0
                if self.dist.main:
                    save_state(self.out / "best.pt", {"epoch": epoch, "model": self.model.state_dict()})
            else:
                self.bad_epochs += 1
            o = self.cfg.optimizer
            if self.sched is not None:
                if o.schedule == "plateau":
                    self.sched.step(crit)
                else:
                    self.sched.step()
            stop = o.early_stopping > 0 and self.bad_epochs >= o.early_stopping
            stop = self._watch(epoch, rows, loss_tr, crit) or stop

        def pair(key, fmt):
            tr = format(err_tr.get(key, float("nan")), fmt)
            return f"{tr}/{format(err_va.get(key, float('nan')), fmt)}" if has_val else tr
        msg = (f"epoch {epoch:4d}  E {pair('energy_rmse', '.2f')} meV/atom  F "
               f"{pair('force_rmse', '.1f')} meV/Å ({'train/val' if has_val else 'train'})")
        if bar is not None:
            bar.set_postfix_str(msg[12:])
            if train_step:
                bar.update(1)
        elif self.progress_mode == "log":
            self.log(msg)
        return stop

    def _anneals(self) -> bool:
        """Adam with a cosine schedule: the learning rate decays to its end by design."""
        o = self.cfg.optimizer
        return o.name == "adam" and o.schedule == "cosine"

    def _fit_time_budget(self, t_epoch: float, elapsed: float, bar) -> int:
        """run.time_budget: the number of epochs that fit, from the first epoch's time; the cosine
        schedule is stretched to it and config.yaml records it (a resumed run keeps it)."""
        o = self.cfg.optimizer
        left = self.cfg.run.time_budget - elapsed
        n = self.dist.broadcast(max(1, 1 + int(left / max(t_epoch, 1e-9))))   # every rank runs rank 0's count
        if n < o.epochs:
            self.log(f"time budget {self.cfg.run.time_budget:.0f} s: the first epoch took {t_epoch:.2f} s "
                     f"(set-up {elapsed - t_epoch:.1f} s), so {n} epochs fit (optimizer.epochs was {o.epochs})")
            o.epochs = n
            if self._anneals():
                self.sched.T_max = max(n, 1)
            if bar is not None:
                bar.total = n
                bar.refresh()
            if self.dist.main:
                C.dump_config(self.cfg, self.out / "config.yaml")
        return o.epochs

    def _watch(self, epoch: int, rows: list, loss_tr: float, crit: float) -> bool:
        """Stop with a message when the run diverged (NaN) or the optimizer stalled (the training loss
        unchanged to 1e-9 over STALL_EPOCHS epochs, or LM's damping pinned at its maximum)."""
        if not math.isfinite(loss_tr) or not math.isfinite(crit):
            self.stop_reason = (f"training diverged at epoch {epoch} (loss is {loss_tr}); keeping the best weights "
                                f"(epoch {self.best_epoch}); lower the learning rate or the force weight")
            self.log("ERROR: " + self.stop_reason)
            return True
        self._loss_hist = (self._loss_hist + [float(loss_tr)])[-STALL_EPOCHS:]
        losses = self._loss_hist
        o = self.cfg.optimizer
        mu_pinned = (o.name == "lm" and getattr(self.opt, "mu", 0.0) >= self.opt.mu_max)
        annealed = self._anneals() and epoch > 0.8 * o.epochs   # flat by design
        flat = (len(losses) == STALL_EPOCHS and max(losses) - min(losses) <= 1e-10 * abs(max(losses))
                and not annealed)
        first = next((float(r["loss_train"]) for r in rows if int(r["epoch"]) == 1), None)
        if (mu_pinned and not flat and len(losses) >= 2 and losses[-1] >= losses[-2] and first is not None
                and loss_tr < 0.5 * first):
            # the damping pinned after the loss fell: LM has converged (a minimum of the sampled Gauss–Newton
            # model), not stalled
            self.stop_reason = None
            self.converged = (f"converged at epoch {epoch}: Levenberg–Marquardt's damping reached its maximum and "
                              f"no step lowers the training loss any more (it fell {first / max(loss_tr, 1e-300):.0f}× "
                              f"since epoch 1); the weights of the best {'validation' if len(self.sets['validation']) else 'training'} "
                              f"loss (epoch {self.best_epoch}) are kept")
            self.log("NOTE: " + self.converged)
            return True
        if flat or (mu_pinned and len(losses) >= 2 and losses[-1] >= losses[-2]):
            why = ("Levenberg–Marquardt's damping is at its maximum and no step lowers the loss" if mu_pinned
                   else f"the training loss has not changed in {STALL_EPOCHS} epochs")
            self.stop_reason = (f"the optimizer stalled at epoch {epoch}: {why}. Usual causes: symmetry functions "
                                "that barely vary on the data (check model.symmetry_functions), units of the data "
                                "or potential mixed up, a learning rate far too small"
                                + ("; try optimizer.name adam" if o.name != "adam" else ""))
            self.log("WARNING: " + self.stop_reason)
            return True
        return False

    def _final_checks(self, rows: list, has_val: bool) -> list[str]:
        """Notes for the end of a run: still improving, or best epoch long before the end."""
        notes = []
        key = "loss_validation" if has_val else "loss_train"
        hist = [(int(r["epoch"]), float(r[key])) for r in rows if r.get(key) not in ("", None) and int(r["epoch"]) > 0]
        epochs = self.cfg.optimizer.epochs
        if self.stop_reason or len(hist) < 4 or hist[-1][0] < epochs:
            return notes
        k = max(2, len(hist) // 5)
        before, last = hist[-k - 1][1], hist[-1][1]
        if last < before * (1 - IMPROVING):
            more = max(10, epochs // 2)
            notes.append(f"still improving: the {'validation' if has_val else 'training'} loss fell "
                         f"{100 * (1 - last / before):.0f}% over the last {k} epochs; continue with "
                         f"hdnnp train --resume {self.out} --epochs {epochs + more}")
        elif has_val and self.best_epoch <= max(1, epochs // 10) and last > hist[self.best_epoch - 1][1] * 1.5:
            notes.append(f"the validation loss was lowest at epoch {self.best_epoch} of {epochs} and rose after "
                         "it: the run overfits or diverges (lower the learning rate, or add data); the exported "
                         f"weights are those of epoch {self.best_epoch}")
        for n in notes:
            self.log("NOTE: " + n)
        return notes

    def _write_csv(self, path, fields, rows):
        if not self.dist.main:
            return

        def w(p):
            with open(p, "w", newline="") as fh:
                wr = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
                wr.writeheader()
                for r in rows:
                    wr.writerow(r)
        _atomic_write(path, w)

    def _progress_mode(self) -> str:
        """run.progress with 'auto' decided: a bar on a terminal, log lines otherwise."""
        if not self.dist.main:
            return "none"
        mode = self.cfg.run.progress
        return ("bar" if sys.stderr.isatty() else "log") if mode == "auto" else mode

    def _progress(self, start, epochs):
        mode = self.progress_mode = self._progress_mode()
        if mode == "bar":
            from tqdm import tqdm
            return tqdm(total=epochs, initial=start, desc="training", unit="epoch")
        return None

    # -- outputs --------------------------------------------------------------------------------
    def export(self, folder: Path):
        from ..model.n2p2 import write_potential
        if self.cfg.model.charge_input:
            from ..model.charge import write_charge_file
            pot, slopes = self.model.charge_potential(self.sfset.to_n2p2_lines(), self.cutoff_type,
                                                      self.cutoff_alpha)
            write_potential(pot, folder)
            write_charge_file(folder, slopes, [s.charge for s in self.sets["train"]], self.charge_energy)
            self.log(f"charge-aware potential: the n2p2 files in {folder} are its neutral state (Q = 0); n2p2 "
                     "cannot take the total charge as an input. charge.json holds the first-layer bias slopes "
                     "hdnnp uses for any charge (calculator, predict, md, LAMMPS 'charge Q').")
            return pot
        pot = self.model.to_potential(self.sfset.to_n2p2_lines(), self.cutoff_type,
                                      self.cutoff_alpha)
        write_potential(pot, folder)
        return pot

    def finish(self, wall: float) -> dict:
        out = self.out
        pot_dir = out / "potential"
        preds, table = {}, {}
        for name in ("train", "validation", "test"):
            if len(self.sets[name]):
                preds[name] = self.predict(name)        # every rank takes part
                table[name] = self.errors(name, preds[name])
        molecular = not any(x.is_periodic for x in self.sets["train"])
        run_meta = self._run_meta(wall)                 # a collective with several ranks
        if not self.dist.main:
            return {"errors": table, "potential": str(pot_dir), "run": str(out), "wall_s": wall,
                    "molecular": molecular, "notes": self.notes, "stopped": self.stop_reason}
        self.export(pot_dir)
        text = format_table(table, self.elements, per_structure=molecular)
        (out / "errors.txt").write_text(text)
        meta = {**run_meta, "units": {"length": "angstrom", "energy": "eV"},
                "atom_energy_eV": {el: float(self.model.atom_energy[i]) for i, el in enumerate(self.elements)},
                "optimizer": self.cfg.optimizer.name, "best_epoch": self.best_epoch,
                "stopped": self.stop_reason, "converged": self.converged, "notes": self.notes,
                "dropped_symmetry_functions": self.dropped_functions,
                "errors": table, "errors_units": "energy meV/atom, force meV/Å, stress meV/Å³"}
        if self.cfg.properties is not None:
            ptable, ptext = self.train_properties(pot_dir)
            meta["properties"] = ptable
            text += "\n" + ptext
            (out / "errors.txt").write_text(text)
        (out / "metadata.json").write_text(json.dumps(meta, indent=2))
        if self.cfg.run.plots:
            try:
                from .report import plots
                plots(out, preds)
            except Exception as exc:  # plotting never loses a trained potential
                self.log(f"plots skipped: {exc}")
        self.log(text)
        self.log(f"run folder: {out}")
        return {"errors": table, "potential": str(pot_dir), "run": str(out), "wall_s": wall, "molecular": molecular,
                "notes": self.notes, "stopped": self.stop_reason}

    # -- per-atom properties (properties: in the config) ------------------------------------------
    def train_properties(self, folder: Path) -> tuple[dict, str]:
        """Train the per-atom property networks on the cached descriptors, write them to ``folder``
        (properties.json/.npz beside the potential) with their error table and parity plots."""
        from ..properties import model as PM
        from ..properties import train as PT

        props = self.cfg.properties
        targets = PT.targets_from_config(props)
        n_sf = {el: len(self.sfset.for_element(el)) for el in self.elements}
        feats = {name: [PM.from_cached(self.data[name][k], s, targets, n_sf=[n_sf[el] for el in self.elements])
                        for k, s in enumerate(self.sets[name])] for name in ("train", "validation", "test")}
        self.log(f"per-atom targets: {', '.join(f'{t.name} ({t.kind})' for t in targets)}; networks "
                 f"{'-'.join(map(str, props.hidden))}, committee {props.committee}")
        model, info = PT.train_properties(feats, self.elements, n_sf, props, cutoff=self.sfset.max_cutoff,
                                          seed=self.cfg.run.seed, log=self.log,
                                          progress=self._bar_factory())
        PM.save(model, folder, self.sfset.to_n2p2_lines(), self.cutoff_type, self.cutoff_alpha,
                extra={"epochs": info["epochs"], "wall_s": info["wall_s"]})
        preds = PT.predict_sets(model, feats)
        table = PT.errors(model, preds)
        text = PT.format_errors(table, model.targets)
        self._write_csv(self.out / "properties_metrics.csv", ["epoch", "time_s", "lr", "loss_train",
                                                              "loss_validation"], info["history"])
        if self.cfg.run.plots:
            try:
                from ..plots import property_parity_figure
                for name, p in preds.items():
                    property_parity_figure(self.out / "plots" / f"properties_{name}.png", model, p, f"{name} set")
            except Exception as exc:  # plotting never loses trained networks
                self.log(f"property plots skipped: {exc}")
        return table, text

    def _bar_factory(self):
        if self._progress_mode() != "bar":
            return None
        from tqdm import tqdm
        return lambda **kw: tqdm(leave=False, **kw)

    def _run_meta(self, wall: float) -> dict:
        """The metadata.json fields of every run: version, elements, data files and set sizes, wall time."""
        meta = {"hdnnp_version": __version__, "elements": self.elements,
                "data": {name: sorted({str(s.source) for s in self.sets[name]}) for name in self.sets},
                "n_structures": {k: len(v) for k, v in self.sets.items()}, "wall_s": wall}
        if self.dist.parallel:
            meta["ranks"] = self.dist.world
            meta["peak_rss_mb_per_rank"] = self.dist.gather(_peak_rss_mb())
        return meta

    def finish_properties_only(self, t_prep: float) -> dict:
        """Every loss weight of the potential is 0: only the per-atom property networks are trained."""
        t0 = time.perf_counter()
        out = self.out
        self.log("no energy, force or stress terms in the loss: training the per-atom targets only")
        table, text = self.train_properties(out / "potential")
        (out / "errors.txt").write_text(text)
        wall = t_prep + time.perf_counter() - t0
        meta = {**self._run_meta(wall), "properties": table}
        (out / "metadata.json").write_text(json.dumps(meta, indent=2))
        self.log(text)
        self.log(f"run folder: {out}")
        return {"errors": {}, "properties": table, "potential": str(out / "potential"), "run": str(out),
                "wall_s": wall, "molecular": False, "notes": [], "stopped": None}


def _quiet(*args, **kwargs) -> None:
    """The log of ranks other than 0."""


def _peak_rss_mb() -> float:
    """Peak resident memory of this process (MB)."""
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


#: Adam minibatches with fewer atoms than this train on one torch thread unless run.threads says otherwise
SMALL_BATCH_ATOMS = 512

#: the metrics.csv column that holds each optimiser's step control
STEP_COLUMN = {"lm": "lm_mu", "kalman": "kalman_eta"}
#: epochs of an unchanged training loss that count as a stall
STALL_EPOCHS = 3
#: a relative fall of the loss over the last fifth of the epochs that counts as still improving
IMPROVING = 0.05


def format_table(table: dict, elements: list[str], per_structure: bool = False) -> str:
    """Errors per set; ``per_structure`` (molecules) adds energy errors per structure (meV/molecule)."""
    cols = [("energy_rmse", "E RMSE meV/at"), ("energy_mae", "E MAE meV/at")]
    if per_structure:
        cols += [("energy_rmse_per_structure", "E RMSE meV/mol"), ("energy_mae_per_structure", "E MAE meV/mol")]
    cols += [("force_rmse", "F RMSE meV/Å"), ("force_mae", "F MAE meV/Å"),
            ("stress_rmse", "S RMSE meV/Å³"), ("stress_mae", "S MAE meV/Å³")]
    if len(elements) > 1:
        for el in elements:
            cols += [(f"force_rmse_{el}", f"F_{el} RMSE"), (f"force_mae_{el}", f"F_{el} MAE")]
    lines = ["set".ljust(11) + "".join(h.rjust(15) for _, h in cols)]
    for name, e in table.items():
        lines.append(name.ljust(11) + "".join(
            (f"{e[k]:.3f}" if k in e else "-").rjust(15) for k, _ in cols))
    return "\n".join(lines) + "\n"


def train(cfg: C.TrainConfig, *, resume: bool = False, log=print) -> dict:
    if cfg.run.committee > 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise InputError("config key 'run.committee': a committee trains its members one after another in one "
                         "process; train it without --nproc/torchrun (or each member as its own data-parallel run)")
    if cfg.run.committee > 1:
        from .committee import train_committee
        return train_committee(cfg, resume=resume, log=log)
    return Trainer(cfg, resume=resume, log=log).run()
