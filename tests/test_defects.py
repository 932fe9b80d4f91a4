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
