"""Reference codes: settings validated at the edge, and each code's numbers checked numerically
(forces against finite differences, stress against finite strain, tensors against rotations)."""
from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk, molecule

from hdnnp.errors import InputError
from hdnnp.references import PRESETS, compute_label, get_reference, parse_overrides
from hdnnp.structures import Structure


def _rattled(sym="Cu", n=2, amp=0.05, seed=0, **kw):
    a = bulk(sym, cubic=True, **kw) * (n, n, n)
    a.rattle(amp, seed=seed)
    return Structure.from_ase(a)


def _fd_force(ref, s, atom, comp, h=1e-4):
    def e(d):
        t = s.copy()
        t.positions[atom, comp] += d
        return compute_label(ref, t).energy
    return -(e(h) - e(-h)) / (2 * h)


def _fd_stress(ref, s, i, j, h=1e-5):
    def e(d):
        t = s.copy()
        eps = np.eye(3)
        eps[i, j] += d / 2
        eps[j, i] += d / 2
        t.cell = s.cell @ eps
        t.positions = s.positions @ eps
        return compute_label(ref, t).energy
    return (e(h) - e(-h)) / (2 * h) / s.volume


# -- settings ------------------------------------------------------------------------------------
def test_unknown_setting_is_named():
    with pytest.raises(InputError, match=r"reference\.ecutt.*accepts: .*ecut"):
        get_reference("gpaw-pbe", {"ecutt": 300})


def test_missing_required_setting_is_named():
    with pytest.raises(InputError, match=r"reference\.pair_style"):
        get_reference({"code": "lammps", "pair_coeff": ["* * Si.sw Si"], "elements": ["Si"]})


def test_unknown_preset_and_code():
    with pytest.raises(InputError, match="neither a reference preset"):
        get_reference("dft-magic")
    with pytest.raises(InputError, match="unknown reference code"):
        get_reference({"code": "vasp"})


def test_key_depends_on_settings_only():
    a = get_reference("gpaw-pbe", {"ecut": 300})
    b = get_reference({"preset": "gpaw-pbe", "ecut": 300.0})
    c = get_reference("gpaw-pbe", {"ecut": 350})
    assert a.key == b.key != c.key
    assert parse_overrides(["kpts=[2,2,2]", "xc=PBE"]) == {"kpts": [2, 2, 2], "xc": "PBE"}


def test_reference_from_yaml_file(tmp_path):
    f = tmp_path / "ref.yaml"
    f.write_text("code: ase\ncalculator: ase.calculators.lj.LennardJones\nkwargs: {sigma: 2.3, epsilon: 0.2}\n")
    ref = get_reference(str(f))
    assert ref.name == "ref.yaml" and ref.settings["kwargs"]["sigma"] == 2.3
    f.write_text("code: ase\ncalculator: ase.calculators.nothing.Here\n")
    with pytest.raises(InputError, match="cannot import calculator"):
        get_reference(str(f))


def test_lammps_missing_potential_file():
    with pytest.raises(InputError, match="potential file 'Xx.sw' not found"):
        get_reference({"code": "lammps", "pair_style": "sw", "pair_coeff": ["* * Xx.sw Si"], "elements": ["Si"]})


def test_presets_validate():
    for name in PRESETS:
        ref = get_reference(name)
        assert ref.key and ref.name == name


# -- codes ---------------------------------------------------------------------------------------
def test_emt_matches_ase():
    from ase.calculators.emt import EMT
    s = _rattled()
    r = compute_label(get_reference("emt"), s)
    a = s.to_ase()
    a.calc = EMT()
    assert r.ok and r.energy == pytest.approx(a.get_potential_energy(), abs=1e-12)
    np.testing.assert_allclose(r.forces, a.get_forces(), atol=1e-12)
    assert r.stress.shape == (3, 3)


def test_failure_is_a_result_not_an_exception():
    r = compute_label(get_reference("sw-si"), _rattled("Cu"))
    assert not r.ok and "not among the reference's elements" in r.error


@pytest.mark.parametrize("triclinic", [False, True])
def test_lammps_sw_forces_and_stress_against_finite_differences(triclinic):
    ref = get_reference("sw-si")
    if triclinic:
        a = bulk("Si", "diamond", a=5.43) * (2, 2, 2)   # primitive, non-orthogonal cell
        a.rattle(0.05, seed=3)
        s = Structure.from_ase(a)
    else:
        s = _rattled("Si", a=5.43, amp=0.08)
    r = compute_label(ref, s)
    assert r.ok
    for atom, comp in ((0, 0), (5, 2)):
        assert r.forces[atom, comp] == pytest.approx(_fd_force(ref, s, atom, comp), abs=1e-6)
    for i, j in ((0, 0), (0, 1), (1, 2)):
        assert r.stress[i, j] == pytest.approx(_fd_stress(ref, s, i, j), abs=1e-7)


def test_lammps_molecule_and_two_elements():
    ref = get_reference("tersoff-sic")
    s = Structure(numbers=[14, 6, 14], positions=[[0, 0, 0], [1.9, 0, 0], [0.2, 1.8, 0.3]])
    r = compute_label(ref, s)
    assert r.ok and r.stress is None
    assert r.forces[1, 0] == pytest.approx(_fd_force(ref, s, 1, 0, h=2e-5), abs=2e-5)
    np.testing.assert_allclose(r.forces.sum(0), 0, atol=1e-10)


