"""Training configuration: one YAML file, validated once when loaded, passed on as plain dataclasses.

Every error names the offending key (dotted path, e.g. ``optimizer.name``) and what is allowed.
``resolved_dict(config)`` gives the full configuration with every default filled in; the trainer
writes it to ``RUN_DIR/config.yaml`` so that a run can be repeated exactly.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml

from ..errors import InputError

__all__ = ["DataFile", "DataConfig", "SymmetryFunctionConfig", "EmbeddingConfig", "ModelConfig", "LossConfig",
           "KalmanConfig", "LMConfig", "OptimizerConfig", "RunConfig", "TrainConfig", "TargetConfig", "PropertiesConfig", "load_config",
           "config_from_dict", "resolved_dict", "dump_config", "init_config_text", "LabelConfig", "label_reference"]

ACTIVATION_LETTERS = "ltsprgcSeh"


@dataclass
class DataFile:
    """One data file: ``path`` (any format ``hdnnp.io.read`` knows), optional ``format`` and the
    units the file is in (converted to eV/Å on reading)."""
    path: str
    format: Optional[str] = None
    length_unit: Literal["angstrom", "bohr"] = "angstrom"
    energy_unit: Literal["ev", "hartree"] = "ev"


@dataclass
class LabelConfig:
    """Label every data file with a reference code through the label store before training: the files
    give the structures, the reference their energies, forces and stress (labels in the files are
    replaced). Labels already in the store are reused, so a rerun or another run costs nothing."""
    #: a preset name (hdnnp label --list-references), a YAML file, or a mapping {code: ..., setting: ...}
    reference: Any = None
    #: label store (ASE SQLite database), relative to the config file
    store: str = "labels.db"
    #: worker processes (null: the cores available; 0: in this process)
    workers: Optional[int] = None
    #: a Dask scheduler: local, tcp://host:port, slurm or pbs (null: local worker processes)
    scheduler: Optional[str] = None


@dataclass
class DataConfig:
    train: list[DataFile] = field(default_factory=list)
    #: explicit test files; when empty, ``test_fraction`` of ``train`` is held out as test set
    test: list[DataFile] = field(default_factory=list)
    validation_fraction: float = 0.1
    test_fraction: float = 0.0
    #: split order seed (defaults to run.seed)
    split_seed: Optional[int] = None
    #: label the files with a reference code first (see LabelConfig); null: use the files' labels
    label: Optional[LabelConfig] = None


@dataclass
class AutoSymmetryFunctions:
    """Generate candidate grids and select the most informative functions on the training split
    (``hdnnp sf auto``); the chosen lines are written into the run folder's config.yaml."""
    #: symmetry functions kept per element
    budget: int = 32
    #: cutoff radius in Å (default: from the data, at least 6 Å)
    cutoff: Optional[float] = None
    kind: Literal["gaussian", "compact"] = "gaussian"
    method: Literal["cur", "fps"] = "cur"
    #: candidates: ``adaptive`` (Gaussian grids placed where the training data have neighbours) or
    #: ``systematic`` (Imbalzano grids, or the compact grids for kind compact)
    grid: Literal["adaptive", "systematic"] = "adaptive"
    #: column scaling before ranking: ``range`` (min-max, as the network sees them) or ``std``
    scaling: Literal["range", "std"] = "range"
    #: at least this fraction of the kept functions per element is radial
    min_radial: float = 0.5
    #: ζ values of the angular candidates (null: 1, 2, 4 for the adaptive grid)
    zetas: Optional[list[float]] = None


@dataclass
class SymmetryFunctionConfig:
    """Exactly one of ``input_nn`` (an n2p2 input.nn to take the ``symfunction_short`` lines, elements
    and cutoff type from), ``lines`` (n2p2 ``symfunction_short`` argument strings) or ``auto``
    (generate + select on the training data; ``symmetry_functions: auto`` is short for ``auto: {}``).
    SF lengths are in ``length_unit`` (converted to Å internally; the exported potential is in Å)."""
    input_nn: Optional[str] = None
    lines: list[str] = field(default_factory=list)
    auto: Optional[AutoSymmetryFunctions] = None
    cutoff_type: int = 1
    cutoff_alpha: float = 0.0
    length_unit: Literal["angstrom", "bohr"] = "angstrom"


