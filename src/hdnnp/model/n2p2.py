"""n2p2 potential folders (``input.nn``, ``scaling.data``, ``weights.ZZZ.data``): read and write.

Semantics follow n2p2 (libnnp ``Settings``/``Mode``/``Element``/``SymFnc``/``NeuralNetwork``):

Elements
    ``elements`` is sorted by atomic number (n2p2's ``ElementMap``); this is "n2p2 order", the
    order of ``e_index`` in scaling.data.

Symmetry functions
    n2p2 sorts each element's SFs; the scaling.data rows and the network inputs follow that
    sorted order. The sorting itself is done by ``hdnnp.descriptors`` (``symmetry_functions``);
    here the raw ``symfunction_short`` lines are kept (``sf_lines``), and the number of SFs per
    element is the number of lines whose first token (central element) is that element.

Scaling (``Scaling.mode``, n2p2's ``SymFnc::ScalingType``; ``scale_min_short``/``scale_max_short``
default to 0/1 for the modes that use them), with ``f = (Smax-Smin)/(Gmax-Gmin)`` or
``(Smax-Smin)/Gsigma``:
    0 none (no keyword)                            Gs = G
    1 ``scale_symmetry_functions``                 Gs = Smin + f (G - Gmin)
    2 ``center_symmetry_functions``                Gs = G - Gmean
    3 both of the above                            Gs = Smin + f (G - Gmean)
    4 ``scale_symmetry_functions_sigma``           Gs = Smin + f (G - Gmean)     (f with Gsigma)
    (n2p2 checks them in this order: ``scale`` without ``center`` wins over ``sigma``.)

Units and normalisation (``mean_energy``, ``conv_energy``, ``conv_length``; all three or none)
    n2p2 works internally with ``r_int = r·conv_length`` and
    ``E_int = (E - Σ_atoms atom_energy(el) - N·mean_energy)·conv_energy``.
    The networks output E_i in internal units. Symmetry-function parameters are converted the
    same way as positions, so **G is the same number in file units and internal units**: the
    descriptors can be computed from positions in the *file* units with the input.nn parameters
    as written, and fed to the networks unchanged. Then, in the file's physical units:

    * per-atom NN energy (``atomic_energies.txt``):  ``E_i = E_i_int / conv_energy``
    * total:  ``E = (Σ_i E_i_int) / conv_energy + N·mean_energy + Σ_i atom_energy(el_i)``
      (n2p2 computes exactly this: sum in internal units in atom order, divide, add N·mean,
      then add the offsets)
    * forces, with positions and SF parameters in file units:
      ``F_a = -(1/conv_energy) Σ_i Σ_k (dE_i_int/dG_ik) · dG_ik/dr_a``; no conv_length appears
      (``dG/dr_file = conv_length · dG/dr_int``, so this equals n2p2's
      ``F_phys = F_int · conv_length / conv_energy``). An evaluator that instead works with
      internal positions (r·conv_length and converted SF parameters) must multiply its
      forces by ``conv_length/conv_energy``. ``mean_energy`` and the offsets do not affect forces.
    * stress/virial in file units likewise: ``W = -(1/conv_energy) Σ r ⊗ dE_int/dr``.
    Without normalisation the three default to 0/1/1.

    The files carry no unit names. ``length_unit``/``energy_unit`` ("bohr"/"angstrom",
    "hartree"/"ev") are taken from an optional ``UNITS`` file (``<length> <energy>``) or the
    arguments of ``read_potential``; hdnnp works in eV/Å, so an evaluator converts positions
    Å → file length unit before computing G and multiplies energies by the energy unit in eV
    (forces by energy-unit/length-unit), exactly like LAMMPS' ``cflength``/``cfenergy``.

Networks
    ``global_hidden_layers_short``, ``global_nodes_short``, ``global_activation_short``
    (hidden letters then the output letter; only a linear output ``l`` is supported), per-element
    ``element_nodes_short <el> <layer> <nodes>`` (layer 1 = first hidden layer) and
    ``normalize_nodes``. weights.ZZZ.data order: per layer, weights with the previous-layer
    neuron as outer and the current-layer neuron as inner loop, then the layer's biases.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from ase.data import atomic_numbers

from ..errors import InputError, UnsupportedFeatureError

__all__ = [
    "ElementNetwork", "ElementScaling", "Keyword", "Potential", "read_potential", "write_potential",
    "SCALING_NONE", "SCALING_SCALE", "SCALING_CENTER", "SCALING_SCALE_CENTER", "SCALING_SCALE_SIGMA",
]

SCALING_NONE, SCALING_SCALE, SCALING_CENTER, SCALING_SCALE_CENTER, SCALING_SCALE_SIGMA = range(5)
SCALING_NAMES = {0: "none", 1: "scale", 2: "center", 3: "scale+center", 4: "scale+sigma"}

ACTIVATIONS = "ltsprgcSeh"  # n2p2 letters: linear, tanh, logistic, softplus, relu, gaussian, cos,
#                              reverse logistic, exp, harmonic

# --- keyword tables (n2p2 Settings' known keywords, master incl. 4G) ------------------------------
#: keywords that define the 2G model and that hdnnp implements
MODEL_KEYWORDS = {
    "number_of_elements", "elements", "atom_energy", "cutoff_type", "symfunction_short",
    "scale_symmetry_functions", "scale_min_short", "scale_max_short", "center_symmetry_functions",
    "scale_symmetry_functions_sigma", "global_hidden_layers_short", "global_nodes_short",
    "global_activation_short", "element_nodes_short", "normalize_nodes", "mean_energy",
    "conv_length", "conv_energy", "nnp_generation", "nnp_type", "nn_type",
}
#: keywords that change the model in ways hdnnp does not implement (charges, electrostatics,
#: committees); nnp_generation != 2 and nnp_type != 0 are refused too
UNSUPPORTED_KEYWORDS = {
    "global_hidden_layers_electrostatic": "4G charge networks",
    "global_nodes_electrostatic": "4G charge networks",
    "global_activation_electrostatic": "4G charge networks",
    "element_nodes_electrostatic": "4G charge networks",
    "symfunction_electrostatic": "4G charge networks",
    "initial_hardness": "4G charge equilibration",
    "fixed_gausswidth": "4G electrostatics",
    "screen_electrostatics": "4G electrostatics",
    "ewald_prec": "4G electrostatics (Ewald)",
    "ewald_truncation_error_method": "4G electrostatics (Ewald)",
    "kspace_solver": "4G electrostatics (k-space)",
    "four_pi_epsilon": "4G electrostatics",
    "committee_mode": "committee NNPs",
    "committee_dir_prefix": "committee NNPs",
}
#: training-only keywords: kept verbatim (loss-free write-back) and otherwise ignored
TRAINING_KEYWORDS = {
    "random_seed", "test_fraction", "epochs", "use_short_forces", "rmse_threshold",
    "rmse_threshold_energy", "rmse_threshold_force", "rmse_threshold_charge", "rmse_threshold_trials",
    "rmse_threshold_trials_energy", "rmse_threshold_trials_force", "rmse_threshold_trials_charge",
    "energy_fraction", "force_fraction", "charge_fraction", "use_old_weights_short",
    "use_old_weights_charge", "weights_min", "weights_max", "nguyen_widrow_weights_short",
    "nguyen_widrow_weights_charge", "precondition_weights", "main_error_metric", "write_trainpoints",
    "write_trainforces", "write_traincharges", "write_weights_epoch", "write_neuronstats",
    "write_trainlog", "repeated_energy_update", "updater_type", "parallel_mode", "jacobian_mode",
    "update_strategy", "selection_mode", "selection_mode_energy", "selection_mode_force",
    "selection_mode_charge", "task_batch_size_energy", "task_batch_size_force",
    "task_batch_size_charge", "gradient_type", "gradient_eta", "gradient_adam_eta",
    "gradient_adam_beta1", "gradient_adam_beta2", "gradient_adam_epsilon", "kalman_type",
    "kalman_epsilon", "kalman_eta", "kalman_etatau", "kalman_etamax", "kalman_q0", "kalman_qtau",
    "kalman_qmin", "kalman_lambda_short", "kalman_nue_short", "memorize_symfunc_results",
    "force_weight", "normalize_data_set", "force_energy_ratio",
    # alternative spellings n2p2 accepts
    "short_energy_error_threshold", "short_force_error_threshold", "short_energy_fraction",
    "short_force_fraction",
}
#: n2p2 alternative spellings: main -> alternatives (using two spellings at once is an error)
ALTERNATIVES = {
    "nnp_type": ("nn_type",),
    "rmse_threshold_energy": ("short_energy_error_threshold",),
    "rmse_threshold_force": ("short_force_error_threshold",),
    "energy_fraction": ("short_energy_fraction",),
    "force_fraction": ("short_force_fraction",),
}
REPEATABLE = {"symfunction_short", "atom_energy", "element_nodes_short"}
CUTOFF_TYPES = {0: "HARD", 1: "COS", 2: "TANHU", 3: "TANH", 4: "EXP", 5: "POLY1", 6: "POLY2",
                7: "POLY3", 8: "POLY4"}


@dataclass
class Keyword:
    """One keyword line of input.nn: 1-based line number, keyword, argument tokens."""
    line: int
    key: str
    args: list[str]


@dataclass
class ElementNetwork:
    """One element's network: ``layer_sizes`` = [n_sf, hidden..., 1], ``activations`` = n2p2
    letters per non-input layer (e.g. ``"ttl"``), flat float64 ``weights`` in weights.ZZZ.data
    order."""
    layer_sizes: list[int]
    activations: str
    weights: np.ndarray

    @property
    def n_weights(self) -> int:
        s = self.layer_sizes
        return sum(s[i - 1] * s[i] + s[i] for i in range(1, len(s)))

    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(W[out, in], b[out]) per layer, read from the flat weights.ZZZ.data order."""
        s, w, k, out = self.layer_sizes, self.weights, 0, []
        for i in range(1, len(s)):
            n_in, n_out = s[i - 1], s[i]
            out.append((w[k:k + n_in * n_out].reshape(n_in, n_out).T, w[k + n_in * n_out:
                                                                       k + n_in * n_out + n_out]))
            k += n_in * n_out + n_out
        return out

    @staticmethod
    def flatten(layers) -> np.ndarray:
        """The flat weights.ZZZ.data order of (W[out, in], b[out]) per layer: per layer the
        weights with the previous-layer neuron as outer loop, then the biases."""
        return np.concatenate([np.concatenate([np.asarray(W, np.float64).T.reshape(-1),
                                               np.asarray(b, np.float64)]) for W, b in layers])


