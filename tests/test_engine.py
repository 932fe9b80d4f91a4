"""The full engine (SFs -> scaling -> networks -> energy, forces, stress) on synthetic potentials that
use every symmetry-function type and every cutoff type: forces are minus the central-difference gradient
of the energy, stress is the finite-strain derivative, and the energy is invariant to rotation,
translation, permutation and choice of periodic cell. Self-contained (no ../shared)."""
import numpy as np
import pytest

from hdnnp import Structure
from hdnnp.descriptors import SymmetryFunctionSet, compute_descriptors
from hdnnp.model.evaluator import Evaluator
from hdnnp.model.n2p2 import ElementNetwork, ElementScaling, Potential

ELEMENTS = ["H", "O"]  # n2p2 order (by atomic number)

# One of every type (n2p2 syntax, after the keyword); cutoffs in Å.
SF_LINES = """
H 2 H 0.5 0.0 3.5
H 2 O 0.3 1.0 3.5
O 2 O 0.4 0.5 3.5
O 2 H 0.2 0.0 3.5
H 3 O O 0.1 1.0 2.0 3.5
H 3 H O 0.05 -1.0 1.0 3.5 0.5
O 3 H H 0.1 1.0 4.0 3.5
H 9 H O 0.1 1.0 1.0 3.5
O 9 O O 0.02 -1.0 2.0 3.5 0.3
O 9 H O 0.05 1.0 1.5 3.5
H 12 0.3 0.5 3.5
O 12 0.1 0.0 3.5
H 13 0.1 0.5 1.0 2.0 3.5
O 13 0.05 0.0 -1.0 1.0 3.5
H 20 O 0.5 3.5 p2
O 20 H 0.0 3.5 p3
O 20 O 1.0 3.5 p4
H 20 H 0.5 3.4 e
H 21 O O 0.5 3.5 0.0 120.0 p2
O 21 H O 0.0 3.5 60.0 180.0 p3
H 22 H O 0.5 3.5 -60.0 60.0 p2a
O 22 H H 0.0 3.5 30.0 150.0 p1
H 23 0.5 3.5 p2
O 23 0.0 3.5 p4a
H 24 0.5 3.5 40.0 150.0 p2
O 24 0.0 3.5 0.0 180.0 p3
H 25 0.5 3.5 120.0 240.0 p2
O 25 0.0 3.5 20.0 100.0 e
"""

CUTOFFS = [(1, 0.0), (1, 0.5), (2, 0.0), (3, 0.0), (4, 0.0), (4, 0.2), (5, 0.0), (6, 0.0), (6, 0.5),
           (7, 0.0), (7, 0.3), (8, 0.0), (8, 0.6)]


def sf_lines():
    return [(k + 1, line.split()) for k, line in enumerate(l for l in SF_LINES.strip().splitlines())]


def periodic_structure(seed=0):
    """Small triclinic cell (~3.3 Å): atoms see their own periodic images within 3.5 Å."""
    rng = np.random.default_rng(seed)
    cell = np.array([[3.3, 0.0, 0.0], [0.6, 3.1, 0.0], [-0.4, 0.5, 3.4]])
    while True:
        frac = rng.uniform(0, 1, (5, 3))
        pos = frac @ cell
        s = Structure(numbers=[8, 1, 1, 8, 1], positions=pos, cell=cell, pbc=True)
        try:
            s.validate(min_distance=0.9)
            return s
        except ValueError:
            continue


def cluster(seed=1):
    rng = np.random.default_rng(seed)
    while True:
        pos = rng.uniform(0, 3.0, (6, 3))
        s = Structure(numbers=[8, 1, 1, 8, 1, 1], positions=pos)
        try:
            s.validate(min_distance=0.9)
            return s
        except ValueError:
            continue


