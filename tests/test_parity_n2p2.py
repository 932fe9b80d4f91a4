"""Parity with n2p2 on every second-generation potential in ../shared/n2p2-reference: energies to 1e-10
relative and forces to 1e-8 (in the units of the files) against each folder's refdump/."""
from pathlib import Path

import numpy as np
import pytest

from conftest import require_shared

POTENTIALS = ["H2O_RPBE-D3", "DMABN_SCAN", "Cu2S_PBE", "Ethylbenzene_SCAN", "mlearn_Si", "mlearn_Cu"]


def units_of(folder: Path):
    length, energy = (folder / "UNITS").read_text().split()[:2]
    return length, energy


def load_refdump(folder: Path):
    e = np.loadtxt(folder / "refdump" / "energies.txt", comments="#", usecols=(0, 1, 2, 3))
    f = np.loadtxt(folder / "refdump" / "forces.txt", comments="#", usecols=(0, 1, 6, 7, 8))
    return e, f


@pytest.mark.parametrize("name", POTENTIALS)
def test_energies_and_forces_match_n2p2(name):
    from hdnnp.io import read
    from hdnnp.model.evaluator import load_potential
    from hdnnp.units import energy_factor, length_factor

    folder = require_shared("n2p2-reference", name)
    lu, eu = units_of(folder)
    L, U = length_factor(lu), energy_factor(eu)
    ev = load_potential(folder, length_unit=lu, energy_unit=eu)
    structures = read(folder / "input.data", length_unit=lu, energy_unit=eu)
    e_ref, f_ref = load_refdump(folder)
    assert len(e_ref) == len(structures)
    max_rel_e = max_abs_f = 0.0
    for k, s in enumerate(structures):
        pred = ev.evaluate(s)
        e_n2p2 = e_ref[k, 3]
        max_rel_e = max(max_rel_e, abs(pred.energy / U - e_n2p2) / abs(e_n2p2))
        rows = f_ref[f_ref[:, 0] == k + 1]
        assert len(rows) == s.natoms
        max_abs_f = max(max_abs_f, np.abs(pred.forces / (U / L) - rows[:, 2:5]).max())
    assert max_rel_e < 1e-10, f"{name}: max relative energy deviation {max_rel_e:.3g}"
    assert max_abs_f < 1e-8, f"{name}: max force deviation {max_abs_f:.3g} {eu}/{lu}"


def test_h2o_1080_box():
    from hdnnp.io import read
    from hdnnp.model.evaluator import load_potential

    folder = require_shared("n2p2-reference", "H2O_RPBE-D3")
    ev = load_potential(folder, length_unit="bohr", energy_unit="hartree")
    sub = folder / "n2p2_nnp-predict_1080"
    s = read(sub / "input.data", length_unit="bohr", energy_unit="hartree")[0]
    ref = read(sub / "output.data", length_unit="bohr", energy_unit="hartree")[0]
    pred = ev.evaluate(s)
    assert abs(pred.energy - ref.energy) / abs(ref.energy) < 1e-10
    from hdnnp.units import BOHR, HARTREE
    assert np.abs(pred.forces - ref.forces).max() / (HARTREE / BOHR) < 1e-8


@pytest.mark.parametrize("name", ["H2O_RPBE-D3_4G", "AlAuMgO_4G"])
def test_4g_refused(name):
    from hdnnp.errors import UnsupportedFeatureError
    from hdnnp.model.evaluator import load_potential

    folder = require_shared("n2p2-reference", name)
    with pytest.raises(UnsupportedFeatureError, match="nnp_generation"):
        load_potential(folder)
