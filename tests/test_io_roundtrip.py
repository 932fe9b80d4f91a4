"""Writers are loss-free: file → structures → file → structures gives the same bits."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import require_shared
from hdnnp import Structure
from hdnnp import io as hio


def _bits(a):
    return None if a is None else np.ascontiguousarray(np.asarray(a, dtype=np.float64)).tobytes()


def assert_identical(a: list[Structure], b: list[Structure], *, info=True):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert np.array_equal(x.numbers, y.numbers)
        for name in ("positions", "cell", "forces", "stress"):
            assert _bits(getattr(x, name)) == _bits(getattr(y, name)), name
        assert np.array_equal(x.pbc, y.pbc)
        assert _bits(x.energy) == _bits(y.energy)
        assert _bits(x.charge) == _bits(y.charge)
        assert x.atom_properties.keys() == y.atom_properties.keys()
        for k in x.atom_properties:
            assert x.atom_properties[k].dtype == y.atom_properties[k].dtype, k
            assert x.atom_properties[k].tobytes() == y.atom_properties[k].tobytes(), k
        if info:
            assert x.info == y.info


@pytest.mark.parametrize("units", [dict(length_unit="bohr", energy_unit="hartree"), {}])
def test_n2p2_water_roundtrip(tmp_path, units):
    src = require_shared("data", "water-n2p2", "input.data")
    a = hio.read(src, length_unit="bohr", energy_unit="hartree")
    out = tmp_path / "input.data"
    hio.write(out, a, **units)
    b = hio.read(out, **units)
    assert_identical(a, b)
    # and once more: the written file reproduces itself exactly
    out2 = tmp_path / "again.data"
    hio.write(out2, b, **units)
    assert out2.read_text() == out.read_text()


@pytest.mark.parametrize("name", ["DMABN_SCAN", "Cu2S_PBE", "AlAuMgO_4G", "mlearn_Si"])
def test_n2p2_reference_roundtrip(tmp_path, name):
    src = require_shared("n2p2-reference", name, "input.data")
    a = hio.read(src, length_unit="bohr", energy_unit="hartree")
    hio.write(tmp_path / "input.data", a, length_unit="bohr", energy_unit="hartree")
    assert_identical(a, hio.read(tmp_path / "input.data", length_unit="bohr", energy_unit="hartree"))
    # through extxyz (Å, eV) and back
    hio.write(tmp_path / "x.xyz", a)
    assert_identical(a, hio.read(tmp_path / "x.xyz"))


def test_n2p2_values_bohr(tmp_path):
    """The Å values are the file's numbers times BOHR exactly, and the file values come back."""
    src = require_shared("data", "water-n2p2", "input.data")
    a = hio.read(src, length_unit="bohr", energy_unit="hartree")
    hio.write(tmp_path / "input.data", a, length_unit="bohr", energy_unit="hartree")
    orig = [ln.split() for ln in src.read_text().splitlines() if ln.split()[:1] == ["atom"]]
    new = [ln.split() for ln in (tmp_path / "input.data").read_text().splitlines() if ln.split()[:1] == ["atom"]]
    diffs = [abs(float(p) - float(q)) / max(abs(float(p)), 1e-300)
             for o, n in zip(orig, new) for p, q in zip(o[1:4] + o[5:], n[1:4] + n[5:])]
    assert max(diffs) < 1e-15


def test_extxyz_gan_roundtrip(tmp_path):
    src = require_shared("data", "gan", "GaN.xyz")
    a = hio.read(src)
    hio.write(tmp_path / "out.xyz", a)
    b = hio.read(tmp_path / "out.xyz")
    assert_identical(a, b)
    assert b[0].info["tag"] == "CrystalGa16N16"


def test_mlearn_to_extxyz_roundtrip(tmp_path):
    src = require_shared("data", "mlearn", "Si", "test.json")
    a = hio.read(src)
    hio.write(tmp_path / "si.extxyz", a)
    b = hio.read(tmp_path / "si.extxyz")
    assert_identical(a, b)
    assert b[0].stress is not None and b[0].info["group"] == a[0].info["group"]


