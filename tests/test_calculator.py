"""ASE calculator: same numbers as the evaluator, neighbour-list reuse, MD/optimiser/NEB usability,
extrapolation warnings; and ``hdnnp predict`` against n2p2's own output."""
import numpy as np
import pytest
from ase import Atoms

from conftest import require_shared
from hdnnp.calculator import ExtrapolationWarning, HDNNPCalculator
from hdnnp.model.evaluator import Evaluator
from test_engine import cluster, make_potential, periodic_structure


@pytest.fixture(scope="module")
def potential():
    return make_potential(6, 0.0, structures=[periodic_structure(0), cluster(1)])


def test_calculator_matches_evaluator_and_reuses_neighbours(potential):
    ev = Evaluator(potential)
    s = periodic_structure(0)
    atoms = s.to_ase()
    atoms.calc = HDNNPCalculator(ev, skin=0.5, warn_extrapolation=False)
    ref = ev.evaluate(s)
    assert atoms.get_potential_energy() == pytest.approx(ref.energy, rel=1e-13)
    np.testing.assert_allclose(atoms.get_forces(), ref.forces, atol=1e-12)
    np.testing.assert_allclose(atoms.get_potential_energies(), ref.energies, atol=1e-12)
    st = atoms.get_stress(voigt=False)
    np.testing.assert_allclose(st, ref.stress, atol=1e-12)
    assert atoms.get_potential_energy(force_consistent=True) == pytest.approx(ref.energy)
    # small moves reuse the skin list and still give exact results
    nl_before = atoms.calc._nl
    rng = np.random.default_rng(0)
    for _ in range(3):
        atoms.positions += rng.normal(0, 0.03, atoms.positions.shape)
        s.positions = atoms.positions.copy()
        f = atoms.get_forces()
        np.testing.assert_allclose(f, ev.evaluate(s).forces, atol=1e-12)
    assert atoms.calc._nl is nl_before
    atoms.positions += 0.5  # beyond skin/2 for every atom → rebuild
    atoms.get_forces()
    assert atoms.calc._nl is not nl_before


def test_md_optimiser_and_neb(potential):
    from ase.md.verlet import VelocityVerlet
    from ase.mep import NEB
    from ase.optimize import BFGS, FIRE
    from ase import units

    ev = Evaluator(potential)
    atoms = cluster(1).to_ase()
    atoms.calc = HDNNPCalculator(ev, warn_extrapolation=False)
    opt = BFGS(atoms, logfile=None)
    opt.run(fmax=0.05, steps=30)
    # NVE: energy conserved over a short run
    atoms.set_velocities(np.random.default_rng(1).normal(0, 0.002, (len(atoms), 3)))
    md = VelocityVerlet(atoms, timestep=0.2 * units.fs, logfile=None)
    e0 = atoms.get_total_energy()
    md.run(50)
    assert abs(atoms.get_total_energy() - e0) < 1e-3
    # NEB between two slightly different configurations
    a, b = atoms.copy(), atoms.copy()
    b.positions[0] += [0.2, 0.0, 0.0]
    images = [a] + [a.copy() for _ in range(3)] + [b]
    for im in images:
        im.calc = HDNNPCalculator(ev, warn_extrapolation=False)
    neb = NEB(images, method="improvedtangent")
    neb.interpolate()
    FIRE(neb, logfile=None).run(fmax=0.5, steps=5)
    assert all(np.isfinite(im.get_potential_energy()) for im in images)


def test_stress_needs_full_periodicity(potential):
    from ase.calculators.calculator import PropertyNotImplementedError
    atoms = cluster(1).to_ase()
    atoms.calc = HDNNPCalculator(Evaluator(potential), warn_extrapolation=False)
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()


def test_extrapolation_is_counted_and_warned(potential):
    ev = Evaluator(potential)
    s = cluster(1)
    assert ev.evaluate(s).n_extrapolations == 0  # the scaling statistics come from this structure
    squeezed = s.copy()
    squeezed.positions *= 0.7
    pred = ev.evaluate(squeezed)
    assert pred.n_extrapolations > 0
    assert pred.extrapolations.shape == (s.natoms,)
    atoms = squeezed.to_ase()
    atoms.calc = HDNNPCalculator(ev)
    with pytest.warns(ExtrapolationWarning, match="outside the training range"):
        atoms.get_potential_energy()
    assert atoms.calc.n_extrapolations == pred.n_extrapolations
    assert np.array_equal(atoms.calc.results["extrapolations"], pred.extrapolations)


def test_unknown_element_is_a_clear_error(potential):
    from hdnnp.errors import InputError
    atoms = Atoms("SiO", positions=[[0, 0, 0], [0, 0, 1.5]])
    atoms.calc = HDNNPCalculator(Evaluator(potential))
    with pytest.raises(InputError, match="Si is not in the potential"):
        atoms.get_potential_energy()


def test_predict_cli_reproduces_n2p2(tmp_path, capsys):
    from hdnnp.cli.main import main
    from hdnnp.io import read
    from hdnnp.units import BOHR, HARTREE

    folder = require_shared("n2p2-reference", "H2O_RPBE-D3")
    out = tmp_path / "pred.xyz"
    rc = main(["predict", str(folder), str(folder / "input.data"), "-o", str(out),
               "--potential-length-unit", "bohr", "--potential-energy-unit", "hartree",
               "--data-length-unit", "bohr", "--data-energy-unit", "hartree", "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "structures  20" in text and "RMSE" in text
    pred = read(out)
    ref = read(folder / "n2p2_nnp-dataset" / "output.data", length_unit="bohr", energy_unit="hartree")
    assert len(pred) == len(ref) == 20
    for p, r in zip(pred, ref):
        assert abs(p.energy - r.energy) / abs(r.energy) < 1e-10
        assert np.abs(p.forces - r.forces).max() / (HARTREE / BOHR) < 1e-8
        assert p.stress is not None and p.stress.shape == (3, 3)
        assert "energies" in p.atom_properties
