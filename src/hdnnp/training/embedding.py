"""Learned element embedding on element-resolved symmetry functions (``model.embedding``).

Element-resolved SFs (types 2, 3, 9, 20, 21, 22) come in families that differ only in the
neighbour element (radial) or unordered neighbour pair (angular); such a family is one *shape* c.
With a learned embedding ``w[e, k]`` (one row of K numbers per element, shared by all centre
elements) the scaled resolved functions x are mixed into K channels per shape:

    radial   m[c, k] = Σ_e        w[e, k]           x[c, e]
    angular  m[c, k] = Σ_{e1≤e2}  w[e1, k] w[e2, k] x[c, (e1, e2)]

The resolved angular function of a pair e1≠e2 already sums each unordered neighbour pair {j, l}
once, so Σ_{e1≤e2} w_e1 w_e2 G_(e1,e2) = Σ_{j<l} w_ej w_el (...) — the embedding-weighted angular
function, without a factor 2 for mixed pairs. The network input is m (shapes × K), its length
independent of the number of elements; the resolved G and dG/dr are still computed and cached,
and forces contract dE/dG_resolved with them as for the plain model.

For fixed weights the mixing is linear, m = M(w) x, so the first layer W1 m + b1 equals
(W1 M(w)) x + b1: :meth:`EmbeddingHDNNP.export_networks` folds the embedding into an
element-resolved first layer and the exported n2p2 potential gives the same energies and forces.
The Levenberg–Marquardt optimiser differentiates the same effective networks and maps its
Jacobians back to (W1, w) with :meth:`EmbeddingHDNNP.lm_pullback` (chain rule through W1 M(w)).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..descriptors import SymmetryFunctionSet
from ..errors import InputError
from ..model.n2p2 import ElementNetwork
from .model import HDNNP, ElementMLP

_RESOLVED = (2, 3, 9, 20, 21, 22)


def mixing_layout(sfset: SymmetryFunctionSet, element: str):
    """For the resolved SFs of centre ``element`` (n2p2 order): shape index, neighbour element
    index e1 and e2 (-1 for radial), and the number of shapes."""
    shapes: dict[tuple, int] = {}
    shape, e1, e2 = [], [], []
    for sf in sfset.for_element(element):
        if sf.type not in _RESOLVED:
            raise InputError(f"config key 'model.embedding': symmetry function type {sf.type} of "
                             f"element {element} is not element-resolved; the embedding mixes "
                             "resolved types 2, 3, 9, 20, 21, 22 (weighted types 12, 13, 23-25 "
                             "are an alternative to it, not an input)")
        key = (sf.type, sf.eta, sf.rs, sf.lambda_, sf.zeta, sf.rc, sf.rl, sf.angle_left,
               sf.angle_right, sf.subtype, sf.cutoff_type, sf.cutoff_alpha)
        shape.append(shapes.setdefault(key, len(shapes)))
        a = sfset.element_index(sf.e1)
        b = sfset.element_index(sf.e2) if sf.e2 is not None else -1
        if b >= 0 and b < a:
            a, b = b, a
        e1.append(a)
        e2.append(b)
    return np.array(shape, np.int64), np.array(e1, np.int64), np.array(e2, np.int64), len(shapes)


class EmbeddingHDNNP(HDNNP):
    """HDNNP whose element networks see K embedding-mixed channels per SF shape (see the module
    docstring). Scaling, reference energies and the forward pass (forces, stress) are those of
    :class:`HDNNP` on the resolved G; only ``atomic`` inserts the mixing."""

    def __init__(self, elements: list[str], sfset: SymmetryFunctionSet, channels: int,
                 hidden: list[int], activation_letter: str = "t", scaling_mode: int = 3,
                 scale_min: float = 0.0, scale_max: float = 1.0):
        n_sf = {el: len(sfset.for_element(el)) for el in elements}
        super().__init__(elements, n_sf, hidden, activation_letter, scaling_mode, scale_min,
                         scale_max)
        self.channels = K = int(channels)
        self.n_shapes = {}
        for el in elements:
            shape, e1, e2, C = mixing_layout(sfset, el)
            self.n_shapes[el] = C
            self.register_buffer(f"mix_shape_{el}", torch.from_numpy(shape))
            self.register_buffer(f"mix_e1_{el}", torch.from_numpy(e1))
            self.register_buffer(f"mix_e2_{el}", torch.from_numpy(e2))
        self.nets = nn.ModuleDict({el: ElementMLP([self.n_shapes[el] * K] + list(hidden) + [1],
                                                  self.activations) for el in elements})
        self.embedding = nn.Parameter(torch.zeros(len(elements), K, dtype=torch.float64))

    @property
    def n_inputs(self) -> dict[str, int]:
        """Network input length per element (shapes × channels)."""
        return {el: self.n_shapes[el] * self.channels for el in self.elements}

    def init_weights(self, generator: torch.Generator) -> None:
        """Networks as :class:`HDNNP`; embedding w ~ N(0, 1/n_elements) (mixed channels of order
        one for centred inputs), drawn after the network weights."""
        super().init_weights(generator)
        with torch.no_grad():
            E = len(self.elements)
            self.embedding.copy_(torch.randn(self.embedding.shape, generator=generator,
                                             dtype=torch.float64) / math.sqrt(E))

    # -- mixing ---------------------------------------------------------------------------------
    def _coef(self, el: str, w: torch.Tensor) -> torch.Tensor:
        """(n_sf, K) mixing coefficient of every resolved SF in its shape's channels."""
        e1, e2 = getattr(self, f"mix_e1_{el}"), getattr(self, f"mix_e2_{el}")
        return torch.where((e2 >= 0)[:, None], w[e1] * w[e2.clamp(min=0)], w[e1])

    def mixing(self, el: str) -> torch.Tensor:
        """M(w) (shapes·K, n_sf): network input = M(w) @ scaled resolved SFs."""
        shape = getattr(self, f"mix_shape_{el}")
        n, K, C = shape.shape[0], self.channels, self.n_shapes[el]
        coef = self._coef(el, self.embedding)
        M = torch.zeros(C, n, K, dtype=coef.dtype, device=coef.device).index_put(
            (shape, torch.arange(n, device=shape.device)), coef)
        return M.permute(0, 2, 1).reshape(C * K, n)

    def atomic(self, el: str, G: torch.Tensor) -> torch.Tensor:
        return self.nets[el](self.scaled_input(el, G) @ self.mixing(el).T)

    def effective_weights(self, el: str) -> torch.Tensor:
        """W1 M(w): the first-layer weights on the scaled resolved SFs (hidden, n_sf)."""
        return self.nets[el].layers[0].weight @ self.mixing(el)

    # -- Levenberg–Marquardt hooks --------------------------------------------------------------
    def lm_layers(self, el: str) -> list:
        """(W, b, activation) of the effective network on the scaled resolved SFs (detached)."""
        net = self.nets[el]
        with torch.no_grad():
            W1 = self.effective_weights(el)
        return [(W1 if i == 0 else lin.weight.detach(), lin.bias.detach(), a)
                for i, (lin, a) in enumerate(zip(net.layers, net.activations))]

    def lm_pullback(self, J: torch.Tensor) -> torch.Tensor:
        """Rows of derivatives w.r.t. the effective weights (elements in order, per element
        W1M, b1, W2, b2, ...) -> derivatives w.r.t. ``self.parameters()`` (chain rule)."""
        R = J.shape[0]
        offs, k = {}, 0
        for name, p in self.named_parameters():
            offs[name] = (k, k + p.numel())
            k += p.numel()
        out = J.new_zeros(R, k)
        w = self.embedding.detach().to(J.dtype)
        gw = J.new_zeros(R, *w.shape)
        ke = 0
        for el in self.elements:
            net = self.nets[el]
            lin0 = net.layers[0]
            H, n = lin0.out_features, self.n_sf[el]
            n_eff = H * n + sum(p.numel() for p in net.parameters()) - lin0.weight.numel()
            with torch.no_grad():
                M = self.mixing(el).to(J.dtype)
            Jw = J[:, ke:ke + H * n].reshape(R, H, n)
            a, b = offs[f"nets.{el}.layers.0.weight"]
            out[:, a:b] = (Jw @ M.T).reshape(R, -1)
            a = offs[f"nets.{el}.layers.0.bias"][0]
            out[:, a:a + n_eff - H * n] = J[:, ke + H * n:ke + n_eff]
            # embedding: d(W1 M)/dw through the coefficients of each resolved SF
            shape = getattr(self, f"mix_shape_{el}")
            e1, e2 = getattr(self, f"mix_e1_{el}"), getattr(self, f"mix_e2_{el}")
            W1g = lin0.weight.detach().to(J.dtype).reshape(H, -1, self.channels)[:, shape, :]
            U = torch.einsum("rhs,hsk->rsk", Jw, W1g)                  # dL/dcoef (R, n, K)
            rad = e2 < 0
            ang = ~rad
            gw.index_add_(1, e1[rad], U[:, rad])
            gw.index_add_(1, e1[ang], U[:, ang] * w[e2[ang]])
            gw.index_add_(1, e2[ang], U[:, ang] * w[e1[ang]])
            ke += n_eff
        if ke != J.shape[1]:
            raise ValueError(f"lm_pullback: {J.shape[1]} effective columns, expected {ke}")
        a, b = offs["embedding"]
        out[:, a:b] = gw.reshape(R, -1)
        return out

    # -- export ---------------------------------------------------------------------------------
    def export_networks(self) -> dict:
        """Element-resolved n2p2 networks with the embedding folded into the first layer."""
        out = {}
        for el in self.elements:
            net = self.nets[el]
            full = ElementMLP([self.n_sf[el]] + net.sizes[1:], net.activations)
            with torch.no_grad():
                W1 = self.effective_weights(el)
                for i, (src, dst) in enumerate(zip(net.layers, full.layers)):
                    dst.weight.copy_(W1 if i == 0 else src.weight)
                    dst.bias.copy_(src.bias)
            out[el] = ElementNetwork(list(full.sizes), self.activations, full.n2p2_weights())
        return out
