"""Per-atom property networks: scalars (charges, isotropic shieldings, anything per atom) and symmetric
rank-2 tensors (NMR shielding or EFG tensors) from atom-centred symmetry functions.

Scalars: one feed-forward network per element on the scaled symmetry functions G_i,
``y_i = mean_el + spread_el · net_el(G_i)``.

Tensors: invariant networks only, combined with bond vectors so that the tensor rotates exactly with
the structure::

    T_i = (mean_el + spread_el · s_i) · I  +  spread'_el · Σ_j w_ij (r̂_ij r̂_ijᵀ − I/3)
    w_ij = Σ_k c_ik,e(j) · φ_k(r_ij),   φ_k(r) = exp(−((r − μ_k)/Δ)²) · f_c(r)

where the network of atom i's element gives the isotropic output s_i and the coefficients c_ik,e for
every radial Gaussian k and neighbour element e. G_i and r_ij are rotation invariant and r̂_ij r̂_ijᵀ
rotates as R r̂ r̂ᵀ Rᵀ, so R T_i Rᵀ is the prediction for the rotated structure. T_i is symmetric by
construction; the antisymmetric part of a reference tensor is not learned (targets are symmetrised).

Charges can be constrained to sum to the structure's total charge: the predictions of a structure are
shifted by the same amount each, (Q − Σ q_i)/N, which keeps the sum exact.

Committees: ``committee`` independent networks per target and element, trained side by side; the mean
is the prediction and the standard deviation over members the uncertainty.

Files (load without executing code): ``properties.json`` (symmetry functions as n2p2 lines, scaling,
targets with their per-element statistics, architecture) and ``properties.npz`` (weights, read with
``allow_pickle=False``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import InputError

__all__ = ["Target", "PropertyNetworks", "Features", "features", "from_cached", "collate", "symmetrize",
           "isotropic", "anisotropic", "save", "load", "JSON_NAME", "NPZ_NAME"]

JSON_NAME, NPZ_NAME = "properties.json", "properties.npz"
#: properties.json / .npz layout (2: the committee members of a target and element stored together)
FORMAT_VERSION = 2
#: charge equilibration: the initial hardness J (eV/e²) and the electronegativity per unit network output (eV) of
#: models saved before that scale was set per element from the training data (``init_qeq``)
QEQ_J0, QEQ_CHI_SCALE = 1.0, 2.0
#: potential response: the default width (Å) of the Gaussian charges whose potential drives the flow between
#: neighbours (``response_width``; smooth at short range — the bonded neighbours' own part is the local charges')
RESPONSE_WIDTH = 0.75
_ACT = {"t": torch.tanh, "s": torch.sigmoid, "p": torch.nn.functional.softplus, "l": lambda x: x}


@dataclass
class Target:
    """A per-atom target and the statistics of its reference values per element (from the training
    set): ``mean`` and ``spread`` of the scalar (isotropic part for tensors) and, for tensors,
    ``aniso`` the RMS of the anisotropic (traceless) components."""
    name: str
    kind: str = "scalar"                      # scalar | tensor
    weight: float = 1.0
    unit: str = ""
    total_charge: bool = False
    elements: list[str] = field(default_factory=list)
    #: charges by charge equilibration (:mod:`hdnnp.properties.qeq`): the networks give electronegativities
    qeq: bool = False
    #: charges that answer to the electrostatic potential of the others (``_respond``), of Gaussian charges this
    #: wide (Å)
    response: bool = False
    response_width: float = RESPONSE_WIDTH
    mean: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)
    aniso: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def carriers(self, elements) -> list[str]:
        """The elements of ``elements`` that carry this target."""
        return [el for el in elements if not self.elements or el in self.elements]


def isotropic(a: np.ndarray) -> np.ndarray:
    """trace / 3 of (..., 3, 3) tensors."""
    return np.trace(a, axis1=-2, axis2=-1) / 3.0


def anisotropic(a: np.ndarray) -> np.ndarray:
    """The traceless part of (..., 3, 3) tensors."""
    return a - isotropic(a)[..., None, None] * np.eye(3)


def symmetrize(a: np.ndarray) -> np.ndarray:
    """(N, 3, 3) or (N, 9) → the symmetric part, (N, 3, 3)."""
    t = np.asarray(a, dtype=np.float64).reshape(-1, 3, 3)
    return 0.5 * (t + t.transpose(0, 2, 1))


def target_array(structure, target: Target) -> np.ndarray | None:
    """The structure's reference values of ``target`` ((N,) or (N, 3, 3)), checked, or None if absent."""
    a = structure.atom_properties.get(target.name)
    if a is None:
        return None
    a = np.asarray(a)
    n = structure.natoms
    if a.dtype.kind not in "iuf":
        raise InputError(f"per-atom property {target.name!r} is not numeric", file=structure.source,
                         structure=structure.index)
    a = a.astype(np.float64)
    if target.kind == "scalar":
        if a.shape not in ((n,), (n, 1)):
            raise InputError(f"per-atom target {target.name!r} is a scalar but the data has shape {a.shape}"
                             f" (expected ({n},)); for 3×3 tensors set kind: tensor", file=structure.source,
                             structure=structure.index)
        return a.reshape(n)
    if a.shape not in ((n, 9), (n, 3, 3)):
        raise InputError(f"per-atom target {target.name!r} is a tensor but the data has shape {a.shape} "
                         f"(expected ({n}, 9) or ({n}, 3, 3))", file=structure.source, structure=structure.index)
    return symmetrize(a)