@dataclass
class EmbeddingConfig:
    """Learned element embedding (``model.embedding``; absent = off): the element-resolved SFs
    that differ only in their neighbour element(s) are mixed into ``channels`` channels per SF
    shape with learned weights w[e, k] (radial: Σ_e w[e,k] G_e, angular: Σ_{e1≤e2}
    w[e1,k] w[e2,k] G_e1e2), so the network input length (shapes × channels) does not grow with
    the number of elements. The SFs must be element-resolved (types 2, 3, 9, 20, 21, 22). The
    exported n2p2 potential folds the mixing into the first layer (same predictions)."""
    #: mixed channels per SF shape (K)
    channels: int = 4


@dataclass
class ModelConfig:
    #: chemical symbols; empty = all elements found in the training data
    elements: list[str] = field(default_factory=list)
    symmetry_functions: SymmetryFunctionConfig = field(default_factory=SymmetryFunctionConfig)
    #: learned element embedding on the element-resolved SFs (see EmbeddingConfig); null = off
    embedding: Optional[EmbeddingConfig] = None
    hidden: list[int] = field(default_factory=lambda: [24, 24])
    #: n2p2 activation letter for the hidden layers (t tanh, p softplus, s logistic, ...);
    #: the output layer is linear
    activation: str = "t"
    scaling: Literal["none", "scale", "center", "scale_center", "scale_sigma"] = "scale_center"
    scale_min: float = 0.0
    scale_max: float = 1.0
    #: per-element reference energies by linear least squares before training (n2p2 atom_energy)
    fit_atom_energies: bool = True
    #: the structure's total charge (e; extxyz charge=, n2p2 'charge' lines) as one more input of every atomic
    #: network, so that one potential covers several charge states (hdnnp.model.charge); the training set must
    #: hold at least two charge states
    charge_input: bool = False


@dataclass
class LossConfig:
    """Weights of the target terms. Energies enter per atom (eV/atom), forces per component
    (eV/Å), stress per component in units of 10 meV/Å³ (100·σ with σ in eV/Å³; only structures that have a stress and are
    periodic in 3D). With ``lm``, energy 1, forces 0.05, stress 0.0005 balance mlearn Si well."""
    energy: float = 1.0
    forces: float = 1.0
    stress: float = 0.0


@dataclass
class KalmanConfig:
    """n2p2's standard global extended Kalman filter (``kalman_*`` keywords). Each epoch visits the
    training structures in random order; one update combines ``structures_per_update`` structures:
    their per-atom energies (for ``energy_fraction`` of the structures) and ``force_fraction`` of
    their force components (random, stochastically rounded, at least one), as one observation
    vector. ``structures_per_update: 1`` with force_fraction·3N ≈ 1 is n2p2's scheme."""
    epsilon: float = 0.01
    q0: float = 0.01
    qtau: float = 2.302
    qmin: float = 1e-6
    eta0: float = 0.01
    etatau: float = 2.302
    etamax: float = 1.0
    #: fraction of the training structures used for energy updates per epoch (n2p2 energy_fraction)
    energy_fraction: float = 1.0
    #: fraction of each structure's force components used per epoch (n2p2 force_fraction)
    force_fraction: float = 0.02315
    #: force measurements are scaled by this (n2p2 force_weight)
    force_weight: float = 10.0
    #: structures combined in one Kalman update (one observation vector)
    structures_per_update: int = 1
    #: only components whose error exceeds this times the current RMSE are used (n2p2 selection
    #: mode 2, rmse_threshold_force), tried up to ``threshold_trials`` times
    force_threshold: float = 1.0
    energy_threshold: float = 0.0
    threshold_trials: int = 3


