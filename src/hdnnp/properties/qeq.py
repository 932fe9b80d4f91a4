"""Charge equilibration (Qeq) for per-atom charges: the charges minimise

    E(q) = Σ_i χ_i q_i + ½ Σ_i J_i q_i² + ½ Σ_ij q_i q_j A_ij      subject to Σ_i q_i = Q,

with the electronegativities χ_i from atomic networks (they depend on each atom's environment), one hardness J per
element (learned), and A the electrostatic interaction of Gaussian charge densities of widths σ_i (the covalent
radii), so that every charge feels every other one in the structure — the fourth-generation HDNNP scheme (Ko et
al., Nat. Commun. 12, 398 (2021)) for the charges alone. The minimum solves the linear system

    [A + diag(J)   1] [q]   [−χ]
    [     1ᵀ       0] [λ] = [ Q]

This module computes A (eV per e², Coulomb constant included): for molecules directly,
A_ij = erf(r_ij / √2γ_ij) / r_ij with γ_ij² = σ_i² + σ_j², A_ii = 1/(σ_i √π); for periodic cells by an Ewald sum of
point charges corrected in real space to Gaussians, with the compensating background (a constant for a fixed total
charge, so it moves λ and not the charges). Partly periodic cells are refused.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import erfc

from ..errors import InputError
from ..units import COULOMB

__all__ = ["coulomb_matrix", "gaussian_widths", "COULOMB"]


def gaussian_widths(numbers) -> np.ndarray:
    """σ_i (Å): the covalent radius of each atom's element (ASE's table)."""
    from ase.data import covalent_radii
    return np.asarray(covalent_radii[np.asarray(numbers)], dtype=np.float64)


def _images(cell: np.ndarray, rcut: float) -> np.ndarray:
    """Lattice translations n·cell with |n_k| up to what reaches ``rcut`` (all of them, including 0)."""
    inv = np.linalg.inv(cell)
    # the distance between opposite faces along each axis is 1/|row k of inv(cell)ᵀ|
    reach = [int(math.ceil(rcut * np.linalg.norm(inv[:, k]))) for k in range(3)]
    n = np.stack(np.meshgrid(*[np.arange(-m, m + 1) for m in reach], indexing="ij"), -1).reshape(-1, 3)
    return n @ cell


def coulomb_matrix(positions, numbers, cell=None, pbc=False, sigma=None, accuracy: float = 1e-8) -> np.ndarray:
    """(N, N) interaction matrix A of Gaussian charges (eV/e²) at ``positions`` (Å); ``cell`` and ``pbc`` as in
    ASE (all three directions periodic, or none); ``sigma`` (N,) widths (default :func:`gaussian_widths`)."""
    r = np.asarray(positions, dtype=np.float64)
    n = len(r)
    s = gaussian_widths(numbers) if sigma is None else np.asarray(sigma, dtype=np.float64)
    gam = np.sqrt(s[:, None] ** 2 + s[None, :] ** 2) * math.sqrt(2.0)      # erf(r/(√2 γ)) with γ² = σi² + σj²
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    if not pbc.any():
        d = np.linalg.norm(r[:, None] - r[None], axis=2)
        np.fill_diagonal(d, 1.0)
        from scipy.special import erf
        A = erf(d / gam) / d
        np.fill_diagonal(A, 1.0 / (s * math.sqrt(math.pi)))
        return COULOMB * A
    if not pbc.all():
        raise InputError("charge equilibration needs a cell periodic in all three directions, or none")
    cell = np.asarray(cell, dtype=np.float64)
    V = abs(np.linalg.det(cell))
    x = math.sqrt(-math.log(accuracy))                 # erfc(x) ≈ exp(−x²) ≤ accuracy
    alpha = math.sqrt(math.pi) * (n / V ** 2) ** (1.0 / 6.0) if n > 0 else 1.0
    rc = x / alpha
    rc_g = x * float(gam.max())                        # where the Gaussian correction erfc(r/√2γ) dies
    T = _images(cell, max(rc, rc_g))
    dv = r[None, :, None, :] - r[:, None, None, :] + T[None, None]          # (N, N, nT, 3)
    d = np.linalg.norm(dv, axis=3)
    self_img = d < 1e-10
    d = np.where(self_img, 1.0, d)
    real = np.where(self_img | (d > rc), 0.0, erfc(alpha * d) / d).sum(2)
    corr = np.where(self_img, 0.0, erfc(d / gam[:, :, None]) / d).sum(2)
    # reciprocal space
    rec = 2.0 * math.pi * np.linalg.inv(cell).T
    kc = 2.0 * alpha * x
    K = _images(rec, kc)
    k2 = np.sum(K * K, axis=1)
    keep = (k2 > 1e-20) & (k2 <= kc * kc)
    K, k2 = K[keep], k2[keep]
    w = 4.0 * math.pi / V * np.exp(-k2 / (4.0 * alpha * alpha)) / k2
    E = np.exp(1j * (r @ K.T))                                               # (N, nk)
    recip = ((E * w) @ E.conj().T).real
    A = real - corr + recip - math.pi / (V * alpha * alpha)
    A[np.diag_indices(n)] += -2.0 * alpha / math.sqrt(math.pi) + 1.0 / (s * math.sqrt(math.pi))
    return COULOMB * A
