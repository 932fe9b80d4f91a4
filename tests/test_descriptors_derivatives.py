"""Symmetry-function derivatives against central finite differences (every type, every cutoff type,
inner cutoff alpha > 0, periodic small cells with self-images, open clusters) and invariances."""
from __future__ import annotations

import numpy as np
import pytest

from hdnnp.descriptors import SymmetryFunctionSet, compute_descriptors

ELEMENTS = ["H", "C", "O"]
RC = 4.2

_LINES = [
    # radial Gaussian, incl. rs
    "{c} 2 H 0.5 0.0 {rc}", "{c} 2 O 0.3 1.2 {rc}", "{c} 2 C 1.0 2.0 {rc}",
    # narrow / wide angular, both neighbour orders, integer and non-integer zeta, rs
    "{c} 3 H O 0.1 1 1 {rc}", "{c} 3 O H 0.2 -1 4 {rc}", "{c} 3 H H 0.05 1 2.5 {rc}", "{c} 3 C O 0.1 -1 2 {rc} 0.7",
    "{c} 9 H O 0.1 1 1 {rc}", "{c} 9 O H 0.2 -1 3 {rc}", "{c} 9 C C 0.05 1 1.7 {rc} 0.5", "{c} 9 H H 0.3 -1 16 {rc}",
    # weighted Gaussian
    "{c} 12 0.4 0.0 {rc}", "{c} 12 0.2 1.5 {rc}",
    "{c} 13 0.1 0.0 1 2 {rc}", "{c} 13 0.05 0.5 -1 1.5 {rc}",
    # compact radial: symmetric about 0 and shifted, all cores, asymmetric variant
    "{c} 20 H -{rc} {rc} p2", "{c} 20 O 0.5 {rc} p1", "{c} 20 C 1.0 3.5 p3", "{c} 20 H 1.5 {rc} p4",
    "{c} 20 O 0.8 3.8 p2a", "{c} 20 C 0.3 {rc} e",
    # compact angular
    "{c} 21 H O -{rc} {rc} 0 120 p2", "{c} 21 O H 0.5 {rc} 60 180 p3a", "{c} 21 H H -{rc} {rc} -90 90 e",
    "{c} 22 H O -{rc} {rc} 90 270 p2", "{c} 22 C C 0.5 {rc} 30 150 p4", "{c} 22 O H 0.3 3.9 0 180 p1a",
    # weighted compact
    "{c} 23 -{rc} {rc} p2", "{c} 23 0.7 3.9 p2a",
    "{c} 24 -{rc} {rc} 0 180 p2", "{c} 24 0.4 {rc} 45 135 e",
    "{c} 25 -{rc} {rc} -90 90 p3", "{c} 25 0.2 4.0 20 160 p2a",
]


def make_set(cutoff_type=2, alpha=0.0):
    lines = [l.format(c=c, rc=RC) for c in ELEMENTS for l in _LINES]
    return SymmetryFunctionSet.from_n2p2_lines(ELEMENTS, [(i + 1, l.split()) for i, l in enumerate(lines)],
                                               cutoff_type, alpha)