@dataclass
class LMConfig:
    """Levenberg–Marquardt (damped Gauss–Newton) on all training energies plus the force
    components of ``force_atoms`` random atoms per iteration, with analytic Jacobians (see
    ``hdnnp.training.lm``). The loss weights are ``loss.energy`` (eV/atom)² and ``loss.forces``
    (eV/Å)². Full-batch: the whole training set's descriptors must be cached."""
    #: LM iterations per epoch
    iterations: int = 10
    #: atoms whose 3 force components enter each iteration (the rest of the Jacobian is energies)
    force_atoms: int = 1000
    #: initial damping μ (relative to the mean diagonal of JᵀJ)
    mu0: float = 0.01
    #: structures whose stress rows enter each iteration (0 = all that have a stress)
    stress_structures: int = 0
    #: keep only each element network's block of the Gauss–Newton matrix (cheaper with several
    #: elements or wide networks: cost ∝ Σ_el n_el³ instead of (Σ_el n_el)³). With
    #: ``model.embedding`` the shared embedding couples the networks and the full matrix is used
    block_diagonal: bool = False
    #: Jacobians and the full-set force sums in float64 instead of float32 (the sums over atoms and the
    #: acceptance test are float64 either way). About twice the time per iteration; with it a data-parallel
    #: run takes the same steps as one process to float64 rounding (with float32, to float32 rounding)
    float64_jacobians: bool = False
    #: L2 penalty ``l2 · Σ w²`` on the network weights added to the loss (0 = none)
    l2: float = 0.0


@dataclass
class OptimizerConfig:
    #: adam, lbfgs, kalman (n2p2's global EKF) or lm (Levenberg–Marquardt, fastest for the
    #: small n2p2-style networks)
    name: Literal["adam", "lbfgs", "kalman", "lm"] = "adam"
    epochs: int = 100
    #: structures per Adam step
    batch_size: int = 8
    lr: float = 3e-3
    weight_decay: float = 0.0
    #: learning-rate schedule for Adam: reduce on validation plateau, cosine, or constant
    schedule: Literal["plateau", "cosine", "none"] = "plateau"
    schedule_factor: float = 0.5
    schedule_patience: int = 10
    min_lr: float = 1e-5
    #: stop when the validation loss has not improved for this many epochs (0 = never)
    early_stopping: int = 0
    #: L-BFGS: iterations per epoch and history size (full-batch)
    lbfgs_iterations: int = 20
    lbfgs_history: int = 50
    kalman: KalmanConfig = field(default_factory=KalmanConfig)
    lm: LMConfig = field(default_factory=LMConfig)


@dataclass
class RunConfig:
    output: str = "run"
    seed: int = 1
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    #: store cached descriptor derivatives as float32 (half the memory)
    float32_cache: bool = False
    #: beyond this many GB the descriptors are computed on the fly instead of cached
    max_cache_gb: float = 8.0
    #: checkpoint every N epochs (and at every new best validation loss)
    checkpoint_every: int = 1
    #: torch CPU threads (0: the cores this process may use, hdnnp.threads.available_cores)
    threads: int = 0
    #: training-set errors per epoch: "running" (Adam: from the epoch's minibatches while the
    #: weights move, no extra pass) or "exact" (a full pass over the training set after every
    #: epoch, ~1/4 more time for Adam). Only the log differs: the other optimisers, and Adam
    #: runs whose training loss steers them (no validation set with the plateau schedule or
    #: early stopping), always use the exact pass
    train_metrics: Literal["running", "exact"] = "running"
    #: progress: auto (bar on a terminal, log lines otherwise), bar, log, none
    progress: Literal["auto", "bar", "log", "none"] = "auto"
    plots: bool = True
    #: wall-time budget of the run in seconds (null: none). After the first epoch the trainer times it
    #: and lowers optimizer.epochs to what fits (the cosine schedule follows); config.yaml records it
    time_budget: Optional[float] = None
    #: train a committee of this many members (seeds run.seed, run.seed+1, ...; one training split and
    #: one symmetry-function set), written as one potential folder with the members' spread
    #: (committee.json); run.time_budget is shared among the members
    committee: int = 1