@dataclass
class ElementScaling:
    """Per-SF scaling statistics of one element, n2p2's sorted SF order."""
    gmin: np.ndarray
    gmax: np.ndarray
    gmean: np.ndarray
    gsigma: np.ndarray


@dataclass
class Potential:
    """An n2p2 (2G) potential. Plain data; see the module docstring for the semantics."""
    elements: list[str]                      # n2p2 order (sorted by atomic number)
    networks: dict[str, ElementNetwork]
    scaling: dict[str, ElementScaling]
    scaling_mode: int = SCALING_NONE
    scale_min: float = 0.0
    scale_max: float = 1.0
    mean_energy: float = 0.0
    conv_energy: float = 1.0
    conv_length: float = 1.0
    normalized: bool = False                 # the three normalisation keywords are present
    atom_energy: dict[str, float] = field(default_factory=dict)
    cutoff_type: int = 1
    cutoff_alpha: float = 0.0
    normalize_nodes: bool = False
    sf_lines: list[tuple[int, list[str]]] = field(default_factory=list)
    keywords: list[Keyword] = field(default_factory=list)   # every keyword line, file order
    input_nn_text: str | None = None         # original input.nn, written back verbatim
    length_unit: str | None = None           # from UNITS / read_potential(); not an n2p2 field
    energy_unit: str | None = None
    source: str | None = None                # folder it was read from
    _models: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    # -- basic properties -----------------------------------------------------------------
    @property
    def atomic_numbers(self) -> list[int]:
        return [atomic_numbers[e] for e in self.elements]

    def n_sf(self, element: str) -> int:
        return sum(1 for _, t in self.sf_lines if t and t[0] == element)

    @property
    def input_nn_path(self) -> str | None:
        return None if self.source is None else str(Path(self.source) / "input.nn")

    @property
    def symmetry_functions(self):
        """The SF set (``hdnnp.descriptors.SymmetryFunctionSet``), built lazily from ``sf_lines``."""
        from ..descriptors import SymmetryFunctionSet  # lazy: the descriptors are optional here
        return SymmetryFunctionSet.from_n2p2_lines(self.elements, self.sf_lines, self.cutoff_type,
                                                   cutoff_alpha=self.cutoff_alpha,
                                                   file=self.input_nn_path)

    def energy_offset(self, elements: Iterable[str]) -> float:
        """Σ atom_energy over the given per-atom element symbols."""
        return float(sum(self.atom_energy.get(e, 0.0) for e in elements))

    # -- compiled models ------------------------------------------------------------------
    def clear_cache(self) -> None:
        """Forget compiled models (call after changing weights or scaling in place)."""
        self._models.clear()

    def element_model(self, element: str):
        """The compiled ``_core.ElementModel`` (scaling + network) of one element, cached."""
        m = self._models.get(element)
        if m is None:
            from .. import _core
            net = self.networks[element]
            sc = self.scaling[element]
            m = _core.ElementModel(
                _core.Scaling(int(self.scaling_mode), float(self.scale_min), float(self.scale_max),
                              _f64(sc.gmin), _f64(sc.gmax), _f64(sc.gmean), _f64(sc.gsigma)),
                _core.Network(list(net.layer_sizes), net.activations, _f64(net.weights),
                              bool(self.normalize_nodes)))
            self._models[element] = m
        return m

    def atomic_energies(self, element: str, G, grad: bool = True):
        """Per-atom NN energies of atoms of one element from RAW G (n_atoms, n_sf), sorted SF
        order. Returns ``(E_int, dE_int/dG)`` in INTERNAL units (dEdG None if grad=False).
        Physical per-atom energy: ``E_int / conv_energy`` (no mean_energy, no offsets)."""
        G = np.ascontiguousarray(np.atleast_2d(np.asarray(G, dtype=np.float64)))
        return self.element_model(element).evaluate_batch(G, grad)

    def to_physical_atomic(self, E_int):
        """Internal per-atom energies -> physical units (without mean_energy and offsets)."""
        return np.asarray(E_int) / self.conv_energy

    def total_energy(self, E_int_atoms, elements: Iterable[str]) -> float:
        """Physical total energy from per-atom internal energies (in atom order) and the atoms'
        element symbols, as n2p2 computes it: sum, /conv_energy, +N·mean_energy, +offsets."""
        elements = list(elements)
        s = 0.0
        for e in E_int_atoms:
            s += float(e)
        E = s / self.conv_energy + len(elements) * self.mean_energy
        counts = {el: 0 for el in self.elements}
        for el in elements:
            counts[el] += 1
        off = 0.0
        for el in self.elements:
            off += counts[el] * self.atom_energy.get(el, 0.0)
        return E + off

    def copy(self) -> "Potential":
        p = copy.deepcopy(self, {id(self._models): {}})   # compiled models are not copied
        return p


