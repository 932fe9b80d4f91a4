"""Committee merge: the merged n2p2 network gives the members' mean energy, forces and stress,
survives a write/read round trip, and refuses members that do not share their descriptors."""
import numpy as np
import pytest

from hdnnp.model import read_potential, write_potential
from hdnnp.model.committee import merge_committee
from hdnnp.model.evaluator import Evaluator
from test_engine import cluster, make_potential, periodic_structure


def _members(n=3, gaussian_only=False):
    from test_engine import sf_lines
    lines = [x for x in sf_lines() if x[1][1] in ("2", "3", "9")] if gaussian_only else None
    base = make_potential(6, 0.0, structures=[periodic_structure(0), cluster(1)], lines=lines)
    base.normalized = True      # write mean_energy/conv_energy to input.nn (round trip)
    out = []
    rng = np.random.default_rng(5)
    for m in range(n):
        p = base.copy()
        for el, net in p.networks.items():
            net.weights = rng.normal(0, 0.4, net.n_weights)
        out.append(p)
    # members may differ in widths (not depth)
    out[1].networks["H"].layer_sizes[1] = 4
    out[1].networks["H"].weights = rng.normal(0, 0.4, out[1].networks["H"].n_weights)
    return out


def test_merged_network_is_the_committee_mean(tmp_path):
    members = _members()
    merged = merge_committee(members)
    assert merged.networks["H"].layer_sizes[1:] == [7 + 4 + 7, 5 * 3, 1]
    write_potential(merged, tmp_path / "pot")
    back = read_potential(tmp_path / "pot")
    for s in (periodic_structure(0), cluster(1)):
        refs = [Evaluator(p).evaluate(s) for p in members]
        for pot in (merged, back):
            r = Evaluator(pot).evaluate(s)
            assert r.energy == pytest.approx(np.mean([x.energy for x in refs]), abs=1e-10)
            np.testing.assert_allclose(r.forces, np.mean([x.forces for x in refs], 0), atol=1e-10)
            np.testing.assert_allclose(r.energies, np.mean([x.energies for x in refs], 0),
                                       atol=1e-10)
            if r.stress is not None:
                np.testing.assert_allclose(r.stress, np.mean([x.stress for x in refs], 0),
                                           atol=1e-10)


def test_members_must_share_descriptors():
    a, b = _members(2)
    b.scaling["O"].gmax = b.scaling["O"].gmax + 0.1
    with pytest.raises(ValueError, match="member 2 differs .*scaling statistics"):
        merge_committee([a, b])
    a, b = _members(2)
    b.atom_energy = dict(b.atom_energy, H=-13.0)
    with pytest.raises(ValueError, match="reference energies"):
        merge_committee([a, b])
    with pytest.raises(ValueError, match="no members"):
        merge_committee([])


def test_cli_merge(tmp_path, capsys):
    from hdnnp.cli.main import main
    members = _members(2)
    for k, p in enumerate(members):
        write_potential(p, tmp_path / f"run{k}" / "potential")    # a run folder and ...
    write_potential(members[1], tmp_path / "plain")               # ... a potential folder
    assert main(["committee", "merge", str(tmp_path / "run0"), str(tmp_path / "plain"),
                 "-o", str(tmp_path / "merged")]) == 0
    assert "merged 2 members" in capsys.readouterr().out
    back = read_potential(tmp_path / "merged")
    s = cluster(1)
    ref = np.mean([Evaluator(p).evaluate(s).energy for p in members])
    assert Evaluator(back).evaluate(s).energy == pytest.approx(ref, abs=1e-10)
    bad = members[1].copy()
    bad.atom_energy = dict(bad.atom_energy, O=-70.0)
    write_potential(bad, tmp_path / "bad")
    assert main(["committee", "merge", str(tmp_path / "run0"), str(tmp_path / "bad"),
                 "-o", str(tmp_path / "m2")]) == 2
    assert "reference energies" in capsys.readouterr().err
    assert main(["committee", "merge", str(tmp_path), "-o", str(tmp_path / "m3")]) == 2