@dataclass
class TargetConfig:
    """One per-atom target (``properties.targets``): a per-atom array of the data (an extxyz per-atom
    column, or a label a reference code made, e.g. ``shielding`` from pyscf with ``nmr: true``,
    ``charges`` from tblite or GPAW)."""
    #: the per-atom array's name in the data (Structure.atom_properties)
    name: str = ""
    #: scalar (one number per atom) or tensor (a symmetric 3×3 tensor per atom, 9 columns in extxyz)
    kind: Literal["scalar", "tensor"] = "scalar"
    #: weight of this target in the loss (residuals in units of the target's spread per element)
    weight: float = 1.0
    #: unit label written in tables and plots (e.g. ppm, e); values are used as read
    unit: str = ""
    #: scalars only: shift the predictions so that they sum to the structure's total charge exactly
    total_charge: bool = False
    #: elements that carry the target (empty: all)
    elements: list[str] = field(default_factory=list)
    #: charges by charge equilibration (needs total_charge: true): the networks give each atom's
    #: electronegativity from its environment, and the charges minimise the electrostatic energy of the whole
    #: structure (Gaussian charges, Ewald for periodic cells) at its total charge — for charges that depend on more
    #: than the local environment (hdnnp.properties.qeq)
    equilibrate: bool = False
    #: charges that answer to the electrostatic potential (scalars; with total_charge: true): besides its local
    #: charge, charge flows between every two neighbours in proportion to the difference of the potential that the
    #: other atoms' charges make at the two (Ewald for periodic cells), with a susceptibility the networks give from
    #: both environments — how a molecule in a liquid polarises in its neighbours' field (hdnnp.properties)
    response: bool = False
    #: the width (Å) of the Gaussian charges whose potential drives the response (ethanol's O charges: 0.75 gave
    #: 0.299 of the spread, 1.5 gave 0.385)
    response_width: float = 0.75


@dataclass
class PropertiesConfig:
    """Per-atom targets learned by their own atomic networks on the model's symmetry functions (scaled
    the same way): scalars directly; symmetric tensors as an isotropic network output times the unit
    matrix plus Σ_j Σ_k c_k(G_i) φ_k(r_ij) (r̂_ij r̂_ijᵀ − I/3) over the neighbours j, with radial
    Gaussians φ_k per neighbour element, so the tensor rotates exactly with the structure. Trained with
    Adam after the potential (or alone when every loss weight is 0); written as properties.json and
    properties.npz beside the potential."""
    targets: list[TargetConfig] = field(default_factory=list)
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    activation: str = "t"
    #: radial Gaussians per neighbour element in the tensor construction
    basis: int = 8
    epochs: int = 500
    batch_size: int = 16
    lr: float = 3e-3
    min_lr: float = 1e-5
    #: decoupled weight decay (AdamW) per step, relative to the learning rate; 0: plain Adam. Against
    #: overfitting where an element has few atoms in the training set
    weight_decay: float = 0.0
    #: independent networks (seeds run.seed, +1, ...) whose mean is the prediction and whose spread is
    #: the uncertainty
    committee: int = 1
    #: committees only: every member holds out its own random validation structures (as many as
    #: data.validation_fraction gives), drawn from the training and validation structures together, so the
    #: committee as a whole learns from all of them and its members differ by their data as well as their start
    member_splits: bool = False
    #: every atom's networks also see its neighbours' symmetry functions: per neighbour element the sum over the
    #: neighbours within the cutoff of their scaled functions times the cosine cutoff (invariant; it carries what
    #: three-body functions miss, such as torsions, and the neighbours' own environments)
    neighbour_features: bool = False
    #: seconds for the property training (null: none); after the first epoch the epochs are fitted to it
    time_budget: Optional[float] = None


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    run: RunConfig = field(default_factory=RunConfig)
    #: per-atom targets (see PropertiesConfig); null: none
    properties: Optional[PropertiesConfig] = None
    #: folder relative paths in the file are resolved against (set on loading)
    base_dir: str = "."