def _f64(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64))


# --- input.nn ---------------------------------------------------------------------------------
def _tokenize_input_nn(text: str) -> list[Keyword]:
    kws = []
    for i, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split("!", 1)[0]
        toks = line.split()
        if toks:
            kws.append(Keyword(i, toks[0], toks[1:]))
    return kws


def _float(tok: str, what: str, file, line) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise InputError(f"{what}: {tok!r} is not a number", file=file, line=line) from None
    return v


def _int(tok: str, what: str, file, line) -> int:
    try:
        return int(tok)
    except ValueError:
        raise InputError(f"{what}: {tok!r} is not an integer", file=file, line=line) from None


def _nargs(kw: Keyword, n: int, file, at_least=False):
    if (len(kw.args) < n) if at_least else (len(kw.args) != n):
        need = f"at least {n}" if at_least else str(n)
        raise InputError(f"keyword '{kw.key}' needs {need} argument(s), got {len(kw.args)}",
                         file=file, line=kw.line)


def parse_input_nn(text: str, file: str | None = None) -> dict:
    """Parse input.nn text into the model fields (a dict of Potential keyword arguments,
    without networks' weights and scaling statistics). Raises UnsupportedFeatureError /
    InputError naming file:line."""
    kws = _tokenize_input_nn(text)
    by = {}
    for kw in kws:
        by.setdefault(kw.key, []).append(kw)

    # 1. refuse what we do not implement (nnp_generation first: the 4G message names it)
    for kw in by.get("nnp_generation", []):
        _nargs(kw, 1, file, at_least=True)
        if kw.args[0] != "2":
            raise UnsupportedFeatureError(
                f"{file}:{kw.line}: keyword 'nnp_generation {kw.args[0]}' is not supported "
                "(hdnnp implements 2G-HDNNPs only, i.e. nnp_generation 2; 4G charge/electrostatic "
                "models are not implemented)")
    for key in ("nnp_type", "nn_type"):
        for kw in by.get(key, []):
            _nargs(kw, 1, file, at_least=True)
            if kw.args[0] != "0":
                raise UnsupportedFeatureError(
                    f"{file}:{kw.line}: keyword '{key} {kw.args[0]}' is not supported (only "
                    "short-range NNPs, nnp_type 0; nnp_type 1 adds a charge network)")
    for kw in kws:
        if kw.key in UNSUPPORTED_KEYWORDS:
            if kw.key == "committee_mode" and kw.args and kw.args[0].lower() == "disabled":
                continue
            raise UnsupportedFeatureError(
                f"{file}:{kw.line}: keyword '{kw.key}' is not supported "
                f"({UNSUPPORTED_KEYWORDS[kw.key]} are not implemented in hdnnp)")

    # 2. unknown keywords (n2p2 warns) and duplicates (n2p2: critical)
    known = MODEL_KEYWORDS | TRAINING_KEYWORDS | set(UNSUPPORTED_KEYWORDS)
    for kw in kws:
        if kw.key not in known:
            warnings.warn(f"{file}:{kw.line}: unknown keyword '{kw.key}' (kept, ignored)",
                          stacklevel=3)
    for key, lst in by.items():
        if len(lst) > 1 and key not in REPEATABLE:
            raise InputError(f"keyword '{key}' appears {len(lst)} times (also at line "
                             f"{lst[0].line})", file=file, line=lst[1].line)
    for main, alts in ALTERNATIVES.items():
        used = [k for k in (main,) + alts if k in by]
        if len(used) > 1:
            raise InputError(f"alternative spellings {used} of one keyword used together",
                             file=file, line=by[used[1]][0].line)

    def one(key, required=True):
        lst = by.get(key)
        if not lst:
            if required:
                raise InputError(f"required keyword '{key}' not found", file=file)
            return None
        return lst[0]

    # 3. elements
    kw = one("elements")
    _nargs(kw, 1, file, at_least=True)
    syms = list(kw.args)
    for s in syms:
        if atomic_numbers.get(s, 0) == 0:
            raise InputError(f"unknown element symbol {s!r} in 'elements'", file=file, line=kw.line)
    if len(set(syms)) != len(syms):
        raise InputError("duplicate element in 'elements'", file=file, line=kw.line)
    elements = sorted(syms, key=lambda s: atomic_numbers[s])
    kwn = one("number_of_elements")
    _nargs(kwn, 1, file, at_least=True)
    if _int(kwn.args[0], "number_of_elements", file, kwn.line) != len(elements):
        raise InputError(f"number_of_elements {kwn.args[0]} but 'elements' lists {len(elements)}",
                         file=file, line=kwn.line)

    def element_arg(tok, kw):
        if tok not in elements:
            raise InputError(f"element {tok!r} (keyword '{kw.key}') is not in 'elements' "
                             f"{elements}", file=file, line=kw.line)
        return tok

    # 4. normalisation
    norm_kws = [one(k, required=False) for k in ("mean_energy", "conv_energy", "conv_length")]
    present = [k is not None for k in norm_kws]
    if any(present) and not all(present):
        first = next(k for k in norm_kws if k is not None)
        raise InputError("use all or none of 'mean_energy', 'conv_energy', 'conv_length'",
                         file=file, line=first.line)
    normalized = all(present)
    mean_energy, conv_energy, conv_length = 0.0, 1.0, 1.0
    if normalized:
        vals = []
        for k in norm_kws:
            _nargs(k, 1, file, at_least=True)
            vals.append(_float(k.args[0], k.key, file, k.line))
        mean_energy, conv_energy, conv_length = vals

    # 5. offsets
    atom_energy = {e: 0.0 for e in elements}
    for kw in by.get("atom_energy", []):
        _nargs(kw, 2, file, at_least=True)
        atom_energy[element_arg(kw.args[0], kw)] = _float(kw.args[1], "atom_energy", file, kw.line)

    # 6. cutoff
    kw = one("cutoff_type")
    _nargs(kw, 1, file, at_least=True)
    cutoff_type = _int(kw.args[0], "cutoff_type", file, kw.line)
    if cutoff_type not in CUTOFF_TYPES:
        raise InputError(f"unknown cutoff_type {cutoff_type} (n2p2 knows 0-8)", file=file,
                         line=kw.line)
    cutoff_alpha = 0.0
    if len(kw.args) > 1:
        cutoff_alpha = _float(kw.args[1], "cutoff_type alpha", file, kw.line)
        if not (0.0 <= cutoff_alpha < 1.0):
            raise InputError("cutoff_type alpha must satisfy 0 <= alpha < 1", file=file, line=kw.line)

    # 7. symmetry functions (raw; parsed by hdnnp.descriptors)
    sf_lines = []
    for kw in by.get("symfunction_short", []):
        _nargs(kw, 1, file, at_least=True)
        element_arg(kw.args[0], kw)
        sf_lines.append((kw.line, list(kw.args)))
    for e in elements:
        if not any(t[0] == e for _, t in sf_lines):
            raise InputError(f"element {e} has no symfunction_short lines", file=file)

    # 8. scaling mode, exactly n2p2's precedence
    sc, ce, sg = ("scale_symmetry_functions" in by, "center_symmetry_functions" in by,
                  "scale_symmetry_functions_sigma" in by)
    if sc and not ce:
        mode = SCALING_SCALE
    elif ce and not sc:
        mode = SCALING_CENTER
    elif sc and ce:
        mode = SCALING_SCALE_CENTER
    elif sg:
        mode = SCALING_SCALE_SIGMA
    else:
        mode = SCALING_NONE
    smin, smax = 0.0, 1.0
    for key, default in (("scale_min_short", 0.0), ("scale_max_short", 1.0)):
        k = one(key, required=False)
        v = default
        if k is not None:
            _nargs(k, 1, file, at_least=True)
            v = _float(k.args[0], key, file, k.line)
        if key == "scale_min_short":
            smin = v
        else:
            smax = v

    # 9. network architecture
    kw = one("global_hidden_layers_short")
    _nargs(kw, 1, file, at_least=True)
    nh = _int(kw.args[0], "global_hidden_layers_short", file, kw.line)
    if nh < 1:
        raise InputError("global_hidden_layers_short must be >= 1 (n2p2 needs >= 3 layers)",
                         file=file, line=kw.line)
    kw = one("global_nodes_short")
    if len(kw.args) < nh:
        raise InputError(f"global_nodes_short lists {len(kw.args)} layer sizes, "
                         f"global_hidden_layers_short is {nh}", file=file, line=kw.line)
    if len(kw.args) > nh:
        warnings.warn(f"{file}:{kw.line}: global_nodes_short has {len(kw.args)} entries, only the "
                      f"first {nh} are used", stacklevel=3)
    hidden = [_int(a, "global_nodes_short", file, kw.line) for a in kw.args[:nh]]
    if any(h < 1 for h in hidden):
        raise InputError("global_nodes_short: layer sizes must be >= 1", file=file, line=kw.line)
    kw = one("global_activation_short")
    acts = list(kw.args)
    if len(acts) < nh:
        raise InputError(f"global_activation_short lists {len(acts)} activations, need {nh} hidden "
                         "+ 1 output", file=file, line=kw.line)
    for a in acts:
        if len(a) != 1 or a not in ACTIVATIONS:
            raise UnsupportedFeatureError(
                f"{file}:{kw.line}: keyword 'global_activation_short': unknown activation {a!r} "
                f"(n2p2 letters: {' '.join(ACTIVATIONS)})")
    out_act = acts[nh] if len(acts) > nh else "l"
    if out_act != "l":
        raise UnsupportedFeatureError(
            f"{file}:{kw.line}: keyword 'global_activation_short': output activation {out_act!r} "
            "is not supported (only a linear output neuron 'l')")
    if len(acts) > nh + 1:
        warnings.warn(f"{file}:{kw.line}: global_activation_short has extra entries (ignored)",
                      stacklevel=3)
    activations = "".join(acts[:nh]) + "l"
    hidden_per_element = {e: list(hidden) for e in elements}
    for kw in by.get("element_nodes_short", []):
        _nargs(kw, 3, file, at_least=True)
        e = element_arg(kw.args[0], kw)
        layer = _int(kw.args[1], "element_nodes_short layer", file, kw.line)
        nodes = _int(kw.args[2], "element_nodes_short nodes", file, kw.line)
        if not (1 <= layer <= nh) or nodes < 1:
            raise InputError(f"element_nodes_short: layer must be 1..{nh} (hidden layers) and "
                             "nodes >= 1", file=file, line=kw.line)
        hidden_per_element[e][layer - 1] = nodes

    return dict(elements=elements, scaling_mode=mode, scale_min=smin, scale_max=smax,
                mean_energy=mean_energy, conv_energy=conv_energy, conv_length=conv_length,
                normalized=normalized, atom_energy=atom_energy, cutoff_type=cutoff_type,
                cutoff_alpha=cutoff_alpha, normalize_nodes="normalize_nodes" in by,
                sf_lines=sf_lines, keywords=kws, _hidden=hidden_per_element,
                _activations=activations)