def test_vashishta_sio2_preset_forces_against_finite_differences():
    rng = np.random.default_rng(5)
    # a cubic cell of 8 SiO2 at about 2.2 g/cm³ (random, at least 1.5 Å apart)
    pos = []
    while len(pos) < 24:
        p = rng.uniform(0, 7.0, 3)
        d = [np.linalg.norm((p - q + 3.5) % 7.0 - 3.5) for q in pos]
        if not d or min(d) > 1.5:
            pos.append(p)
    s = Structure(numbers=[14] * 8 + [8] * 16, positions=pos, cell=np.eye(3) * 7.0, pbc=True)
    ref = get_reference("vashishta-sio2")
    r = compute_label(ref, s)
    assert r.ok
    for atom, comp in ((0, 1), (12, 2)):
        assert r.forces[atom, comp] == pytest.approx(_fd_force(ref, s, atom, comp), abs=1e-5)


def test_ase_calculator_by_import_path():
    from ase.calculators.lj import LennardJones
    ref = get_reference({"code": "ase", "calculator": "ase.calculators.lj.LennardJones",
                         "kwargs": {"sigma": 2.0, "epsilon": 0.1, "rc": 5.0}})
    s = _rattled("Ar", a=5.26)
    r = compute_label(ref, s)
    a = s.to_ase()
    a.calc = LennardJones(sigma=2.0, epsilon=0.1, rc=5.0)
    assert r.energy == pytest.approx(a.get_potential_energy())


def test_tblite_gfn2_forces_and_charges():
    pytest.importorskip("tblite")
    ref = get_reference("gfn2-xtb")
    s = Structure.from_ase(molecule("H2O"))
    r = compute_label(ref, s)
    assert r.ok
    assert r.forces[0, 2] == pytest.approx(_fd_force(ref, s, 0, 2, h=1e-4), abs=2e-4)
    assert r.atom_properties["charges"].sum() == pytest.approx(0.0, abs=1e-6)
    assert r.atom_properties["charges"][0] < 0   # oxygen negative
    s.charge = 1.0
    r1 = compute_label(ref, s)
    assert r1.atom_properties["charges"].sum() == pytest.approx(1.0, abs=1e-6)


def test_pyscf_rhf_forces_and_giao_shielding_rotate():
    pytest.importorskip("pyscf")
    pytest.importorskip("pyscf.prop.nmr")
    ref = get_reference("pyscf-rhf-nmr")
    s = Structure.from_ase(molecule("H2O"))
    r = compute_label(ref, s)
    assert r.ok, r.error
    assert r.forces[1, 1] == pytest.approx(_fd_force(get_reference("pyscf-rhf"), s, 1, 1, h=1e-3), abs=1e-4)
    sigma = r.atom_properties["shielding"]
    iso = np.trace(sigma, axis1=1, axis2=2) / 3
    assert 300 < iso[0] < 360 and 25 < iso[1] < 40   # RHF/6-31G* water: O ~330 ppm, H ~32 ppm
    assert iso[1] == pytest.approx(iso[2], abs=1e-5)
    from scipy.spatial.transform import Rotation
    R = Rotation.from_euler("xyz", [0.3, -0.7, 1.1]).as_matrix()
    t = s.copy()
    t.positions = s.positions @ R.T
    rr = compute_label(ref, t)
    np.testing.assert_allclose(rr.atom_properties["shielding"], R @ sigma @ R.T, atol=2e-3)
    np.testing.assert_allclose(rr.forces, r.forces @ R.T, atol=1e-5)


def test_pyscf_refuses_dft_nmr_and_periodic_cells():
    pytest.importorskip("pyscf")
    with pytest.raises(InputError, match="reference.nmr"):
        get_reference("pyscf-b3lyp", {"nmr": True})
    r = compute_label(get_reference("pyscf-rhf"), _rattled("Cu", n=1))
    assert not r.ok and "molecules only" in r.error


def test_gpaw_si_when_installed():
    pytest.importorskip("gpaw")
    ref = get_reference("gpaw-pbe", {"ecut": 200, "kpts": [1, 1, 1], "convergence_energy": 1e-8})
    s = _rattled("Si", n=1, a=5.43, amp=0.05)
    r = compute_label(ref, s)
    assert r.ok, r.error
    assert r.forces[0, 0] == pytest.approx(_fd_force(ref, s, 0, 0, h=1e-2), abs=3e-3)


def test_gpaw_hirshfeld_charges_of_a_water_molecule_when_installed():
    """GPAW >= 25 builds its new calculator by default; the Hirshfeld partitioning needs the legacy one."""
    pytest.importorskip("gpaw")
    ref = get_reference({"code": "gpaw", "mode": "lcao", "basis": "dzp", "h": 0.25, "charges": "hirshfeld",
                         "vacuum": 3.0})
    s = Structure(numbers=[8, 1, 1], positions=[[0, 0, 0], [0.757, 0.586, 0], [-0.757, 0.586, 0]])
    r = compute_label(ref, s)
    assert r.ok, r.error
    q = r.atom_properties["charges"]
    assert q[0] < -0.2 and q[1] > 0.1 and q[1] == pytest.approx(q[2], abs=1e-4)
    assert q.sum() == pytest.approx(0.0, abs=0.02)
