"""hdnnp neb (ASE NEB, improved tangent, climbing image) on an EMT Cu vacancy hop, and hdnnp kmc against the
analytic random walk and the NEB barrier."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from ase import Atoms

from hdnnp.errors import InputError
from hdnnp.workflows.kmc import K_B, KMCSettings, Lattice, read_barriers, run_kmc, run_kmc_temperature
from hdnnp.workflows.neb import vacancy_hop


def test_vacancy_hop_builder():
    from ase.build import bulk
    cu = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    a, b, info = vacancy_hop(cu, "Cu")
    assert len(a) == len(b) == 31 and info["hop_A"] == pytest.approx(3.61 / math.sqrt(2), abs=1e-9)
    moved = np.nonzero(np.linalg.norm(a.positions - b.positions, axis=1) > 1e-9)[0]
    assert len(moved) == 1
    with pytest.raises(InputError, match="not in the structure"):
        vacancy_hop(cu, "Li")


@pytest.mark.slow
def test_neb_command_emt_vacancy_hop_then_kmc(tmp_path):
    from ase.build import bulk
    from ase.io import write
    write(tmp_path / "cu.extxyz", bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2))
    res = subprocess.run([sys.executable, "-m", "hdnnp", "neb", "-r", "emt", "--vacancy", "cu.extxyz", "--images", "3",
                          "--prefactor", "-o", "neb"], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    r = json.loads((tmp_path / "neb" / "neb.json").read_text())
    assert r["converged"] and r["method"] == "improvedtangent" and r["climb"]
    assert r["barrier_forward_eV"] == pytest.approx(r["barrier_backward_eV"], abs=2e-3)   # a symmetric hop
    assert 0.6 < r["barrier_forward_eV"] < 0.9                                          # EMT Cu: 0.76 eV
    assert r["climbing_image"] == 2
    # harmonic TST attempt frequency: one imaginary mode at the saddle, ν* of the order of the phonon frequencies
    assert r["imaginary_modes_saddle"] == 1 and 1e12 < r["prefactor_Hz"] < 1e14 and r["active_atoms"] > 10
    for f in ("neb.csv", "neb.extxyz", "neb.png"):
        assert (tmp_path / "neb" / f).is_file()
    # kMC with that barrier: one vacancy in 32 sites; the Arrhenius Ea is the migration barrier
    res = subprocess.run([sys.executable, "-m", "hdnnp", "kmc", "cu.extxyz", "-e", "Cu", "-b", "neb/neb.json", "-T",
                          "600", "900", "1200", "--steps", "2000", "--runs", "8", "-o", "kmc"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    k = json.loads((tmp_path / "kmc" / "kmc.json").read_text())
    fit = k["arrhenius"]["Cu"]
    assert fit["ea_eV"] == pytest.approx(r["barrier_forward_eV"], abs=4 * fit["ea_std_eV"] + 0.01)
    assert (tmp_path / "kmc" / "kmc.png").is_file()


def test_kmc_single_carrier_on_simple_cubic_is_the_analytic_walk():
    a = 2.0
    n = 6
    pos = np.array([[i, j, k] for i in range(n) for j in range(n) for k in range(n)], float) * a
    cell = Atoms(f"Li{len(pos)}", positions=pos, cell=[n * a] * 3, pbc=True)
    bar = [{"distance_A": a, "barrier_eV": 0.3, "prefactor_Hz": 1e13}]
    lat = Lattice(cell, "Li", bar)
    assert lat.paths_per_shell == [6]
    s = KMCSettings(steps=1000, runs=40, carriers=1, vacancies=None)
    rng = np.random.default_rng(0)
    for T in (500.0, 800.0):
        r = run_kmc_temperature(lat, T, s, rng)
        rate = 1e13 * math.exp(-0.3 / (K_B * T))
        exact = rate * a ** 2 * 1e-16                   # D = k a² for a walk on a simple cubic lattice
        assert r["D_cm2_s"] == pytest.approx(exact, abs=4 * r["D_std_cm2_s"])
        assert r["D_std_cm2_s"] / exact < 0.2


def test_kmc_arrhenius_and_table_errors(tmp_path):
    a, n = 2.0, 4
    pos = np.array([[i, j, k] for i in range(n) for j in range(n) for k in range(n)], float) * a
    cell = Atoms(f"Li{len(pos)}", positions=pos, cell=[n * a] * 3, pbc=True)
    (tmp_path / "b.csv").write_text("# shell table\ndistance_A,barrier_eV,prefactor_Hz\n2.0, 0.25, 1e13\n")
    bar = read_barriers(tmp_path / "b.csv")
    s = run_kmc(cell, "Li", bar, tmp_path / "k", KMCSettings(temperatures=[400, 600, 900], steps=1500, runs=8,
                                                               carriers=1, vacancies=None), log=lambda m: None)
    f = s["arrhenius"]["Li"]
    assert f["ea_eV"] == pytest.approx(0.25, abs=4 * f["ea_std_eV"] + 0.005)
    (tmp_path / "bad.csv").write_text("2.0, 0.25\n2.8 0.3\n")
    with pytest.raises(InputError, match=r"bad.csv, line 2"):
        read_barriers(tmp_path / "bad.csv")
    with pytest.raises(InputError, match="no pair"):
        Lattice(cell, "Li", [{"distance_A": 3.3, "barrier_eV": 0.1, "prefactor_Hz": 1e13}])