# --- scaling.data / weights ------------------------------------------------------------------
def read_scaling_data(path, elements: list[str], n_sf: dict[str, int], mode: int):
    path = str(path)
    rows = []
    with open(path) as fh:
        for i, raw in enumerate(fh, start=1):
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            rows.append((i, raw.split()))
    out = {}
    k = 0
    for ie, e in enumerate(elements):
        n = n_sf[e]
        arr = np.zeros((4, n))
        for j in range(n):
            if k >= len(rows):
                raise InputError(f"scaling data ends after {k} rows; need {sum(n_sf.values())} "
                                 f"(element {e} needs {n})", file=path, line=rows[-1][0] if rows else None)
            line, t = rows[k]
            k += 1
            if len(t) < 5:
                raise InputError(f"expected 'e_index sf_index min max mean [sigma]', got {len(t)} "
                                 "columns", file=path, line=line)
            ei = _int(t[0], "e_index", path, line)
            si = _int(t[1], "sf_index", path, line)
            if ei != ie + 1 or si != j + 1:
                raise InputError(f"expected element index {ie + 1} ({e}) and SF index {j + 1}, got "
                                 f"{ei} {si}", file=path, line=line)
            vals = [_float(x, "scaling value", path, line) for x in t[2:6]]
            if len(vals) == 3:
                if mode == SCALING_SCALE_SIGMA:
                    raise InputError("scale_symmetry_functions_sigma needs a sigma column",
                                     file=path, line=line)
                vals.append(0.0)
            arr[:, j] = vals
        out[e] = ElementScaling(gmin=arr[0].copy(), gmax=arr[1].copy(), gmean=arr[2].copy(),
                                gsigma=arr[3].copy())
    if k < len(rows):
        warnings.warn(f"{path}:{rows[k][0]}: {len(rows) - k} extra scaling rows (ignored)",
                      stacklevel=3)
    return out