def _rich():
    rng = np.random.default_rng(1)
    n = 5
    return [Structure(numbers=[8, 1, 1, 6, 29], positions=rng.normal(size=(n, 3)) * 3 + 10,
                      cell=np.array([[20.0, 0, 0], [1.1, 19.0, 0], [0.3, -0.7, 21.0]]), pbc=True,
                      energy=-1234.5678901234567, forces=rng.normal(size=(n, 3)), charge=-1.0,
                      stress=np.array([[1e-3, 2e-5, 3e-6], [2e-5, -4e-3, 5e-7], [3e-6, 5e-7, 6e-4]]),
                      atom_properties={"charges": rng.normal(size=n), "atom_energies": rng.normal(size=n),
                                       "tags": np.arange(n), "fixed": np.array([True, False, True, False, False]),
                                       "dipoles": rng.normal(size=(n, 3)), "label": np.array(list("abcde"))},
                      info={"comment": "made up", "weight": 0.1 + 0.2, "step": 7, "ok": True},
                      source="mem", index=0),
            Structure(numbers=[1, 1], positions=[[0, 0, 0], [0, 0, 0.7414]], energy=-31.7,
                      forces=[[0, 0, -1e-300], [0, 0, 5e300]], source="mem", index=1)]


def test_extxyz_rich_roundtrip(tmp_path):
    a = _rich()
    hio.write(tmp_path / "r.xyz", a)
    assert_identical(a, hio.read(tmp_path / "r.xyz"))
    # in Bohr/Hartree: within 1 ulp (see test_n2p2_rich_roundtrip), then exact from there on
    units = dict(length_unit="bohr", energy_unit="hartree")
    hio.write(tmp_path / "b.xyz", a, **units)
    b = hio.read(tmp_path / "b.xyz", **units)
    for x, y in zip(a, b):
        for name in ("positions", "cell", "forces", "stress"):
            if getattr(x, name) is not None:
                np.testing.assert_array_max_ulp(getattr(x, name), getattr(y, name), maxulp=1)
    hio.write(tmp_path / "c.xyz", b, **units)
    assert_identical(b, hio.read(tmp_path / "c.xyz", **units))


def test_n2p2_rich_roundtrip(tmp_path):
    """Å/eV values that did not come from a Bohr/Hartree file may have no float64 that maps to them
    exactly (x·BOHR rounds), so through a Bohr/Hartree file they come back within 1 ulp; through an
    Å/eV file they come back exactly."""
    a = _rich()
    with pytest.warns(UserWarning, match="stress"):
        hio.write(tmp_path / "input.data", a)
    b = hio.read(tmp_path / "input.data")
    for x, y in zip(a, b):
        for name in ("positions", "cell", "forces"):
            assert _bits(getattr(x, name)) == _bits(getattr(y, name))
    a = _rich()
    with pytest.warns(UserWarning, match="stress"):
        hio.write(tmp_path / "input.data", a, length_unit="bohr", energy_unit="hartree")
    b = hio.read(tmp_path / "input.data", length_unit="bohr", energy_unit="hartree")
    for x, y in zip(a, b):
        for name in ("positions", "cell", "forces"):
            np.testing.assert_array_max_ulp(getattr(x, name), getattr(y, name), maxulp=1)
        np.testing.assert_array_max_ulp(x.energy, y.energy, maxulp=1)
        assert x.charge == y.charge and y.stress is None
        for k in ("charges", "atom_energies"):
            if k in x.atom_properties:
                np.testing.assert_array_max_ulp(x.atom_properties[k], y.atom_properties[k], maxulp=1)
    assert b[0].info["comment"] == "made up"


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(pos=st.lists(st.tuples(finite, finite, finite), min_size=1, max_size=4), energy=finite,
       f=finite, unit=st.sampled_from([("bohr", "hartree"), ("angstrom", "ev"), ("bohr", "ev")]))
def test_n2p2_roundtrip_any_float(tmp_path_factory, pos, energy, f, unit):
    """Any structure that came from a file in some units is written back and re-read bit-exactly."""
    d = tmp_path_factory.mktemp("rt")
    n = len(pos)
    text = "begin\n" + "".join(f"atom {x!r} {y!r} {z!r} H 0.0 0.0 {f!r} {-f!r} {f / 3!r}\n" for x, y, z in pos) \
        + f"energy {energy!r}\ncharge 0.0\nend\n"
    (d / "input.data").write_text(text)
    kw = dict(length_unit=unit[0], energy_unit=unit[1])
    a = hio.read(d / "input.data", **kw)
    assert a[0].natoms == n
    hio.write(d / "b.data", a, **kw)
    assert_identical(a, hio.read(d / "b.data", **kw))