def test_merge_edge_cases():
    a, b = _members(2)
    b.normalize_nodes = True
    with pytest.raises(ValueError, match="member 2 uses normalize_nodes"):
        merge_committee([a, b])
    a, b = _members(2)
    b.networks["O"].layer_sizes = b.networks["O"].layer_sizes[:1] + b.networks["O"].layer_sizes[2:]
    b.networks["O"].activations = b.networks["O"].activations[1:]
    b.networks["O"].weights = np.zeros(b.networks["O"].n_weights)
    with pytest.raises(ValueError, match="network depth and activations"):
        merge_committee([a, b])
    # a last-bit difference (another process's least squares) still merges
    a, b = _members(2)
    b.atom_energy = {k: v * (1 + 1e-15) for k, v in b.atom_energy.items()}
    merge_committee([a, b])
    # one member: an unchanged copy
    s = cluster(1)
    assert Evaluator(merge_committee([a])).evaluate(s).energy == Evaluator(a).evaluate(s).energy


def test_merge_without_hidden_layers():
    rng = np.random.default_rng(2)
    members = _members(2)
    for p in members:
        for net in p.networks.values():
            net.layer_sizes, net.activations = [net.layer_sizes[0], 1], "l"
            net.weights = rng.normal(0, 0.4, net.n_weights)
    merged = merge_committee(members)
    s = cluster(1)
    ref = [Evaluator(p).evaluate(s) for p in members]
    r = Evaluator(merged).evaluate(s)
    assert r.energy == pytest.approx(np.mean([x.energy for x in ref]), abs=1e-10)
    np.testing.assert_allclose(r.forces, np.mean([x.forces for x in ref], 0), atol=1e-10)


def _committee_folder(tmp_path, members):
    import json
    d = tmp_path / "committee"
    write_potential(merge_committee(members), d)
    for k, p in enumerate(members, start=1):
        write_potential(p, d / f"member_{k}")
    (d / "committee.json").write_text(json.dumps({"members": [f"member_{k}" for k in range(1, len(members) + 1)],
                                                  "force_std_validation": 0.1}))
    return d


@pytest.mark.parametrize("n_members,gaussian_only", [(3, False), (3, True), (10, True), (1, True)])
def test_committee_evaluator_gives_members_mean_and_spread(tmp_path, n_members, gaussian_only):
    """Descriptors once, M networks: the mean and every member's energies, forces and stress equal the
    members' own evaluations; the spread is their standard deviation. Gaussian-only functions take the
    batched contraction (members in sweeps of 8), the others one contraction per member."""
    from hdnnp.model.evaluator import CommitteeEvaluator, load_potential
    members = _members(max(n_members, 3), gaussian_only)[:n_members] if n_members < 3 else \
        _members(n_members, gaussian_only)
    if n_members == 1:
        members = members[:1]
    members[-1].conv_energy = 2.5        # members may differ in normalisation and offsets
    members[-1].mean_energy = -0.3
    members[-1].atom_energy = dict(members[-1].atom_energy, H=-1.0)
    d = _committee_folder(tmp_path, _members(2))
    assert isinstance(load_potential(d), CommitteeEvaluator)
    com = CommitteeEvaluator(members)
    for s in (periodic_structure(0), cluster(1)):
        refs = [Evaluator(p).evaluate(s) for p in members]
        r = com.evaluate(s)
        np.testing.assert_allclose(r.member_energies, [x.energy for x in refs], rtol=1e-12)
        assert r.energy == pytest.approx(np.mean([x.energy for x in refs]), abs=1e-10)
        assert r.energy_std == pytest.approx(np.std([x.energy for x in refs]), abs=1e-10)
        np.testing.assert_allclose(r.member_forces, [x.forces for x in refs], atol=1e-10)
        np.testing.assert_allclose(r.forces, np.mean([x.forces for x in refs], 0), atol=1e-10)
        dev = np.array([x.forces for x in refs]) - r.forces
        np.testing.assert_allclose(r.forces_std, np.sqrt((dev ** 2).sum(2).mean(0)), atol=1e-10)
        np.testing.assert_allclose(r.energies, np.mean([x.energies for x in refs], 0), atol=1e-10)
        if r.stress is not None:
            np.testing.assert_allclose(r.stress, np.mean([x.stress for x in refs], 0), atol=1e-10)
            np.testing.assert_allclose(r.stress_std, np.std([x.stress for x in refs], 0), atol=1e-10)
        # mean only (one contraction of the mean dE/dG): the same mean forces
        m = CommitteeEvaluator(members, spread=False).evaluate(s)
        np.testing.assert_allclose(m.forces, r.forces, atol=1e-10)
        assert m.forces_std is None and m.energy_std == pytest.approx(r.energy_std)


