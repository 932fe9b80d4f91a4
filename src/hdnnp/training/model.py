"""The trainable HDNNP in torch: SF scaling + one feed-forward network per element (n2p2 semantics),
per-atom outputs summed to totals; forces and stress by contracting dE/dG with cached dG/dr.

The model is a dict of element networks producing per-atom outputs; totals, forces and stress are
derived from them, so further per-atom targets (charges, committees) fit the same shape.
Exported to an n2p2 folder with :func:`to_potential` (exact: same activations, scaling, weights).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..model.n2p2 import (ElementNetwork, ElementScaling, Potential, SCALING_CENTER, SCALING_NONE,
                          SCALING_SCALE, SCALING_SCALE_CENTER, SCALING_SCALE_SIGMA)
from .data import TorchBatch

SCALING_MODES = {"none": SCALING_NONE, "scale": SCALING_SCALE, "center": SCALING_CENTER,
                 "scale_center": SCALING_SCALE_CENTER, "scale_sigma": SCALING_SCALE_SIGMA}
_EXP_LIMIT = 35.0


def activation(letter: str, x: torch.Tensor) -> torch.Tensor:
    """n2p2's activation functions by letter."""
    if letter == "l":
        return x
    if letter == "t":
        return torch.tanh(x)
    if letter == "s":
        return torch.sigmoid(x)
    if letter == "p":
        return torch.where(x > _EXP_LIMIT, x, torch.nn.functional.softplus(x.clamp(max=_EXP_LIMIT)))
    if letter == "r":
        return torch.relu(x)
    if letter == "g":
        return torch.exp(-0.5 * x * x)
    if letter == "c":
        return torch.cos(x)
    if letter == "S":
        return 1.0 - torch.sigmoid(x)
    if letter == "e":
        return torch.exp(-x)
    if letter == "h":
        return x * x
    raise ValueError(f"unknown activation {letter!r}")


class ElementMLP(nn.Module):
    def __init__(self, sizes: list[int], activations: str):
        super().__init__()
        self.sizes = list(sizes)
        self.activations = activations
        self.layers = nn.ModuleList(nn.Linear(sizes[i - 1], sizes[i], dtype=torch.float64)
                                    for i in range(1, len(sizes)))

    def forward(self, x):
        for lin, a in zip(self.layers, self.activations):
            x = activation(a, lin(x))
        return x.squeeze(-1)

    def n2p2_weights(self) -> np.ndarray:
        """Flat weights in weights.ZZZ.data order (per layer: W[in -> out] in-outer, then biases)."""
        return ElementNetwork.flatten([(lin.weight.detach().cpu().double().numpy(),
                                        lin.bias.detach().cpu().double().numpy())
                                       for lin in self.layers])

    def load_n2p2_weights(self, w: np.ndarray) -> None:
        net = ElementNetwork(self.sizes, self.activations, np.asarray(w, np.float64))
        with torch.no_grad():
            for lin, (W, b) in zip(self.layers, net.layers()):
                lin.weight.copy_(torch.from_numpy(W.copy()))
                lin.bias.copy_(torch.from_numpy(b.copy()))


