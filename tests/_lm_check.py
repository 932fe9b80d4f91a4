"""Shared check: the LM optimiser's analytic energies, forces, Jacobians and full-set gradient
against autograd through the model (used by the plain and the embedding model tests)."""
from __future__ import annotations

import torch


def assert_lm_matches_autograd(model, b) -> None:
    from hdnnp.training.lm import LevenbergMarquardt
    from hdnnp.training.optimizers import flat_grad
    lm = LevenbergMarquardt(model, b, energy_weight=1.0, force_weight=1.0, force_atoms=4,
                            stress_weight=0.3)
    lm.jdt = torch.float64
    has_stress = bool(lm.s_mask.any())
    out = model(b, forces=True, stress=has_stress, create_graph=True)
    st = lm._state(True)
    assert torch.allclose(lm._energies(st), out["energy"], atol=1e-10)
    js = torch.tensor([0, 3, b.n_atoms - 1])
    assert torch.allclose(lm._forces(st, js), out["forces"][js], atol=1e-12)
    JF = lm._force_jacobian(st, js).reshape(-1, lm.n_w)
    y = out["forces"][js].reshape(-1)
    ref = torch.stack([flat_grad(y[i], lm.params) for i in range(len(y))])
    assert torch.allclose(JF, ref, atol=1e-10)
    JE = lm._energy_jacobian(st)
    ye = out["energy"] / b.natoms
    ref = torch.stack([flat_grad(ye[i], lm.params) for i in range(b.n_structures)])
    assert torch.allclose(JE, ref, atol=1e-10)
    if has_stress:   # stress (Voigt xx yy zz yz xz xy) and its Jacobian
        sel = torch.nonzero(lm.s_mask).flatten()
        vi, vj = [0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]
        ys = out["stress"][sel][:, vi, vj]
        assert torch.allclose(lm._stress(st)[sel], ys, atol=1e-12)
        JS = lm._stress_jacobian(st).reshape(-1, lm.n_w)
        ys = ys.reshape(-1)
        ref = torch.stack([flat_grad(ys[i], lm.params) for i in range(len(ys))])
        assert torch.allclose(JS, ref, atol=1e-10 * float(ref.abs().max()))
    # full-set loss and gradient (adjoint trick) against autograd through the model
    lm.wE, lm.wF = 1.3, 0.07
    L1, g1 = lm.full_loss(True)
    L2, g2 = lm.full_loss_autograd(True)
    assert abs(L1 - L2) <= 1e-6 * abs(L2)
    assert torch.allclose(g1, g2, atol=1e-6 * float(g2.abs().max()))