# --- generic validation ----------------------------------------------------------------------
def _err(key: str, msg: str, file) -> InputError:
    return InputError(f"config key '{key}': {msg}", file=file)


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is Union:
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    return getattr(tp, "__name__", str(tp))


def _convert(value, tp, key: str, file):
    origin = typing.get_origin(tp)
    if origin is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(value, args[0], key, file)
    if origin is Literal:
        allowed = typing.get_args(tp)
        v = value.lower() if isinstance(value, str) and all(isinstance(a, str) for a in allowed) \
            and value.lower() in allowed else value
        if v not in allowed:
            raise _err(key, f"{value!r} is not allowed; use {_type_name(tp)}", file)
        return v
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            if inner is DataFile and isinstance(value, (str, dict)):
                value = [value]
            elif inner is str and isinstance(value, str):
                value = [value]
            else:
                raise _err(key, f"expected {_type_name(tp)}, got {value!r}", file)
        return [_convert(v, inner, f"{key}[{i}]", file) for i, v in enumerate(value)]
    if tp is DataFile and isinstance(value, str):
        value = {"path": value}
    if tp is TargetConfig and isinstance(value, str):
        value = {"name": value}
    if dataclasses.is_dataclass(tp):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise _err(key, f"expected {_type_name(tp)}, got {value!r}", file)
        return _build(tp, value, key, file)
    if tp is bool:
        if not isinstance(value, bool):
            raise _err(key, f"expected true or false, got {value!r}", file)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _err(key, f"expected an integer, got {value!r}", file)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
            raise _err(key, f"expected a number, got {value!r}", file)
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise _err(key, f"expected a string, got {value!r}", file)
        return str(value)
    return value


def _build(cls, d: dict, prefix: str, file):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for k in d:
        if k not in names or k == "base_dir":
            where = f"{prefix}.{k}" if prefix else str(k)
            allowed = sorted(n for n in names if n != "base_dir")
            raise _err(where, f"unknown key; allowed here: {', '.join(allowed)}", file)
    kwargs = {}
    for k, v in d.items():
        kwargs[k] = _convert(v, hints[k], f"{prefix}.{k}" if prefix else k, file)
    return cls(**kwargs)


