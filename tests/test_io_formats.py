"""Reading every shared data set, and the unit/sign conventions of each format."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from conftest import require_shared
from hdnnp import io as hio
from hdnnp.units import BOHR, HARTREE, KBAR, KCAL_PER_MOL

COUNTS = [
    (("data", "mlearn", "Si", "training.json"), "mlearn", 214),
    (("data", "mlearn", "Si", "test.json"), "mlearn", 25),
    (("data", "mlearn", "Li", "training.json"), "mlearn", 241),
    (("data", "mlearn", "Li", "test.json"), "mlearn", 29),
    (("data", "rmd17", "rmd17_ethanol_train_01.npz"), "npz", 1000),
    (("data", "rmd17", "rmd17_ethanol_test_01.npz"), "npz", 1000),
    (("data", "tio2-aenet", "dir_xsf.tar.gz"), "xsf", 1000),
    (("data", "water-deepmd", "data"), "deepmd", 400),  # 5 sets × 80 frames in 4 systems
    (("data", "water-n2p2", "input.data"), "n2p2", 20),
    (("data", "gan", "GaN.xyz"), "extxyz", 20),
]


@pytest.mark.parametrize("parts,fmt,count", COUNTS, ids=lambda x: "/".join(x) if isinstance(x, tuple) else None)
def test_shared_data_sets_read(parts, fmt, count):
    path = require_shared(*parts)
    assert hio.detect_format(path) == fmt
    structures = hio.read(path)
    assert len(structures) == count
    for k, s in enumerate(structures[:50]):
        assert s.source and s.index is not None
        assert s.energy is not None and s.forces is not None and s.forces.shape == (s.natoms, 3)
    # index is 0-based within each source
    by_source = {}
    for s in structures:
        by_source.setdefault(s.source, []).append(s.index)
    for idx in by_source.values():
        assert idx == list(range(len(idx)))


N2P2_REF = ["AlAuMgO_4G", "Cu2S_PBE", "DMABN_SCAN", "Ethylbenzene_SCAN", "H2O_RPBE-D3", "H2O_RPBE-D3_4G",
            "H2O_cutoff_variants_SFonly", "QM9_wACSF_exp", "QM9_wSF_compact", "mlearn_Cu", "mlearn_Si"]


@pytest.mark.parametrize("name", N2P2_REF)
def test_n2p2_reference_input_data(name):
    path = require_shared("n2p2-reference", name, "input.data")
    assert hio.detect_format(path) == "n2p2"
    text = path.read_text()
    atomic = not (name.startswith("QM9") or name.startswith("Cu2S"))  # units per the reference README
    units = dict(length_unit="bohr", energy_unit="hartree") if atomic else {}
    structures = hio.read(path, min_distance=0.5, **units)
    assert len(structures) == len(re.findall(r"^\s*begin\s*$", text, re.M))
    assert sum(s.natoms for s in structures) == len(re.findall(r"^\s*atom\s", text, re.M))


def test_water_n2p2_units():
    path = require_shared("data", "water-n2p2", "input.data")
    s = hio.read(path, length_unit="bohr", energy_unit="hartree")[0]
    line = next(li for li in path.read_text().splitlines() if li.split()[:1] == ["atom"]).split()
    assert s.positions[0, 0] == float(line[1]) * BOHR
    assert s.forces[0, 2] == float(line[9]) * (HARTREE / BOHR)
    assert s.is_periodic and abs(s.cell[0, 0] - 24.623508 * BOHR) < 1e-12
    # O-H bond in Å after conversion
    d = np.linalg.norm(s.positions[1] - s.positions[0])
    assert 0.9 < d < 1.1


def _mlearn(el):
    recs = []
    for f in ("training.json", "test.json"):
        recs += json.loads(require_shared("data", "mlearn", el, f).read_text())
    return recs


def _strain(L0, L):
    """Symmetric small strain taking lattice rows L0 to L."""
    F = np.linalg.solve(L0, L).T
    return 0.5 * (F + F.T) - np.eye(3)


def test_mlearn_virial_stress_convention():
    """Establish order and sign of mlearn's ``virial_stress`` from the Si Elastic group.

    Findings (asserted below): components are ordered XX YY ZZ XY YZ ZX (VASP OUTCAR order) and have
    the pressure sign (compressed → positive), i.e. the opposite of ASE; the reader returns
    -virial_stress·KBAR, which is positive for an expanded cell and agrees with dE/dε / V.
    """
    recs = [r for r in _mlearn("Si") if r["group"] == "Elastic"]
    ground = next(r for r in recs if r["description"].startswith("Ground state"))
    L0 = np.array(ground["structure"]["lattice"]["matrix"])
    v0 = np.array(ground["outputs"]["virial_stress"])
    pair_to_index = {(0, 0): 0, (1, 1): 1, (2, 2): 2, (0, 1): 3, (1, 2): 4, (0, 2): 5}
    checked = {"normal": 0, "shear": 0}
    for r in recs:
        L = np.array(r["structure"]["lattice"]["matrix"])
        eps = _strain(L0, L)
        if np.abs(eps).max() < 0.01:
            continue
        i, j = np.unravel_index(np.argmax(np.abs(eps)), (3, 3))
        i, j = min(i, j), max(i, j)
        dv = np.array(r["outputs"]["virial_stress"]) - v0
        k = pair_to_index[(i, j)]
        # the largest stress response sits at the strained component ...
        assert np.argmax(np.abs(dv)) == k, r["description"]
        if i != j:  # ... and a pure shear has exactly one non-zero off-diagonal entry
            assert np.count_nonzero(np.round(dv[3:], 3)) == 1, r["description"]
        # pressure sign: stretching (eps > 0) gives a negative virial_stress change
        assert np.sign(dv[k]) == -np.sign(eps[i, j]), r["description"]
        # and the reader's ASE-convention stress has the sign of the strain
        s = hio.mlearn.mlearn_stress_to_ase(r["outputs"]["virial_stress"])
        s0 = hio.mlearn.mlearn_stress_to_ase(v0)
        assert np.sign((s - s0)[i, j]) == np.sign(eps[i, j])
        checked["shear" if i != j else "normal"] += 1
    assert checked["normal"] >= 20 and checked["shear"] >= 20

    # energy check of the sign and the kbar factor: dE/dε_xx ≈ V σ_xx (ASE) along uniaxial mode 0
    mode0 = sorted(((_strain(L0, np.array(r["structure"]["lattice"]["matrix"]))[0, 0], r) for r in recs
                    if r["description"].startswith("Si 2x2x2 cell, mode 0")), key=lambda t: t[0])
    for (e1, r1), (e2, r2) in zip(mode0, mode0[1:]):
        dE = (r2["outputs"]["energy"] - r1["outputs"]["energy"]) / (e2 - e1)
        vs = [abs(np.linalg.det(np.array(r["structure"]["lattice"]["matrix"]))) *
              hio.mlearn.mlearn_stress_to_ase(r["outputs"]["virial_stress"])[0, 0] for r in (r1, r2)]
        assert dE == pytest.approx(np.mean(vs), rel=0.1, abs=1.0)


def test_mlearn_li_uniaxial_sign():
    recs = [r for r in _mlearn("Li") if r["group"] == "Elastic"]
    L0 = np.array(next(r for r in recs if r["description"].startswith("Ground state"))["structure"]["lattice"]["matrix"])
    v0 = np.array(next(r for r in recs if r["description"].startswith("Ground state"))["outputs"]["virial_stress"])
    n = 0
    for r in recs:
        eps = _strain(L0, np.array(r["structure"]["lattice"]["matrix"]))
        d = np.diag(eps)
        if np.abs(eps - np.diag(d)).max() > 1e-6 or np.abs(d).max() < 0.004:
            continue
        k = int(np.argmax(np.abs(d)))
        assert np.sign(r["outputs"]["virial_stress"][k] - v0[k]) == -np.sign(d[k])
        n += 1
    assert n >= 8


def test_mlearn_reader_stress_and_group():
    path = require_shared("data", "mlearn", "Si", "test.json")
    recs = json.loads(path.read_text())
    structures = hio.read(path)
    for r, s in zip(recs, structures):
        xx, yy, zz, xy, yz, zx = r["outputs"]["virial_stress"]
        np.testing.assert_array_equal(s.stress, -KBAR * np.array([[xx, xy, zx], [xy, yy, yz], [zx, yz, zz]]))
        assert s.info["group"] == r["group"]
        assert s.natoms == r["num_atoms"] and s.is_periodic


def test_rmd17_units():
    path = require_shared("data", "rmd17", "rmd17_ethanol_train_01.npz")
    d = np.load(path)
    s = hio.read(path)
    assert s[3].energy == d["energies"][3] * KCAL_PER_MOL
    np.testing.assert_array_equal(s[3].forces, d["forces"][3] * KCAL_PER_MOL)
    np.testing.assert_array_equal(s[3].positions, d["coords"][3])
    assert not s[3].is_periodic and s[3].symbols.count("C") == 2


def test_tio2_xsf_energy_and_order():
    path = require_shared("data", "tio2-aenet", "dir_xsf.tar.gz")
    s = hio.read(path)
    names = [x.source.split(":", 1)[1] for x in s]
    assert names == sorted(names) and s[0].source.startswith(str(path) + ":")
    assert all(x.is_periodic for x in s)
    assert 6 <= min(x.natoms for x in s) and max(x.natoms for x in s) <= 95
    assert s[0].energy == -19960.6617326 or s[0].energy < -1000


def test_deepmd_water():
    path = require_shared("data", "water-deepmd", "data")
    s = hio.read(path)
    assert {x.source.rsplit("/", 1)[1] for x in s} == {"data_0", "data_1", "data_2", "data_3"}
    assert all(x.natoms == 192 and x.symbols.count("O") == 64 for x in s)
    np.testing.assert_allclose(s[0].cell, np.eye(3) * 12.4447, atol=1e-3)
    e = np.load(path / "data_1" / "set.001" / "energy.npy")
    s1 = [x for x in s if x.source.endswith("data_1")]
    assert s1[80].energy == e[0] and s1[80].info["set"] == "set.001"


# -- synthetic files for the format paths the shared data do not cover -----------------------

def test_deepmd_virial_and_nopbc(tmp_path):
    sysdir = tmp_path / "sys"
    (sysdir / "set.000").mkdir(parents=True)
    (sysdir / "type.raw").write_text("0 1\n")
    (sysdir / "type_map.raw").write_text("Si\nC\n")
    cell = np.diag([3.0, 4.0, 5.0])
    np.save(sysdir / "set.000" / "coord.npy", np.array([[0, 0, 0, 1.5, 1.5, 1.5]], float))
    np.save(sysdir / "set.000" / "box.npy", cell.reshape(1, 9))
    np.save(sysdir / "set.000" / "energy.npy", np.array([-1.0]))
    np.save(sysdir / "set.000" / "force.npy", np.zeros((1, 6)))
    virial = np.array([[1.0, 0.2, 0.0], [0.2, 2.0, 0.0], [0.0, 0.0, 3.0]])
    np.save(sysdir / "set.000" / "virial.npy", virial.reshape(1, 9))
    (s,) = hio.read(sysdir)
    np.testing.assert_allclose(s.stress, -virial / 60.0)
    assert s.symbols == ["Si", "C"] and s.is_periodic
    np.save(sysdir / "set.000" / "box.npy", np.zeros((1, 9)))
    (s,) = hio.read(tmp_path)  # parent folder
    assert not s.is_periodic and s.stress is None


def test_xsf_folder_molecule(tmp_path):
    (tmp_path / "b.xsf").write_text("# total energy = -2.5 eV\n\nATOMS\nH 0 0 0 0.1 0 0\n1 0 0 0.74 -0.1 0 0\n")
    (tmp_path / "a.xsf").write_text("# total energy = -1.0 eV\nCRYSTAL\nPRIMVEC\n3 0 0\n0 3 0\n0 0 3\n"
                                    "PRIMCOORD\n1 1\nHe 0 0 0\n")
    s = hio.read(tmp_path)
    assert [x.energy for x in s] == [-1.0, -2.5]
    assert s[0].is_periodic and s[0].forces is None
    assert not s[1].is_periodic and s[1].symbols == ["H", "H"] and s[1].forces[1, 0] == -0.1


def test_sgdml_npz(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, z=np.array([1, 1]), R=np.array([[[0, 0, 0], [0, 0, 0.74]]] * 3, float),
             E=np.arange(3.0).reshape(3, 1), F=np.ones((3, 2, 3)))
    s = hio.read(p)
    assert len(s) == 3 and s[2].energy == 2 * KCAL_PER_MOL and s[0].forces[0, 0] == KCAL_PER_MOL


def test_ase_path_traj(tmp_path):
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    import ase.io
    images = []
    for k in range(3):
        a = Atoms("Cu2", positions=[[0, 0, 0], [1.2 + 0.1 * k, 1.3, 0.1]], cell=np.eye(3) * 3.6, pbc=True)
        a.calc = SinglePointCalculator(a, energy=-7.0 - k, forces=np.full((2, 3), 0.1 * k),
                                       stress=np.array([0.01, 0.02, 0.03, 0.004, 0.005, 0.006]))
        images.append(a)
    p = tmp_path / "run.traj"
    ase.io.write(p, images)
    assert hio.detect_format(p) == "ase"
    s = hio.read(p)
    assert [x.energy for x in s] == [-7.0, -8.0, -9.0]
    assert s[1].stress[1, 2] == 0.004 and s[1].stress[0, 1] == 0.006
    assert s[2].index == 2 and s[2].source == str(p)


VASPRUN = """<?xml version="1.0" encoding="ISO-8859-1"?>
<modeling>
 <generator><i name="program" type="string">vasp </i><i name="version" type="string">5.4.4 </i></generator>
 <incar><i name="PREC">accurate</i></incar>
 <kpoints>
  <varray name="kpointlist" ><v>       0.00000000       0.00000000       0.00000000 </v></varray>
  <varray name="weights" ><v>       1.00000000 </v></varray>
 </kpoints>
 <atominfo>
  <atoms>       2 </atoms>
  <types>       1 </types>
  <array name="atoms" >
   <dimension dim="1">ion</dimension><dimension dim="2">field</dimension>
   <field type="string">element</field><field type="int">atomtype</field>
   <set><rc><c>Si</c><c>   1</c></rc><rc><c>Si</c><c>   1</c></rc></set>
  </array>
  <array name="atomtypes" >
   <dimension dim="1">type</dimension>
   <field type="int">atomspertype</field><field type="string">element</field><field>mass</field>
   <field>valence</field><field type="string">pseudopotential</field>
   <set><rc><c>   2</c><c>Si</c><c>     28.08500000</c><c>      4.00000000</c><c>  PAW_PBE Si 05Jan2001</c></rc></set>
  </array>
 </atominfo>
 <structure name="initialpos" >
  <crystal>
   <varray name="basis" ><v>       0.00000000       2.71500000       2.71500000 </v><v>       2.71500000       0.00000000       2.71500000 </v><v>       2.71500000       2.71500000       0.00000000 </v></varray>
  </crystal>
  <varray name="positions" ><v>       0.00000000       0.00000000       0.00000000 </v><v>       0.25000000       0.25000000       0.25000000 </v></varray>
 </structure>
 <calculation>
  <structure>
   <crystal>
    <varray name="basis" ><v>       0.00000000       2.71500000       2.71500000 </v><v>       2.71500000       0.00000000       2.71500000 </v><v>       2.71500000       2.71500000       0.00000000 </v></varray>
   </crystal>
   <varray name="positions" ><v>       0.00000000       0.00000000       0.00000000 </v><v>       0.26000000       0.25000000       0.25000000 </v></varray>
  </structure>
  <scstep><energy><i name="e_fr_energy">    -10.80000000 </i><i name="e_wo_entrp">    -10.80000000 </i><i name="e_0_energy">    -10.80000000 </i></energy></scstep>
  <varray name="forces" ><v>      -0.10000000       0.00000000       0.00000000 </v><v>       0.10000000       0.00000000       0.00000000 </v></varray>
  <varray name="stress" ><v>      10.00000000       0.00000000       0.00000000 </v><v>       0.00000000      20.00000000       0.00000000 </v><v>       0.00000000       0.00000000      30.00000000 </v></varray>
  <energy><i name="e_fr_energy">    -10.80000000 </i><i name="e_wo_entrp">    -10.80000000 </i><i name="e_0_energy">    -10.80000000 </i></energy>
 </calculation>
</modeling>
"""


def test_ase_path_vasprun(tmp_path):
    """A tiny hand-made vasprun.xml through the generic ASE path: VASP's kbar stress (pressure
    sign) comes out in eV/Å³ with ASE's sign."""
    p = tmp_path / "vasprun.xml"
    p.write_text(VASPRUN)
    (s,) = hio.read(p)
    assert s.natoms == 2 and s.energy == pytest.approx(-10.8)
    assert s.forces[0, 0] == pytest.approx(-0.1)
    assert s.stress[2, 2] == pytest.approx(-30.0 * KBAR)