class HDNNP(nn.Module):
    """Per-element networks on scaled SFs. Network outputs are internal energies; the atomic energy
    in eV is ``E_int / conv_energy + atom_energy[el]`` (n2p2 normalisation with mean_energy 0)."""

    def __init__(self, elements: list[str], n_sf: dict[str, int], hidden: list[int],
                 activation_letter: str = "t", scaling_mode: int = SCALING_SCALE_CENTER,
                 scale_min: float = 0.0, scale_max: float = 1.0):
        super().__init__()
        self.elements = list(elements)
        self.n_sf = dict(n_sf)
        self.activations = activation_letter * len(hidden) + "l"
        self.nets = nn.ModuleDict({el: ElementMLP([n_sf[el]] + list(hidden) + [1], self.activations)
                                   for el in elements})
        self.scaling_mode = int(scaling_mode)
        self.scale_min, self.scale_max = float(scale_min), float(scale_max)
        for el in elements:
            n = n_sf[el]
            for name in ("gmin", "gmax", "gmean", "gsigma"):
                self.register_buffer(f"{name}_{el}", torch.zeros(n, dtype=torch.float64))
            self.register_buffer(f"scale_a_{el}", torch.ones(n, dtype=torch.float64))
            self.register_buffer(f"scale_b_{el}", torch.zeros(n, dtype=torch.float64))
        self.register_buffer("atom_energy", torch.zeros(len(elements), dtype=torch.float64))
        self.register_buffer("conv_energy", torch.ones((), dtype=torch.float64))

    # -- set-up ---------------------------------------------------------------------------------
    def init_weights(self, generator: torch.Generator) -> None:
        """Uniform Glorot-like initialisation (small output layer), from ``generator``."""
        with torch.no_grad():
            for el in self.elements:
                layers = self.nets[el].layers
                for i, lin in enumerate(layers):
                    lim = math.sqrt(6.0 / (lin.in_features + lin.out_features))
                    if i == len(layers) - 1:
                        lim *= 0.5
                    lin.weight.copy_((torch.rand(lin.weight.shape, generator=generator,
                                                 dtype=torch.float64) * 2 - 1) * lim)
                    lin.bias.zero_()

    def set_scaling(self, stats: dict[str, ElementScaling]) -> None:
        for el in self.elements:
            s = stats[el]
            for name in ("gmin", "gmax", "gmean", "gsigma"):
                getattr(self, f"{name}_{el}").copy_(torch.from_numpy(np.asarray(getattr(s, name))))
        self._update_affine()

    def _update_affine(self) -> None:
        smin, smax, m = self.scale_min, self.scale_max, self.scaling_mode
        for el in self.elements:
            gmin, gmax = getattr(self, f"gmin_{el}"), getattr(self, f"gmax_{el}")
            gmean, gsig = getattr(self, f"gmean_{el}"), getattr(self, f"gsigma_{el}")
            one = torch.ones_like(gmin)
            if m == SCALING_NONE:
                a, b = one, torch.zeros_like(gmin)
            elif m == SCALING_CENTER:
                a, b = one, -gmean
            else:
                f = (smax - smin) / ((gsig if m == SCALING_SCALE_SIGMA else gmax - gmin))
                c = gmin if m == SCALING_SCALE else gmean
                a, b = f, smin - f * c
            getattr(self, f"scale_a_{el}").copy_(a)
            getattr(self, f"scale_b_{el}").copy_(b)

    def load_state_dict(self, *args, **kwargs):
        r = super().load_state_dict(*args, **kwargs)
        self._update_affine()
        return r

    # -- evaluation -----------------------------------------------------------------------------
    def atomic(self, el: str, G: torch.Tensor) -> torch.Tensor:
        """Internal per-atom energies of element ``el`` from raw G."""
        return self.nets[el](self.scaled_input(el, G))

    def scaled_input(self, el: str, G: torch.Tensor) -> torch.Tensor:
        """The scaled SFs of element ``el`` (n2p2 scaling of the raw G)."""
        a = getattr(self, f"scale_a_{el}")
        m = self.scaling_mode
        if m in (SCALING_SCALE, SCALING_SCALE_CENTER, SCALING_SCALE_SIGMA):
            # n2p2 order of operations: Smin + f * (G - c)
            c = getattr(self, f"gmin_{el}") if m == SCALING_SCALE else getattr(self, f"gmean_{el}")
            x = self.scale_min + a * (G - c)
        elif m == SCALING_CENTER:
            x = G - getattr(self, f"gmean_{el}")
        else:
            x = G
        return x

    def forward(self, batch: TorchBatch, forces: bool = True, stress: bool = False,
                create_graph: bool = True) -> dict:
        S, A = batch.n_structures, batch.n_atoms
        dt = self.conv_energy.dtype
        e_atoms = torch.zeros(A, dtype=dt, device=batch.atom_struct.device)
        Gs, outs = [], []
        for e, el in enumerate(self.elements):
            G = batch.G[e]
            if G.shape[0] == 0:
                Gs.append(None)
                outs.append(None)
                continue
            if forces or stress:
                G = G.detach().requires_grad_(True)
            y = self.atomic(el, G)
            Gs.append(G)
            outs.append(y)
            e_atoms = e_atoms.index_put((batch.atoms[e],), y / self.conv_energy)
        offsets = self.atom_energy[batch.elem]
        energy = torch.zeros(S, dtype=dt, device=e_atoms.device).index_add(
            0, batch.atom_struct, e_atoms + offsets)
        out = {"energy": energy, "atomic_energy": e_atoms + offsets}
        if forces or stress:
            used = [(e, G, y) for e, (G, y) in enumerate(zip(Gs, outs)) if G is not None]
            grads = torch.autograd.grad([y.sum() for _, _, y in used], [G for _, G, _ in used],
                                        create_graph=create_graph)
            dEdr = torch.zeros(A, 3, dtype=dt, device=e_atoms.device)
            virial = torch.zeros(S, 3, 3, dtype=dt, device=e_atoms.device) if stress else None
            for (e, _, _), g in zip(used, grads):
                if batch.dG[e].shape[0] == 0:
                    continue
                v = torch.einsum("ps,psc->pc", g[batch.pc[e]], batch.dG[e]) / self.conv_energy
                dEdr = dEdr.index_add(0, batch.pj[e], v).index_add(0, batch.pi[e], -v)
                if stress:
                    virial = virial.index_add(0, batch.pair_struct[e],
                                              v[:, :, None] * batch.vec[e][:, None, :])
            out["forces"] = -dEdr
            if stress:
                vol = batch.volume.clamp(min=1e-12)
                sig = virial / vol[:, None, None]
                out["stress"] = 0.5 * (sig + sig.transpose(1, 2))
        return out

    # -- export ---------------------------------------------------------------------------------
    def to_potential(self, sf_lines: list[str], cutoff_type: int, cutoff_alpha: float) -> Potential:
        """The model as an n2p2 Potential in eV and Å."""
        ce = float(self.conv_energy)
        nets = self.export_networks()
        scaling = {el: ElementScaling(*(getattr(self, f"{n}_{el}").detach().cpu().numpy().copy()
                                        for n in ("gmin", "gmax", "gmean", "gsigma")))
                   for el in self.elements}
        lines = [(i + 1, ln.split()[1:] if ln.startswith("symfunction_short") else ln.split())
                 for i, ln in enumerate(sf_lines)]
        return Potential(elements=list(self.elements), networks=nets, scaling=scaling,
                         scaling_mode=self.scaling_mode, scale_min=self.scale_min,
                         scale_max=self.scale_max, mean_energy=0.0, conv_energy=ce,
                         conv_length=1.0, normalized=(ce != 1.0),
                         atom_energy={el: float(self.atom_energy[i])
                                      for i, el in enumerate(self.elements)},
                         cutoff_type=int(cutoff_type), cutoff_alpha=float(cutoff_alpha),
                         sf_lines=lines, keywords=[], input_nn_text=None,
                         length_unit="angstrom", energy_unit="ev")

    def export_networks(self) -> dict:
        """Per element the n2p2 network (on the scaled SFs) that ``to_potential`` writes."""
        return {el: ElementNetwork(list(self.nets[el].sizes), self.activations,
                                   self.nets[el].n2p2_weights()) for el in self.elements}

    def charge_potential(self, sf_lines: list[str], cutoff_type: int, cutoff_alpha: float):
        """For a model whose last input is the total charge (``model.charge_input``): the n2p2 potential of the
        neutral state (the charge column folded into the first-layer biases at Q = 0) and the slopes
        {element: (hidden1,)} with which those biases grow per unit of charge (:mod:`hdnnp.model.charge`)."""
        pot = self.to_potential(sf_lines, cutoff_type, cutoff_alpha)
        slopes, nets, scaling = {}, {}, {}
        for el in self.elements:
            net = pot.networks[el]
            layers = net.layers()
            W0, b0 = layers[0]
            # the scaled charge is the affine map of every input: x_Q = scale_b + scale_a Q (_update_affine)
            alpha, beta = float(getattr(self, f"scale_b_{el}")[-1]), float(getattr(self, f"scale_a_{el}")[-1])
            wq = W0[:, -1]
            layers[0] = (W0[:, :-1], b0 + wq * alpha)
            slopes[el] = wq * beta
            nets[el] = ElementNetwork([net.layer_sizes[0] - 1] + list(net.layer_sizes[1:]), net.activations,
                                      ElementNetwork.flatten(layers))
            sc = pot.scaling[el]
            scaling[el] = ElementScaling(sc.gmin[:-1], sc.gmax[:-1], sc.gmean[:-1], sc.gsigma[:-1])
        import dataclasses
        return dataclasses.replace(pot, networks=nets, scaling=scaling), slopes


