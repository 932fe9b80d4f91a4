"""Bad input raises InputError naming the file and the line (or structure index)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hdnnp import InputError
from hdnnp import io as hio

GOOD = """begin
comment two waters
lattice 10.0 0.0 0.0
lattice 0.0 10.0 0.0
lattice 0.0 0.0 10.0
atom 0.0 0.0 0.0 O -0.8 0.0 0.1 0.2 0.3
atom 0.96 0.0 0.0 H 0.4 0.0 -0.1 0.0 0.0
atom -0.24 0.93 0.0 H 0.4 0.0 0.0 -0.2 -0.3
energy -14.2
charge 0.0
end
begin
atom 0.0 0.0 0.0 O 0.0 0.0 0.0 0.0 0.0
atom 0.96 0.0 0.0 H 0.0 0.0 0.0 0.0 0.0
atom -0.24 0.93 0.0 H 0.0 0.0 0.0 0.0 0.0
energy -14.1
charge 0.0
end
"""


def _write(tmp_path, text, name="input.data"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _lines(text):
    return text.splitlines()


def _expect(path, match, line=None, structure=None, **kw):
    with pytest.raises(InputError, match=match) as ei:
        hio.read(path, **kw)
    msg = str(ei.value)
    assert str(path) in msg
    if line is not None:
        assert f"{path}:{line}" in msg, msg
    if structure is not None:
        assert f"structure {structure}" in msg, msg
    return msg


def test_good_n2p2_reads(tmp_path):
    s = hio.read(_write(tmp_path, GOOD), min_distance=0.5)
    assert len(s) == 2 and s[0].is_periodic and not s[1].is_periodic
    assert s[0].info["comment"] == "two waters"
    assert "charges" in s[0].atom_properties and "charges" not in s[1].atom_properties


def _mutate(lineno, new):
    lines = _lines(GOOD)
    lines[lineno - 1] = new
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("lineno,new,match", [
    (6, "atom 0.0 zero 0.0 O -0.8 0.0 0.1 0.2 0.3", "not a number"),
    (6, "atom 0.0 nan 0.0 O -0.8 0.0 0.1 0.2 0.3", "NaN"),
    (6, "atom 0.0 0.0 0.0 O -0.8 0.0 0.1 inf 0.3", "NaN and infinite"),
    (6, "atom 0.0 0.0 0.0 O -0.8 0.0 0.1 1e999 0.3", "NaN and infinite"),
    (6, "atom 0.0 0.0 0.0 O -0.8 0.0 0.1 0.2", "9 fields"),
    (6, "atom 0.0 0.0 0.0 O -0.8 0.0", "9 fields"),  # forces missing
    (6, "atom 0.0 0.0 0.0 Xx -0.8 0.0 0.1 0.2 0.3", "unknown element"),
    (9, "energy -14.2 eV", "1 number"),
    (9, "energy", "1 number"),
    (3, "lattice 10.0 0.0", "3 numbers"),
    (10, "charges 0.0", "unknown keyword"),
    (11, "begin", "before the 'end'"),
])
def test_n2p2_line_errors(tmp_path, lineno, new, match):
    _expect(_write(tmp_path, _mutate(lineno, new)), match, line=lineno)


def test_n2p2_truncated(tmp_path):
    text = "\n".join(_lines(GOOD)[:15]) + "\n"
    _expect(_write(tmp_path, text), "no 'end'", line=12)


@pytest.mark.parametrize("keep", [1, 2])
def test_n2p2_incomplete_lattice(tmp_path, keep):
    lines = _lines(GOOD)
    del lines[2 + keep:5]
    _expect(_write(tmp_path, "\n".join(lines)), f"{keep} 'lattice' line", line=1)


def test_n2p2_outside_block(tmp_path):
    _expect(_write(tmp_path, "atom 0 0 0 H 0 0 0 0 0\n"), "outside a begin", line=1)


def test_n2p2_zero_volume(tmp_path):
    _expect(_write(tmp_path, _mutate(5, "lattice 10.0 10.0 0.0")), "zero volume", structure=0)


def test_min_distance(tmp_path):
    p = _write(tmp_path, _mutate(7, "atom 0.05 0.0 0.0 H 0.4 0.0 -0.1 0.0 0.0"))
    hio.read(p)  # no check by default
    _expect(p, "closer than the minimum distance", structure=0, min_distance=0.5)


def test_min_distance_periodic_image(tmp_path):
    p = _write(tmp_path, _mutate(7, "atom 9.95 0.0 0.0 H 0.4 0.0 -0.1 0.0 0.0"))
    _expect(p, "closer than the minimum distance", structure=0, min_distance=0.5)


def test_n2p2_writer_refuses_missing_labels(tmp_path):
    from hdnnp import Structure
    s = Structure(numbers=[1], positions=[[0, 0, 0]], energy=None, forces=[[0, 0, 0]])
    with pytest.raises(InputError, match="no energy"):
        hio.write(tmp_path / "input.data", [s])
    s = Structure(numbers=[1], positions=[[0, 0, 0]], energy=1.0)
    with pytest.raises(InputError, match="no forces"):
        hio.write(tmp_path / "input.data", [s])


XYZ = """2
Lattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3:forces:R:3 energy=-3.5 pbc="T T T"
H 0.0 0.0 0.0 0.1 0.0 0.0
H 0.0 0.0 0.74 -0.1 0.0 0.0
2
Properties=species:S:1:pos:R:3:forces:R:3 energy=-3.4
H 0.0 0.0 0.0 0.1 0.0 0.0
H 0.0 0.0 0.75 -0.1 0.0 0.0
"""


def test_good_extxyz(tmp_path):
    s = hio.read(_write(tmp_path, XYZ, "a.xyz"))
    assert [x.energy for x in s] == [-3.5, -3.4] and not s[1].is_periodic


def _xyz_mutate(lineno, new):
    lines = _lines(XYZ)
    if new is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = new
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("lineno,new,match,line,structure", [
    (1, "3", "atom count 3 on line 1", 5, 0),  # header says 3, but 2 atom lines: the next header is read as one
    (5, "3", "file ends|truncated", 5, 1),  # last frame claims more atoms than there are
    (4, "H 0.0 0.0 0.74 -0.1 0.0", "missing values", 4, 0),  # forces missing for an atom
    (3, "H 0.0 zero 0.0 0.1 0.0 0.0", "cannot parse", 3, 0),  # non-numeric
    (5, "two", "atom count", 5, None),
])
def test_extxyz_errors(tmp_path, lineno, new, match, line, structure):
    _expect(_write(tmp_path, _xyz_mutate(lineno, new), "a.xyz"), match, line=line, structure=structure)


def test_extxyz_nan(tmp_path):
    _expect(_write(tmp_path, _xyz_mutate(8, "H 0.0 0.0 nan -0.1 0.0 0.0"), "a.xyz"), "NaN", structure=1)
    _expect(_write(tmp_path, _xyz_mutate(2, XYZ.splitlines()[1].replace("-3.5", "inf")), "a.xyz"),
            "NaN or inf", structure=0)


def test_extxyz_bad_header_values(tmp_path):
    head = XYZ.splitlines()[1]
    _expect(_write(tmp_path, _xyz_mutate(2, head.replace("-3.5", "T")), "a.xyz"), "not numeric", line=2, structure=0)
    _expect(_write(tmp_path, _xyz_mutate(2, head + " charge=nan"), "a.xyz"), "charge is NaN", structure=0)


def test_extxyz_truncated_mid_line(tmp_path):
    _expect(_write(tmp_path, XYZ[:-30], "a.xyz"), "fields|truncated", structure=1)


def test_extxyz_unknown_element(tmp_path):
    _expect(_write(tmp_path, _xyz_mutate(3, "Qq 0.0 0.0 0.0 0.1 0.0 0.0"), "a.xyz"), "Qq", structure=0)


def test_extxyz_zero_volume(tmp_path):
    text = _xyz_mutate(2, 'Lattice="5 0 0 5 0 0 0 0 5" Properties=species:S:1:pos:R:3:forces:R:3 energy=-3.5 pbc="T T T"')
    _expect(_write(tmp_path, text, "a.xyz"), "zero volume", structure=0)


def _mlearn_rec(n=2, **over):
    rec = {"structure": {"lattice": {"matrix": [[4, 0, 0], [0, 4, 0], [0, 0, 4]]},
                         "sites": [{"species": [{"element": "Si", "occu": 1}], "xyz": [0, 0, 2.0 * a]}
                                   for a in range(n)]},
           "outputs": {"energy": -10.0, "forces": [[0, 0, 0]] * n, "virial_stress": [1, 2, 3, 4, 5, 6]},
           "num_atoms": n, "group": "Test"}
    rec.update(over)
    return rec


def test_mlearn_errors(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps([_mlearn_rec(), _mlearn_rec(num_atoms=3)]))
    _expect(p, "num_atoms is 3 but the structure has 2 sites", structure=1)
    bad = _mlearn_rec()
    bad["outputs"]["forces"] = [[0, 0, 0]]
    p.write_text(json.dumps([_mlearn_rec(), bad]))
    _expect(p, "forces missing", structure=1)
    bad = _mlearn_rec()
    bad["structure"]["sites"][1]["species"][0]["element"] = "Zz"
    p.write_text(json.dumps([bad]))
    _expect(p, "unknown element", structure=0)
    bad = _mlearn_rec()
    bad["structure"]["lattice"]["matrix"] = [[4, 0, 0], [8, 0, 0], [0, 0, 4]]
    p.write_text(json.dumps([bad]))
    _expect(p, "zero volume", structure=0)
    bad = _mlearn_rec()
    del bad["structure"]["sites"]
    p.write_text(json.dumps([_mlearn_rec(), bad]))
    _expect(p, "missing key 'sites'", structure=1)
    bad = _mlearn_rec()
    bad["outputs"]["energy"] = "NaN"
    p.write_text(json.dumps([bad]))
    _expect(p, "not a number", structure=0)
    p.write_text(json.dumps([_mlearn_rec()])[:-20])
    _expect(p, "invalid JSON", line=1)


def test_xsf_errors(tmp_path):
    p = tmp_path / "a.xsf"
    p.write_text("# total energy = -1.0 eV\nCRYSTAL\nPRIMVEC\n3 0 0\n0 3 0\n0 0 3\nPRIMCOORD\n2 1\nHe 0 0 0\n")
    _expect(p, "truncated", line=8)
    p.write_text("# total energy = -1.0 eV\nATOMS\nH 0 0 0 1 0 0\nH 0 0 x 1 0 0\n")
    _expect(p, "not a number", line=4)
    p.write_text("# total energy = nan eV\nATOMS\nH 0 0 0 1 0 0\nH 0 0 1 1 0 0\n")
    _expect(p, "NaN", line=1)
    p.write_text("# total energy = -1 eV\nATOMS\nH 0 0 0 1 0 0\nH 0 0 1\n")
    _expect(p, "forces are given for some atoms", line=4)


def test_deepmd_shape_error(tmp_path):
    (tmp_path / "set.000").mkdir()
    (tmp_path / "type.raw").write_text("0 0 0\n")
    (tmp_path / "type_map.raw").write_text("H\n")
    np.save(tmp_path / "set.000" / "coord.npy", np.zeros((2, 9)))
    np.save(tmp_path / "set.000" / "box.npy", np.zeros((2, 9)))
    np.save(tmp_path / "set.000" / "force.npy", np.zeros((2, 6)))
    _expect(tmp_path, "force.npy has shape")


def test_npz_errors(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, nuclear_charges=np.array([1, 1]), coords=np.zeros((3, 2, 3)), energies=np.zeros(2))
    _expect(p, "energies has 2 values for 3 frames")
    np.savez(p, foo=np.zeros(3))
    _expect(p, "unknown .npz layout")


def test_format_errors(tmp_path):
    p = _write(tmp_path, GOOD)
    with pytest.raises(InputError, match="unknown format"):
        hio.read(p, "pdbx")
    with pytest.raises(InputError, match="fixed units"):
        hio.read(_write(tmp_path, json.dumps([_mlearn_rec()]), "m.json"), length_unit="bohr")
    with pytest.raises(InputError, match="unknown length unit"):
        hio.read(p, length_unit="nm")
    with pytest.raises(InputError, match="cannot tell the output format"):
        hio.write(tmp_path / "out.cif", hio.read(p))
    with pytest.raises(InputError, match="no such file"):
        hio.read(tmp_path / "missing.data")
    with pytest.raises(InputError, match="ase.io.read cannot read"):
        hio.read(_write(tmp_path, "hello world\n", "x.unknownext"))