def _expected_connections(sizes: list[int]):
    """(type, l_s, n_s, l_e, n_e) per connection in weights.ZZZ.data order (1-based neurons)."""
    for l in range(1, len(sizes)):
        for j in range(sizes[l - 1]):
            for k in range(sizes[l]):
                yield ("a", l - 1, j + 1, l, k + 1)
        for k in range(sizes[l]):
            yield ("b", l, k + 1, None, None)


def read_weights(path, sizes: list[int]) -> np.ndarray:
    path = str(path)
    expected = list(_expected_connections(sizes))
    n = len(expected)
    w = np.empty(n)
    k = 0
    last = None
    with open(path) as fh:
        for i, raw in enumerate(fh, start=1):
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            last = i
            t = raw.split()
            if k >= n:
                raise InputError(f"more weights than the architecture {sizes} needs ({n})",
                                 file=path, line=i)
            typ, ls, ns, le, ne = expected[k]
            want_cols = 7 if typ == "a" else 5
            if len(t) != want_cols:
                raise InputError(f"expected {want_cols} columns for connection {k + 1} (type "
                                 f"{typ!r}), got {len(t)}", file=path, line=i)
            w[k] = _float(t[0], "weight", path, i)
            if t[1] != typ:
                raise InputError(f"connection {k + 1} should be type {typ!r}, got {t[1]!r}",
                                 file=path, line=i)
            ints = [_int(x, "connection index", path, i) for x in t[2:]]
            want = [k + 1, ls, ns] + ([le, ne] if typ == "a" else [])
            if ints != want:
                raise InputError(f"connection indices {ints} do not match the architecture "
                                 f"{sizes} (expected {want})", file=path, line=i)
            k += 1
    if k != n:
        raise InputError(f"found {k} weights, the architecture {sizes} needs {n}", file=path,
                         line=last)
    return w