def response_width(targets) -> float | None:
    """The Gaussian width (Å) of the potential response's charges among ``targets``, None without one."""
    return next((float(t.response_width) for t in targets if getattr(t, "response", False)), None)


# -- features: symmetry functions and neighbour pairs of each structure --------------------------
@dataclass
class Features:
    natoms: int
    elem: np.ndarray            # (N,) element index
    G: list                     # per element (n_e, nsf_e)
    atoms: list                 # per element atom indices
    pi: np.ndarray              # (P,) centre
    pj: np.ndarray              # (P,) neighbour
    vec: np.ndarray             # (P, 3) r_j − r_i (Å)
    charge: float = 0.0
    targets: dict = field(default_factory=dict)     # name -> array or None
    coulomb: np.ndarray | None = None               # (N, N) Gaussian-charge interaction (charge equilibration)
    potential: np.ndarray | None = None             # (N, N) the same, response_width wide, no self term (response)


def features(structure, sfset, elements: list[str], targets=(), coulomb: bool = False,
             potential: float | bool | None = None) -> Features:
    """Symmetry functions (no derivatives) and the neighbour pairs of one structure (the training cache's
    :func:`~hdnnp.training.data.describe`, without derivatives); ``coulomb``: also the interaction matrix a
    charge-equilibration target needs, ``potential``: the one the potential response needs."""
    from ..training.data import describe
    return from_cached(describe(structure, sfset, elements, derivatives=False), structure, targets,
                       coulomb=coulomb, potential=potential)


def from_cached(c, structure, targets=(), n_sf=None, coulomb: bool | None = None,
                potential: float | bool | None = None) -> Features:
    """Features from the trainer's cached descriptors (no second descriptor pass); ``n_sf`` (per element) keeps
    the symmetry-function columns only (a charge-aware potential's cache has the total charge last);
    ``coulomb`` (default: when a target uses charge equilibration) adds the Gaussian-charge interaction matrix,
    ``potential`` (Gaussian width in Å, or True for RESPONSE_WIDTH; default: that of a target with the potential
    response) the one of the response."""
    pi = np.concatenate(c.pi) if c.pi else np.zeros(0, np.int64)
    pj = np.concatenate(c.pj) if c.pj else np.zeros(0, np.int64)
    vec = np.concatenate(c.vec).reshape(-1, 3) if c.vec else np.zeros((0, 3))
    G = c.G if n_sf is None else [g[:, :n] for g, n in zip(c.G, n_sf)]
    if coulomb is None:
        coulomb = any(getattr(t, "qeq", False) for t in targets)
    if potential is None:
        potential = response_width(targets)
    A = P = None
    if coulomb or potential:
        from .qeq import coulomb_matrix
    if coulomb:
        A = coulomb_matrix(structure.positions, structure.numbers, structure.cell, structure.pbc)
    if potential:
        P = coulomb_matrix(structure.positions, structure.numbers, structure.cell, structure.pbc,
                           sigma=np.full(structure.natoms, RESPONSE_WIDTH if potential is True else float(potential)))
        P[np.diag_indices(structure.natoms)] = 0.0
    return Features(c.natoms, c.elem, G, c.atoms, pi, pj, vec, float(structure.charge),
                    {t.name: target_array(structure, t) for t in targets}, A, P)


