"""Neighbour lists equal a brute-force reference on periodic, triclinic, partly periodic and open
systems, including cells much smaller than the cutoff (many images of the same atom)."""
import itertools

import numpy as np
import pytest

from hdnnp.neighbours import neighbour_list


def brute_force(positions, cell, pbc, cutoff):
    """All (i, j, shift) with |r_j + shift·cell − r_i| < cutoff, excluding i==j at zero shift."""
    cell = np.asarray(cell, float)
    ranges = []
    for d in range(3):
        if pbc[d]:
            # number of images needed along d: cutoff / (distance between lattice planes)
            other = np.cross(cell[(d + 1) % 3], cell[(d + 2) % 3])
            h = abs(np.dot(cell[d], other)) / np.linalg.norm(other)
            span = np.ptp(positions @ np.linalg.inv(cell)[:, d]) if len(positions) else 0
            n = int(np.ceil(cutoff / h + span)) + 1
            ranges.append(range(-n, n + 1))
        else:
            ranges.append(range(0, 1))
    out = set()
    for s in itertools.product(*ranges):
        shift = np.array(s) @ cell if any(pbc) else np.zeros(3)
        d = positions[None, :, :] + shift - positions[:, None, :]
        dist = np.linalg.norm(d, axis=-1)
        for i, j in zip(*np.nonzero(dist < cutoff)):
            if i == j and not any(s):
                continue
            out.add((int(i), int(j), s))
    return out


def as_set(nl):
    return {(int(i), int(j), tuple(int(x) for x in s)) for i, j, s in zip(nl.i, nl.j, nl.shifts)}


def random_cell(rng, triclinic=True, scale=4.0):
    cell = np.diag(rng.uniform(0.8, 1.2, 3)) * scale
    if triclinic:
        cell += np.triu(rng.uniform(-0.4, 0.4, (3, 3)), 1) * scale
    return cell


@pytest.mark.parametrize("pbc", [(1, 1, 1), (1, 1, 0), (1, 0, 0), (0, 0, 0), (0, 1, 1)])
@pytest.mark.parametrize("triclinic", [False, True])
def test_matches_brute_force(pbc, triclinic):
    rng = np.random.default_rng(hash((pbc, triclinic)) % 2**32)
    pbc = np.array(pbc, bool)
    for trial in range(3):
        n = int(rng.integers(1, 12))
        cell = random_cell(rng, triclinic)
        positions = rng.uniform(0, 1, (n, 3)) @ cell
        cutoff = rng.uniform(2.0, 5.0)
        nl = neighbour_list(positions, cutoff, cell, pbc)
        ref = brute_force(positions, cell, pbc, cutoff)
        assert as_set(nl) == ref
        # vectors and distances are consistent with shifts
        vec = positions[nl.j] + nl.shifts @ cell - positions[nl.i]
        np.testing.assert_allclose(nl.vectors, vec, atol=1e-10)
        np.testing.assert_allclose(nl.distances, np.linalg.norm(vec, axis=1), atol=1e-10)
        assert np.all(nl.shifts[:, ~pbc] == 0)


def test_two_atom_cell_with_6A_cutoff():
    """Diamond Si primitive cell (2 atoms, 3.84 Å lattice vectors) at 6 Å: many self-images."""
    a = 5.43
    cell = 0.5 * a * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    positions = np.array([[0, 0, 0], [0.25, 0.25, 0.25]]) * a
    pbc = np.array([True] * 3)
    nl = neighbour_list(positions, 6.0, cell, pbc)
    ref = brute_force(positions, cell, pbc, 6.0)
    assert as_set(nl) == ref
    assert np.sum((nl.i == 0) & (nl.j == 0)) > 0  # the atom's own images are neighbours
    # diamond: 4 + 12 + 12 + 6 + 12 neighbours within 6 Å (shells at 2.35, 3.84, 4.50, 5.43, 5.92 Å)
    assert np.all(np.bincount(nl.i) == 46)


def test_atoms_outside_cell_and_offsets():
    rng = np.random.default_rng(5)
    cell = random_cell(rng)
    positions = rng.uniform(-1.5, 2.5, (7, 3)) @ cell  # not wrapped into the cell
    pbc = np.array([True, True, True])
    nl = neighbour_list(positions, 3.0, cell, pbc)
    assert as_set(nl) == brute_force(positions, cell, pbc, 3.0)
    for a in range(7):
        assert np.all(nl.i[nl.offsets[a]:nl.offsets[a + 1]] == a)


def test_structure_input_and_empty():
    from hdnnp import Structure
    s = Structure(numbers=[14], positions=[[0, 0, 0]], cell=np.eye(3) * 3, pbc=True)
    nl = neighbour_list(s, 3.5)
    assert len(nl.i) == 6  # the six face neighbours at 3 Å; 3√2 Å is beyond 3.5 Å
    s = Structure(numbers=[1, 1], positions=[[0, 0, 0], [0, 0, 0.7]])
    nl = neighbour_list(s, 1.0)
    assert sorted(zip(nl.i.tolist(), nl.j.tolist())) == [(0, 1), (1, 0)]
