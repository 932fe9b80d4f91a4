"""hdnnp phonons: the workflow's force constants equal phonopy's with the same calculator used directly;
imaginary modes are reported; a potential and the same potential used as an ASE reference agree."""
import json
import subprocess
import sys

import numpy as np
import pytest
from ase.build import bulk

from conftest import _in_ci

try:
    import phonopy  # noqa: F401
    import seekpath  # noqa: F401
except ImportError:
    if _in_ci():
        raise
    pytest.skip("phonons need the [phonons] extra (phonopy, seekpath)", allow_module_level=True)


def _freqs(ph, q):
    ph.run_qpoints([q])
    return ph.qpoints.frequencies[0]


def _direct_phonopy(atoms, calc, supercell, dist=0.01):
    """phonopy driven by hand with an ASE calculator: the independent route."""
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms
    from ase import Atoms
    ph = Phonopy(PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell[:],
                              scaled_positions=atoms.get_scaled_positions()),
                 supercell_matrix=np.diag(supercell), primitive_matrix="auto")
    ph.generate_displacements(distance=dist)
    forces = []
    for sc in ph.supercells_with_displacements:
        a = Atoms(symbols=sc.symbols, cell=sc.cell, scaled_positions=sc.scaled_positions, pbc=True)
        a.calc = calc
        forces.append(a.get_forces())
    ph.forces = forces
    ph.produce_force_constants()
    ph.symmetrize_force_constants()
    return ph