def _check(cfg: TrainConfig, file) -> None:
    def need(cond, key, msg):
        if not cond:
            raise _err(key, msg, file)

    need(len(cfg.data.train) > 0, "data.train", "at least one training data file is needed")
    need(0.0 <= cfg.data.validation_fraction < 1.0, "data.validation_fraction",
         "must be in [0, 1)")
    need(0.0 <= cfg.data.test_fraction < 1.0, "data.test_fraction", "must be in [0, 1)")
    need(cfg.data.validation_fraction + cfg.data.test_fraction < 1.0, "data.test_fraction",
         "validation_fraction + test_fraction must be < 1")
    need(cfg.run.time_budget is None or cfg.run.time_budget > 0, "run.time_budget", "must be > 0 seconds")
    need(1 <= cfg.run.committee <= 64, "run.committee", "must be between 1 and 64 members")
    if cfg.data.label is not None:
        need(cfg.data.label.reference is not None, "data.label.reference",
             "name the reference: a preset, a YAML file or a mapping with 'code'")
        try:
            label_reference(cfg)
        except InputError as exc:
            raise InputError(exc.reason, file=file, key=exc.key or "data.label.reference") from None
    sf = cfg.model.symmetry_functions
    need(bool(sf.input_nn) + bool(sf.lines) + (sf.auto is not None) == 1, "model.symmetry_functions",
         "give exactly one of 'input_nn' (an n2p2 input.nn), 'lines' (symfunction_short lines) or "
         "'auto' (chosen on the training data)")
    if sf.auto is not None:
        need(sf.auto.budget >= 1, "model.symmetry_functions.auto.budget", "must be >= 1")
        need(0.0 <= sf.auto.min_radial <= 1.0, "model.symmetry_functions.auto.min_radial",
             "must be a fraction in [0, 1]")
        need(sf.auto.cutoff is None or sf.auto.cutoff > 0, "model.symmetry_functions.auto.cutoff",
             "must be > 0 (Å)")
    need(0 <= sf.cutoff_type <= 8, "model.symmetry_functions.cutoff_type",
         "must be one of n2p2's cutoff types 0-8")
    if cfg.model.embedding is not None:
        need(cfg.model.embedding.channels >= 1, "model.embedding.channels",
             "must be an integer >= 1 (mixed channels per symmetry-function shape)")
    need(len(cfg.model.hidden) >= 1 and all(h > 0 for h in cfg.model.hidden), "model.hidden",
         "a non-empty list of positive layer sizes")
    need(len(cfg.model.activation) == 1 and cfg.model.activation in ACTIVATION_LETTERS,
         "model.activation", f"one n2p2 activation letter of {ACTIVATION_LETTERS!r} "
         "(t tanh, p softplus, s logistic, l linear, r relu, g gaussian, c cos, S reverse "
         "logistic, e exp, h harmonic)")
    need(cfg.model.scale_max > cfg.model.scale_min, "model.scale_max", "must exceed scale_min")
    if cfg.model.charge_input:
        need(cfg.model.embedding is None, "model.charge_input", "cannot be combined with model.embedding yet")
        need(cfg.run.committee == 1, "model.charge_input", "committees (run.committee > 1) of charge-aware "
             "potentials are not supported yet; train the members separately")
    for k in ("energy", "forces", "stress"):
        need(getattr(cfg.loss, k) >= 0, f"loss.{k}", "must be >= 0")
    props = cfg.properties
    need(cfg.loss.energy + cfg.loss.forces + cfg.loss.stress > 0 or (props is not None and props.targets),
         "loss", "all weights are 0 and no per-atom targets are named (properties.targets)")
    if props is not None:
        from ase.data import atomic_numbers
        need(len(props.targets) >= 1, "properties.targets", "name at least one per-atom target")
        names = [t.name for t in props.targets]
        need(len(set(names)) == len(names), "properties.targets", f"a target is named twice: {names}")
        for i, t in enumerate(props.targets):
            key = f"properties.targets[{i}]"
            need(bool(t.name), f"{key}.name", "name the per-atom array (e.g. charges, shielding)")
            need(t.weight > 0, f"{key}.weight", "must be > 0")
            need(not (t.total_charge and t.kind != "scalar"), f"{key}.total_charge",
                 "only scalar targets (charges) can be constrained to the total charge")
            need(not t.equilibrate or (t.total_charge and not t.elements), f"{key}.equilibrate",
                 "charge equilibration needs total_charge: true and every element carrying the charge (no "
                 "'elements' list)")
            need(not t.response or (t.kind == "scalar" and t.total_charge and not t.elements and not t.equilibrate),
                 f"{key}.response", "the potential response is for charges: a scalar target with total_charge: true, "
                 "every element carrying it (no 'elements' list), and not with equilibrate")
            need(t.response_width > 0, f"{key}.response_width", "must be > 0 (Å)")
            for el in t.elements:
                need(atomic_numbers.get(el, 0) > 0, f"{key}.elements", f"unknown element {el!r}")
        need(len({t.response_width for t in props.targets if t.response}) <= 1, "properties.targets",
             "targets with the potential response share one response_width")
        need(len(props.hidden) >= 1 and all(h > 0 for h in props.hidden), "properties.hidden",
             "a non-empty list of positive layer sizes")
        need(props.activation in "tspl" and len(props.activation) == 1, "properties.activation",
             "one of t (tanh), s (logistic), p (softplus), l (linear)")
        need(1 <= props.basis <= 64, "properties.basis", "must be between 1 and 64")
        need(props.epochs >= 1, "properties.epochs", "must be >= 1")
        need(props.batch_size >= 1, "properties.batch_size", "must be >= 1")
        need(props.lr > 0 and props.min_lr > 0, "properties.lr", "lr and min_lr must be > 0")
        need(1 <= props.committee <= 64, "properties.committee", "must be between 1 and 64")
        need(props.time_budget is None or props.time_budget > 0, "properties.time_budget", "must be > 0 seconds")
    o = cfg.optimizer
    need(o.epochs >= 0, "optimizer.epochs", "must be >= 0")
    need(o.batch_size >= 1, "optimizer.batch_size", "must be >= 1")
    need(o.lr > 0, "optimizer.lr", "must be > 0")
    need(o.lbfgs_iterations >= 1, "optimizer.lbfgs_iterations", "must be >= 1")
    k = o.kalman
    need(0 < k.energy_fraction <= 1 or k.energy_fraction == 0, "optimizer.kalman.energy_fraction",
         "must be in [0, 1]")
    need(0 <= k.force_fraction <= 1, "optimizer.kalman.force_fraction", "must be in [0, 1]")
    need(k.structures_per_update >= 1, "optimizer.kalman.structures_per_update", "must be >= 1")
    need(k.epsilon > 0 and k.eta0 > 0 and k.etamax > 0, "optimizer.kalman",
         "epsilon, eta0 and etamax must be > 0")
    need(o.lm.iterations >= 1, "optimizer.lm.iterations", "must be >= 1")
    need(o.lm.force_atoms >= 1, "optimizer.lm.force_atoms", "must be >= 1")
    need(o.lm.mu0 > 0, "optimizer.lm.mu0", "must be > 0")
    need(o.lm.l2 >= 0, "optimizer.lm.l2", "must be >= 0")
    need(o.lm.stress_structures >= 0, "optimizer.lm.stress_structures", "must be >= 0")
    if o.name == "lm":
        need(cfg.model.activation in "ltsp", "model.activation",
             "the lm optimiser supports the activations l, t, s and p")
    need(cfg.run.checkpoint_every >= 1, "run.checkpoint_every", "must be >= 1")
    need(cfg.run.max_cache_gb >= 0, "run.max_cache_gb", "must be >= 0")