@dataclass
class Batch:
    n_structures: int
    natoms: torch.Tensor
    atom_struct: torch.Tensor
    elem: torch.Tensor
    G: list
    atoms: list
    pi: torch.Tensor
    pj: torch.Tensor
    vec: torch.Tensor
    charge: torch.Tensor
    targets: dict               # name -> (values (A,) or (A,3,3), present mask (A,))
    coulomb: list | None = None  # per structure (n, n) interaction matrices (charge equilibration)
    potential: list | None = None  # per structure (n, n) wide interaction matrices (potential response)

    @property
    def n_atoms(self) -> int:
        return int(self.atom_struct.shape[0])


def collate(items: list[Features], n_elements: int, targets=()) -> Batch:
    offs = np.concatenate([[0], np.cumsum([f.natoms for f in items])]).astype(np.int64)
    t = lambda a, dt=torch.float64: torch.from_numpy(np.ascontiguousarray(a)).to(dt)   # noqa: E731
    G = [t(np.concatenate([f.G[e] for f in items])) for e in range(n_elements)]
    atoms = [t(np.concatenate([f.atoms[e] + offs[k] for k, f in enumerate(items)]), torch.int64)
             for e in range(n_elements)]
    pi = t(np.concatenate([f.pi + offs[k] for k, f in enumerate(items)]), torch.int64)
    pj = t(np.concatenate([f.pj + offs[k] for k, f in enumerate(items)]), torch.int64)
    vec = t(np.concatenate([f.vec for f in items]))
    natoms = np.array([f.natoms for f in items], np.int64)
    tg = {}
    for tgt in targets:
        shape = (3, 3) if tgt.kind == "tensor" else ()
        vals, mask = [], []
        for f in items:
            a = f.targets.get(tgt.name)
            vals.append(np.zeros((f.natoms,) + shape) if a is None else a)
            mask.append(np.full(f.natoms, a is not None))
        tg[tgt.name] = (t(np.concatenate(vals)), t(np.concatenate(mask), torch.bool))
    coul = [t(f.coulomb) for f in items] if items and all(f.coulomb is not None for f in items) else None
    pot = [t(f.potential) for f in items] if items and all(f.potential is not None for f in items) else None
    return Batch(len(items), t(natoms, torch.int64), t(np.repeat(np.arange(len(items)), natoms), torch.int64),
                 t(np.concatenate([f.elem for f in items]), torch.int64), G, atoms, pi, pj, vec,
                 t(np.array([f.charge for f in items])), tg, coul, pot)


# -- the networks --------------------------------------------------------------------------------
class _MLPStack(nn.Module):
    """``members`` independent feed-forward networks of the same sizes, evaluated together: one batched matrix
    product per layer, (A, in) → (M, A, out)."""

    def __init__(self, sizes: list[int], act: str, members: int):
        super().__init__()
        self.act = act
        self.W = nn.ParameterList(nn.Parameter(torch.zeros(members, sizes[i], sizes[i + 1], dtype=torch.float64))
                                  for i in range(len(sizes) - 1))
        self.b = nn.ParameterList(nn.Parameter(torch.zeros(members, 1, sizes[i + 1], dtype=torch.float64))
                                  for i in range(len(sizes) - 1))

    def forward(self, x):
        f = _ACT[self.act]
        h = x
        for k, (W, b) in enumerate(zip(self.W, self.b)):
            h = torch.baddbmm(b, h, W) if h.dim() == 3 else torch.matmul(h, W) + b
            if k < len(self.W) - 1:
                h = f(h)
        return h


