"""The fused evaluator's contraction (prepare -> compute_G -> contract, no dG array) equals
sum_s dEdG_s dG_s/dr_k from the full-derivative path, for every SF and cutoff type."""
from __future__ import annotations

import numpy as np
import pytest

from test_descriptors_derivatives import ELEMENTS, RC, _LINES, make_set  # noqa: F401

from hdnnp.descriptors import SymmetryFunctionSet


def _gaussian_only_set(cutoff_type, alpha):
    keep = [l for l in _LINES if l.split()[1] in ("2", "3", "9")]
    lines = [l.format(c=c, rc=RC) for c in ELEMENTS for l in keep]
    return SymmetryFunctionSet.from_n2p2_lines(ELEMENTS, [(i + 1, l.split()) for i, l in enumerate(lines)],
                                               cutoff_type, alpha)


def _environment(rng, n):
    rij = rng.uniform(-RC, RC, size=(4 * n, 3))
    r = np.linalg.norm(rij, axis=1)
    rij = rij[(r < RC * 1.05) & (r > 0.6)][:n]  # some beyond the cutoff
    return np.ascontiguousarray(rij), rng.integers(0, len(ELEMENTS), len(rij)).astype(np.int32)


@pytest.mark.parametrize("cutoff_type,alpha", [(2, 0.0), (3, 0.0), (1, 0.3), (6, 0.2), (4, 0.1), (0, 0.0)])
@pytest.mark.parametrize("gaussian_only", [True, False])
def test_contract_matches_full_derivatives(cutoff_type, alpha, gaussian_only):
    rng = np.random.default_rng(7 + cutoff_type)
    sfset = _gaussian_only_set(cutoff_type, alpha) if gaussian_only else make_set(cutoff_type, alpha)
    for el in ELEMENTS:
        d = sfset.cpp_descriptor(el)
        for trial in range(3):
            rij, ne = _environment(rng, 40)
            dEdG = rng.normal(size=d.size)
            if trial == 2:
                dEdG[::3] = 0.0
            G, dG = d.compute(rij, ne, True)
            ref = np.einsum("s,skc->kc", dEdG, dG)
            G2, _ = d.compute(rij, ne, False)
            np.testing.assert_allclose(G2, G, rtol=1e-12, atol=1e-14)
            scale = np.abs(ref).max()
            for g_pass in (True, False):
                g = d.contract(rij, ne, dEdG, g_pass)
                np.testing.assert_allclose(g, ref, rtol=0, atol=1e-12 * scale)