def config_from_dict(d: dict, *, file: str | None = None, base_dir: str = ".") -> TrainConfig:
    """Validate a configuration mapping (as read from YAML) and build the dataclasses."""
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise InputError("the configuration must be a mapping of sections (data, model, loss, "
                         "optimizer, run)", file=file)
    model = d.get("model")
    if isinstance(model, dict) and model.get("symmetry_functions") == "auto":
        d = {**d, "model": {**model, "symmetry_functions": {"auto": {}}}}
    cfg = _build(TrainConfig, d, "", file)
    cfg.base_dir = str(base_dir)
    _check(cfg, file)
    return cfg


def load_config(path) -> TrainConfig:
    path = Path(path)
    if not path.is_file():
        raise InputError("configuration file not found", file=str(path))
    try:
        d = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", file=str(path)) from None
    return config_from_dict(d, file=str(path), base_dir=str(path.resolve().parent))


def label_reference(cfg: TrainConfig):
    """The validated reference of ``data.label`` (a file name is relative to the config file)."""
    from ..references import PRESETS, get_reference

    spec = cfg.data.label.reference
    if isinstance(spec, str) and spec not in PRESETS:
        spec = str(resolve_path(cfg, spec))
    return get_reference(spec, where="data.label.reference")


def resolve_path(cfg: TrainConfig, p: str) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else Path(cfg.base_dir) / q


