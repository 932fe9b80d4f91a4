"""Per-atom targets: scalars and symmetric tensors learned by atomic networks (hdnnp.properties), through the
training config, prediction, the calculator and the files; rotation equivariance and charge conservation."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hdnnp.errors import InputError
from hdnnp.io import read, write
from hdnnp.properties.model import collate, features, load
from hdnnp.properties.predict import PropertyPredictor
from hdnnp.structures import Structure
from hdnnp.training import config_from_dict, train

ELS = ["H", "C"]
SF = [f"{c} 2 {n} {eta} 0.0 4.0" for c in ELS for n in ELS for eta in (0.5, 2.0)] + \
     [f"{c} 3 {n1} {n2} 0.1 {lam} 2 4.0" for c in ELS for i, n1 in enumerate(ELS) for n2 in ELS[i:]
      for lam in (1, -1)]


def quiet(*a, **k):
    pass


def molecule(rng) -> Structure:
    """A random C2H4-like cluster with a synthetic equivariant tensor and charges that sum to its charge."""
    num = np.array([6, 1, 1, 6, 1, 1])
    pos = rng.normal(size=(6, 3)) * 0.9 + np.arange(6)[:, None] * np.array([1.0, 0, 0])
    T, q = np.zeros((6, 3, 3)), np.zeros(6)
    for i in range(6):
        for j in range(6):
            if i != j:
                d = pos[j] - pos[i]
                r = np.linalg.norm(d)
                w = np.exp(-r * r) * (2.0 if num[j] == 6 else 1.0)
                T[i] += w * np.outer(d, d) / r ** 2
                q[i] += w * (1.0 if num[i] == 6 else -1.0)
    T += np.eye(3) * (10.0 + num[:, None, None])
    s = Structure(num, pos, charge=1.0)
    s.atom_properties["shield"] = T + 0.3 * np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 0]])  # antisymmetric part
    s.atom_properties["q"] = q - q.mean() + 1.0 / 6
    return s


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("props")
    rng = np.random.default_rng(0)
    mols = [molecule(rng) for _ in range(70)]
    write(d / "train.xyz", mols[:60])
    write(d / "test.xyz", mols[60:])
    return d


def cfg(data, out, **props):
    return config_from_dict({
        "data": {"train": [str(data / "train.xyz")], "test": [str(data / "test.xyz")], "validation_fraction": 0.1},
        "model": {"symmetry_functions": {"lines": SF}, "hidden": [8]},
        "loss": {"energy": 0.0, "forces": 0.0},
        "optimizer": {"name": "adam", "epochs": 2},
        "properties": {"targets": [{"name": "shield", "kind": "tensor", "unit": "ppm"},
                                   {"name": "q", "unit": "e", "total_charge": True}],
                       "hidden": [16, 16], "epochs": 40, "batch_size": 8, "committee": 2, **props},
        "run": {"output": str(out), "seed": 2, "plots": True, "progress": "none"}})


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    res = train(cfg(data, out), log=quiet)
    return out, res


def test_extxyz_keeps_tensors_as_nine_columns(data):
    s = read(data / "train.xyz")[0]
    assert s.atom_properties["shield"].shape == (6, 9)
    assert s.atom_properties["q"].shape == (6,)


def test_properties_alone_train_and_write_their_files(trained):
    out, res = trained
    for f in ("potential/properties.json", "potential/properties.npz", "errors.txt", "metadata.json",
              "properties_metrics.csv", "plots/properties_test.png"):
        assert (out / f).is_file(), f
    assert not (out / "potential" / "input.nn").exists()      # no potential was asked for
    t = res["properties"]["test"]
    # learned well beyond the spread of the reference (the synthetic targets are smooth functions)
    assert t["q"]["H"]["rel_rmse"] < 0.5 and t["q"]["C"]["rel_rmse"] < 0.5
    assert t["shield"]["H"]["rel_rmse"] < 0.6 and "tensor_rmse" in t["shield"]["H"]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["properties"]["test"]["q"]["C"]["n"] == 20


def test_tensor_rotates_with_the_structure_and_charges_sum_to_the_total(trained, data):
    out, _ = trained
    pp = PropertyPredictor(out / "potential")
    s = read(data / "test.xyz")[0]
    R = Rotation.random(random_state=4).as_matrix()
    r = Structure(s.numbers, s.positions @ R.T + 3.0, charge=s.charge)
    (a,), (b,) = pp.predict([s]), pp.predict([r])
    T, Tr = a["shield"][0], b["shield"][0]
    assert np.abs(np.einsum("ab,nbc,dc->nad", R, T, R) - Tr).max() < 1e-10 * np.abs(T).max()
    assert np.allclose(T, T.transpose(0, 2, 1), atol=0)
    assert np.allclose(a["q"][0], b["q"][0], atol=1e-12)
    assert abs(a["q"][0].sum() - s.charge) < 1e-12
    assert a["q"][1].shape == (6,) and np.all(a["q"][1] >= 0)          # committee spread
    # a model file loads without code: JSON + npz read with allow_pickle=False
    model, sfset = load(out / "potential")
    assert model.committee == 2 and len(sfset.for_element("C")) == model.n_sf["C"] > 4


def test_beside_energy_and_forces_and_in_the_calculator(data, tmp_path):
    from ase.calculators.emt import EMT

    from hdnnp.calculator import HDNNPCalculator
    mols = read(data / "train.xyz")[:30]
    for s in mols:
        a = s.to_ase()
        a.calc = EMT()
        s.energy, s.forces = a.get_potential_energy(), a.get_forces()
    write(tmp_path / "train.xyz", mols)
    c = cfg(data, tmp_path / "run", epochs=5, committee=1)
    c.data.train[0].path = str(tmp_path / "train.xyz")
    c.loss.energy, c.loss.forces = 1.0, 1.0
    res = train(c, log=quiet)
    pot = tmp_path / "run" / "potential"
    assert (pot / "input.nn").is_file() and (pot / "properties.json").is_file()
    assert "q" in res["errors"] or "properties" in json.loads((tmp_path / "run" / "metadata.json").read_text())
    atoms = read(data / "test.xyz")[0].to_ase()
    atoms.info["charge"] = 1.0
    atoms.calc = HDNNPCalculator(str(pot))
    atoms.get_potential_energy()
    q = atoms.get_charges()
    assert q.shape == (6,) and abs(q.sum() - 1.0) < 1e-12
    assert atoms.calc.results["shield"].shape == (6, 3, 3)
    # a committee of potentials: the property networks are trained once and sit beside the merged potential
    c.run.committee, c.run.output, c.optimizer.epochs = 2, str(tmp_path / "com"), 2
    train(c, log=quiet)
    assert (tmp_path / "com" / "potential" / "properties.json").is_file()
    assert not (tmp_path / "com" / "member_2" / "potential" / "properties.json").exists()
    atoms.calc = HDNNPCalculator(str(tmp_path / "com" / "potential"))
    assert atoms.get_charges().shape == (6,) and "energy_std" in atoms.calc.results


def test_predict_cli_writes_properties_and_errors(trained, data, tmp_path):
    out, _ = trained
    r = subprocess.run([sys.executable, "-m", "hdnnp", "predict", str(out / "potential"), str(data / "test.xyz"),
                        "-o", str(tmp_path / "p.xyz")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "shield" in r.stdout and "RMSE/std" in r.stdout and "(isotropic part)" in r.stdout
    p = read(tmp_path / "p.xyz")
    assert p[0].atom_properties["shield"].shape == (6, 9) and "q_std" in p[0].atom_properties


def test_config_errors_name_the_key(data, tmp_path):
    d = {"data": {"train": [str(data / "train.xyz")]}, "model": {"symmetry_functions": {"lines": SF}},
         "properties": {"targets": [{"name": "shield", "kind": "tensor", "total_charge": True}]}}
    with pytest.raises(InputError, match=r"properties.targets\[0\].total_charge"):
        config_from_dict(d)
    d["properties"] = {"targets": [{"kind": "scalar"}]}
    with pytest.raises(InputError, match=r"properties.targets\[0\].name"):
        config_from_dict(d)
    d["properties"] = {"targets": ["nope"], "epochs": 1}
    d["loss"] = {"energy": 0, "forces": 0}
    d["run"] = {"output": str(tmp_path / "r"), "progress": "none", "plots": False}
    with pytest.raises(InputError, match="'nope': no structure"):
        train(config_from_dict(d), log=quiet)
    d["properties"] = {"targets": [{"name": "shield"}], "epochs": 1}       # a tensor declared as a scalar
    d["run"]["output"] = str(tmp_path / "r2")
    with pytest.raises(InputError, match="kind: tensor"):
        train(config_from_dict(d), log=quiet)


def test_model_forward_is_differentiable_only_through_invariants():
    """The anisotropic part is built from bond directions: a single bond gives a uniaxial tensor along it."""
    from hdnnp.descriptors import SymmetryFunctionSet
    from hdnnp.properties.model import PropertyNetworks, Target
    sf = SymmetryFunctionSet.from_n2p2_lines(ELS, [(i + 1, ln.split()) for i, ln in enumerate(SF)], 1, 0.0)
    t = Target("T", "tensor", mean={"H": 1.0, "C": 2.0}, spread={"H": 1.0, "C": 1.0}, aniso={"H": 1.0, "C": 1.0})
    m = PropertyNetworks(ELS, {el: len(sf.for_element(el)) for el in ELS}, [t], [4], basis=3, cutoff=4.0)
    m.init_weights(torch.Generator().manual_seed(0))
    s = Structure([1, 6], [[0, 0, 0], [0.3, 0.4, 1.0]])
    with torch.no_grad():
        T = m(collate([features(s, sf, ELS)], 2))["T"][0, 0].numpy()
    u = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])
    w, v = np.linalg.eigh(T)
    k = int(np.argmax(np.abs(w - np.median(w))))          # the distinct eigenvalue's axis is the bond
    assert abs(abs(v[:, k] @ u) - 1) < 1e-12


def test_nmr_spectra_from_a_trajectory(trained, data, tmp_path):
    import csv
    out, _ = trained
    r = subprocess.run([sys.executable, "-m", "hdnnp", "nmr", str(data / "test.xyz"), str(out / "potential"),
                        "--target", "shield", "--reference-shielding", "H=12", "--skip", "2", "--no-progress",
                        "-o", str(tmp_path / "nmr")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "8 frames, 6 atoms" in r.stdout and "mean δ" in r.stdout and "mean σ_iso" in r.stdout
    for f in ("sites.csv", "spectrum_H.csv", "spectrum_C.csv", "spectrum.png", "sites.png", "nmr.json"):
        assert (tmp_path / "nmr" / f).is_file(), f
    rows = list(csv.DictReader(open(tmp_path / "nmr" / "sites.csv")))
    pp = PropertyPredictor(out / "potential")
    frames = read(data / "test.xyz")[2:]
    iso = np.array([np.trace(p["shield"][0], axis1=1, axis2=2) / 3 for p in pp.predict(frames)])
    h = [r for r in rows if r["element"] == "H"]
    assert abs(float(h[0]["shift_mean_ppm"]) - (12 - iso[:, int(h[0]["site"])].mean())) < 1e-9
    assert all(r["shift_mean_ppm"] == "" for r in rows if r["element"] == "C")     # no σ_ref for C: −σ axis
    spec = np.loadtxt(tmp_path / "nmr" / "spectrum_H.csv", delimiter=",", skiprows=1)
    for col in (1, 2):                     # averaged sites and instantaneous shifts: four H sites each
        assert 3.5 < np.trapezoid(spec[:, col], spec[:, 0]) < 4.05     # (Lorentzian tails beyond the grid lost)
    bad = subprocess.run([sys.executable, "-m", "hdnnp", "nmr", str(data / "test.xyz"), str(out / "potential"),
                          "--reference-shielding", "H:12"], capture_output=True, text=True)
    assert bad.returncode != 0 and "ELEMENT=VALUE" in bad.stderr


def test_nmr_with_pyscf_labels_end_to_end(tmp_path):
    """HF molecules labelled with PySCF GIAO (STO-3G) through the label store, a shielding model trained on them,
    and hdnnp nmr checking it against the reference on two frames."""
    pytest.importorskip("pyscf")
    from hdnnp.labels import LabelStore, label
    from hdnnp.references import get_reference
    rng = np.random.default_rng(3)
    mols = []
    for k in range(30):
        u = Rotation.random(random_state=k).as_matrix()[0]
        mols.append(Structure([9, 1], [[0, 0, 0], (0.86 + 0.16 * rng.random()) * u]))
    ref = get_reference("pyscf-rhf-nmr", {"basis": "sto-3g"})
    run = label(mols, ref, LabelStore(tmp_path / "labels.db"), workers=0, progress=False)
    assert run.failed == 0
    write(tmp_path / "train.xyz", run.labelled[:24])
    write(tmp_path / "traj.xyz", mols[24:])
    lines = [f"{c} 2 {n} {eta} 0.0 3.0" for c in ("H", "F") for n in ("H", "F") if c != n for eta in (0.5, 1.0, 2.0)]
    c = config_from_dict({"data": {"train": [str(tmp_path / "train.xyz")], "validation_fraction": 0.1},
                          "model": {"symmetry_functions": {"lines": lines}},
                          "loss": {"energy": 0.0, "forces": 0.0},
                          "properties": {"targets": [{"name": "shielding", "kind": "tensor", "unit": "ppm"}],
                                         "hidden": [8], "epochs": 60, "batch_size": 4},
                          "run": {"output": str(tmp_path / "run"), "progress": "none", "plots": False}})
    train(c, log=quiet)
    r = subprocess.run([sys.executable, "-m", "hdnnp", "nmr", str(tmp_path / "traj.xyz"), str(tmp_path / "run" / "potential"),
                        "-r", "pyscf-rhf-nmr", "--set", "basis=sto-3g", "--reference-frames", "2", "--workers", "0",
                        "--store", str(tmp_path / "labels.db"), "--no-progress", "-o", str(tmp_path / "nmr")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "nmr" / "nmr.json").read_text())
    assert s["reference"]["frames"] == 2 and s["reference"]["s_per_frame"] > 0
    assert set(s["reference"]["errors"]) == {"H", "F"}
    assert "reference pyscf-rhf-nmr" in r.stdout and "s per frame" in r.stdout


def small_committee(data, n: int):
    """(two-member property networks with input scaling, targets, features) on the first ``n`` molecules."""
    from hdnnp.descriptors import SymmetryFunctionSet
    from hdnnp.properties.model import PropertyNetworks, Target
    from hdnnp.properties.train import fit_statistics
    sf = SymmetryFunctionSet.from_n2p2_lines(ELS, [(i + 1, ln.split()) for i, ln in enumerate(SF)], 1, 0.0)
    targets = [Target("shield", "tensor"), Target("q", "scalar", total_charge=True)]
    feats = [features(s, sf, ELS, targets) for s in read(data / "train.xyz")[:n]]
    fit_statistics(targets, feats, ELS)
    m = PropertyNetworks(ELS, {el: len(sf.for_element(el)) for el in ELS}, targets, [4], basis=3, cutoff=4.0,
                         committee=2)
    m.set_input_scaling({el: np.concatenate([f.G[e] for f in feats]) for e, el in enumerate(ELS)})
    return m, targets, feats


def test_each_network_keeps_the_weights_of_its_own_best_validation_error(data):
    """Per element and committee member the weights of the lowest validation error are restored, chosen apart
    (an H network's best epoch does not drag the C network's along); charges coupled by the total are chosen
    together."""
    from hdnnp.properties.train import _atom_errors, _BestNetworks
    m, targets, feats = small_committee(data, 8)
    b = collate(feats, 2, targets)
    best = _BestNetworks(m)
    assert [(ti, els) for ti, els in best.groups] == [(0, ["H"]), (0, ["C"]), (1, ["H", "C"])]

    def group_errors():
        with torch.no_grad():
            errs = _atom_errors(m, b, m(b))
        out = []
        for ti, els in best.groups:
            e, elem, _ = errs[targets[ti].name]
            sel = sum(elem == ELS.index(el) for el in els).bool()
            out.append(e[:, sel].mean(1).numpy())
        return np.array(out)

    states = []
    for epoch in range(1, 6):
        m.init_weights(torch.Generator().manual_seed(epoch))          # a different point each "epoch"
        states.append(group_errors())
        best.update(epoch, b)
    chosen = best.restore()
    table = np.array(states)                                           # (epoch, group, member)
    assert np.allclose(group_errors(), table.min(0), rtol=1e-12)
    assert np.array_equal(best.epoch, table.argmin(0) + 1)
    assert set(chosen) == {"shield", "q"} and set(chosen["q"]) == {"H+C"}


def test_member_splits_hold_out_each_members_own_structures(data, tmp_path):
    """With member_splits a member's loss sees only its own training structures: it does not change when a
    structure it holds out is changed, while the other member's does; and the option runs through the trainer."""
    from hdnnp.properties.train import _loss
    m, targets, feats = small_committee(data, 6)
    m.init_weights(torch.Generator().manual_seed(0))
    split = np.ones((2, 6), dtype=bool)
    split[0, 2] = split[1, 4] = False
    b = collate(feats, 2, targets)
    member = torch.from_numpy(split)[:, b.atom_struct]
    with torch.no_grad():
        base = [float(_loss(m, b, m(b), member[k:k + 1].expand(2, -1))) for k in range(2)]
        feats[2].targets["q"] = feats[2].targets["q"] + 5.0          # held out by member 0 only
        b2 = collate(feats, 2, targets)
        moved = [float(_loss(m, b2, m(b2), member[k:k + 1].expand(2, -1))) for k in range(2)]
    assert moved[0] == pytest.approx(base[0], rel=1e-12) and moved[1] > base[1] * 1.5
    # through the trainer: the option runs and the committee predicts every set
    res = train(cfg(data, tmp_path / "run", epochs=6, member_splits=True), log=quiet)
    assert res["properties"]["test"]["q"]["H"]["rel_rmse"] < 10


