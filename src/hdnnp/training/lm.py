"""Levenberg–Marquardt (damped Gauss–Newton) training with analytic Jacobians.

The networks are small (~10³ weights), so the normal matrix JᵀJ (n_w²) is cheap and a damped
Gauss–Newton step on *all* energies plus a random subsample of force components per iteration
converges in tens of iterations. The Jacobians are written out for the MLP (no autograd):

* energy rows: per-atom back-propagation ``dy/dW_l = δ_l ⊗ h_{l-1}``, summed per structure,
  divided by the number of atoms (energies enter per atom, eV/atom);
* force rows: a force component is ``F_jc = -(1/ce) Σ_q ∂y/∂x(x_q) · d_q`` over the pseudo-samples
  q = (contributing atom, its SF derivative w.r.t. r_jc in scaled coordinates), i.e. a sum of
  directional derivatives of the atomic networks. The directional derivative is pushed forward
  (tangent t_l) and its weight gradient pulled back analytically:
  ``A_l = a_l φ'(z_l)``, ``B_l = b_l φ'(z_l) + a_l v_l φ''(z_l)``,
  ``∂/∂W_l = A_l ⊗ t_{l-1} + B_l ⊗ h_{l-1}``, ``a_{l-1} = W_lᵀ A_l``, ``b_{l-1} = W_lᵀ B_l``
  with ``v_l = W_l t_{l-1}``, ``t_l = φ'(z_l) v_l`` — batched over the (padded) neighbours of the
  selected atoms as matrix products.

* stress rows: ``σ_s,ab = 1/(ce·V_s) Σ_i ∂y/∂x(x_i) · T_i,ab`` with the weight-independent per-atom
  virial tangent ``T_i,ab = a ⊙ Σ_{pairs p of centre i} dG_p[:, a] r_p[b]`` (symmetrised), so a
  stress row is the same tangent weight-gradient as a force row, summed over a structure's atoms.

Loss (eV units): ``w_E · mean_s((E_s - E_s^ref)/N_s)² + w_F · mean_c(F_c - F_c^ref)²
+ w_S · mean_{s,ab}(100·(σ_s,ab - σ_s,ab^ref))²`` (σ in eV/Å³, all 9 components, as the trainer).
Each iteration: Jacobian J of all energies, the stresses of ``stress_structures`` random
structures (0 = all) and the force components of ``force_atoms`` random atoms; step
``(JᵀJ + μ·m·I) δ = -Jᵀr`` (m = mean diagonal of JᵀJ; with ``block_diagonal`` only the blocks of
each element network are kept, which makes many-element fits far cheaper); accepted when the loss on
the same sample decreases (μ ← μ/3), else μ ← 4μ and retried.

The full-set loss is evaluated once per trial point; the state and residuals of an accepted point
are kept and give the next iteration's gradient and Jacobian without another forward pass (the
trajectory is identical to recomputing them).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .data import TorchBatch

SUPPORTED_ACTIVATIONS = "ltsp"
STRESS_SCALE = 100.0                       # as the trainer's loss: (100 · Δσ[eV/Å³])²
_VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
_VOIGT_MULT = (1.0, 1.0, 1.0, 2.0, 2.0, 2.0)   # times each component occurs among the 9


def _act(letter, z):
    """φ(z), φ'(z), φ''(z)."""
    if letter == "l":
        one = torch.ones_like(z)
        return z, one, torch.zeros_like(z)
    if letter == "t":
        h = torch.tanh(z)
        d1 = 1.0 - h * h
        return h, d1, -2.0 * h * d1
    if letter == "s":
        h = torch.sigmoid(z)
        d1 = h * (1.0 - h)
        return h, d1, d1 * (1.0 - 2.0 * h)
    if letter == "p":
        h = torch.where(z > 35.0, z, torch.nn.functional.softplus(z.clamp(max=35.0)))
        s = torch.sigmoid(z)
        return h, s, s * (1.0 - s)
    raise ValueError(f"activation {letter!r} not supported by the lm optimiser "
                     f"(use one of {SUPPORTED_ACTIVATIONS!r})")


def _gram(J: torch.Tensor) -> torch.Tensor:
    """JᵀJ in float64, **lower triangle only** (the upper one is undefined): all the step needs
    for a Cholesky factorisation. BLAS syrk on the CPU (half the work of a matrix product, and
    no symmetrising copy)."""
    if J.device.type == "cpu" and J.dtype in (torch.float32, torch.float64) and J.shape[0] > 0:
        from scipy.linalg import blas
        a = J.detach().contiguous().numpy().T                  # (n_w, m), Fortran order
        syrk = blas.ssyrk if J.dtype == torch.float32 else blas.dsyrk
        c = syrk(1.0, a, lower=1)                               # lower triangle of a aᵀ
        return torch.from_numpy(np.asarray(c, dtype=np.float64))
    return (J.T @ J).to(torch.float64)