#: symmetry-function values whose magnitude never exceeds this carry no information in the float32 the
#: Jacobians and caches use (float32's smallest normal number is 1.2e-38)
TINY_SF = 1e-30
#: a training range below this fraction of the values' magnitude is constant to float64 rounding
FLAT_SF = 1e-10


def function_statistics(G_per_element: dict[str, list[np.ndarray]], elements, dist=None) -> dict:
    """Per element: (count, min, max, mean, std) of every function over the atoms given (None where the
    element has no atom). ``dist`` (:class:`~hdnnp.training.distributed.Dist`): the atoms are spread over the
    ranks of a data-parallel run and the statistics are those of all of them."""
    out = {}
    for el in elements:
        arrs = [a for a in G_per_element.get(el, []) if len(a)]
        if dist is None or not dist.parallel:
            if not arrs:
                out[el] = None
                continue
            G = np.concatenate(arrs)
            out[el] = (len(G), G.min(0), G.max(0), G.mean(0), G.std(0))
            continue
        G = np.concatenate(arrs) if arrs else None
        n_loc = 0 if G is None else len(G)
        ncol = int(dist.max(np.array([G.shape[1] if G is not None else -1]))[0])
        n = int(dist.sum(np.array([n_loc]))[0])
        if n == 0:
            out[el] = None
            continue
        if G is None:
            G = np.zeros((0, ncol))
        gmin = dist.min(G.min(0) if n_loc else np.full(ncol, np.inf))
        gmax = dist.max(G.max(0) if n_loc else np.full(ncol, -np.inf))
        mean = dist.sum(G.sum(0)) / n
        std = np.sqrt(dist.sum(((G - mean) ** 2).sum(0)) / n)
        out[el] = (n, gmin, gmax, mean, std)
    return out


