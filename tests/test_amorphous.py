"""hdnnp amorphous: random cells at a density, melt-quench with Stillinger-Weber in LAMMPS, partial RDFs."""
import json
import subprocess
import sys

import numpy as np
import pytest

from hdnnp.errors import InputError
from hdnnp.workflows.amorphous import parse_composition, partial_rdf, random_cell


def test_composition_and_random_cell():
    assert parse_composition("Li3PO4") == {"Li": 3, "P": 1, "O": 4}
    assert parse_composition("SiO2") == {"Si": 1, "O": 2}
    with pytest.raises(InputError, match="unknown element"):
        parse_composition("Xx2")
    with pytest.raises(InputError, match="formula"):
        parse_composition("li3")
    a = random_cell({"Li": 3, "P": 1, "O": 4}, 4, 2.4, min_distance=1.5, seed=0)
    assert a.get_chemical_formula() == "Li12O16P4"
    mass_g = a.get_masses().sum() * 1.66053906660e-24
    assert mass_g / (a.get_volume() * 1e-24) == pytest.approx(2.4, rel=1e-9)
    d = a.get_all_distances(mic=True)[np.triu_indices(len(a), 1)]
    assert d.min() >= 1.5


def test_rdf_of_a_crystal():
    from ase.build import bulk
    si = bulk("Si", "diamond", a=5.43, cubic=True).repeat(3)
    r, g = partial_rdf([si], r_max=6.0, bins=300)
    first = r[np.nonzero(g[("Si", "Si")])[0][0]]
    assert first == pytest.approx(5.43 * np.sqrt(3) / 4, abs=0.03)      # nearest-neighbour distance
    # the coordination number from the first shell: 4
    dr = r[1] - r[0]
    shell = r < 2.8
    vol = 4.0 / 3.0 * np.pi * ((r + dr / 2) ** 3 - (r - dr / 2) ** 3)
    assert np.sum(vol[shell] * g[("Si", "Si")][shell]) * len(si) / si.get_volume() == pytest.approx(4.0, rel=1e-6)


def test_melt_quench_with_sw(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hdnnp", "amorphous", "-r", "sw-si", "-c", "Si", "--atoms", "64",
                          "--density", "2.28", "--melt", "3", "--rate", "1000", "--anneal", "2", "-o",
                          str(tmp_path / "am")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads((tmp_path / "am" / "amorphous.json").read_text())
    assert s["atoms"] == 64 and s["density_g_cm3"] == pytest.approx(2.28, rel=1e-6)
    assert 2.2 < s["first_peak_A"]["Si-Si"] < 2.6                       # covalent Si-Si bonds
    for f in ("amorphous.extxyz", "quench.extxyz", "rdf.png", "rdf.csv", "thermo.csv"):
        assert (tmp_path / "am" / f).stat().st_size > 100