def _tangent_weight_grads(layers, hs, d1, d2, t):
    """Per layer ``(dW, db)`` of Σ_k ∂(∂y/∂x · t_k)/∂w for an MLP: the derivative w.r.t. the weights of
    the network's input-gradient projected on tangent directions ``t`` (..., K, n_in), summed over the
    atom axis K (-2). ``hs``, ``d1``, ``d2``: per-layer inputs, activation first and second derivatives
    from the forward pass (broadcastable to t's leading dims)."""
    ts, vs = [t], []
    for l, (W, _, _) in enumerate(layers):
        v = t @ W.T
        t = d1[l] * v
        vs.append(v)
        ts.append(t)
    a = torch.ones_like(t)
    bvec = None
    grads = [None] * len(layers)
    for l in range(len(layers) - 1, -1, -1):
        W = layers[l][0]
        A_ = a * d1[l]
        B_ = a * vs[l] * d2[l]
        if bvec is not None:
            B_ = B_ + bvec * d1[l]
        grads[l] = (A_.transpose(-1, -2) @ ts[l] + B_.transpose(-1, -2) @ hs[l], B_.sum(-2))
        if l:
            a = A_ @ W
            bvec = B_ @ W
    return grads

class LevenbergMarquardt:
    def __init__(self, model, batch: TorchBatch, *, energy_weight: float, force_weight: float,
                 force_atoms: int, stress_weight: float = 0.0, stress_structures: int = 0,
                 block_diagonal: bool = False, mu0: float = 1e-2, mu_min: float = 1e-10, mu_max: float = 1e6,
                 max_tries: int = 6, l2: float = 0.0, dist=None, jacobian_dtype=torch.float32):
        from .distributed import SINGLE
        self.dist = dist or SINGLE
        self.model = model
        self.b = batch
        self.wE, self.wF, self.wS = float(energy_weight), float(force_weight), float(stress_weight)
        self.force_atoms = int(force_atoms)
        self.stress_structures = int(stress_structures)
        self.block_diagonal = bool(block_diagonal)
        self.mu, self.mu_min, self.mu_max, self.max_tries = float(mu0), mu_min, mu_max, max_tries
        self.n_iter = 0
        self.l2 = float(l2)
        self.nu = 2.0
        self.params = list(model.parameters())
        self.n_w = sum(p.numel() for p in self.params)
        b = batch
        self.elements = model.elements
        self.ne = len(self.elements)
        # flat offsets of each element network's (effective) weights; a model whose parameters
        # are not just the networks' (element embedding) gives effective networks (lm_layers)
        # and maps derivatives back to its parameters (lm_pullback)
        self._pull = getattr(model, "lm_pullback", None)
        self.block = []
        k = 0
        for el in self.elements:
            n = sum(W.numel() + bb.numel() for W, bb, _ in self._layers(el))
            self.block.append((k, k + n))
            k += n
        self.n_eff = k
        assert self._pull is not None or k == self.n_w, \
            "parameters must be the element networks only"
        A = b.n_atoms
        self.A = A
        self.S = b.n_structures
        self.natoms = b.natoms.to(torch.float64)
        self.e_mask = ~torch.isnan(b.energy)
        self.f_mask_atoms = ~torch.isnan(b.forces).any(1)
        self.force_atom_ids = torch.nonzero(self.f_mask_atoms).flatten()
        # counts over all ranks (a data-parallel run holds a shard of the structures per rank): the loss is
        # a mean over the global set, and the iteration's random force atoms are drawn from the global list
        d = self.dist
        self.nE = int(d.sum(float(self.e_mask.sum())))
        self.nF_atoms = [int(n) for n in d.gather(len(self.force_atom_ids))]
        self.f_offset = sum(self.nF_atoms[:d.rank])
        vi = torch.tensor([a for a, _ in _VOIGT]), torch.tensor([c for _, c in _VOIGT])
        self.s_mask = ~torch.isnan(b.stress).any((1, 2)) & (b.volume > 0)
        self.s_ref = torch.nan_to_num(b.stress[:, vi[0], vi[1]])          # (S, 6) eV/Å³
        self.s_mult = torch.tensor(_VOIGT_MULT, dtype=torch.float64)
        self.inv_vol = torch.where(self.s_mask, 1.0 / b.volume.clamp(min=1e-12), 0.0)
        self.nS_all = [int(n) for n in d.gather(int(self.s_mask.sum()))]
        self.s_offset = sum(self.nS_all[:d.rank])
        if sum(self.nS_all) == 0:
            self.wS = 0.0
        self.T = []
        self.jdt = jacobian_dtype          # Jacobians (step direction only), float32 by default
        self.row_of = torch.full((A,), -1, dtype=torch.long)
        self.srows, self.cpad, self.nbr_count = [], [], []
        self.X, self.a, self.struct, self.nbr, self.pc, self.dG, self.self_dG = \
            [], [], [], [], [], [], []
        for e, el in enumerate(self.elements):
            G = b.G[e]
            self.row_of[b.atoms[e]] = torch.arange(len(b.atoms[e]))
            self.struct.append(b.atom_struct[b.atoms[e]] if len(b.atoms[e]) else
                               torch.zeros(0, dtype=torch.long))
            pj, pc, dG = b.pj[e], b.pc[e], b.dG[e].to(torch.float64)
            self.pc.append(pc)
            self.dG.append(dG)
            # padded rows of each structure's element-e atoms (-1 = none)
            st_e = self.struct[-1]
            n_e = len(st_e)
            if n_e:
                order = torch.argsort(st_e, stable=True)
                cnt = torch.bincount(st_e, minlength=self.S)
                start = torch.cumsum(cnt, 0) - cnt
                pos = torch.arange(n_e) - start[st_e[order]]
                sr = torch.full((self.S, int(cnt.max())), -1, dtype=torch.long)
                sr[st_e[order], pos] = order
            else:
                sr = torch.full((self.S, 0), -1, dtype=torch.long)
            self.srows.append(sr)
            # self term: dG_j/dr_j = -Σ_{pairs with centre j} dG_centre/dr_neighbour
            sd = torch.zeros((G.shape[0],) + tuple(dG.shape[1:]), dtype=torch.float64)
            if dG.shape[0]:
                sd.index_add_(0, pc, dG)
            self.self_dG.append(-sd)
            # padded table: for every atom j the pairs (of centre element e) with neighbour j
            P = pj.shape[0]
            if P:
                order = torch.argsort(pj, stable=True)
                pjs = pj[order]
                counts = torch.bincount(pjs, minlength=A)
                start = torch.cumsum(counts, 0) - counts
                pos = torch.arange(P) - start[pjs]
                K = int(counts.max())
                nbr = torch.full((A, K), -1, dtype=torch.long)
                nbr[pjs, pos] = order
            else:
                nbr = torch.full((A, 0), -1, dtype=torch.long)
            self.nbr.append(nbr)
            self.nbr_count.append((nbr >= 0).sum(1))
            # centre-padded float32 copies for the full-set forces and gradient, in buckets of
            # centre rows with similar pair counts (short padded axis): per bucket the rows r,
            # cpad (n_b, Kc·3, s) with the dG of each centre's pairs and cnb (n_b, Kc) neighbours
            ne_ = G.shape[0]
            buckets = []
            if P:
                cnt = torch.bincount(pc, minlength=ne_)
                start = torch.cumsum(cnt, 0) - cnt
                pos = torch.arange(P) - start[pc]          # pairs are grouped by centre
                by_count = torch.argsort(cnt, stable=True)
                slot = torch.empty_like(by_count)
                nb = max(1, min(4, ne_ // 16))
                for rows in torch.tensor_split(by_count, nb):
                    if len(rows) == 0:
                        continue
                    Kc = max(int(cnt[rows].max()), 1)
                    slot[rows] = torch.arange(len(rows))
                    inb = torch.zeros(ne_, dtype=torch.bool)
                    inb[rows] = True
                    pm = inb[pc]
                    cpad = torch.zeros(len(rows), Kc, 3, dG.shape[1], dtype=self.jdt)
                    cpad[slot[pc[pm]], pos[pm]] = dG[pm].permute(0, 2, 1).to(self.jdt)
                    cnb = torch.zeros(len(rows), Kc, dtype=torch.long)
                    cnb[slot[pc[pm]], pos[pm]] = pj[pm]
                    buckets.append((rows, cpad.reshape(len(rows), -1, G.shape[1]), cnb))
            self.cpad.append(buckets)
            # per-atom virial tangents T (A_e, 6, s), Voigt order, symmetrised, in raw G units
            T = torch.zeros(ne_, 6, G.shape[1], dtype=torch.float64)
            if P and self.wS > 0:
                full = torch.zeros(ne_, 3, 3, G.shape[1], dtype=torch.float64)
                full.index_add_(0, pc, torch.einsum("psa,pb->pabs", dG, b.vec[e]))
                T = 0.5 * (full[:, vi[0], vi[1]] + full[:, vi[1], vi[0]])
            self.T.append(T)
        self.refresh_scaling()

    def refresh_scaling(self):
        m = self.model
        self._memo = None
        self.X, self.a = [], []
        for e, el in enumerate(self.elements):
            a = getattr(m, f"scale_a_{el}")
            self.a.append(a if m.scaling_mode != 0 and m.scaling_mode != 2 else torch.ones_like(a))
            with torch.no_grad():
                # the model's scaled input, computed as atomic() does
                G = self.b.G[e]
                mode = m.scaling_mode
                if mode in (1, 3, 4):
                    c = getattr(m, f"gmin_{el}") if mode == 1 else getattr(m, f"gmean_{el}")
                    x = m.scale_min + a * (G - c)
                elif mode == 2:
                    x = G - getattr(m, f"gmean_{el}")
                else:
                    x = G
            self.X.append(x.to(torch.float64))
        # float32 copies of dG and the self terms times a, for the force Jacobian
        self.dGa32 = [(d * a[None, :, None]).to(torch.float32) for d, a in zip(self.dG, self.a)]
        self.self_dGa32 = [(d * a[None, :, None]).to(torch.float32)
                           for d, a in zip(self.self_dG, self.a)]

    # -- forward pieces -------------------------------------------------------------------------
    def _layers(self, el):
        if hasattr(self.model, "lm_layers"):
            return self.model.lm_layers(el)
        net = self.model.nets[el]
        return [(lin.weight.detach(), lin.bias.detach(), a)
                for lin, a in zip(net.layers, net.activations)]

    def _forward(self, e):
        """Per-atom z_l, h_l, φ'_l, φ''_l of element e (h[0] = x)."""
        h = self.X[e]
        hs, d1s, d2s = [h], [], []
        for W, bb, letter in self._layers(self.elements[e]):
            z = torch.addmm(bb, h, W.T)
            h, d1, d2 = _act(letter, z)
            hs.append(h)
            d1s.append(d1)
            d2s.append(d2)
        return hs, d1s, d2s

    def _state(self, need_jac: bool):
        """Network outputs, per-atom dE/dx and (optionally) per-atom δ for all atoms."""
        st = []
        for e, el in enumerate(self.elements):
            if self.X[e].shape[0] == 0:
                st.append(None)
                continue
            hs, d1s, d2s = self._forward(e)
            layers = self._layers(el)
            delta = torch.ones(hs[0].shape[0], 1, dtype=torch.float64)
            deltas = [None] * len(layers)
            for l in range(len(layers) - 1, -1, -1):
                delta = delta * d1s[l]
                deltas[l] = delta
                delta = delta @ layers[l][0]
            st.append({"hs": hs, "d1": d1s, "d2": d2s, "deltas": deltas, "gx": delta,
                       "y": hs[-1][:, 0]})
        return st

    def _energies(self, st):
        ce = float(self.model.conv_energy)
        E = torch.zeros(self.S, dtype=torch.float64)
        for e in range(self.ne):
            if st[e] is not None:
                E.index_add_(0, self.struct[e], st[e]["y"] / ce)
        off = torch.zeros(self.S, dtype=torch.float64).index_add_(
            0, self.b.atom_struct, self.model.atom_energy.detach()[self.b.elem])
        return E + off

    def _stress(self, st):
        """Stress (S, 6) in eV/Å³, Voigt order; zero where the structure has no stress."""
        ce = float(self.model.conv_energy)
        vir = torch.zeros(self.S, 6, dtype=torch.float64)
        for e in range(self.ne):
            if st[e] is not None:
                vir.index_add_(0, self.struct[e],
                               torch.einsum("is,ivs->iv", st[e]["gx"] * self.a[e], self.T[e]))
        return vir * (self.inv_vol / ce)[:, None]

    def _stress_jacobian(self, st, sel=None):
        """(len(sel), 6, n_w) Jacobian of the stress of structures ``sel`` (default: all that
        have a stress)."""
        ce = float(self.model.conv_energy)
        if sel is None:
            sel = torch.nonzero(self.s_mask).flatten()
        dt = self.jdt
        J = torch.zeros(len(sel), 6, self.n_eff, dtype=dt)
        for e in range(self.ne):
            if st[e] is None:
                continue
            sr = self.srows[e][sel]
            rows = sr.clamp(min=0)
            t = (self.T[e][rows] * self.a[e] * (sr >= 0)[:, :, None, None]).to(dt)  # (S', n, 6, s)
            k0, k1 = self.block[e]
            J[:, :, k0:k1] = self._tangent_rows(self._net_state(e, st, dt), rows,
                                                t.transpose(1, 2))
        J = J * (self.inv_vol[sel] / ce).to(dt)[:, None, None]
        return self._to_params(J.reshape(len(sel) * 6, -1)).reshape(len(sel), 6, -1)

    def _net_state(self, e, st, dt):
        """Element e's network layers and per-atom forward state (h, φ', φ'') in dtype dt."""
        layers = [(W.to(dt), bb, a) for W, bb, a in self._layers(self.elements[e])]
        return layers, *([x.to(dt) for x in st[e][k]] for k in ("hs", "d1", "d2"))

    @staticmethod
    def _tangent_rows(net, rows, t):
        """(m, C, n_block) weight derivatives of Σ_k ∂y/∂x(x_rows[m, k]) · t[m, c, k] for the
        element network state ``net`` (:meth:`_net_state`); rows (m, K), tangents (m, C, K, s)."""
        layers, hs, d1, d2 = net
        hs, d1, d2 = ([x[rows][:, None] for x in xs] for xs in (hs, d1, d2))   # (m, 1, K, w)
        grads = _tangent_weight_grads(layers, hs, d1, d2, t)
        m, C = t.shape[:2]
        return torch.cat([g for gW, gb in grads for g in (gW.reshape(m, C, -1), gb)], -1)

    def _gather(self, e, js, dtype=torch.float64, scaled=False):
        """Pseudo-samples of atoms js for centre element e: rows (M, K'), dG (M, K', s, 3) with
        K' the largest neighbour count among js (+1 for the self term); ``scaled``: times the
        input scaling factors a (dE_int/dx · D = dE_int/dG · dG)."""
        cnt = self.nbr_count[e][js]
        K = int(cnt.max()) if len(js) else 0
        nbr = self.nbr[e][js, :K]
        mask = nbr >= 0
        idx = nbr.clamp(min=0)
        if scaled and dtype == torch.float32:
            src, sd = self.dGa32[e], self.self_dGa32[e]
        else:
            f = self.a[e][None, :, None] if scaled else 1.0
            src, sd = (self.dG[e] * f).to(dtype), (self.self_dG[e] * f).to(dtype)
        if src.shape[0]:
            rows = self.pc[e][idx]
            D = src[idx] * mask[:, :, None, None]
        else:
            rows = torch.zeros(nbr.shape, dtype=torch.long)
            D = torch.zeros(nbr.shape + tuple(sd.shape[1:]), dtype=dtype)
        own = self.b.elem[js] == e
        srow = torch.where(own, self.row_of[js], torch.zeros_like(js))
        sD = sd[srow] * own[:, None, None]
        rows = torch.cat([rows, srow[:, None]], 1)
        D = torch.cat([D, sD[:, None]], 1)
        return rows, D

    def _forces(self, st, js):
        """Forces (M, 3) on atoms js."""
        ce = float(self.model.conv_energy)
        F = torch.zeros(len(js), 3, dtype=torch.float64)
        for e in range(self.ne):
            if st[e] is None:
                continue
            rows, D = self._gather(e, js)
            g = st[e]["gx"][rows] * self.a[e]              # dE_int/dG (M, K, s)
            F -= torch.einsum("mks,mksc->mc", g, D) / ce
        return F

    def _force_jacobian(self, st, js, chunk: int = 256):
        """(M, 3, n_w) Jacobian of the forces on atoms js. Atoms are taken in chunks of similar
        neighbour count so that the padded neighbour axis stays short."""
        ce = float(self.model.conv_energy)
        M = len(js)
        dt = self.jdt
        J = torch.zeros(M, 3, self.n_eff, dtype=dt)
        order = torch.argsort(sum(c[js] for c in self.nbr_count))
        for e in range(self.ne):
            if st[e] is None:
                continue
            net = self._net_state(e, st, dt)
            k0, k1 = self.block[e]
            for c0 in range(0, M, chunk):
                pos = order[c0:c0 + chunk]
                rows, D = self._gather(e, js[pos], dtype=dt, scaled=True)
                J[pos, :, k0:k1] = self._tangent_rows(net, rows, D.permute(0, 3, 1, 2))
        J *= -1.0 / ce
        return self._to_params(J.reshape(M * 3, -1)).reshape(M, 3, -1)

    def _energy_jacobian(self, st):
        ce = float(self.model.conv_energy)
        dt = self.jdt
        J = torch.zeros(self.S, self.n_eff, dtype=dt)
        for e in range(self.ne):
            if st[e] is None:
                continue
            sr = self.srows[e]
            mask = (sr >= 0).to(dt)[:, :, None]
            idx = sr.clamp(min=0)
            parts = []
            for l, dl in enumerate(st[e]["deltas"]):
                d = dl.to(dt)[idx] * mask                       # (S, n, out)
                h = st[e]["hs"][l].to(dt)[idx]                  # (S, n, in)
                parts.append((d.transpose(1, 2) @ h).reshape(self.S, -1))
                parts.append(d.sum(1))
            k0, k1 = self.block[e]
            J[:, k0:k1] = torch.cat(parts, 1)
        return self._to_params(J / (ce * self.natoms[:, None]).to(dt))

    def _to_params(self, J):
        """Rows of effective-weight derivatives -> parameter derivatives (identity unless the
        model has an embedding)."""
        return J if self._pull is None else self._pull(J)

    # -- the step -------------------------------------------------------------------------------
    def _jacobian(self, st, js, ss=None, n_js=None, n_ss=None):
        """Weighted Jacobian rows of this rank: all energies, the force components of atoms ``js`` and the
        stress of structures ``ss`` (default: all with a stress); n_js, n_ss: how many atoms and structures
        the iteration draws over all ranks (default: these)."""
        J = [torch.zeros(0, self.n_w, dtype=self.jdt)]
        if self.wE > 0:
            m = self.e_mask
            J.append(self._energy_jacobian(st)[m] * math.sqrt(self.wE / max(self.nE, 1)))
        if self.wF > 0 and len(js):
            J.append(self._force_jacobian(st, js).reshape(-1, self.n_w)
                     * math.sqrt(self.wF / (3 * (n_js or len(js)))))
        if self.wS > 0:
            ss = torch.nonzero(self.s_mask).flatten() if ss is None else ss
            c = (STRESS_SCALE * torch.sqrt(self.wS * self.s_mult / (9 * (n_ss or sum(self.nS_all))))).to(self.jdt)
            if len(ss):
                J.append((self._stress_jacobian(st, ss) * c[None, :, None]).reshape(-1, self.n_w))
        return torch.cat(J)

    def _get_w(self):
        return torch.cat([p.detach().reshape(-1) for p in self.params])

    def _set_w(self, w):
        with torch.no_grad():
            k = 0
            for p in self.params:
                n = p.numel()
                p.copy_(w[k:k + n].view_as(p))
                k += n

    def _all_forces(self, st):
        """Forces on all atoms (A, 3) and the per-pair products v_p = dE_int/dG_centre · dG_p."""
        ce = float(self.model.conv_energy)
        dEdr = torch.zeros(self.A, 3, dtype=torch.float64)
        for e in range(self.ne):
            if st[e] is None:
                continue
            g = st[e]["gx"] * self.a[e]
            atoms = self.b.atoms[e]
            for rows, cpad, cnb in self.cpad[e]:
                v = (cpad @ g[rows].to(cpad.dtype)[:, :, None]).reshape(len(rows), -1, 3).to(torch.float64)
                dEdr.index_add_(0, cnb.reshape(-1), v.reshape(-1, 3))
                dEdr.index_add_(0, atoms[rows], -v.sum(1))
        return dEdr * (-1.0 / ce)

    def _tangent_grad(self, e, st, d):
        """Σ_atoms ∂(∂y/∂x · d_atom)/∂w of element e's network (flat, element block), with
        tangent directions d (A_e, s) in scaled input coordinates."""
        layers = self._layers(self.elements[e])
        grads = _tangent_weight_grads(layers, st[e]["hs"], st[e]["d1"], st[e]["d2"], d)
        return torch.cat([g for gW, gb in grads for g in (gW.reshape(-1), gb)])

    def full_loss(self, grad: bool = False, keep: bool = False):
        """The loss on the whole training set and (optionally) its gradient, analytically: the
        force part by the adjoint trick Σ_c ΔF_c ∂F_c/∂w = -(1/ce) Σ_i ∂(∂y/∂x_i · u_i)/∂w with
        u_i = a ⊙ Σ_{pairs of centre i} dG_p · (ΔF_neighbour - ΔF_i).

        ``keep``: remember the state and residuals so that :meth:`_full_grad` can add the
        gradient later without a second forward pass (the step computes the loss at a trial
        point and the gradient only once the point is accepted)."""
        st = self._state(True)
        L = 0.0
        dE = dF = None
        if self.wE > 0:
            m = self.e_mask
            nE = max(self.nE, 1)
            dE = torch.where(m, (self._energies(st) - self.b.energy) / self.natoms, 0.0)
            L += self.wE * float((dE * dE).sum()) / nE
        if self.wF > 0:
            m = self.f_mask_atoms
            nF = max(3 * sum(self.nF_atoms), 1)
            dF = torch.where(m[:, None], self._all_forces(st) - self.b.forces, 0.0)
            L += self.wF * float((dF * dF).sum()) / nF
        dS = None
        if self.wS > 0:
            nS = sum(self.nS_all)
            dS = torch.where(self.s_mask[:, None], self._stress(st) - self.s_ref, 0.0)
            L += self.wS * STRESS_SCALE ** 2 * float((dS * dS * self.s_mult).sum()) / (9 * nS)
        L = self.dist.sum(L)
        if self.l2 > 0:
            w = self._get_w()
            L += self.l2 * float(w @ w)
        ctx = (st, dE, dF, dS)
        if keep:
            self._ctx = ctx
        return L, (self._full_grad(ctx) if grad else None)

    def _full_grad(self, ctx):
        """Gradient of the full-set loss from a :meth:`full_loss` context."""
        st, dE, dF, dS = ctx
        ce = float(self.model.conv_energy)
        gw = torch.zeros(self.n_eff, dtype=torch.float64)
        if dE is not None:
            nE = max(self.nE, 1)
            c = (2.0 * self.wE / nE) * dE / (ce * self.natoms)     # per structure
            for e in range(self.ne):
                if st[e] is None:
                    continue
                ca = c[self.struct[e]][:, None]
                parts = []
                for l, dl in enumerate(st[e]["deltas"]):
                    parts.append(((dl * ca).T @ st[e]["hs"][l]).reshape(-1))
                    parts.append((dl * ca).sum(0))
                k0, k1 = self.block[e]
                gw[k0:k1] += torch.cat(parts)
        if dF is not None or dS is not None:
            # one tangent pass per element: Σ_i ∂(∂y/∂x_i · u_i)/∂w with u_i collecting the
            # force adjoint (u_F) and the stress adjoint (u_S = Σ_ab c_ab Δσ_ab T_i,ab / V)
            nF = max(3 * sum(self.nF_atoms), 1)
            for e in range(self.ne):
                if st[e] is None:
                    continue
                u = torch.zeros_like(self.X[e])
                if dF is not None:
                    atoms = self.b.atoms[e]
                    for rows, cpad, cnb in self.cpad[e]:
                        w = dF[cnb] - dF[atoms[rows]][:, None, :]          # (n_b, Kc, 3)
                        n = len(rows)
                        u[rows] = (-2.0 * self.wF / nF) * (
                            w.reshape(n, 1, -1).to(cpad.dtype) @ cpad).reshape(n, -1).to(
                                torch.float64)
                if dS is not None:
                    nS = sum(self.nS_all)
                    c = (2.0 * self.wS * STRESS_SCALE ** 2 / (9 * nS)) * dS * self.s_mult \
                        * self.inv_vol[:, None]                              # (S, 6)
                    u += torch.einsum("iv,ivs->is", c[self.struct[e]], self.T[e])
                k0, k1 = self.block[e]
                gw[k0:k1] += self._tangent_grad(e, st, u * self.a[e]) / ce
        gw = self.dist.sum_(self._to_params(gw[None])[0])
        if self.l2 > 0:
            gw += 2.0 * self.l2 * self._get_w()
        return gw

    def full_loss_autograd(self, grad: bool = False):
        """The loss on the whole training set (autograd through the model), and its gradient."""
        b = self.b
        with torch.enable_grad():
            out = self.model(b, forces=self.wF > 0, stress=self.wS > 0, create_graph=grad)
            L = torch.zeros((), dtype=torch.float64)
            if self.wE > 0:
                m = self.e_mask
                d = ((out["energy"] - b.energy) / self.natoms)[m]
                L = L + self.wE * (d * d).mean()
            if self.wF > 0:
                m = self.f_mask_atoms
                d = (out["forces"] - b.forces)[m]
                L = L + self.wF * (d * d).mean()
            if self.wS > 0:
                m = self.s_mask
                d = (out["stress"] - b.stress)[m] * STRESS_SCALE
                L = L + self.wS * (d * d).mean()
            if self.l2 > 0:
                L = L + self.l2 * sum((p * p).sum() for p in self.params)
            if not grad:
                return float(L.detach()), None
            gs = torch.autograd.grad(L, self.params)
        return float(L.detach()), torch.cat([g.reshape(-1) for g in gs])

    def step(self, gen: torch.Generator) -> float:
        """One iteration: Gauss–Newton matrix from all energies and a random subsample of force
        components, gradient and acceptance test on the full training loss."""
        # the draws are over the global lists (every rank has the same generator) and each rank keeps those of
        # its shard: with one process exactly the draws of a single-process run
        ids = self.force_atom_ids
        n_all = sum(self.nF_atoms)
        n_js = None
        if self.wF > 0 and n_all:
            n_js = min(self.force_atoms, n_all)
            js = ids[self._mine(torch.randperm(n_all, generator=gen)[:n_js], self.f_offset, len(ids))]
        else:
            js = ids[:0]
        ss = n_ss = None
        if self.wS > 0 and self.stress_structures > 0:
            sids = torch.nonzero(self.s_mask).flatten()
            if self.stress_structures < sum(self.nS_all):
                n_ss = self.stress_structures
                ss = sids[self._mine(torch.randperm(sum(self.nS_all), generator=gen)[:n_ss], self.s_offset,
                                     len(sids))]
        w0 = self._get_w()
        # the full-set state, loss and gradient at w0: kept from the previous accepted trial
        # point when the weights have not changed since (one forward pass per iteration)
        memo = getattr(self, "_memo", None)
        if memo is not None and torch.equal(memo[0], w0):
            loss0, ctx = memo[1], memo[2]
        else:
            loss0, _ = self.full_loss(False, keep=True)
            ctx = self._ctx
        self._memo = self._ctx = None
        grad = self._full_grad(ctx)
        st = ctx[0]
        J = self._jacobian(st, js, ss, n_js, n_ss)
        del ctx, st
        # Gauss–Newton matrix (lower triangle): whole, or one block per element network
        blocks = self.block if (self.block_diagonal and self._pull is None) else [(0, self.n_w)]
        JtJ = [self._sum_lower(_gram(J[:, k0:k1])) for k0, k1 in blocks]
        if self.l2 > 0:
            for A_ in JtJ:
                A_.diagonal().add_(self.l2)
        scale = float(torch.cat([A_.diagonal() for A_ in JtJ]).mean())
        tries = 0
        g = 0.5 * grad
        loss = loss0
        for _ in range(self.max_tries):
            tries += 1
            dw = torch.empty_like(g)
            try:
                for (k0, k1), A_ in zip(blocks, JtJ):
                    Am = A_.clone()
                    Am.diagonal().add_(self.mu * scale)
                    L = torch.linalg.cholesky(Am)
                    dw[k0:k1] = -torch.cholesky_solve(g[k0:k1, None], L)[:, 0]
            except RuntimeError:
                self.mu = min(self.mu * self.nu, self.mu_max)
                self.nu *= 2
                continue
            Jdw = J @ dw.to(J.dtype)
            quad = float(self.dist.sum(float(Jdw @ Jdw))) + self.l2 * float(dw @ dw)
            pred = -(2.0 * float(g @ dw) + quad)
            w1 = w0 + dw
            self._set_w(w1)
            loss, _ = self.full_loss(False, keep=True)
            if loss < loss0:
                self._memo = (w1, loss, self._ctx)
                self._ctx = None
                # Nielsen's damping update from the gain ratio
                rho = (loss0 - loss) / max(pred, 1e-300)
                self.mu = min(max(self.mu * max(1 / 3, 1 - (2 * rho - 1) ** 3), self.mu_min),
                              self.mu_max)
                self.nu = 2.0
                break
            self.mu = min(self.mu * self.nu, self.mu_max)
            self.nu *= 2
            self._ctx = None
            self._set_w(w0)
            loss = loss0
        self.n_iter += 1
        self.tries = tries
        self.loss = loss
        return loss

    def _sum_lower(self, A: torch.Tensor) -> torch.Tensor:
        """Sum the lower triangle of the Gauss–Newton matrix over the ranks (half the bytes of the whole)."""
        if not self.dist.parallel:
            return A
        n = A.shape[0]
        if getattr(self, "_tril", None) is None or self._tril[0] != n:
            self._tril = (n, torch.tril_indices(n, n))
        i, j = self._tril[1]
        A[i, j] = self.dist.sum_(A[i, j].contiguous())
        return A

    @staticmethod
    def _mine(draw: torch.Tensor, offset: int, n: int) -> torch.Tensor:
        """Local positions of the global draws that fall in this rank's range [offset, offset + n)."""
        return draw[(draw >= offset) & (draw < offset + n)] - offset

    def state_dict(self) -> dict:
        return {"mu": self.mu, "nu": self.nu, "n_iter": self.n_iter}

    def load_state_dict(self, d: dict) -> None:
        self.mu, self.n_iter = float(d["mu"]), int(d["n_iter"])
        self.nu = float(d.get("nu", 2.0))