def degenerate_functions(G_per_element: dict[str, list[np.ndarray]], sfset, dist=None
                         ) -> dict[str, list[tuple[int, str]]]:
    """Symmetry functions whose training range carries no information: constant over the training set,
    or never larger in magnitude than TINY_SF (e.g. η so large that exp(-η r²) underflows at every
    neighbour distance), or with a range below FLAT_SF of their magnitude. {element: [(column, reason)]}.
    Scaling by such a range divides by (nearly) zero and stalls second-order optimisers."""
    out = {}
    stats = function_statistics(G_per_element, sfset.elements, dist)
    for el in sfset.elements:
        if stats[el] is None:
            continue
        _, gmin, gmax, _, _ = stats[el]
        mag = np.maximum(np.abs(gmin), np.abs(gmax))
        bad = []
        for k in range(len(gmin)):
            span = gmax[k] - gmin[k]
            if mag[k] <= TINY_SF:
                bad.append((k, f"never above {TINY_SF:g} on the training set (max |G| = {mag[k]:.3g}): "
                               "it underflows at every neighbour distance"))
            elif span <= FLAT_SF * mag[k]:
                bad.append((k, f"constant on the training set (G = {gmin[k]:.6g})"))
        if bad:
            out[el] = bad
    return out


def scaling_statistics(G_per_element: dict[str, list[np.ndarray]], elements, n_sf, dist=None) -> dict:
    """n2p2 scaling.data statistics (min, max, mean, sigma) from the training set only.
    Constant SFs get max = min + 1 and sigma = 1 (n2p2 would divide by zero)."""
    out = {}
    stats = function_statistics(G_per_element, elements, dist)
    for el in elements:
        if stats[el] is None:
            z = np.zeros(n_sf[el])
            out[el] = ElementScaling(z, z + 1.0, z, z + 1.0)
            continue
        _, gmin, gmax, mean, sig = stats[el]
        const = gmax - gmin <= 0
        gmax = np.where(const, gmin + 1.0, gmax)
        sig = np.where(sig <= 0, 1.0, sig)
        out[el] = ElementScaling(gmin, gmax, mean, sig)
    return out