def make_potential(cutoff_type=6, alpha=0.0, acts="tp", scaling_mode=3, seed=0, structures=(), lines=None):
    """A random-weight potential over SF_LINES (or ``lines``); scaling statistics from ``structures``."""
    rng = np.random.default_rng(seed)
    lines = sf_lines() if lines is None else lines
    sfset = SymmetryFunctionSet.from_n2p2_lines(ELEMENTS, lines, cutoff_type, cutoff_alpha=alpha)
    stats = {el: [] for el in ELEMENTS}
    for s in structures:
        d = compute_descriptors(s.positions, s.numbers, s.cell, s.pbc, sfset)
        for el, (idx, G) in d.by_element().items():
            if len(idx):
                stats[el].append(G)
    networks, scaling = {}, {}
    for el in ELEMENTS:
        nsf = len(sfset.for_element(el))
        sizes = [nsf, 7, 5, 1]
        net = ElementNetwork(sizes, acts + "l", np.zeros(0))
        net.weights = rng.normal(0, 0.4, net.n_weights)
        networks[el] = net
        G = np.concatenate(stats[el]) if stats[el] else rng.uniform(0, 1, (3, nsf))
        gmin, gmax = G.min(0), G.max(0)
        gmax = np.where(gmax - gmin < 1e-8, gmin + 1.0, gmax)
        scaling[el] = ElementScaling(gmin, gmax, G.mean(0), G.std(0) + 0.1)
    return Potential(elements=list(ELEMENTS), networks=networks, scaling=scaling, scaling_mode=scaling_mode,
                     scale_min=-1.0, scale_max=1.0, mean_energy=-0.3, conv_energy=2.0, conv_length=1.0,
                     atom_energy={"H": -13.6, "O": -75.0}, cutoff_type=cutoff_type, cutoff_alpha=alpha,
                     sf_lines=lines)


def numerical_forces(ev, s, h=1e-5):
    f = np.zeros_like(s.positions)
    for a in range(s.natoms):
        for c in range(3):
            sp, sm = s.copy(), s.copy()
            sp.positions[a, c] += h
            sm.positions[a, c] -= h
            f[a, c] = -(ev.evaluate(sp, forces=False).energy - ev.evaluate(sm, forces=False).energy) / (2 * h)
    return f


def numerical_stress(ev, s, h=1e-6):
    sigma = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            e = []
            for sign in (1, -1):
                eps = np.zeros((3, 3))
                eps[a, b] = eps[b, a] = sign * h / (1 if a == b else 2) * (1 if a == b else 1)
                if a != b:
                    eps[a, b] = eps[b, a] = sign * h / 2
                t = s.copy()
                t.positions = s.positions @ (np.eye(3) + eps).T
                t.cell = s.cell @ (np.eye(3) + eps).T
                e.append(ev.evaluate(t, forces=False).energy)
            sigma[a, b] = (e[0] - e[1]) / (2 * h) / s.volume
    return sigma


@pytest.mark.parametrize("cutoff_type,alpha", CUTOFFS)
def test_forces_and_stress_finite_difference(cutoff_type, alpha):
    s = periodic_structure()
    c = cluster()
    pot = make_potential(cutoff_type, alpha, structures=[s, c])
    ev = Evaluator(pot)
    for struct in (s, c):
        pred = ev.evaluate(struct)
        num = numerical_forces(ev, struct)
        scale = max(1.0, np.abs(num).max())
        assert np.abs(pred.forces - num).max() / scale < 1e-7, (cutoff_type, alpha)
        assert abs(pred.energies.sum() - pred.energy) < 1e-9 * abs(pred.energy)
    pred = ev.evaluate(s)
    num = numerical_stress(ev, s)
    assert np.abs(pred.stress - num).max() < 1e-7 * max(1.0, np.abs(num).max())


def test_hard_cutoff_forces():
    c = cluster(3)
    ev = Evaluator(make_potential(0, 0.0, structures=[c]))
    pred = ev.evaluate(c)
    np.testing.assert_allclose(pred.forces, numerical_forces(ev, c), atol=1e-6)


