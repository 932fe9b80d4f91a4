"""Symmetry functions: n2p2 parity (values and sorted order) and input.nn parsing.

Parity criterion: |G - G_n2p2| <= 1e-9 * max(1, |G_n2p2|) for every atom of every structure in each
``refdump/sf_raw.txt`` (n2p2 master, %.17g).
"""
from __future__ import annotations

import numpy as np
import pytest

from _n2p2data import read_input_data, read_sf_order, read_sf_raw
from conftest import require_shared
from hdnnp.descriptors import SymmetryFunctionSet, compute_descriptors
from hdnnp.errors import InputError, UnsupportedFeatureError

FOLDERS = ["H2O_RPBE-D3", "Cu2S_PBE", "DMABN_SCAN", "Ethylbenzene_SCAN", "H2O_RPBE-D3_4G", "AlAuMgO_4G",
           "QM9_wACSF_exp", "QM9_wSF_compact"]
VARIANTS = ["ct0", "ct1", "ct1_0.5", "ct2", "ct3", "ct4", "ct4_0.2", "ct5", "ct6", "ct6_0.5", "ct7", "ct7_0.3",
            "ct8", "ct8_0.6"]
TOL = 1e-9


def _check_parity(inn, data, raw_path, order_path):
    sfset = SymmetryFunctionSet.from_input_nn(inn)
    order = read_sf_order(order_path)
    for el, lines in order.items():
        assert [sf.line for sf in sfset.for_element(el)] == lines, f"sorted order of {el}"
    raw = read_sf_raw(raw_path)
    nstruct = max(k[0] for k in raw)
    structs = read_input_data(data, nstruct)
    worst = 0.0
    checked = 0
    for si, (pos, els, lat, pbc) in enumerate(structs, start=1):
        d = compute_descriptors(pos, els, lat, pbc, sfset)
        for a, el in enumerate(els):
            if (si, a + 1) not in raw:
                continue
            rel, ref = raw[(si, a + 1)]
            assert rel == el
            g = d.G(a)
            assert g.shape == ref.shape
            worst = max(worst, float(np.max(np.abs(g - ref) / np.maximum(1.0, np.abs(ref)))))
            checked += 1
    assert checked == len(raw)
    assert worst <= TOL, f"max deviation {worst:.3e}"
    return worst


@pytest.mark.parametrize("folder", FOLDERS)
def test_parity_with_n2p2(folder):
    root = require_shared("n2p2-reference", folder)
    _check_parity(root / "input.nn", root / "input.data", root / "refdump" / "sf_raw.txt",
                  root / "refdump" / "sf_order.txt")


@pytest.mark.parametrize("variant", VARIANTS)
def test_parity_cutoff_variants(variant):
    root = require_shared("n2p2-reference", "H2O_cutoff_variants_SFonly")
    _check_parity(root / variant / "input.nn", root / "input.data", root / variant / "sf_raw.txt",
                  root / "sf_order.txt")


def test_mlearn_sets_parse():
    for folder in ("mlearn_Si", "mlearn_Cu"):
        root = require_shared("n2p2-reference", folder)
        s = SymmetryFunctionSet.from_input_nn(root / "input.nn")
        assert len(s.elements) == 1 and len(s.for_element(s.elements[0])) > 0


# ------------------------------------------------------------------------------- parsing
def _set(lines, elements=("H", "O"), ct=2, alpha=0.0):
    return SymmetryFunctionSet.from_n2p2_lines(list(elements), [(i + 1, l.split()) for i, l in enumerate(lines)],
                                               ct, alpha, file="x.nn")


def test_element_order_is_by_atomic_number():
    s = _set(["O 2 H 0.1 0 6", "H 2 O 0.1 0 6"], elements=("O", "H"))
    assert s.elements == ("H", "O")
    assert s.max_cutoff == 6.0


def test_roundtrip_lines_and_sorting():
    lines = ["H 3 O H 0.2 1.0 1.0 12.0", "H 2 H 0.001 0.0 12.0", "H 9 H H 0.01 -1 2 12.0 1.5",
             "H 2 O 0.001 0.0 12.0  # comment"]
    s = _set(lines)
    assert s.to_n2p2_lines()[0] == "symfunction_short H 3 O H 0.2 1.0 1.0 12.0"
    assert s.to_n2p2_lines()[3] == "symfunction_short H 2 O 0.001 0.0 12.0"
    assert [sf.type for sf in s.for_element("H")] == [2, 2, 3, 9]
    assert [sf.e1 for sf in s.for_element("H")][:2] == ["H", "O"]
    assert s.for_element("H")[3].rs == 1.5
    s2 = _set(s.to_n2p2_lines() and [l.split(None, 1)[1] for l in s.to_n2p2_lines()])
    assert [sf.line for sf in s2.for_element("H")] == [sf.line for sf in s.for_element("H")]


@pytest.mark.parametrize("line, match", [
    ("H 2 H 0.1 0.0", "needs 6 fields"),
    ("H 2 X 0.1 0.0 6", "not in 'elements'"),
    ("C 2 H 0.1 0.0 6", "central element"),
    ("H 2 H abc 0.0 6", "eta must be a number"),
    ("H 2 H 0.1 0.0 -6", "cutoff radius"),
    ("H 20 H 3 2 p2", "rl=3.0 must be < rc"),
    ("H 20 H 0 2 q2", "invalid compact subtype"),
    ("H 22 H H 0 2 100 90 p2", "left angle"),
    ("H 22 H H 0 2 -10 90 p2", "centre at 0 or 180"),
    ("H x H 0 2 p2", "type must be an integer"),
])
def test_parse_errors_name_file_and_line(line, match):
    with pytest.raises(InputError, match=match) as ei:
        _set(["H 2 H 0.1 0.0 6", line])
    assert "x.nn:2" in str(ei.value)


def test_unsupported_type():
    with pytest.raises(UnsupportedFeatureError, match="type 5"):
        _set(["H 5 H 0.1 0.0 6"])


def test_bad_cutoff_alpha():
    with pytest.raises(InputError, match="alpha"):
        _set(["H 2 H 0.1 0.0 6"], alpha=1.0)
    with pytest.raises(InputError, match="cutoff_type"):
        _set(["H 2 H 0.1 0.0 6"], ct=9)


def test_unknown_atom_element():
    s = _set(["H 2 H 0.1 0.0 6", "O 2 H 0.1 0.0 6"])
    with pytest.raises(InputError, match="atomic number 6"):
        compute_descriptors(np.zeros((1, 3)), [6], None, False, s)