def test_emt_copper_matches_direct_phonopy(tmp_path):
    from ase.calculators.emt import EMT
    cu = bulk("Cu", "fcc", a=3.6)
    cu.write(tmp_path / "cu.xyz")
    out = subprocess.run([sys.executable, "-m", "hdnnp", "phonons", str(tmp_path / "cu.xyz"), "-r", "emt",
                          "--store", str(tmp_path / "l.db"), "-o", str(tmp_path / "ph"), "--supercell", "3", "3", "3",
                          "--mesh", "8", "8", "8", "--no-progress", "--relax-cell"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    summ = json.loads((tmp_path / "ph" / "phonons.json").read_text())
    assert summ["relaxed_max_force_eV_A"] < 1e-4 and summ["imaginary_modes_on_path"] == 0
    np.testing.assert_allclose(summ["gamma_frequencies_THz"][:3], 0.0, atol=1e-3)   # acoustic sum rule
    from ase.io import read
    relaxed = read(tmp_path / "ph" / "relaxed.extxyz")
    ph = _direct_phonopy(relaxed, EMT(), [3, 3, 3])
    import phonopy
    mine = phonopy.load(tmp_path / "ph" / "phonopy_params.yaml")
    for q in ([0.5, 0.5, 0.0], [0.5, 0.0, 0.0], [0.3, 0.1, 0.2]):
        np.testing.assert_allclose(_freqs(mine, q), _freqs(ph, q), atol=1e-6)
    for f in ("phonons.png", "thermal.png", "band.csv", "dos.csv", "thermal.csv"):
        assert (tmp_path / "ph" / f).stat().st_size > 100
    # Cv → 3R per mole of atoms at high T (Dulong-Petit): one atom per primitive cell
    T, _, _, cv = np.loadtxt(tmp_path / "ph" / "thermal.csv", delimiter=",", skiprows=1).T
    assert cv[-1] == pytest.approx(3 * 8.314462618, rel=0.01)


def test_imaginary_modes_reported(tmp_path):
    sc = bulk("Cu", "sc", a=2.3)          # simple cubic copper: unstable under EMT
    sc.write(tmp_path / "sc.xyz")
    out = subprocess.run([sys.executable, "-m", "hdnnp", "phonons", str(tmp_path / "sc.xyz"), "-r", "emt",
                          "--store", str(tmp_path / "l.db"), "-o", str(tmp_path / "ph"), "--supercell", "3", "3", "3",
                          "--mesh", "6", "6", "6", "--no-progress", "--no-relax"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "IMAGINARY MODES" in out.stdout and "IMAGINARY MODES" in out.stderr
    summ = json.loads((tmp_path / "ph" / "phonons.json").read_text())
    assert summ["imaginary_modes_on_path"] > 0 and summ["imaginary_examples"][0]["frequency_THz"] < 0


def test_potential_engine_equals_the_potential_as_reference(tmp_path):
    """The compiled batch path and the label-store path through an ASE reference wrapping the same potential
    give the same force constants."""
    from hdnnp.testing import random_si_potential as _trained_or_random
    from hdnnp.model import write_potential
    from hdnnp.references import get_reference
    from hdnnp.workflows.phonons import ForceEngine, PhononSettings, force_constants
    write_potential(_trained_or_random(), tmp_path / "pot")
    si = bulk("Si", "diamond", a=5.43)
    st = PhononSettings(supercell=[2, 2, 2], relax=False, progress=False)
    ph1, _, _ = force_constants(si, ForceEngine(potential=tmp_path / "pot", progress=False), st, log=lambda m: None)
    ref = get_reference({"code": "ase", "calculator": "hdnnp.calculator.HDNNPCalculator",
                         "kwargs": {"potential": str(tmp_path / "pot")}})
    ph2, _, _ = force_constants(si, ForceEngine(reference=ref, store=tmp_path / "l.db", workers=0, progress=False),
                                st, log=lambda m: None)
    np.testing.assert_allclose(ph1.force_constants, ph2.force_constants, atol=1e-10)


def test_thermal_conductivity_matches_direct_phono3py(tmp_path):
    """hdnnp thermal-conductivity with Stillinger-Weber equals phono3py driven by hand with the same
    calculator (2-atom Si, 2x2x2 fc3 supercell, 5x5x5 mesh, RTA)."""
    from ase import Atoms
    from phono3py import Phono3py
    from phonopy.structure.atoms import PhonopyAtoms
    from hdnnp.references import ReferenceCalculator, get_reference
    si = bulk("Si", "diamond", a=5.431)
    si.write(tmp_path / "si.xyz")
    out = subprocess.run([sys.executable, "-m", "hdnnp", "thermal-conductivity", str(tmp_path / "si.xyz"), "-r",
                          "sw-si", "--store", str(tmp_path / "l.db"), "-o", str(tmp_path / "k"), "--mesh", "5", "5", "5",
                          "-T", "300", "600", "--no-relax", "--no-progress"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    summ = json.loads((tmp_path / "k" / "kappa.json").read_text())
    calc = ReferenceCalculator(get_reference("sw-si"))
    ph3 = Phono3py(PhonopyAtoms(symbols=si.get_chemical_symbols(), cell=si.cell[:],
                                scaled_positions=si.get_scaled_positions()),
                   supercell_matrix=np.diag([2, 2, 2]), primitive_matrix="auto", log_level=0)
    ph3.generate_displacements(distance=0.03)
    forces = []
    for c in ph3.supercells_with_displacements:
        a = Atoms(symbols=c.symbols, cell=c.cell, scaled_positions=c.scaled_positions, pbc=True)
        a.calc = calc
        forces.append(a.get_forces())
    assert summ["force_calculations"] == len(forces)
    ph3.forces = np.array(forces)
    ph3.produce_fc3()
    ph3.produce_fc2()
    ph3.symmetrize_fc3()
    ph3.symmetrize_fc2()
    ph3.mesh_numbers = [5, 5, 5]
    ph3.init_phph_interaction()
    ph3.run_thermal_conductivity(temperatures=[300, 600], write_kappa=False)
    ref = ph3.thermal_conductivity.kappa[0]
    got = np.loadtxt(tmp_path / "k" / "kappa.csv", delimiter=",", skiprows=1)[:, 1:]
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-8)
    assert got[0, 0] > got[1, 0] > 0             # κ falls with temperature
    assert (tmp_path / "k" / "kappa.png").stat().st_size > 1000


def test_green_kubo_integral_of_a_known_correlation():
    """gk_kappa on an Ornstein-Uhlenbeck flux with C(t) = s² exp(-t/tc): κ(τ ≫ tc) = pref · s² tc."""
    from hdnnp.workflows.green_kubo import EV_PS_A_TO_W_MK, KB_EV, gk_kappa
    rng = np.random.default_rng(0)
    dt, tc, s, n = 0.005, 0.1, 20.0, 400_000
    a = np.exp(-dt / tc)
    x = np.zeros((n, 3))
    noise = rng.normal(0, s * np.sqrt(1 - a * a), (n, 3))
    for i in range(1, n):
        x[i] = a * x[i - 1] + noise[i]
    V, T = 1000.0, 300.0
    lags, k, sem, acf = gk_kappa(x, dt, V, T, tau_ps=1.0, blocks=10)
    want = EV_PS_A_TO_W_MK / (V * KB_EV * T * T) * s * s * tc
    assert k[-1] == pytest.approx(want, rel=0.05) and sem[-1] < 0.05 * want
    assert acf[0] == pytest.approx(1.0) and abs(acf[-1]) < 0.05


def test_green_kubo_command_with_a_lammps_reference(tmp_path):
    """The Green-Kubo command end to end (fcc argon with a Lennard-Jones reference in LAMMPS, short run)."""
    (tmp_path / "lj.yaml").write_text("code: lammps\npair_style: lj/cut 8.0\npair_coeff: ['* * 0.0104 3.40']\n"
                                      "elements: [Ar]\n")
    bulk("Ar", "fcc", a=5.26, cubic=True).write(tmp_path / "ar.xyz")
    out = subprocess.run([sys.executable, "-m", "hdnnp", "thermal-conductivity", str(tmp_path / "ar.xyz"), "-r",
                          str(tmp_path / "lj.yaml"), "--method", "green-kubo", "-T", "40", "--repeat", "3", "3", "3",
                          "--timestep", "4", "--equilibration", "4", "--production", "40", "--tau", "2", "--blocks", "4",
                          "-o", str(tmp_path / "gk")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    summ = json.loads((tmp_path / "gk" / "gk.json").read_text())
    assert summ["atoms"] == 108 and summ["kappa_W_mK"] > 0 and summ["kappa_sem_W_mK"] > 0
    assert (tmp_path / "gk" / "gk.png").stat().st_size > 1000
    d = np.loadtxt(tmp_path / "gk" / "gk.csv", delimiter=",", skiprows=1)
    assert d.shape[1] == 4 and d[-1, 0] == pytest.approx(2.0)
    # the same command again analyses the finished MD instead of running it again; settings that cannot be
    # analysed are refused before any MD
    cmd = out.args
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0 and "without running the MD again" in again.stderr, again.stderr[-2000:]
    assert json.loads((tmp_path / "gk" / "gk.json").read_text())["kappa_W_mK"] == summ["kappa_W_mK"]
    bad = subprocess.run([*cmd[:-2], "--tau", "6", "-o", str(tmp_path / "gk2")], capture_output=True, text=True)
    assert bad.returncode == 2 and "too short for τ = 6 ps with 4 blocks" in bad.stderr
    assert not (tmp_path / "gk2" / "flux.txt").exists()


def test_kappa_training_leaves_out_amplitudes_where_the_forces_stiffen(tmp_path):
    """Tersoff GaN stiffens 2.2x at 0.2 A (forces up to 146 eV/A) while SW Si stays within 1.2x: the training set
    for --train keeps only the amplitudes whose stiffness stays within max_stiffening of the smallest one."""
    from hdnnp.references import get_reference
    from hdnnp.workflows.thermal import KappaSettings, KappaTraining, train_for_kappa
    logs = []
    from hdnnp.references import ReferenceCalculator
    from hdnnp.workflows.phonons import relax
    gan, _ = relax(bulk("GaN", "wurtzite", a=3.19, c=5.19), ReferenceCalculator(get_reference("tersoff-gan")),
                   fmax=1e-4, relax_cell=True, max_steps=500, symprec=1e-5)
    t = KappaTraining(amplitudes=[0.03, 0.06, 0.2], per_amplitude=3, check=2, time_budget=30,
                      config={"model": {"symmetry_functions": {"auto": {"budget": 8, "cutoff": 4.5}}, "hidden": [4]},
                              "optimizer": {"name": "adam", "epochs": 2},
                              "run": {"progress": "none", "plots": False}})
    r = train_for_kappa(gan, get_reference("tersoff-gan"), tmp_path / "l.db", tmp_path / "k",
                        KappaSettings(supercell=[2, 2, 2]), t, workers=0, log=logs.append)
    assert r["amplitudes_A"] == [0.03, 0.06] and r["stiffening"]["0.2"] > 1.5 > r["stiffening"]["0.06"]
    assert any("amplitudes 0.2 Å left out" in m for m in logs)
    assert r["labels_used"] == 3 * 3 + 4 + 2          # the 0.2 Å probes (2) and cells moved over (1), strained, check


def _labelled_si_cells(n: int, repeat: int = 1) -> list:
    """``n`` copies of the 8-atom Si cell (repeated) with made-up energies and zero forces."""
    from hdnnp.structures import Structure
    si = bulk("Si", "diamond", a=5.43, cubic=True).repeat(repeat)
    cells = []
    for k in range(n):
        s = Structure.from_ase(si)
        s.energy, s.forces = -4.0 * len(si) + 0.01 * k, np.zeros((len(si), 3))
        cells.append(s)
    return cells


def test_kappa_training_default_config_takes_the_cutoff_given():
    """--train-cutoff: the default configuration keeps init's choice for the cells but the cutoff given (a reference
    that sees first neighbours only is followed more closely by a short descriptor); without it init's rule."""
    from hdnnp.workflows.thermal import KappaTraining, default_training_config
    cells = _labelled_si_cells(3)
    d = default_training_config(cells, KappaTraining(cutoff=3.5, time_budget=60))
    assert d["model"]["symmetry_functions"]["auto"]["cutoff"] == 3.5
    assert d["data"]["validation_fraction"] == 0.0 and d["loss"]["stress"] == 0.0
    assert default_training_config(cells, KappaTraining())["model"]["symmetry_functions"]["auto"]["cutoff"] >= 6.0


def test_kappa_training_default_config_fits_tighter_than_init():
    """Levenberg–Marquardt takes the forces of every training atom in each iteration (init's 1000 sampled atoms
    stop short of the small anharmonic part of the forces that fc3 is), on a larger model than init's."""
    from hdnnp.workflows.thermal import KappaTraining, default_training_config
    cells = _labelled_si_cells(40, repeat=2)
    d = default_training_config(cells, KappaTraining(cutoff=3.6, time_budget=60))
    assert d["optimizer"]["name"] == "lm" and d["optimizer"]["lm"]["force_atoms"] == 40 * 64
    assert d["model"]["symmetry_functions"]["auto"]["budget"] >= 48 and min(d["model"]["hidden"]) >= 32


def test_kappa_training_with_a_relaxed_cell_strains_every_axis_and_fits_the_stress():
    """--relax-cell: the potential sets the cell, so the training set stretches each axis and the loss has the
    stress; with a fixed cell neither."""
    from hdnnp.workflows.thermal import KappaTraining, default_training_config, training_cells
    gan = bulk("GaN", "wurtzite", a=3.19, c=5.19)
    t = KappaTraining(amplitudes=[0.03], per_amplitude=2, check=1)
    fixed, _ = training_cells(gan, [1, 1, 1], t)
    free, _ = training_cells(gan, [1, 1, 1], t, relax_cell=True)
    extra = free[len(fixed):]
    assert len(extra) == 6 and {c.info["group"] for c in extra} == {f"strained {x} {e:+g}" for x in "xyz"
                                                                    for e in (-0.01, 0.01)}
    ratio = np.linalg.norm(extra[5].cell[:], axis=1) / np.linalg.norm(gan.cell[:], axis=1)   # z stretched by 1 %
    assert np.allclose(ratio, [1.0, 1.0, 1.01])
    cells = _labelled_si_cells(3)
    assert default_training_config(cells, KappaTraining())["loss"]["stress"] == 0.0
    assert default_training_config(cells, KappaTraining(), relax_cell=True)["loss"]["stress"] > 0.0
