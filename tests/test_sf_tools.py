"""Symmetry-function generation, selection and the automatic set (hdnnp.descriptors.generate/selection,
``hdnnp sf``)."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import yaml

from hdnnp.cli.main import main
from hdnnp.data import example_path
from hdnnp.descriptors import SymmetryFunctionSet
from hdnnp.descriptors.generate import (adaptive_lines, angle_windows, count_functions, generate_lines,
                                        generate_symmetry_functions, radial_grid, to_config_yaml,
                                        to_input_nn)
from hdnnp.descriptors.selection import (auto_symmetry_functions, format_table, pair_distances,
                                         select_columns, select_symmetry_functions)
from hdnnp.errors import InputError
from hdnnp.io import read

from conftest import require_shared


@pytest.fixture(scope="module")
def si_slice():
    s = read(str(example_path("si")))
    return s[::12]  # 18 structures, ~1,000 atoms


# ---------------------------------------------------------------------- generate
def test_imbalzano_grids_as_documented():
    rc, n = 6.0, 5
    c = radial_grid(rc, n, "imbalzano2018", "center")
    assert [rs for _, rs in c] == [0.0] * n
    np.testing.assert_allclose([e for e, _ in c], [((n - 1) ** (m / (n - 1)) / rc) ** 2 for m in range(n)])
    s = radial_grid(rc, n, "imbalzano2018", "shift")
    rs_ext = [rc / n ** (m / n) for m in range(n + 1)]
    np.testing.assert_allclose([r for _, r in s], sorted(rs_ext[1:]))
    np.testing.assert_allclose([e for e, _ in s],
                               [1 / (rs_ext[m - 1] - rs_ext[m]) ** 2 for m in range(n, 0, -1)])
    assert min(r for _, r in s) == pytest.approx(rc / n)


def test_gastegger_grids_as_documented():
    c = radial_grid(5.0, 5, "gastegger2018", "center", r_min=1.0)
    np.testing.assert_allclose([e for e, _ in c], 1 / (2 * np.linspace(1, 5, 5) ** 2))
    s = radial_grid(5.0, 5, "gastegger2018", "shift", r_min=1.0)
    np.testing.assert_allclose([r for _, r in s], np.linspace(1, 5, 5))
    np.testing.assert_allclose([e for e, _ in s], 0.5)  # 1/(2 Δr²), Δr = 1
    assert len(radial_grid(5.0, 5, "gastegger", "both", r_min=1.0)) == 10
    with pytest.raises(InputError):
        radial_grid(5.0, 5, "gastegger2018", "center", r_min=0.0)
    with pytest.raises(InputError):
        radial_grid(5.0, 1)


def test_angle_windows_valid():
    w = angle_windows(3)
    assert w[:2] == [(-180.0, 180.0), (0.0, 360.0)]
    assert w[2:] == [(0.0, 90.0), (45.0, 135.0), (90.0, 180.0)]


@pytest.mark.parametrize("kind,weighted,angular,types", [
    ("gaussian", False, "both", {2, 3, 9}), ("gaussian", True, "narrow", {12, 13}),
    ("compact", False, "both", {20, 21, 22}), ("compact", True, "both", {23, 24, 25})])
def test_generate_types_sizes_and_round_trip(kind, weighted, angular, types):
    els = ["O", "H", "C"]
    nr, na, zetas = 5, 3, (1, 4)
    s = generate_symmetry_functions(els, 5.5, nr, na, kind=kind, weighted=weighted, angular=angular,
                                    zetas=zetas, mode="both", cutoff_type=2)
    assert s.elements == ("H", "C", "O")
    assert {sf.type for sf in s.functions} == types
    assert all(sf.rc <= 5.5 and sf.cutoff_type == 2 for sf in s.functions)
    n_el, n_pairs = 3, 6
    per = Counter(sf.type for sf in s.for_element("O"))
    if kind == "gaussian":
        rad = 2 * nr * (1 if weighted else n_el)
        ang = na * len(zetas) * 2 * (1 if weighted else n_pairs)
        assert per == ({12: rad, 13: ang} if weighted else {2: rad, 3: ang, 9: ang})
    else:
        rad = 2 * nr * (1 if weighted else n_el)
        ang = na * 5 * (1 if weighted else n_pairs)  # 3 windows + (-180,180) + (0,360)
        t = (23, 24, 25) if weighted else (20, 21, 22)
        assert per == {t[0]: rad, t[1]: ang, t[2]: ang}
    # every element has the same number of functions
    assert len({len(s.for_element(e)) for e in s.elements}) == 1
    # round trip: input.nn text and config lines parse back to the same functions
    text = to_input_nn(s)
    lines = [ln.split()[1:] for ln in text.splitlines() if ln.startswith("symfunction_short")]
    back = SymmetryFunctionSet.from_n2p2_lines(s.elements, [(i + 1, t) for i, t in enumerate(lines)], 2)
    for e in s.elements:
        a = [(f.type, f.e1, f.e2, f.eta, f.rs, f.lambda_, f.zeta, f.rc, f.rl, f.angle_left, f.angle_right)
             for f in s.for_element(e)]
        b = [(f.type, f.e1, f.e2, f.eta, f.rs, f.lambda_, f.zeta, f.rc, f.rl, f.angle_left, f.angle_right)
             for f in back.for_element(e)]
        assert a == b
    cfg = yaml.safe_load(to_config_yaml(s))
    sfc = cfg["model"]["symmetry_functions"]
    assert sfc["cutoff_type"] == 2 and sfc["length_unit"] == "angstrom" and len(sfc["lines"]) == len(s)
    assert cfg["model"]["elements"] == ["H", "C", "O"]


def test_weighted_size_independent_of_elements_and_resolved_growth():
    kw = dict(n_radial=6, n_angular=2, zetas=(1, 2), angular="narrow")
    sets = [["Si"], ["Si", "O"], ["Si", "O", "H"], ["Si", "O", "H", "C"]]
    w = [count_functions(e, weighted=True, **kw) for e in sets]
    assert len(set(w)) == 1
    rad = [count_functions(e, angular="none", **{k: v for k, v in kw.items() if k != "angular"}) for e in sets]
    assert rad == [6, 12, 18, 24]                          # linear in the number of elements
    ang = [count_functions(e, **kw) - r for e, r in zip(sets, rad)]
    assert ang == [8 * p for p in (1, 3, 6, 10)]           # one per unordered neighbour pair


def test_budget_and_errors():
    s = generate_symmetry_functions(["Ga", "N"], 6.0, 10, 5, budget=50)
    assert all(len(s.for_element(e)) <= 50 for e in s.elements)
    with pytest.raises(InputError):
        generate_symmetry_functions(["Ga", "N"], 6.0, budget=3)
    with pytest.raises(InputError):
        generate_symmetry_functions(["Xx"], 6.0)
    with pytest.raises(InputError):
        generate_symmetry_functions(["Si"], -1.0)
    with pytest.raises(InputError):
        generate_lines(["Si"], 6.0, kind="spline")


# ---------------------------------------------------------------------- select (synthetic)
def _synthetic(n=400, seed=1):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 6))
    cols = [base[:, i] for i in range(6)]
    cols.append(np.full(n, 3.0))                            # 6: constant
    cols.append(2.0 * base[:, 0] + 1.0)                     # 7: duplicate of 0
    z = np.zeros(n)
    z[:5] = 1.0
    cols.append(z)                                          # 8: zero on 98.75 % of atoms
    mix = base @ rng.normal(size=(6, 5))
    cols += [mix[:, i] for i in range(5)]                   # 9-13: combinations
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("method", ["cur", "fps"])
def test_select_columns_drops_and_keeps(method):
    G = _synthetic()
    res = select_columns(G, 4, method)
    reasons = {j: r for j, r, _ in res["dropped"]}
    assert reasons[6] == "constant" and reasons[7] == "duplicate" and reasons[8] == "mostly zero"
    assert len(res["kept"]) == 4
    assert not {6, 7, 8} & set(res["kept"])
    assert len(res["kept"]) + len(res["dropped"]) == G.shape[1]
    err = np.array(res["reconstruction_error"])
    assert np.all(np.diff(err) <= 1e-12)                    # error falls with the count
    # rank 6 spans everything but the dropped rare column (1 of 13 standardised target columns)
    assert err[5] == pytest.approx(np.sqrt(1 / 13), abs=0.01)
    pca = np.array(res["pca_variance"])
    assert np.all(pca + 1e-9 >= np.array(res["explained_variance"]))
    # n_keep None: fewest reaching the target
    auto = select_columns(G, None, method, min_explained=0.9)
    k = len(auto["kept"])
    assert auto["explained_variance"][k - 1] >= 0.9 and (k == 1 or auto["explained_variance"][k - 2] < 0.9)


def test_cur_finds_the_informative_columns():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 300))
    G = np.stack([a + 1e-3 * rng.normal(size=300), a + b, b, 0.5 * a - b, a], axis=1)
    res = select_columns(G, 2, "cur", max_correlation=1.0)
    assert res["explained_variance"][1] == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------------- select / auto on data
def test_select_on_si(si_slice):
    cand = generate_symmetry_functions(["Si"], 6.0, 8, 4, mode="both", angular="both")
    sel, rep = select_symmetry_functions(cand, si_slice, 12, "cur", max_atoms=500, seed=3)
    assert len(sel.for_element("Si")) == 12
    r = rep["elements"]["Si"]
    assert r["n_kept"] == 12 and r["n_atoms"] == 500 and len(r["kept"]) == 12
    assert r["n_kept"] + len(r["dropped"]) == len(cand)
    assert set(sf.to_n2p2_line().split(None, 1)[1] for sf in sel.functions) == set(r["kept"])
    e = r["curve"]["reconstruction_error"]
    assert e[-1] < e[11] < e[0]
    json.dumps(rep)
    # same seed, same result
    sel2, _ = select_symmetry_functions(cand, si_slice, 12, "cur", max_atoms=500, seed=3)
    assert sel2.to_n2p2_lines() == sel.to_n2p2_lines()
    assert "<- kept" in format_table(rep)


def test_auto_si(si_slice, tmp_path):
    sel, rep = auto_symmetry_functions(si_slice, ["Si"], budget=10, seed=0, max_atoms=600)
    assert len(sel.for_element("Si")) == 10
    assert rep["cutoff"] == 6.0 and rep["cutoff_info"]["from"] == "data"
    assert 2.0 < rep["cutoff_info"]["median_nn_distance"] < 2.6
    assert len(rep["lines"]) == 10
    # the lines go straight into a training config
    back = SymmetryFunctionSet.from_n2p2_lines(rep["elements"], [(i + 1, ln.split()) for i, ln in
                                                                 enumerate(rep["lines"])], rep["cutoff_type"])
    assert len(back) == 10
    yaml.safe_dump(rep)


def test_auto_two_elements():
    structures = read(str(require_shared("data", "gan", "GaN.xyz")))
    sel, rep = auto_symmetry_functions(structures, budget=8, seed=1, max_atoms=300)
    assert sel.elements == ("N", "Ga")
    assert all(len(sel.for_element(e)) == 8 for e in sel.elements)
    assert set(rep["selection"]["elements"]) == {"N", "Ga"}
    # element-resolved candidates: both neighbour elements appear among the candidates
    assert rep["generate"]["n_candidates"]["Ga"] > 100


def test_auto_errors(si_slice):
    with pytest.raises(InputError, match="Ge.*do not occur"):
        auto_symmetry_functions(si_slice, ["Si", "Ge"], budget=5)
    with pytest.raises(InputError, match="atoms in the training data"):
        auto_symmetry_functions(si_slice[:1], ["Si"], budget=200)
    import dataclasses
    odd = dataclasses.replace(si_slice[0], numbers=np.where(np.arange(len(si_slice[0].numbers)) == 0, 8,
                                                            si_slice[0].numbers))
    with pytest.raises(InputError, match=r"structure 0: element\(s\) \['O'\] not in the model"):
        auto_symmetry_functions([odd] + list(si_slice[1:]), ["Si"], budget=5)
    cand = generate_symmetry_functions(["Si"], 5.0, 4, 1)
    with pytest.raises(InputError, match="needs at least"):
        select_symmetry_functions(cand, si_slice[:1], 500)
    with pytest.raises(InputError):
        auto_symmetry_functions([], ["Si"])


def test_adaptive_lines_follow_the_data():
    rng = np.random.default_rng(0)
    dist = {("C", "H"): 1.0 + 0.05 * rng.normal(size=500), ("C", "C"): rng.uniform(1.5, 5.0, 800),
            ("H", "C"): 1.0 + 0.05 * rng.normal(size=500), ("H", "H"): np.zeros(0)}
    lines = adaptive_lines(["C", "H"], 5.0, dist, {"C": 1.0, "H": 1.0}, n_radial=6, n_angular=3,
                           zetas=(1, 4), min_width=0.2)
    assert len(lines) == len(set(lines))
    sfs = SymmetryFunctionSet.from_n2p2_lines(["H", "C"], [(i + 1, ln.split()) for i, ln in enumerate(lines)], 1)
    rad = [ln.split() for ln in lines if ln.split()[1] == "2"]
    assert not [t for t in rad if t[0] == "H" and t[2] == "H"]          # no H-H pairs seen: no H-H radial
    for c, e in (("C", "H"), ("C", "C"), ("H", "C")):
        r_lo = dist[(c, e)].min()
        mine = [(float(t[3]), float(t[4])) for t in rad if t[0] == c and t[2] == e]
        assert len(mine) == 18                                          # equidistant, quantile, centred
        shifted = [(eta, rs) for eta, rs in mine if rs > 0]
        assert min(rs for _, rs in shifted) == pytest.approx(r_lo, abs=1e-3)   # starts where the data start
        assert all(eta <= 1 / (2 * 0.2 ** 2) + 1e-6 for eta, _ in shifted)    # σ >= min_width
    # quantile centres crowd at the C-H bond length; the C-C ones spread over the uniform range
    ch = sorted(float(t[4]) for t in rad if t[0] == "C" and t[2] == "H" and float(t[4]) > 0)
    assert sum(0.9 < r < 1.1 for r in ch) >= 6
    cc = sorted(float(t[4]) for t in rad if t[0] == "C" and t[2] == "C" and float(t[4]) > 0)
    assert sum(0.9 < r < 1.1 for r in cc) == 0 and cc[-1] == pytest.approx(5.0)
    ang = [ln.split() for ln in lines if ln.split()[1] in ("3", "9")]
    assert {float(t[4]) for t in ang} >= {0.0} and len({float(t[4]) for t in ang}) == 3
    assert len(ang) == 2 * 2 * 3 * 2 * 2 * 3                            # centres × types × η × ζ × λ × pairs
    assert len(sfs) == len(lines)
    with pytest.raises(InputError):
        adaptive_lines(["C"], 5.0, {}, {}, n_radial=1)


def test_range_scaling_ranks_outlier_columns_last():
    rng = np.random.default_rng(3)
    n = 2000
    G = rng.normal(size=(n, 4))
    G[:, 3] = 0.01 * rng.normal(size=n)
    G[:10, 3] += 5.0                                   # spread from 10 outlying atoms only
    res = select_columns(G, 4, "cur", scaling="range")
    assert res["order"][-1] == 3 and res["scaling"] == "range"
    assert np.all(np.diff(res["explained_variance"]) >= -1e-12)
    with pytest.raises(InputError, match="scaling"):
        select_columns(G, 2, scaling="minmax")


def test_reserve_keeps_a_share_of_the_masked_columns():
    G = _synthetic()
    free = select_columns(G, 4, "cur")
    mask = np.zeros(G.shape[1], dtype=bool)
    mask[[9, 10, 11]] = True                           # combinations: ranked late once the base is in
    res = select_columns(G, 4, "cur", reserve=(mask, 3))
    assert sum(mask[j] for j in res["kept"]) >= 3 and len(res["kept"]) == 4
    assert res["order"] == free["order"]               # the ranking itself is unchanged
    assert res["kept"] == [j for j in res["order"] if j in set(res["kept"])]
    assert len(res["kept"]) + len(res["dropped"]) == G.shape[1]
    assert select_columns(G, 4, "cur", reserve=(mask, 0))["kept"] == free["kept"]


def test_auto_adaptive_grid_on_si(si_slice):
    d, nn = pair_distances(si_slice, ["Si"], 6.0)
    assert 2.0 < nn["Si"] < 2.6 and d[("Si", "Si")].max() < 6.0
    sel, rep = auto_symmetry_functions(si_slice, ["Si"], budget=12, seed=0, max_atoms=500)
    assert rep["generate"]["grid"] == "adaptive" and rep["selection"]["scaling"] == "range"
    assert rep["selection"]["min_radial"] == 0.5
    assert sum(1 for ln in rep["lines"] if ln.split()[1] == "2") >= 6     # at least half radial
    r_lo = rep["generate"]["shortest_distance"]["Si-Si"]
    assert r_lo == pytest.approx(d[("Si", "Si")].min())
    for sf in sel.functions:
        t = sf.to_n2p2_line().split()
        if t[2] == "2" and float(t[5]) > 0:
            assert float(t[5]) >= r_lo - 1e-3
    # the previous systematic candidates are still available
    sel2, rep2 = auto_symmetry_functions(si_slice, ["Si"], budget=12, seed=0, max_atoms=500, grid="systematic",
                                         scaling="std")
    assert rep2["generate"]["grid"] == "systematic" and len(sel2.for_element("Si")) == 12
    with pytest.raises(InputError, match="grid"):
        auto_symmetry_functions(si_slice, ["Si"], budget=12, grid="other")
    with pytest.raises(InputError, match="compact"):
        auto_symmetry_functions(si_slice, ["Si"], budget=12, kind="compact")


# ---------------------------------------------------------------------- CLI
def test_cli_generate_and_select(tmp_path, capsys, si_slice):
    nn, y = tmp_path / "cand.nn", tmp_path / "cand.yaml"
    assert main(["sf", "generate", "--elements", "Si", "--cutoff", "5.5", "--n-radial", "6", "--n-angular", "2",
                 "--angular", "both", "-o", str(nn), "--yaml", str(y)]) == 0
    out = capsys.readouterr().out
    assert "Si: 38 functions (type 2: 6, type 3: 16, type 9: 16)" in out
    assert len(SymmetryFunctionSet.from_input_nn(nn)) == 38
    assert len(yaml.safe_load(y.read_text())["model"]["symmetry_functions"]["lines"]) == 38
    data = tmp_path / "si.xyz"
    from hdnnp.io import write
    write(str(data), si_slice[:6])
    sel, rep, png = tmp_path / "sel.nn", tmp_path / "rep.json", tmp_path / "sel.png"
    assert main(["sf", "select", str(data), "--input-nn", str(nn), "--n-keep", "8", "--method", "fps",
                 "-o", str(sel), "--report", str(rep), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "explained var" in out and "<- kept" in out
    assert len(SymmetryFunctionSet.from_input_nn(sel)) == 8
    assert json.loads(rep.read_text())["elements"]["Si"]["n_kept"] == 8
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["sf", "select", str(data), "--input-nn", str(nn), "--n-keep", "Ge=3"]) == 2


def test_cli_auto(tmp_path, capsys, si_slice):
    data = tmp_path / "si.xyz"
    from hdnnp.io import write
    write(str(data), si_slice[:6])
    y = tmp_path / "sf.yaml"
    assert main(["sf", "auto", str(data), "--budget", "6", "--yaml", str(y)]) == 0
    assert "cutoff 6.0" in capsys.readouterr().out
    assert len(yaml.safe_load(y.read_text())["model"]["symmetry_functions"]["lines"]) == 6


def test_auto_zetas_option(si_slice):
    sel, rep = auto_symmetry_functions(si_slice, ["Si"], budget=10, seed=0, max_atoms=300, zetas=[1, 2])
    assert rep["generate"]["zetas"] == [1.0, 2.0]
    ang = [ln.split() for ln in rep["lines"] if ln.split()[1] in ("3", "9")]
    assert ang and all(float(p[6]) in (1.0, 2.0) for p in ang)
    with pytest.raises(InputError, match="zetas"):
        auto_symmetry_functions(si_slice, ["Si"], budget=5, zetas=[0.5])


def test_auto_default_zetas_are_broad(si_slice):
    _, rep = auto_symmetry_functions(si_slice, ["Si"], budget=8, seed=0, max_atoms=300)
    assert rep["generate"]["zetas"] == [1, 2, 4]