# --- public API ---------------------------------------------------------------------------------
def read_potential(folder, *, length_unit: str | None = None,
                   energy_unit: str | None = None) -> Potential:
    """Read an n2p2 potential folder (input.nn, scaling.data, weights.ZZZ.data).

    ``length_unit``/``energy_unit`` (e.g. "bohr"/"hartree") override an optional ``UNITS`` file.
    """
    folder = Path(folder)
    nn_path = folder / "input.nn"
    if not nn_path.is_file():
        raise InputError("input.nn not found", file=str(nn_path))
    text = nn_path.read_text()
    f = parse_input_nn(text, file=str(nn_path))
    hidden, acts = f.pop("_hidden"), f.pop("_activations")
    elements = f["elements"]
    n_sf = {e: sum(1 for _, t in f["sf_lines"] if t[0] == e) for e in elements}
    sc_path = folder / "scaling.data"
    if sc_path.is_file():
        scaling = read_scaling_data(sc_path, elements, n_sf, f["scaling_mode"])
    elif f["scaling_mode"] == SCALING_NONE:
        scaling = {e: ElementScaling(np.zeros(n_sf[e]), np.zeros(n_sf[e]), np.zeros(n_sf[e]),
                                     np.zeros(n_sf[e])) for e in elements}
    else:
        raise InputError("scaling.data not found", file=str(sc_path))
    networks = {}
    for e in elements:
        sizes = [n_sf[e]] + hidden[e] + [1]
        wp = folder / f"weights.{atomic_numbers[e]:03d}.data"
        if not wp.is_file():
            raise InputError(f"weights file for {e} not found", file=str(wp))
        networks[e] = ElementNetwork(sizes, acts, read_weights(wp, sizes))
    units = folder / "UNITS"
    if units.is_file() and (length_unit is None or energy_unit is None):
        toks = units.read_text().split()
        if len(toks) >= 2:
            length_unit = length_unit or toks[0].lower()
            energy_unit = energy_unit or toks[1].lower()
    return Potential(networks=networks, scaling=scaling, input_nn_text=text,
                     length_unit=length_unit, energy_unit=energy_unit, source=str(folder), **f)