def test_neighbour_features_are_invariant_and_see_beyond_the_atoms_own_functions(data, tmp_path):
    """neighbour_features: each atom's networks also get the cutoff-weighted sums of its neighbours' scaled
    functions per neighbour element — unchanged by rotations and by permuting like atoms, changed by moving an
    atom the centre does not see itself; through the trainer the tensors still rotate exactly and the model file
    keeps the option."""
    from hdnnp.descriptors import SymmetryFunctionSet
    from hdnnp.properties.model import PropertyNetworks
    sf = SymmetryFunctionSet.from_n2p2_lines(ELS, [(i + 1, ln.split()) for i, ln in enumerate(SF)], 1, 0.0)
    m = PropertyNetworks(ELS, {el: len(sf.for_element(el)) for el in ELS}, [], [4], cutoff=4.0,
                         neighbour_features=True)

    def sums(s):
        b = collate([features(s, sf, ELS)], 2)
        x = {el: b.G[e] for e, el in enumerate(ELS) if b.G[e].shape[0]}
        return m.neighbour_sums(x, b).numpy()

    # a chain H0 … C1 … C2 … H3 along x, 2.2 Å apart: H0 sees C1 only (cutoff 4 Å), C1 sees H0 and C2
    chain = Structure(np.array([1, 6, 6, 1]), np.array([[0.0, 0, 0], [2.2, 0, 0], [4.4, 0, 0], [6.6, 0, 0]]))
    base = sums(chain)
    assert base.shape == (4, sum(len(sf.for_element(el)) for el in ELS))
    R = Rotation.random(random_state=3).as_matrix()
    assert np.allclose(sums(Structure(chain.numbers, chain.positions @ R.T)), base, atol=1e-12)
    perm = [3, 2, 1, 0]
    assert np.allclose(sums(Structure(chain.numbers[perm], chain.positions[perm]))[perm], base, atol=1e-12)
    moved = chain.positions.copy()
    moved[2] += [0.0, 0.8, 0.0]                  # C2 moves: H0's own functions (cutoff 4 Å) stay, its C1 sum not
    G0 = collate([features(chain, sf, ELS)], 2).G[0][0]
    G1 = collate([features(Structure(chain.numbers, moved), sf, ELS)], 2).G[0][0]
    assert np.allclose(G0.numpy(), G1.numpy(), atol=1e-14)
    assert np.abs(sums(Structure(chain.numbers, moved))[0] - base[0]).max() > 1e-3 * np.abs(base[0]).max()
    out = tmp_path / "run"
    train(cfg(data, out, epochs=6, neighbour_features=True), log=quiet)
    pp = PropertyPredictor(out / "potential")
    assert pp.model.neighbour_features
    s = read(data / "test.xyz")[0]
    r = Structure(s.numbers, s.positions @ R.T + 1.0, charge=s.charge)
    (a,), (b,) = pp.predict([s]), pp.predict([r])
    T, Tr = a["shield"][0], b["shield"][0]
    assert np.abs(np.einsum("ab,nbc,dc->nad", R, T, R) - Tr).max() < 1e-10 * np.abs(T).max()