@pytest.mark.parametrize("acts", ["tt", "pt", "st", "gt", "ct", "St", "te", "th", "ll", "rt"])
@pytest.mark.parametrize("mode", [0, 1, 2, 3, 4])
def test_every_activation_and_scaling_mode(acts, mode):
    s = periodic_structure(2)
    ev = Evaluator(make_potential(6, 0.0, acts=acts, scaling_mode=mode, structures=[s]))
    pred = ev.evaluate(s)
    num = numerical_forces(ev, s, h=2e-6)
    assert np.abs(pred.forces - num).max() < 1e-6 * max(1.0, np.abs(num).max()), acts


def rotation(seed):
    q = np.random.default_rng(seed).normal(size=4)
    q /= np.linalg.norm(q)
    a, b, c, d = q
    return np.array([[a*a+b*b-c*c-d*d, 2*(b*c-a*d), 2*(b*d+a*c)],
                     [2*(b*c+a*d), a*a-b*b+c*c-d*d, 2*(c*d-a*b)],
                     [2*(b*d-a*c), 2*(c*d+a*b), a*a-b*b-c*c+d*d]])


def test_invariances():
    s = periodic_structure(4)
    ev = Evaluator(make_potential(6, 0.0, structures=[s]))
    ref = ev.evaluate(s)
    R = rotation(7)
    # rotation (of positions and cell): energy invariant, forces and stress covariant
    t = s.copy()
    t.positions, t.cell = s.positions @ R.T, s.cell @ R.T
    p = ev.evaluate(t)
    assert abs(p.energy - ref.energy) < 1e-10 * abs(ref.energy)
    np.testing.assert_allclose(p.forces, ref.forces @ R.T, atol=1e-10)
    np.testing.assert_allclose(p.stress, R @ ref.stress @ R.T, atol=1e-10)
    # translation and wrapping atoms by lattice vectors
    t = s.copy()
    t.positions = s.positions + np.array([0.3, -1.7, 2.2]) + np.array([1, -2, 0]) @ s.cell
    p = ev.evaluate(t)
    assert abs(p.energy - ref.energy) < 1e-10 * abs(ref.energy)
    np.testing.assert_allclose(p.forces, ref.forces, atol=1e-10)
    # permutation
    perm = np.random.default_rng(3).permutation(s.natoms)
    t = Structure(numbers=s.numbers[perm], positions=s.positions[perm], cell=s.cell, pbc=s.pbc)
    p = ev.evaluate(t)
    assert abs(p.energy - ref.energy) < 1e-10 * abs(ref.energy)
    np.testing.assert_allclose(p.forces, ref.forces[perm], atol=1e-10)
    np.testing.assert_allclose(p.energies, ref.energies[perm], atol=1e-10)
    # another choice of the same lattice (unimodular change of basis)
    M = np.array([[1, 0, 0], [1, 1, 0], [-1, 2, 1]])
    t = Structure(numbers=s.numbers, positions=s.positions, cell=M @ s.cell, pbc=True)
    p = ev.evaluate(t)
    assert abs(p.energy - ref.energy) < 1e-10 * abs(ref.energy)
    np.testing.assert_allclose(p.forces, ref.forces, atol=1e-10)
    np.testing.assert_allclose(p.stress, ref.stress, atol=1e-10)


def test_supercell_is_extensive():
    s = periodic_structure(5)
    ev = Evaluator(make_potential(2, 0.0, structures=[s]))
    ref = ev.evaluate(s)
    big = Structure.from_ase(s.to_ase().repeat(2))
    p = ev.evaluate(big)
    assert abs(p.energy - 8 * ref.energy) < 1e-10 * abs(8 * ref.energy)
    np.testing.assert_allclose(p.forces, np.tile(ref.forces, (8, 1)), atol=1e-10)
    np.testing.assert_allclose(p.stress, ref.stress, atol=1e-10)