def _model_fields(p: Potential) -> tuple:
    return (list(p.elements), int(p.scaling_mode), float(p.scale_min), float(p.scale_max),
            float(p.mean_energy), float(p.conv_energy), float(p.conv_length), bool(p.normalized),
            {e: float(p.atom_energy.get(e, 0.0)) for e in p.elements}, int(p.cutoff_type),
            float(p.cutoff_alpha), bool(p.normalize_nodes),
            [(list(t)) for _, t in p.sf_lines],
            {e: (list(p.networks[e].layer_sizes[1:-1]), p.networks[e].activations)
             for e in p.elements})


def _fmt(x: float) -> str:
    return repr(float(x))


def generate_input_nn(p: Potential) -> str:
    """A fresh input.nn for the model fields of ``p``; training-only and unknown keywords of
    ``p.keywords`` are appended unchanged."""
    L = ["# input.nn written by hdnnp", ""]
    if p.normalized:
        L += [f"mean_energy {_fmt(p.mean_energy)}", f"conv_energy {_fmt(p.conv_energy)}",
              f"conv_length {_fmt(p.conv_length)}", ""]
    L += [f"number_of_elements {len(p.elements)}", "elements " + " ".join(p.elements)]
    for e in p.elements:
        if p.atom_energy.get(e, 0.0) != 0.0:
            L.append(f"atom_energy {e} {_fmt(p.atom_energy[e])}")
    L.append(f"cutoff_type {p.cutoff_type} {_fmt(p.cutoff_alpha)}")
    m = p.scaling_mode
    if m in (SCALING_SCALE, SCALING_SCALE_CENTER):
        L.append("scale_symmetry_functions")
    if m in (SCALING_CENTER, SCALING_SCALE_CENTER):
        L.append("center_symmetry_functions")
    if m == SCALING_SCALE_SIGMA:
        L.append("scale_symmetry_functions_sigma")
    L += [f"scale_min_short {_fmt(p.scale_min)}", f"scale_max_short {_fmt(p.scale_max)}"]
    e0 = p.elements[0]
    hid = p.networks[e0].layer_sizes[1:-1]
    acts = p.networks[e0].activations
    for e in p.elements:
        if p.networks[e].activations != acts or len(p.networks[e].layer_sizes) != len(hid) + 2:
            raise ValueError("n2p2 requires the same number of layers and activations for all "
                             "elements")
    L += [f"global_hidden_layers_short {len(hid)}",
          "global_nodes_short " + " ".join(str(h) for h in hid),
          "global_activation_short " + " ".join(acts)]
    for e in p.elements:
        for i, h in enumerate(p.networks[e].layer_sizes[1:-1]):
            if h != hid[i]:
                L.append(f"element_nodes_short {e} {i + 1} {h}")
    if p.normalize_nodes:
        L.append("normalize_nodes")
    extra = [k for k in p.keywords if k.key not in MODEL_KEYWORDS]
    if extra:
        L.append("")
        L += [" ".join([k.key] + k.args) for k in extra]
    L.append("")
    L += ["symfunction_short " + " ".join(t) for _, t in p.sf_lines]
    return "\n".join(L) + "\n"