def random_system(kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "cluster":
        n = 7
        pos = rng.uniform(0, 3.2, size=(n, 3))
        cell, pbc = np.zeros((3, 3)), False
    elif kind == "small_cell":  # cell smaller than the cutoff: atoms see their own images
        n = 3
        cell = np.array([[2.9, 0.0, 0.0], [0.4, 3.1, 0.0], [0.3, -0.2, 3.3]])
        pos = rng.uniform(0, 1, size=(n, 3)) @ cell
        pbc = True
    else:  # "slab": periodic in x, y only
        n = 5
        cell = np.array([[4.5, 0.0, 0.0], [0.0, 4.3, 0.0], [0.0, 0.0, 0.0]])
        pos = rng.uniform(0, 1, size=(n, 3)) * np.array([4.5, 4.3, 2.5])
        pbc = np.array([True, True, False])
    # keep atoms apart (avoid r ~ 0 and exact collinearity)
    numbers = rng.choice([1, 6, 8], size=n)
    numbers[:3] = [1, 6, 8]
    return pos, numbers, cell, pbc


def jacobian(desc, n):
    """J[a][s, m, c] = dG_s(a) / d r_{m,c} from the sparse per-pair derivatives."""
    nl = desc.neighbours
    out = []
    for a in range(n):
        blk = desc.dG(a)
        J = np.zeros((blk.shape[0], n, 3))
        p0, p1 = nl.offsets[a], nl.offsets[a + 1]
        for q, m in enumerate(nl.j[p0:p1]):
            J[:, m, :] += blk[:, q, :]
        J[:, a, :] -= blk.sum(axis=1)
        out.append(J)
    return out


def fd_check(sfset, pos, numbers, cell, pbc, h=1e-5):
    n = len(pos)
    d = compute_descriptors(pos, numbers, cell, pbc, sfset, derivatives=True)
    G0 = [d.G(a).copy() for a in range(n)]
    J = jacobian(d, n)
    worst = 0.0
    for m in range(n):
        for c in range(3):
            pp, pm = pos.copy(), pos.copy()
            pp[m, c] += h
            pm[m, c] -= h
            dp = compute_descriptors(pp, numbers, cell, pbc, sfset)
            dm = compute_descriptors(pm, numbers, cell, pbc, sfset)
            for a in range(n):
                fd = (dp.G(a) - dm.G(a)) / (2 * h)
                err = np.abs(fd - J[a][:, m, c]) / np.maximum(1.0, np.abs(G0[a]))
                worst = max(worst, float(err.max()))
    return worst, G0


CUTOFFS = [(t, 0.0) for t in range(1, 9)] + [(1, 0.5), (4, 0.2), (5, 0.3), (6, 0.5), (7, 0.3), (8, 0.6)]


@pytest.mark.parametrize("ct, alpha", CUTOFFS)
@pytest.mark.parametrize("kind", ["cluster", "small_cell", "slab"])
def test_derivatives_finite_differences(ct, alpha, kind):
    sfset = make_set(ct, alpha)
    pos, numbers, cell, pbc = random_system(kind, seed=11 + ct)
    worst, G0 = fd_check(sfset, pos, numbers, cell, pbc)
    assert worst < 2e-6, worst
    # the test is not vacuous: most functions are non-zero
    nonzero = np.mean([np.mean(np.abs(g) > 1e-8) for g in G0])
    assert nonzero > 0.6


def test_hard_cutoff_derivatives():
    # cutoff_type 0 (hard): smooth except at rc, which no pair crosses here
    sfset = make_set(0, 0.0)
    pos, numbers, cell, pbc = random_system("cluster", seed=3)
    worst, _ = fd_check(sfset, pos, numbers, cell, pbc)
    assert worst < 2e-6


def test_self_images_are_seen():
    """An atom alone in a small cell has non-zero radial and angular SFs from its own images."""
    sfset = make_set(2, 0.0)
    cell = np.diag([2.5, 2.7, 2.9])
    d = compute_descriptors(np.zeros((1, 3)), [1], cell, True, sfset, derivatives=True)
    g = d.G(0)
    sfs = sfset.for_element("H")
    rad = [i for i, sf in enumerate(sfs) if sf.type == 2 and sf.e1 == "H"]
    ang = [i for i, sf in enumerate(sfs) if sf.type in (3, 9) and sf.e1 == sf.e2 == "H"]
    assert rad and ang
    assert np.all(g[rad] > 0) and np.all(g[ang] > 0)
    # all images are symmetric around the atom: no net force on it
    assert np.abs(d.dG(0).sum(axis=1)).max() < 1e-10


def test_per_atom_kernel_matches_structure_call():
    sfset = make_set(6, 0.0)
    pos, numbers, cell, pbc = random_system("small_cell", seed=5)
    d = compute_descriptors(pos, numbers, cell, pbc, sfset, derivatives=True)
    nl = d.neighbours
    for a in range(len(pos)):
        el = sfset.elements[d.atom_elements[a]]
        p0, p1 = nl.offsets[a], nl.offsets[a + 1]
        G, dG = sfset.cpp_descriptor(el).compute(np.ascontiguousarray(nl.vectors[p0:p1]),
                                                 d.atom_elements[nl.j[p0:p1]].astype(np.int32), True)
        np.testing.assert_array_equal(G, d.G(a))
        np.testing.assert_array_equal(dG, d.dG(a))


def test_invariance_rotation_translation_permutation():
    sfset = make_set(2, 0.0)
    rng = np.random.default_rng(7)
    for kind in ("cluster", "small_cell"):
        pos, numbers, cell, pbc = random_system(kind, seed=21)
        d0 = compute_descriptors(pos, numbers, cell, pbc, sfset)
        # rotation (of positions and cell) + translation
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        shift = rng.normal(size=3)
        d1 = compute_descriptors(pos @ q.T + shift, numbers, cell @ q.T, pbc, sfset)
        # permutation
        perm = rng.permutation(len(pos))
        d2 = compute_descriptors(pos[perm], numbers[perm], cell, pbc, sfset)
        for a in range(len(pos)):
            g = d0.G(a)
            tol = 1e-10 * np.maximum(1.0, np.abs(g))
            assert np.all(np.abs(d1.G(a) - g) <= tol)
            assert np.all(np.abs(d2.G(int(np.nonzero(perm == a)[0][0])) - g) <= tol)


def test_gradient_contraction_matches_energy_fd():
    """Descriptors.gradient: dE/dr for a linear 'energy' E = sum_a w_el . G_a, vs finite differences."""
    sfset = make_set(6, 0.0)
    pos, numbers, cell, pbc = random_system("small_cell", seed=9)
    rng = np.random.default_rng(0)
    w = {el: rng.normal(size=len(sfset.for_element(el))) for el in sfset.elements}

    def energy(p):
        d = compute_descriptors(p, numbers, cell, pbc, sfset)
        return sum(w[sfset.elements[d.atom_elements[a]]] @ d.G(a) for a in range(len(p)))

    d = compute_descriptors(pos, numbers, cell, pbc, sfset, derivatives=True)
    grad = d.gradient([w[sfset.elements[d.atom_elements[a]]] for a in range(len(pos))])
    h = 1e-5
    for m in range(len(pos)):
        for c in range(3):
            pp, pm = pos.copy(), pos.copy()
            pp[m, c] += h
            pm[m, c] -= h
            fd = (energy(pp) - energy(pm)) / (2 * h)
            assert abs(fd - grad[m, c]) < 1e-6 * max(1.0, abs(fd))
