"""hdnnp defects: symmetry-distinct defects and interstitial sites; the distortion search escapes the
symmetric stationary point of the Si vacancy with Stillinger-Weber (4.34 eV) to its minimum (2.84 eV)."""
import json
import subprocess
import sys

import numpy as np
import pytest
from ase.build import bulk

from hdnnp.workflows.defects import DefectSettings, generate_defects, interstitial_sites


def test_sites_and_defects():
    si = bulk("Si", "diamond", a=5.431, cubic=True)
    sites = interstitial_sites(si)
    coord = []
    for f in sites:
        d = np.linalg.norm(((si.get_scaled_positions() - f + 0.5) % 1 - 0.5) @ si.cell[:], axis=1)
        coord.append(int(np.sum(d < np.min(d) + 0.01)))
    assert sorted(coord) == [4, 6]            # tetrahedral and hexagonal sites
    gan = bulk("GaN", "wurtzite", a=3.19, c=5.19)
    ds = generate_defects(gan, DefectSettings(antisites=True, substitutions=[("Ga", "Al")]))
    assert [(d.name, d.kind, d.multiplicity, len(d.atoms)) for d in ds] == [
        ("v_Ga_0", "vacancy", 2, 31), ("Al_Ga_0", "substitution", 2, 32), ("N_Ga_0", "antisite", 2, 32),
        ("v_N_1", "vacancy", 2, 31), ("Ga_N_1", "antisite", 2, 32)]
    assert ds[1].delta == {"Ga": -1, "Al": 1}
    assert [d.name for d in generate_defects(gan, DefectSettings(vacancy_elements=["N"]))] == ["v_N_1"]
    with pytest.raises(Exception, match="--vacancies O: not in the bulk"):
        generate_defects(gan, DefectSettings(vacancy_elements=["O"]))