def resolved_dict(cfg: TrainConfig) -> dict:
    """Plain mapping of the full configuration (all defaults filled in, paths absolute)."""
    d = dataclasses.asdict(cfg)
    d.pop("base_dir")
    for sec in ("train", "test"):
        for f in d["data"][sec]:
            f["path"] = str(resolve_path(cfg, f["path"]).resolve())
    sf = d["model"]["symmetry_functions"]
    if sf["input_nn"]:
        sf["input_nn"] = str(resolve_path(cfg, sf["input_nn"]).resolve())
    d["run"]["output"] = str(resolve_path(cfg, d["run"]["output"]).resolve())
    lab = d["data"].get("label")
    if lab:
        lab["store"] = str(resolve_path(cfg, lab["store"]).resolve())
        from ..references import PRESETS
        if isinstance(lab["reference"], str) and lab["reference"] not in PRESETS:
            lab["reference"] = str(resolve_path(cfg, lab["reference"]).resolve())
    return d


def dump_config(cfg: TrainConfig, path) -> None:
    Path(path).write_text("# resolved hdnnp training configuration (every default written)\n"
                          + yaml.safe_dump(resolved_dict(cfg), sort_keys=False))


def init_config_text(train_files: list[str], elements: list[str], *, test_files=(),
                     length_unit="angstrom", energy_unit="ev", sf_lines: list[str] | None = None,
                     has_forces=True, has_stress=False, output="run") -> str:
    """A commented starting configuration for a data set."""
    def files(fs):
        return "\n".join(f"    - {{path: {f}, length_unit: {length_unit}, energy_unit: "
                         f"{energy_unit}}}" for f in fs) or "    []"
    sf = "\n".join(f"      - \"{s}\"" for s in (sf_lines or []))
    return f"""# hdnnp training configuration (hdnnp train CONFIG). Units: eV and Å unless stated.
data:
  train:            # any format hdnnp.io.read knows; units of each file
{files(train_files)}
  test:             # explicit test files; when empty, test_fraction of train is held out
{files(test_files) if test_files else "    []"}
  validation_fraction: 0.1
  test_fraction: {0.0 if test_files else 0.1}
model:
  elements: [{", ".join(elements)}]
  symmetry_functions:
    # either input_nn: path/to/input.nn (takes its symfunction_short lines), or lines below
    # (n2p2 syntax without the keyword; lengths in length_unit)
    length_unit: angstrom
    cutoff_type: 1          # n2p2 cutoff type (1 = cosine)
    lines:
{sf}
  hidden: [24, 24]          # hidden layer sizes
  activation: t             # n2p2 letter: t tanh, p softplus, s logistic, ...
  scaling: scale_center     # none, scale, center, scale_center, scale_sigma (n2p2 modes)
loss:                       # weights of the target terms
  energy: 1.0               # per-atom energy, eV/atom
  forces: {0.05 if has_forces else 0.0}              # force components, (eV/Å)²; 0.05 suits lm
  stress: {0.0005 if has_stress else 0.0}            # stress components in units of 10 meV/Å³, squared (only where the data has it)
optimizer:
  name: lm                  # lm (Levenberg–Marquardt, fastest for n2p2-size networks),
                            # adam, lbfgs or kalman (n2p2's global extended Kalman filter)
  epochs: 20
  lm:
    iterations: 10          # LM iterations per epoch
    force_atoms: 1000       # atoms whose force components enter each iteration
  batch_size: 8             # adam
  lr: 0.003                 # adam / lbfgs
  schedule: plateau         # adam: plateau, cosine, none
  early_stopping: 0         # epochs without validation improvement before stopping (0 = never)
run:
  output: {output}
  seed: 1
  device: cpu               # cpu, cuda, auto
  float32_cache: false      # store descriptor derivatives in float32
  train_metrics: running    # adam: per-epoch training errors as minibatch means (exact: a full pass)
"""
