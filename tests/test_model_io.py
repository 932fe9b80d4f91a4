"""n2p2 potential folders: reading, refusing, loss-free write-back."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from conftest import require_shared
from hdnnp.errors import InputError, UnsupportedFeatureError
from hdnnp.model import read_potential, write_potential

FOLDERS_2G = ["H2O_RPBE-D3", "Cu2S_PBE", "DMABN_SCAN", "Ethylbenzene_SCAN", "mlearn_Si", "mlearn_Cu"]


def _copy_potential(name, tmp_path):
    src = require_shared("n2p2-reference", name)
    dst = tmp_path / name
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and (f.name in ("input.nn", "scaling.data", "UNITS") or f.name.startswith("weights")):
            shutil.copy(f, dst / f.name)
    return dst


def _assert_same(a, b):
    assert a.elements == b.elements
    for key in ("scaling_mode", "scale_min", "scale_max", "mean_energy", "conv_energy", "conv_length",
                "normalized", "atom_energy", "cutoff_type", "cutoff_alpha", "normalize_nodes",
                "length_unit", "energy_unit"):
        assert getattr(a, key) == getattr(b, key), key
    assert [t for _, t in a.sf_lines] == [t for _, t in b.sf_lines]
    for e in a.elements:
        na, nb = a.networks[e], b.networks[e]
        assert na.layer_sizes == nb.layer_sizes and na.activations == nb.activations
        assert np.array_equal(na.weights, nb.weights)
        for f in ("gmin", "gmax", "gmean", "gsigma"):
            assert np.array_equal(getattr(a.scaling[e], f), getattr(b.scaling[e], f))


@pytest.mark.parametrize("name", FOLDERS_2G)
def test_round_trip(name, tmp_path):
    p = read_potential(require_shared("n2p2-reference", name))
    write_potential(p, tmp_path / "out")
    q = read_potential(tmp_path / "out")
    _assert_same(p, q)
    assert p.sf_lines == q.sf_lines
    assert (tmp_path / "out" / "input.nn").read_text() == p.input_nn_text
    # second generation is byte-identical
    write_potential(q, tmp_path / "out2")
    for f in (tmp_path / "out").iterdir():
        assert f.read_bytes() == (tmp_path / "out2" / f.name).read_bytes()


def test_read_basic_fields():
    p = read_potential(require_shared("n2p2-reference", "DMABN_SCAN"))
    assert p.elements == ["H", "C", "N"]            # n2p2 sorts by atomic number
    assert p.scaling_mode == 3 and p.normalized and p.cutoff_type == 6
    assert [p.n_sf(e) for e in p.elements] == [334, 333, 219]
    assert p.networks["H"].layer_sizes == [334, 25, 25, 1] and p.networks["H"].activations == "ppl"
    assert (p.length_unit, p.energy_unit) == ("bohr", "hartree")
    q = read_potential(require_shared("n2p2-reference", "mlearn_Si"))
    assert not q.normalized and (q.mean_energy, q.conv_energy, q.conv_length) == (0.0, 1.0, 1.0)
    assert q.atom_energy == {"Si": -0.79} and q.scaling_mode == 1


def test_regenerated_input_nn_when_fields_change(tmp_path):
    p = read_potential(require_shared("n2p2-reference", "Cu2S_PBE"))
    p.mean_energy = -3.5
    p.atom_energy["Cu"] = -1.25
    write_potential(p, tmp_path / "o")
    assert (tmp_path / "o" / "input.nn").read_text() != p.input_nn_text
    q = read_potential(tmp_path / "o")
    assert q.mean_energy == -3.5 and q.atom_energy == {"S": 0.0, "Cu": -1.25}
    p.input_nn_text = q.input_nn_text
    _assert_same(p, q)


@pytest.mark.parametrize("name", ["H2O_RPBE-D3_4G", "AlAuMgO_4G"])
def test_4g_refused(name):
    folder = require_shared("n2p2-reference", name)
    with pytest.raises(UnsupportedFeatureError, match="nnp_generation") as exc:
        read_potential(folder)
    assert "input.nn:" in str(exc.value)


def _edit_input(folder, old, new):
    f = folder / "input.nn"
    t = f.read_text()
    assert old in t
    f.write_text(t.replace(old, new, 1))


@pytest.mark.parametrize("line, match", [
    ("nnp_type 1", "nnp_type"),
    ("fixed_gausswidth Cu 2.0", "fixed_gausswidth"),
    ("global_hidden_layers_electrostatic 2", "electrostatic"),
])
def test_unsupported_keywords(tmp_path, line, match):
    d = _copy_potential("Cu2S_PBE", tmp_path)
    (d / "input.nn").write_text((d / "input.nn").read_text() + line + "\n")
    with pytest.raises(UnsupportedFeatureError, match=match):
        read_potential(d)


def test_unknown_activation_refused(tmp_path):
    d = _copy_potential("Cu2S_PBE", tmp_path)
    _edit_input(d, "global_activation_short         p p l", "global_activation_short         p x l")
    with pytest.raises(UnsupportedFeatureError, match="activation"):
        read_potential(d)


def test_unknown_keyword_warns_and_is_kept(tmp_path):
    d = _copy_potential("Cu2S_PBE", tmp_path)
    (d / "input.nn").write_text((d / "input.nn").read_text() + "my_new_keyword 3\n")
    with pytest.warns(UserWarning, match="my_new_keyword"):
        p = read_potential(d)
    assert any(k.key == "my_new_keyword" for k in p.keywords)


def _weights_lines(path):
    return path.read_text().splitlines(keepends=True)


def test_weights_wrong_count(tmp_path):
    d = _copy_potential("Cu2S_PBE", tmp_path)
    w = d / "weights.029.data"
    lines = _weights_lines(w)
    w.write_text("".join(lines[:-1]))
    with pytest.raises(InputError, match=r"weights\.029\.data:\d+") as exc:
        read_potential(d)
    assert "needs" in str(exc.value)
    w.write_text("".join(lines) + lines[-1])
    with pytest.raises(InputError, match=rf"weights\.029\.data:{len(lines) + 1}: more weights"):
        read_potential(d)


def test_weights_non_numeric(tmp_path):
    d = _copy_potential("Cu2S_PBE", tmp_path)
    w = d / "weights.016.data"
    lines = _weights_lines(w)
    i = next(k for k, l in enumerate(lines) if not l.startswith("#")) + 3
    lines[i] = lines[i].replace("E", "X", 1)
    w.write_text("".join(lines))
    with pytest.raises(InputError, match=rf"weights\.016\.data:{i + 1}: .*not a number"):
        read_potential(d)


def test_scaling_data_errors(tmp_path):
    d = _copy_potential("H2O_RPBE-D3", tmp_path)
    s = d / "scaling.data"
    lines = s.read_text().splitlines(keepends=True)
    i = next(k for k, l in enumerate(lines) if not l.startswith("#")) + 2
    bad = lines[:]
    bad[i] = bad[i].replace("E", "?", 1)
    s.write_text("".join(bad))
    with pytest.raises(InputError, match=rf"scaling\.data:{i + 1}"):
        read_potential(d)
    s.write_text("".join(lines[:-5]))
    with pytest.raises(InputError, match=r"scaling\.data"):
        read_potential(d)


def test_input_nn_errors(tmp_path):
    d = _copy_potential("Cu2S_PBE", tmp_path)
    _edit_input(d, "number_of_elements              2", "number_of_elements              3")
    with pytest.raises(InputError, match=r"input\.nn:\d+: number_of_elements"):
        read_potential(d)
    d = _copy_potential("mlearn_Si", tmp_path / "b")
    (d / "input.nn").write_text((d / "input.nn").read_text() + "cutoff_type 2\n")
    with pytest.raises(InputError, match="cutoff_type"):
        read_potential(d)


def test_symmetry_functions_lazy():
    p = read_potential(require_shared("n2p2-reference", "H2O_RPBE-D3"))
    assert len(p.sf_lines) == sum(p.n_sf(e) for e in p.elements)
    ln, toks = p.sf_lines[0]
    assert toks[:2] == ["H", "2"] and isinstance(ln, int)
    try:
        import hdnnp.descriptors as d
        has = hasattr(d, "SymmetryFunctionSet")
    except ImportError:
        has = False
    if not has:
        with pytest.raises(ImportError):
            p.symmetry_functions