class PropertyNetworks(nn.Module):
    """Networks for every target, element and committee member (see the module docstring)."""

    def __init__(self, elements: list[str], n_sf: dict[str, int], targets: list[Target], hidden: list[int],
                 activation: str = "t", basis: int = 8, cutoff: float = 6.0, committee: int = 1,
                 neighbour_features: bool = False):
        super().__init__()
        self.elements, self.n_sf = list(elements), dict(n_sf)
        self.neighbour_features = bool(neighbour_features)
        n_nb = sum(n_sf[el] for el in elements) if self.neighbour_features else 0
        self.targets = list(targets)
        self.hidden, self.activation = list(hidden), activation
        self.basis, self.cutoff, self.committee = int(basis), float(cutoff), int(committee)
        nel = len(self.elements)
        self.nets = nn.ModuleDict()
        for ti, t in enumerate(self.targets):
            n_out = 1 + (self.basis * nel if t.kind == "tensor" or t.response else 0)
            for el in self.carriers(t):
                self.nets[self.key(ti, el)] = _MLPStack([n_sf[el] + n_nb] + self.hidden + [n_out], activation,
                                                        self.committee)
        for el in self.elements:
            self.register_buffer(f"g_mean_{el}", torch.zeros(n_sf[el], dtype=torch.float64))
            self.register_buffer(f"g_scale_{el}", torch.ones(n_sf[el], dtype=torch.float64))
            if self.neighbour_features:      # scaling of the neighbour sums, per centre element
                self.register_buffer(f"nb_mean_{el}", torch.zeros(n_nb, dtype=torch.float64))
                self.register_buffer(f"nb_scale_{el}", torch.ones(n_nb, dtype=torch.float64))
        # charge equilibration: per element an electronegativity offset χ0 (eV) and a hardness J = softplus(h)
        # (eV/e²), per committee member
        for ti, t in enumerate(self.targets):
            if t.qeq:
                self.register_parameter(f"chi0_t{ti}", nn.Parameter(torch.zeros(self.committee, nel,
                                                                                dtype=torch.float64)))
                self.register_parameter(f"hard_t{ti}", nn.Parameter(torch.full(
                    (self.committee, nel), math.log(math.expm1(QEQ_J0)), dtype=torch.float64)))
                # electronegativity (eV) per unit network output, per element (set by init_qeq)
                self.register_buffer(f"chi_scale_t{ti}", torch.full((nel,), QEQ_CHI_SCALE, dtype=torch.float64))
            if t.response:      # charge per volt of potential difference per unit network output, and the
                # potential difference a pair of its elements and distance has on average (init_response)
                self.register_buffer(f"resp_scale_t{ti}", torch.ones((), dtype=torch.float64))
                self.register_buffer(f"resp_dv_t{ti}", torch.zeros((nel, nel, self.basis), dtype=torch.float64))

    @property
    def needs_coulomb(self) -> bool:
        return any(t.qeq for t in self.targets)

    @property
    def potential_width(self) -> float | None:
        """The Gaussian width (Å) of the potential response's charges, None without one."""
        return response_width(self.targets)

    @property
    def needs_potential(self) -> bool:
        return self.potential_width is not None

    @staticmethod
    def key(ti: int, el: str) -> str:
        return f"t{ti}_{el}"

    def carriers(self, t: Target) -> list[str]:
        return t.carriers(self.elements)

    def set_input_scaling(self, G_per_element: dict[str, np.ndarray]) -> None:
        """Inputs (G − mean) / (max − min) from the training set (a constant function gets range 1)."""
        for el in self.elements:
            G = G_per_element.get(el)
            if G is None or not len(G):
                continue
            rng = G.max(0) - G.min(0)
            getattr(self, f"g_mean_{el}").copy_(torch.from_numpy(G.mean(0)))
            getattr(self, f"g_scale_{el}").copy_(torch.from_numpy(1.0 / np.where(rng > 0, rng, 1.0)))

    def neighbour_sums(self, x: dict, b: Batch) -> torch.Tensor:
        """(A, Σ_e n_sf[e]) for every atom i and neighbour element e: Σ_j∈e f_c(r_ij) x_j, the scaled symmetry
        functions of its neighbours within the cutoff weighted by the cosine cutoff — invariant under rotations
        and under permutations of like atoms, and what the atom's own (three-body) functions cannot see: the
        neighbours' environments, out to twice the cutoff."""
        A = b.n_atoms
        fc = self.cutoff_function(torch.linalg.norm(b.vec, dim=1))
        ej = b.elem[b.pj]
        cols = []
        for e, el in enumerate(self.elements):
            acc = torch.zeros(A, self.n_sf[el], dtype=torch.float64)
            if el in x:
                row = torch.zeros(A, dtype=torch.int64)
                row[b.atoms[e]] = torch.arange(len(b.atoms[e]))
                m = ej == e
                acc = acc.index_add(0, b.pi[m], fc[m, None] * x[el][row[b.pj[m]]])
            cols.append(acc)
        return torch.cat(cols, 1)

    def set_neighbour_scaling(self, b: Batch) -> None:
        """Neighbour sums scaled like the inputs, (s − mean) / (max − min) per centre element, from the training
        set (``b``: all of it in one batch)."""
        if not self.neighbour_features:
            return
        with torch.no_grad():
            s = self.neighbour_sums(self.scaled_inputs(b), b)
            for e, el in enumerate(self.elements):
                v = s[b.atoms[e]]
                if not v.shape[0]:
                    continue
                rng = v.max(0).values - v.min(0).values
                getattr(self, f"nb_mean_{el}").copy_(v.mean(0))
                getattr(self, f"nb_scale_{el}").copy_(1.0 / torch.where(rng > 0, rng, torch.ones_like(rng)))

    def init_weights(self, generator: torch.Generator) -> None:
        """Uniform Glorot-like weights (half the range in the output layer), zero biases; every member its own."""
        with torch.no_grad():
            for net in self.nets.values():
                for k, (W, b) in enumerate(zip(net.W, net.b)):
                    lim = math.sqrt(6.0 / (W.shape[1] + W.shape[2])) * (0.5 if k == len(net.W) - 1 else 1.0)
                    W.copy_((torch.rand(W.shape, generator=generator, dtype=torch.float64) * 2 - 1) * lim)
                    b.zero_()

    def radial(self, r: torch.Tensor) -> torch.Tensor:
        """(P,) distances → (P, K) radial Gaussians times the cosine cutoff."""
        K, rc = self.basis, self.cutoff
        mu = torch.linspace(0.5, rc, K, dtype=r.dtype, device=r.device) if K > 1 else \
            torch.full((1,), 0.5 * rc, dtype=r.dtype, device=r.device)
        width = (rc - 0.5) / max(K - 1, 1)
        return torch.exp(-(((r[:, None] - mu[None, :]) / width) ** 2)) * self.cutoff_function(r)[:, None]

    def cutoff_function(self, r: torch.Tensor) -> torch.Tensor:
        """The cosine cutoff 0.5 (cos(π r / r_c) + 1) inside the cutoff, 0 beyond."""
        rc = self.cutoff
        return torch.where(r < rc, 0.5 * (torch.cos(math.pi * r / rc) + 1.0), torch.zeros_like(r))

    def scaled_inputs(self, b: Batch) -> dict:
        """{element: (n_el, n_sf) symmetry functions of the batch's atoms of that element, scaled} for the
        elements present."""
        return {el: (b.G[e] - getattr(self, f"g_mean_{el}")) * getattr(self, f"g_scale_{el}")
                for e, el in enumerate(self.elements) if b.G[e].shape[0]}

    def forward(self, b: Batch) -> dict:
        """{target name: (M, A) or (M, A, 3, 3) predictions; atoms of elements without the target: 0}."""
        A, M, nel, K = b.n_atoms, self.committee, len(self.elements), self.basis
        x = self.scaled_inputs(b)
        xin = x
        if self.neighbour_features:
            nb = self.neighbour_sums(x, b)
            xin = {el: torch.cat([x[el], (nb[b.atoms[self.elements.index(el)]] - getattr(self, f"nb_mean_{el}"))
                                  * getattr(self, f"nb_scale_{el}")], 1) for el in x}
        out = {}
        pair = None
        for ti, t in enumerate(self.targets):
            width = 1 + (K * nel if t.kind == "tensor" or t.response else 0)
            raw = torch.zeros(M, A, width, dtype=torch.float64)
            mean = torch.zeros(A, dtype=torch.float64)
            spread = torch.zeros(A, dtype=torch.float64)
            aniso = torch.zeros(A, dtype=torch.float64)
            for el in self.carriers(t):
                e = self.elements.index(el)
                if el not in x:
                    continue
                idx = b.atoms[e]
                y = self.nets[self.key(ti, el)](xin[el])                  # (M, A_el, width)
                raw = raw.index_copy(1, idx, y)
                mean[idx] = t.mean.get(el, 0.0)
                spread[idx] = t.spread.get(el, 1.0)
                aniso[idx] = t.aniso.get(el, 1.0)
            if t.qeq:
                out[t.name] = self._equilibrate(ti, raw[..., 0], b)
                continue
            iso = mean + spread * raw[..., 0]                        # (M, A)
            if t.kind == "scalar":
                if t.total_charge:
                    excess = b.charge[None].expand(M, -1).index_add(1, b.atom_struct, -iso)   # (M, S)
                    iso = iso + (excess / b.natoms.to(iso.dtype))[:, b.atom_struct]
                if t.response:
                    if pair is None:
                        pair = self._pair_geometry(b)
                    iso = iso + self._respond(ti, iso, self._pair_weights(raw[..., 1:], pair[0], b), pair[0], b)
                out[t.name] = iso
                continue
            if pair is None:
                pair = self._pair_geometry(b)
            phi, Q = pair
            w = self._pair_weights(raw[..., 1:], phi, b)                                  # (M, P)
            At = torch.zeros(M, A, 3, 3, dtype=torch.float64).index_add(
                1, b.pi, w[:, :, None, None] * Q[None])
            T = iso[..., None, None] * torch.eye(3, dtype=torch.float64) + aniso[None, :, None, None] * At
            out[t.name] = T
        return out

    def _pair_geometry(self, b: Batch) -> tuple:
        """((P, K) radial basis, (P, 3, 3) traceless r̂ r̂ᵀ − I/3) of the batch's neighbour pairs."""
        r = torch.linalg.norm(b.vec, dim=1).clamp(min=1e-12)
        u = b.vec / r[:, None]
        return self.radial(r), u[:, :, None] * u[:, None, :] - torch.eye(3, dtype=u.dtype) / 3.0

    def _pair_weights(self, coeff: torch.Tensor, phi: torch.Tensor, b: Batch) -> torch.Tensor:
        """(M, P) Σ_k c_k(G_i)[element of j] φ_k(r_ij) for every pair (i, j): ``coeff`` (M, A, K·n_elements) the
        centres' network outputs, ``phi`` (P, K) the radial basis."""
        M, A = coeff.shape[:2]
        C = coeff.reshape(M, A, self.basis, len(self.elements))
        cj = C[:, b.pi].gather(3, b.elem[b.pj].view(1, -1, 1, 1).expand(M, -1, self.basis, 1)).squeeze(3)
        return (cj * phi[None]).sum(2)

    def potentials(self, q: torch.Tensor, b: Batch) -> torch.Tensor:
        """(M, A) electrostatic potential (V) at every atom made by the charges ``q`` (M, A) of all the other atoms
        of its structure, as Gaussians of the target's ``response_width`` (Ewald for periodic cells)."""
        if b.potential is None:
            raise InputError("the potential response needs the interaction matrices (features(..., potential=True))")
        out, start = [], 0
        for P_k in b.potential:
            n = P_k.shape[0]
            out.append(q[:, start:start + n] @ P_k)
            start += n
        return torch.cat(out, 1)

    def _respond(self, ti: int, q0: torch.Tensor, w: torch.Tensor, phi: torch.Tensor, b: Batch) -> torch.Tensor:
        """(M, A) charge moved by the potential: over every neighbour pair (i, j) the charge
        s · w_ij · (V_j − V_i − ΔV̄(e_i, e_j, r_ij)) flows into i and out of j (so the total charge stays): V the
        potential of the other atoms' local charges ``q0``, w_ij (``w``, (M, P)) the susceptibility the centre's
        networks give for that neighbour, ΔV̄ the difference such a pair has on average in the training set
        (a smooth function of the distance, ``phi`` (P, K) the radial basis) — the networks' local charges hold what
        the average environment does, the flow what this one's potential does differently. Both directions of a pair
        count. An electron is drawn to the higher potential: w > 0 is the physical sign, which the networks learn."""
        V = self.potentials(q0, b)
        dv = V[:, b.pj] - V[:, b.pi] - self._mean_dv(ti, phi, b)[None]
        flow = getattr(self, f"resp_scale_t{ti}") * w * dv                                       # (M, P)
        zero = torch.zeros_like(q0)
        return zero.index_add(1, b.pi, flow) - zero.index_add(1, b.pj, flow)

    def _mean_dv(self, ti: int, phi: torch.Tensor, b: Batch) -> torch.Tensor:
        """(P,) the training set's mean potential difference for each pair's elements and distance."""
        beta = getattr(self, f"resp_dv_t{ti}")[b.elem[b.pi], b.elem[b.pj]]                      # (P, K)
        return (beta * phi).sum(1)

    def init_response(self, feats: list[Features], limit: int = 64) -> None:
        """Set the potential response's constants from (up to ``limit``) training structures, with the potentials
        of their reference charges: ΔV̄ per element pair, a least-squares fit of the pairs' potential differences on
        the radial basis; and the charge per volt per unit network output, the mean spread of the reference charges
        over the RMS of what is left of the differences and the square root of the mean number of neighbours — so
        that outputs of order one move an atom's charge by about one spread."""
        for ti, t in enumerate(self.targets):
            if not t.response:
                continue
            nel = len(self.elements)
            rows = []
            for f in feats[:limit]:
                q = f.targets.get(t.name)
                if q is None or f.potential is None or not len(f.pi):
                    continue
                V = f.potential @ q
                with torch.no_grad():
                    phi = self.radial(torch.linalg.norm(torch.from_numpy(f.vec), dim=1)).numpy()
                rows.append((f.elem[f.pi], f.elem[f.pj], phi, V[f.pj] - V[f.pi], f.natoms))
            if not rows:
                continue
            ei, ej, phi, dv = (np.concatenate([r[k] for r in rows]) for k in range(4))
            beta = np.zeros((nel, nel, self.basis))
            for a in range(nel):
                for c in range(nel):
                    m = (ei == a) & (ej == c)
                    if m.sum() > self.basis:
                        X = phi[m]
                        beta[a, c] = np.linalg.solve(X.T @ X + 1e-8 * np.eye(self.basis), X.T @ dv[m])
            rest = dv - np.einsum("pk,pk->p", beta[ei, ej], phi)
            rms = float(np.sqrt(np.mean(rest ** 2)))
            per_atom = len(dv) / sum(r[4] for r in rows)
            spread = float(np.mean([t.spread.get(el, 1.0) for el in self.carriers(t)]))
            with torch.no_grad():
                getattr(self, f"resp_dv_t{ti}").copy_(torch.from_numpy(beta))
                getattr(self, f"resp_scale_t{ti}").fill_(spread / max(rms, 1e-6) / math.sqrt(max(per_atom, 1.0)))

    def _equilibrate(self, ti: int, raw: torch.Tensor, b: Batch) -> torch.Tensor:
        """(M, A) charges minimising the charge-equilibration energy of every structure of ``b`` at its total charge,
        with electronegativities χ0_el + s_el · (network output)."""
        if b.coulomb is None:
            raise InputError("a charge-equilibration target needs the interaction matrices (features(..., "
                             "coulomb=True))")
        M = raw.shape[0]
        chi = getattr(self, f"chi0_t{ti}")[:, b.elem] + getattr(self, f"chi_scale_t{ti}")[b.elem] * raw    # (M, A)
        J = torch.nn.functional.softplus(getattr(self, f"hard_t{ti}"))[:, b.elem]             # (M, A)
        q = []
        start = 0
        for k, A_k in enumerate(b.coulomb):
            n = A_k.shape[0]
            sl = slice(start, start + n)
            start += n
            mat = torch.zeros(M, n + 1, n + 1, dtype=torch.float64)
            mat[:, :n, :n] = A_k[None] + torch.diag_embed(J[:, sl])
            mat[:, :n, n] = 1.0
            mat[:, n, :n] = 1.0
            rhs = torch.cat([-chi[:, sl], b.charge[k].expand(M, 1)], 1)
            q.append(torch.linalg.solve(mat, rhs[..., None])[:, :n, 0])
        return torch.cat(q, 1)

    def init_qeq(self, feats: list[Features], limit: int = 64) -> None:
        """Start χ0 where the reference charges of (up to ``limit``) training structures put it: the per-element
        mean of −(A + J0) q_ref (the common shift goes into the constraint's multiplier). The electronegativity
        per unit network output s_el is the element's charge spread times its mean diagonal of A + J0 — what moves
        its charge by about one spread alone — so that the networks start, and learn, on the scale of the
        reference charges (a fixed 2 eV moved water's charges by ~7 spreads per unit output)."""
        for ti, t in enumerate(self.targets):
            if not t.qeq:
                continue
            nel = len(self.elements)
            sums, counts, diag = np.zeros(nel), np.zeros(nel), np.zeros(nel)
            for f in feats[:limit]:
                q = f.targets.get(t.name)
                if q is None or f.coulomb is None:
                    continue
                x = -(f.coulomb + QEQ_J0 * np.eye(len(q))) @ q
                np.add.at(sums, f.elem, x)
                np.add.at(diag, f.elem, np.diag(f.coulomb) + QEQ_J0)
                np.add.at(counts, f.elem, 1)
            chi0 = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
            chi0 -= chi0[counts > 0].mean() if (counts > 0).any() else 0.0
            scale = np.array([t.spread.get(el, 1.0) * (diag[e] / counts[e] if counts[e] else 1.0)
                              for e, el in enumerate(self.elements)])
            with torch.no_grad():
                getattr(self, f"chi0_t{ti}").copy_(torch.from_numpy(chi0)[None].expand(self.committee, -1))
                getattr(self, f"chi_scale_t{ti}").copy_(torch.from_numpy(scale))

    def masks(self, b: Batch) -> dict:
        """{target name: (A,) atoms whose element carries the target}."""
        res = {}
        for t in self.targets:
            carry = torch.zeros(len(self.elements), dtype=torch.bool)
            for el in self.carriers(t):
                carry[self.elements.index(el)] = True
            res[t.name] = carry[b.elem]
        return res