def test_committee_calculator_reports_spread(tmp_path):
    from hdnnp.calculator import HDNNPCalculator
    members = _members(2)
    d = _committee_folder(tmp_path, members)
    atoms = periodic_structure(0).to_ase() if hasattr(periodic_structure(0), "to_ase") else None
    if atoms is None:
        from ase import Atoms
        s = periodic_structure(0)
        atoms = Atoms(numbers=s.numbers, positions=s.positions, cell=s.cell, pbc=s.pbc)
    atoms.calc = HDNNPCalculator(d, warn_extrapolation=False)
    e = atoms.get_potential_energy()
    f = atoms.get_forces()
    r = atoms.calc.results
    refs = [Evaluator(p).evaluate(atoms) for p in members]
    assert e == pytest.approx(np.mean([x.energy for x in refs]), abs=1e-10)
    np.testing.assert_allclose(f, np.mean([x.forces for x in refs], 0), atol=1e-10)
    assert r["energy_std"] == pytest.approx(np.std([x.energy for x in refs]), abs=1e-10)
    assert r["forces_std"].shape == (len(atoms),)
    np.testing.assert_allclose(r["uncertainty"], r["forces_std"] / 0.1 + r["extrapolations"] /
                               np.array([len(members[0].symmetry_functions.for_element(x))
                                         for x in atoms.get_chemical_symbols()]))


def test_cli_make(tmp_path, capsys):
    from hdnnp.cli.main import main
    from hdnnp.model.evaluator import CommitteeEvaluator, load_potential
    members = _members(2)
    for k, p in enumerate(members):
        write_potential(p, tmp_path / f"m{k}")
    assert main(["committee", "make", str(tmp_path / "m0"), str(tmp_path / "m1"), "-o", str(tmp_path / "c"),
                 "--calibration", "0.2"]) == 0
    ev = load_potential(tmp_path / "c")
    assert isinstance(ev, CommitteeEvaluator) and ev.n_members == 2 and ev.calibration == 0.2
    assert (tmp_path / "c" / "input.nn").is_file()          # the merged mean, an n2p2 potential


def test_atom_virials_sum_to_the_global_virial():
    """Per-atom virials (centroid form) sum to −stress·V; a committee's are the members' mean."""
    from hdnnp.model.evaluator import CommitteeEvaluator
    members = _members(3, gaussian_only=True)
    s = periodic_structure(0)
    vol = abs(np.linalg.det(s.cell))
    refs = [Evaluator(p).evaluate(s, atom_virials=True) for p in members]
    for r in refs:
        np.testing.assert_allclose(r.virials.sum(0), -r.stress.T * vol, atol=1e-10 * np.abs(r.stress).max() * vol)
    c = CommitteeEvaluator(members).evaluate(s, atom_virials=True)
    np.testing.assert_allclose(c.virials, np.mean([r.virials for r in refs], 0), atol=1e-10)
    assert Evaluator(members[0]).evaluate(s).virials is None