_SCALING_HEADER = """\
################################################################################
# Symmetry function scaling data.
################################################################################
# Col  Name     Description
################################################################################
# 1    e_index  Element index.
# 2    sf_index Symmetry function index.
# 3    sf_min   Symmetry function minimum.
# 4    sf_max   Symmetry function maximum.
# 5    sf_mean  Symmetry function mean.
# 6    sf_sigma Symmetry function sigma.
#########################################################################################################################
#        1          2                        3                        4                        5                        6
#  e_index   sf_index                   sf_min                   sf_max                  sf_mean                 sf_sigma
#########################################################################################################################
"""

_WEIGHTS_HEADER = """\
################################################################################
# Neural network connection values (weights and biases).
################################################################################
# Col  Name       Description
################################################################################
# 1    connection Neural network connection value.
# 2    t          Connection type (a = weight, b = bias).
# 3    index      Index enumerating weights.
# 4    l_s        Starting point layer (end point layer for biases).
# 5    n_s        Starting point neuron in starting layer (end point neuron for biases).
# 6    l_e        End point layer.
# 7    n_e        End point neuron in end layer.
################################################################################
#                      1 2         3     4     5     6     7
#             connection t     index   l_s   n_s   l_e   n_e
############################################################
"""


def _e(x: float) -> str:
    # %24.16E: 17 significant digits, enough to round-trip every double exactly
    return f"{float(x):24.16E}"


def write_potential(potential: Potential, folder) -> None:
    """Write an n2p2 potential folder. input.nn is the original text verbatim when the model
    fields still match it, else a regenerated file; scaling.data and weights.ZZZ.data in n2p2's
    format at full precision (``%24.16E`` round-trips exactly)."""
    p = potential
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = p.input_nn_text
    if text is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = parse_input_nn(text)
            hid, acts = f.pop("_hidden"), f.pop("_activations")
            orig = Potential(networks={e: ElementNetwork([0] + hid[e] + [1], acts, np.zeros(0))
                                       for e in f["elements"]}, scaling={}, **f)
            if _model_fields(orig) != _model_fields(p):
                text = None
        except Exception:
            text = None
    if text is None:
        text = generate_input_nn(p)
    (folder / "input.nn").write_text(text)
    with open(folder / "scaling.data", "w") as fh:
        fh.write(_SCALING_HEADER)
        for ie, e in enumerate(p.elements):
            s = p.scaling[e]
            for j in range(len(s.gmin)):
                fh.write(f"{ie + 1:10d} {j + 1:10d} {_e(s.gmin[j])} {_e(s.gmax[j])} "
                         f"{_e(s.gmean[j])} {_e(s.gsigma[j])}\n")
    for e in p.elements:
        net = p.networks[e]
        w = np.asarray(net.weights, dtype=np.float64)
        if w.size != net.n_weights:
            raise ValueError(f"element {e}: {w.size} weights, architecture {net.layer_sizes} "
                             f"needs {net.n_weights}")
        lines = [_WEIGHTS_HEADER]
        for k, (typ, ls, ns, le, ne) in enumerate(_expected_connections(net.layer_sizes)):
            if typ == "a":
                lines.append(f"{_e(w[k])} a {k + 1:9d} {ls:5d} {ns:5d} {le:5d} {ne:5d}\n")
            else:
                lines.append(f"{_e(w[k])} b {k + 1:9d} {ls:5d} {ns:5d}\n")
        (folder / f"weights.{atomic_numbers[e]:03d}.data").write_text("".join(lines))
    if p.length_unit and p.energy_unit:
        (folder / "UNITS").write_text(f"{p.length_unit} {p.energy_unit}\n")