def test_sw_vacancy_escapes_the_symmetric_trap(tmp_path):
    bulk("Si", "diamond", a=5.431, cubic=True).write(tmp_path / "si.xyz")
    out = subprocess.run([sys.executable, "-m", "hdnnp", "defects", str(tmp_path / "si.xyz"), "-r", "sw-si",
                          "--distortions", "-0.4", "-o", str(tmp_path / "d")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    row = json.loads((tmp_path / "d" / "defects.json").read_text())["defects"][0]
    assert row["defect"] == "v_Si_0" and row["multiplicity"] == 8
    assert row["plain_relaxation_eV"] == pytest.approx(4.337, abs=0.01)      # stays on the stationary point
    assert row["formation_energy_eV"] == pytest.approx(2.836, abs=0.01)      # the minimum
    assert "stayed 1.50 eV above the lowest minimum" in out.stderr
    assert (tmp_path / "d" / "distortions.png").stat().st_size > 1000 and (tmp_path / "d" / "v_Si_0.extxyz").is_file()


def test_reference_relaxations_are_kept_in_the_store_and_replayed(tmp_path):
    from hdnnp.labels import LabelStore
    bulk("Si", "diamond", a=5.431, cubic=True).write(tmp_path / "si.xyz")
    cmd = [sys.executable, "-m", "hdnnp", "defects", str(tmp_path / "si.xyz"), "-r", "sw-si", "--supercell", "1", "1",
           "1", "--distortions", "-0.4", "--store", str(tmp_path / "labels.db")]
    first = subprocess.run(cmd + ["-o", str(tmp_path / "a")], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    n = len(LabelStore(tmp_path / "labels.db"))
    assert n > 10                                   # every step of both relaxations, the bulk and the unrelaxed cell
    again = subprocess.run(cmd + ["-o", str(tmp_path / "b")], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(LabelStore(tmp_path / "labels.db")) == n                 # replayed from the store
    ra, rb = (json.loads((tmp_path / d / "defects.json").read_text())["defects"][0] for d in "ab")
    assert ra["formation_energy_eV"] == rb["formation_energy_eV"]


def test_the_perfect_supercell_is_relaxed_before_the_defects_are_made(tmp_path):
    """A bulk off the engine's minimum (Tersoff GaN with u = 0.36): without relaxing the perfect supercell each
    defect's relaxation would hold the bulk's relaxation energy and E_f would come out too low."""
    from hdnnp.references import get_reference
    from hdnnp.workflows import defects as D
    from hdnnp.workflows.phonons import ForceEngine
    gan = bulk("GaN", "wurtzite", a=3.181, c=5.194, u=0.36)
    eng = ForceEngine(reference=get_reference("tersoff-gan"))
    logs = []
    st = dict(supercell=[2, 2, 1], vacancy_elements=["N"], distortions=[], rattle=0.0, mu={"N": -4.0})
    a = D.run_defects(gan, eng, tmp_path / "a", DefectSettings(**st), log=logs.append)["defects"][0]
    b = D.run_defects(gan, eng, tmp_path / "b", DefectSettings(relax_bulk=False, **st))["defects"][0]
    assert any("the perfect supercell relaxed" in m for m in logs)
    assert a["formation_energy_eV"] > b["formation_energy_eV"] + 0.05
    assert a["unrelaxed_eV"] - a["formation_energy_eV"] < b["unrelaxed_eV"] - b["formation_energy_eV"]


def test_minima_outside_the_training_range_are_not_kept(tmp_path, monkeypatch):
    """A potential can have holes where it never saw data: a relaxation that ends there (extrapolating) or does not
    converge is reported, drawn, and not taken as the defect's minimum."""
    from hdnnp.references import get_reference
    from hdnnp.workflows import defects as D
    from hdnnp.workflows.phonons import ForceEngine
    real, calls = D._relax, []

    def holed(atoms, calc, fmax, steps):          # the distorted start falls into a 'hole' 10 eV deep
        a, e, ok, n, k = real(atoms, calc, fmax, steps)
        calls.append(1)
        return (a, e - 10.0, ok, 5, k) if len(calls) == 2 else (a, e, ok, n, k)

    monkeypatch.setattr(D, "_relax", holed)
    logs = []
    s = D.run_defects(bulk("Si", "diamond", a=5.431, cubic=True), ForceEngine(reference=get_reference("sw-si")),
                      tmp_path / "d", DefectSettings(distortions=[-0.4]), log=logs.append)
    row = s["defects"][0]
    assert row["formation_energy_eV"] == pytest.approx(4.337, abs=0.01) and row["best_start"] == "ideal"
    assert row["untrusted_starts"] == 1
    assert [(x["start"], x["kept"]) for x in s["starts"]["v_Si_0"]] == [("-40%", False), ("ideal", True)]
    assert any("start -40% reached" in m and "outside the potential's training range" in m for m in logs)


def test_charged_defects_with_a_charge_aware_potential(tmp_path):
    from ase.io import read as aread

    from hdnnp.calculator import HDNNPCalculator
    from hdnnp.testing import charged_si_potential
    from hdnnp.workflows.defects import point_charge_correction
    pot = charged_si_potential(tmp_path, charges=(0.0, 1.0, 2.0), energy=lambda q, n: 0.3 * q + 0.1 * q * q,
                               optimizer="lm", epochs=3, structures=10)
    si = bulk("Si", "diamond", a=5.431, cubic=True)
    si.write(tmp_path / "si.xyz")
    cmd = [sys.executable, "-m", "hdnnp", "defects", str(tmp_path / "si.xyz"), str(pot), "--supercell", "1", "1", "1",
           "--distortions", "0.2", "--rattle", "0", "--fmax", "0.2", "--charges", "0", "1", "2", "--gap", "1.1",
           "--dielectric", "11.7", "--correction", "makov-payne", "-o", str(tmp_path / "d")]
    bad = subprocess.run(cmd, capture_output=True, text=True)
    assert bad.returncode != 0 and "--vbm" in bad.stderr
    out = subprocess.run(cmd + ["--vbm", "0.7"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads((tmp_path / "d" / "defects.json").read_text())
    rows = {r["charge"]: r for r in s["defects"]}
    assert sorted(rows) == [0, 1, 2] and rows[0]["correction_eV"] == 0
    corr = point_charge_correction(2, si.cell[:], 11.7)
    assert rows[2]["correction_eV"] == pytest.approx(corr) and corr > 0
    # E_f(q) = E_def(q) − E_bulk − μ_Si·(−1) + q E_VBM + E_corr(q), with the relaxed cell and the calculator
    calc = HDNNPCalculator(str(pot))
    si.calc = calc
    e_bulk = si.get_potential_energy()
    a = aread(tmp_path / "d" / "v_Si_0_q+2.extxyz")
    a.info["charge"] = 2
    a.calc = calc
    ef = a.get_potential_energy() - e_bulk + e_bulk / 8 + 2 * 0.7 + corr
    assert rows[2]["formation_energy_eV"] == pytest.approx(ef, abs=1e-8)
    assert (tmp_path / "d" / "formation_vs_fermi.png").stat().st_size > 1000
    assert (tmp_path / "d" / "transition_levels.csv").is_file() and "transition levels above the VBM" in out.stdout
    # a reference that ignores the charge is refused for charged states (never a neutral label for a charged cell)
    r = subprocess.run([sys.executable, "-m", "hdnnp", "defects", str(tmp_path / "si.xyz"), "-r", "sw-si",
                        "--supercell", "1", "1", "1", "--charges", "0", "1", "--vbm", "0", "-o", str(tmp_path / "e")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "does not take the total charge" in r.stderr


def test_madelung_energy_and_transition_levels():
    from hdnnp.workflows.defects import madelung_energy, transition_levels
    assert madelung_energy(np.eye(3) * 10.0) == pytest.approx(-2.837297 / 20 * 14.399645, rel=1e-5)
    assert transition_levels({0: 3.0, 1: 1.5, 2: 0.8}) == [(2, 1, pytest.approx(0.7)), (1, 0, pytest.approx(1.5))]
    assert transition_levels({0: 3.0, 1: 2.0, 2: 0.5}) == [(2, 0, pytest.approx(1.25))]      # negative U


def test_defect_phonons_free_energy_of_formation(tmp_path):
    """--phonons: the harmonic free energy equals phonopy's own on the same force constants, and the
    vibrational free energy of formation of the SW vacancy falls with temperature (the vacancy softens modes)."""
    from phonopy import Phonopy

    from hdnnp.workflows.defects import harmonic_free_energy
    from hdnnp.workflows.phonons import _phonopy_atoms
    si = bulk("Si", "diamond", a=5.431, cubic=True)
    si.write(tmp_path / "si.xyz")
    out = subprocess.run([sys.executable, "-m", "hdnnp", "defects", str(tmp_path / "si.xyz"), "-r", "sw-si",
                          "--supercell", "1", "1", "1", "--distortions", "-0.4", "--phonons", "--t-step", "100",
                          "-o", str(tmp_path / "d")], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads((tmp_path / "d" / "defects.json").read_text())
    vib = s["vibrational"]
    ff = np.array(vib["formation_free_energy_eV"]["v_Si_0"]["0"])
    ef = s["defects"][0]["formation_energy_eV"]
    assert vib["temperatures_K"][0] == 0 and vib["temperatures_K"][-1] == 1000 and len(ff) == 11
    assert np.all(np.diff(ff) < 0) and -1.0 < ff[-1] - ef < -0.1 and abs(ff[0] - ef) < 0.3
    assert vib["phonons"]["bulk"]["imaginary_modes"] == 0
    assert (tmp_path / "d" / "free_energies.png").stat().st_size > 1000
    assert "F_f" in out.stdout and (tmp_path / "d" / "free_energies.csv").is_file()
    # harmonic_free_energy against phonopy's thermal properties (kJ/mol of cells) on random force constants
    rng = np.random.default_rng(0)
    ph = Phonopy(_phonopy_atoms(si), supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P")
    a = rng.normal(size=(24, 24))
    fc = (a @ a.T / 24 + 5 * np.eye(24)).reshape(8, 3, 8, 3).transpose(0, 2, 1, 3)
    ph.force_constants = fc
    ph.run_mesh([1, 1, 1], is_gamma_center=True)
    ph.run_thermal_properties(temperatures=[0.0, 300.0, 900.0])
    ref = ph.get_thermal_properties_dict()["free_energy"] / 96.48533212      # kJ/mol -> eV
    freqs = ph.get_mesh_dict()["frequencies"][0]
    # (to 1e-5: phonopy uses its own values of h, k_B and the kJ/mol conversion)
    assert np.allclose(harmonic_free_energy(freqs, [0.0, 300.0, 900.0]), ref, rtol=1e-5, atol=1e-8)