# -- files ---------------------------------------------------------------------------------------
def save(model: PropertyNetworks, folder, sf_lines: list[str], cutoff_type: int, cutoff_alpha: float,
         extra: dict | None = None) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"format": "hdnnp-properties", "version": FORMAT_VERSION, "units": {"length": "angstrom"},
            "elements": model.elements, "n_sf": model.n_sf, "sf_lines": list(sf_lines),
            "cutoff_type": int(cutoff_type), "cutoff_alpha": float(cutoff_alpha),
            "hidden": model.hidden, "activation": model.activation, "basis": model.basis,
            "cutoff": model.cutoff, "committee": model.committee, "neighbour_features": model.neighbour_features,
            "targets": [t.to_dict() for t in model.targets], **(extra or {})}
    (folder / JSON_NAME).write_text(json.dumps(meta, indent=1))
    arrays = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    np.savez(folder / NPZ_NAME, **arrays)


def load(folder) -> tuple[PropertyNetworks, object]:
    """(networks, symmetry-function set) from a folder written by :func:`save`."""
    from ..descriptors import SymmetryFunctionSet

    folder = Path(folder)
    path = folder / JSON_NAME
    if not path.is_file():
        raise InputError(f"no per-atom property model here ({JSON_NAME} missing)", file=str(folder))
    from ..io._common import read_tagged_json
    meta = read_tagged_json(path, "hdnnp-properties", "an hdnnp per-atom property model")
    if meta.get("version") != FORMAT_VERSION:
        raise InputError(f"per-atom property model format version {meta.get('version')}; this hdnnp reads version "
                         f"{FORMAT_VERSION} (train the model again)", file=str(path))
    targets = [Target(**t) for t in meta["targets"]]
    model = PropertyNetworks(meta["elements"], {k: int(v) for k, v in meta["n_sf"].items()}, targets,
                             meta["hidden"], meta["activation"], meta["basis"], meta["cutoff"], meta["committee"],
                             bool(meta.get("neighbour_features", False)))
    with np.load(folder / NPZ_NAME, allow_pickle=False) as z:
        state = {k: torch.from_numpy(z[k].copy()) for k in z.files}
    for ti, t in enumerate(targets):                 # saved before the per-element electronegativity scale
        if t.qeq and f"chi_scale_t{ti}" not in state:
            state[f"chi_scale_t{ti}"] = torch.full((len(meta["elements"]),), QEQ_CHI_SCALE, dtype=torch.float64)
    model.load_state_dict(state)
    lines = [(i + 1, ln.split()[1:] if ln.split()[0] == "symfunction_short" else ln.split())
             for i, ln in enumerate(meta["sf_lines"])]
    sfset = SymmetryFunctionSet.from_n2p2_lines(meta["elements"], lines, meta["cutoff_type"],
                                                meta["cutoff_alpha"], file=str(path))
    return model, sfset
