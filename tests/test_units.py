"""Units that cannot be confused: potentials carry a UNITS file, potential and structure units are
separate options, and a potential or a file that looks like the other unit system gets a warning
naming the flag to pass."""
from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from conftest import require_shared
from hdnnp.data import example_path
from hdnnp.io import read
from hdnnp.model.evaluator import load_potential
from hdnnp.units import UnitsWarning, structure_units_hint


def _foreign_copy(tmp_path):
    """The published mlearn Si HDNNP (Bohr/Hartree) without its UNITS file, as n2p2 ships it."""
    src = require_shared("n2p2-reference", "mlearn_Si")
    dst = tmp_path / "mlearn_Si"
    dst.mkdir()
    for f in ("input.nn", "scaling.data", "weights.014.data"):
        shutil.copy(src / f, dst / f)
    return dst


def test_bohr_potential_read_with_default_units_warns_naming_the_flag(tmp_path):
    pot = _foreign_copy(tmp_path)
    with pytest.warns(UnitsWarning, match="--potential-length-unit bohr"):
        ev = load_potential(pot)
    assert ev.cutoff > 9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ev = load_potential(pot, length_unit="bohr", energy_unit="hartree")
    assert ev.cutoff < 6.5


def test_units_file_is_used_and_written(tmp_path):
    pot = _foreign_copy(tmp_path)
    (pot / "UNITS").write_text("bohr hartree\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ev = load_potential(pot)
    assert (ev.length_unit, ev.energy_unit) == ("bohr", "hartree")
    with pytest.warns(UnitsWarning, match="UNITS file says bohr hartree"):
        load_potential(pot, length_unit="angstrom", energy_unit="ev")


def test_predict_with_separate_potential_and_structure_units_on_mlearn_json(tmp_path, capsys):
    from hdnnp.cli.main import main
    pot = _foreign_copy(tmp_path)
    test_json = example_path("si").parent / "test.json"
    assert main(["predict", str(pot), str(test_json), "--potential-length-unit", "bohr",
                 "--potential-energy-unit", "hartree", "-o", str(tmp_path / "p.xyz"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    rmse = float(out.split("energy      RMSE ")[1].split()[0])
    assert rmse < 15          # the published potential: 6.9 meV/atom on this test set
    ev = load_potential(pot, length_unit="bohr", energy_unit="hartree")
    s = read(test_json)[0]
    assert read(tmp_path / "p.xyz")[0].energy == pytest.approx(ev.evaluate(s).energy, rel=1e-12)
    # the old trap: potential units applied to a format with fixed units is refused, not misread
    assert main(["predict", str(pot), str(test_json), "--data-length-unit", "bohr", "--no-progress"]) == 2


def test_structure_units_hint():
    s = read(example_path("si"))[:5]
    assert structure_units_hint(s) is None
    bohr_read_as_angstrom = [x.copy() for x in s]
    for x in bohr_read_as_angstrom:
        x.positions = x.positions / 0.529177
        x.cell = x.cell / 0.529177
    assert "--data-length-unit bohr" in structure_units_hint(bohr_read_as_angstrom)


def test_energy_units_hint():
    from hdnnp.units import HARTREE, energy_units_hint
    ref = np.array([-4.1, -4.3, -4.0, -4.6])
    assert energy_units_hint(ref + 0.01, ref) is None
    assert "--potential-energy-unit hartree" in energy_units_hint(ref / HARTREE, ref)
