"""hdnnp diffusion: the D estimator on random walks of known D, the Arrhenius fit, the command end to end with
Stillinger-Weber liquid Si in LAMMPS (resumable), and the Pedone Li-P-O reference (charges, Ewald) in MD."""
import json
import subprocess
import sys

import numpy as np
import pytest

from hdnnp.errors import InputError
from hdnnp.workflows.diffusion import K_B, arrhenius_fit, diffusion_coefficient, msd_per_atom


def _walk(seed, n=64, nf=201, s=0.5):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(0, s, (nf, n, 3)), axis=0)


def test_msd_per_atom_by_hand():
    pos = _walk(0, n=3, nf=20)
    out = msd_per_atom(pos, np.array([1, 5]))
    d = pos[5:] - pos[:-5]
    assert out[1] == pytest.approx((d ** 2).sum(axis=2).mean(axis=0), rel=1e-12)


def test_estimator_recovers_known_d_with_calibrated_error():
    # per axis 0.5 Å per 0.05 ps frame: D = 0.25 / (2 * 0.05) Å²/ps = 2.5e-4 cm²/s
    truth = 2.5e-4
    hits, ratios, sds = 0, [], []
    for seed in range(30):
        r = diffusion_coefficient(_walk(1000 + seed), 0.05, 1.0, 5.0, n_boot=300, seed=seed)
        hits += abs(r["D_cm2_s"] - truth) <= 1.96 * r["D_std_cm2_s"]
        ratios.append(r["D_cm2_s"] / truth)
        sds.append(r["D_std_cm2_s"] / truth)
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.04)
    assert np.mean(sds) == pytest.approx(np.std(ratios), rel=0.35)      # the error bar is the scatter's size
    assert hits >= 25                                                   # ~95 % of 30
    with pytest.raises(InputError, match="window"):
        diffusion_coefficient(_walk(0), 0.05, 9.0, 9.05)


def test_arrhenius_errors_grow_when_the_points_scatter_more_than_their_error_bars():
    """Birge ratio: D that scatter about the line by more than their error bars (χ²/dof > 1) get their errors scaled
    by √(χ²/dof); consistent points (χ²/dof ≤ 1) keep them; two temperatures cannot tell."""
    T = np.array([700.0, 850.0, 1000.0, 1150.0])
    D = 3e-4 * np.exp(-0.3 / (K_B * T)) * np.array([1.0, 1.3, 0.8, 1.1])      # scatter ~20 %
    tight = arrhenius_fit(T, D, 0.05 * D)
    assert tight["chi2"] > tight["dof"] == 2
    assert tight["error_scale"] == pytest.approx(np.sqrt(tight["chi2"] / 2))
    raw = arrhenius_fit(T, D, 0.05 * D, scale_errors=False)
    assert raw["error_scale"] == 1.0 and tight["ea_eV"] == raw["ea_eV"]
    assert tight["ea_std_eV"] == pytest.approx(raw["ea_std_eV"] * tight["error_scale"], rel=1e-9)
    loose = arrhenius_fit(T, D, 0.5 * D)
    assert loose["error_scale"] == 1.0
    assert arrhenius_fit(T[:2], D[:2], 0.01 * D[:2])["error_scale"] == 1.0


def test_arrhenius_fit_recovers_ea_and_extrapolates():
    T = np.array([600.0, 800.0, 1000.0, 1200.0])
    D = 1e-3 * np.exp(-0.5 / (K_B * T))
    f = arrhenius_fit(T, D, 0.05 * D, room_temperature=300.0)
    assert f["ea_eV"] == pytest.approx(0.5, abs=1e-9)
    assert f["d0_cm2_s"] == pytest.approx(1e-3, rel=1e-8)
    assert f["d_room_cm2_s"] == pytest.approx(1e-3 * np.exp(-0.5 / (K_B * 300.0)), rel=1e-8)
    assert f["d_room_lo_cm2_s"] < f["d_room_cm2_s"] < f["d_room_hi_cm2_s"]
    # the error of Ea from 5 % errors on D: sigma(ln D) = 0.05 over a 1/T span
    x = 1.0 / (K_B * T)
    assert f["ea_std_eV"] == pytest.approx(0.05 / np.sqrt(np.sum((x - x.mean()) ** 2)), rel=0.1)
    with pytest.raises(InputError, match="two temperatures"):
        arrhenius_fit(T[:1], D[:1], D[:1])
    with pytest.raises(InputError, match="non-positive"):
        arrhenius_fit(T[:2], [1e-5, -1e-6], [1e-6, 1e-6])


def test_combine_replicas_takes_the_larger_of_scatter_and_own_errors():
    from hdnnp.workflows.diffusion import combine_replicas

    # replicas that agree better than their error bars: the error bars set the error of the mean
    c = combine_replicas([1.0e-5, 1.01e-5, 0.99e-5], [1e-6, 1e-6, 1e-6])
    assert c["D_cm2_s"] == pytest.approx(1e-5)
    assert c["D_std_cm2_s"] == pytest.approx(1e-6 / np.sqrt(3))
    assert c["scatter_over_bootstrap"] < 1
    # replicas that scatter more than their error bars (a trajectory missed slow events): the scatter does
    c = combine_replicas([0.5e-5, 1.0e-5, 1.5e-5], [1e-7, 1e-7, 1e-7])
    assert c["D_std_cm2_s"] == pytest.approx(np.std([0.5e-5, 1.0e-5, 1.5e-5], ddof=1) / np.sqrt(3))
    assert c["D_lo_cm2_s"] * c["D_hi_cm2_s"] == pytest.approx(c["D_cm2_s"] ** 2)
    assert c["replicas"] == 3 and c["replica_D_cm2_s"] == [0.5e-5, 1.0e-5, 1.5e-5]


@pytest.mark.slow
def test_diffusion_command_sw_liquid_si_resumes(tmp_path):
    from ase.build import bulk
    from ase.io import write

    write(tmp_path / "si.extxyz", bulk("Si", "diamond", a=5.43, cubic=True).repeat(2))
    cmd = [sys.executable, "-m", "hdnnp", "diffusion", "si.extxyz", "-r", "sw-si", "-T", "3500", "4500",
           "--equilibrate", "0.5", "--production", "3", "--dump-every", "0.02", "-o", "d"]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Ea =" in res.stdout
    s = json.loads((tmp_path / "d" / "arrhenius.json").read_text())
    pts = s["D"]["Si"]
    assert [p["T_K"] for p in pts] == [3500.0, 4500.0]
    assert all(1e-5 < p["D_cm2_s"] < 1e-3 for p in pts)                 # liquid Si: ~1e-4 cm²/s
    assert pts[1]["D_cm2_s"] > pts[0]["D_cm2_s"]
    for f in ("diffusion.csv", "msd.png", "arrhenius.png", "T3500K/traj.lammpstrj", "T3500K/md.json"):
        assert (tmp_path / "d" / f).is_file(), f
    md = json.loads((tmp_path / "d" / "T3500K" / "md.json").read_text())
    assert md["ns_per_day"] > 0 and abs(md["mean_temperature_K"] - 3500) < 400
    # resumed with one more temperature: the finished ones are not run again
    stamp = (tmp_path / "d" / "T3500K" / "traj.lammpstrj").stat().st_mtime_ns
    res = subprocess.run(cmd[:8] + ["3500", "4500", "5500"] + cmd[10:], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "d" / "T3500K" / "traj.lammpstrj").stat().st_mtime_ns == stamp
    assert len(json.loads((tmp_path / "d" / "arrhenius.json").read_text())["D"]["Si"]) == 3
    # a second replica per temperature: new folders from other velocities, the first replicas kept, D combined
    res = subprocess.run(cmd + ["--replicas", "2"], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "d" / "T3500K" / "traj.lammpstrj").stat().st_mtime_ns == stamp
    seeds = [[ln for ln in (tmp_path / "d" / f / "in.lmp").read_text().splitlines() if ln.startswith("velocity")][0]
             for f in ("T3500K", "T3500K_r1")]
    assert seeds[0] != seeds[1]
    assert json.loads((tmp_path / "d" / "T4500K_r1" / "md.json").read_text())["replica"] == 1
    pts = json.loads((tmp_path / "d" / "arrhenius.json").read_text())["D"]["Si"]
    assert [p["replicas"] for p in pts] == [2, 2]                       # -T 3500 4500 this time
    assert pts[0]["D_cm2_s"] == pytest.approx(np.mean(pts[0]["replica_D_cm2_s"]), rel=1e-12)
    assert "2 replicas" in res.stdout
    # a second cell, pooled with the replicas (folders T<T>K_c1, T<T>K_c1_r1); the first cell's runs kept
    b = bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)
    b.rattle(0.05, seed=3)
    write(tmp_path / "si_b.extxyz", b)
    res = subprocess.run(cmd + ["--replicas", "2", "--cells", "si_b.extxyz"], cwd=tmp_path, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "d" / "T3500K" / "traj.lammpstrj").stat().st_mtime_ns == stamp
    assert json.loads((tmp_path / "d" / "T4500K_c1_r1" / "md.json").read_text())["cell"] == 1
    pts = json.loads((tmp_path / "d" / "arrhenius.json").read_text())["D"]["Si"]
    assert [p["replicas"] for p in pts] == [4, 4] and "4 replicas" in res.stdout
    write(tmp_path / "c.extxyz", bulk("C", "diamond", a=3.57, cubic=True))
    bad = subprocess.run(cmd + ["--cells", "c.extxyz"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0 and "same system" in bad.stderr, bad.stderr[-2000:]


@pytest.mark.slow
def test_pedone_reference_in_process_and_in_md(tmp_path):
    from hdnnp.references import compute_label, get_reference
    from hdnnp.structures import Structure
    from hdnnp.workflows.amorphous import parse_composition, random_cell
    from hdnnp.workflows.diffusion import DiffusionSettings, run_temperature

    at = random_cell(parse_composition("Li3PO4"), 4, 2.4, min_distance=1.7, seed=3)
    ref = get_reference("pedone-li3po4")
    r = compute_label(ref, Structure.from_ase(at))
    h = 1e-3
    b = at.copy()
    b.positions[5, 2] += h
    ep = compute_label(ref, Structure.from_ase(b)).energy
    b.positions[5, 2] -= 2 * h
    em = compute_label(ref, Structure.from_ase(b)).energy
    assert -(ep - em) / (2 * h) == pytest.approx(r.forces[5, 2], abs=2e-3 * max(1.0, abs(r.forces[5, 2])))
    # the same interaction in a LAMMPS MD input (atom_style charge, charges from the preset's commands)
    info = run_temperature(at, tmp_path / "md", 600.0, DiffusionSettings(equilibrate=0.02, production=0.05,
                                                                        dump_every=0.01), reference=ref)
    log = (tmp_path / "md" / "log.lammps").read_text()
    assert "atom_style charge" in (tmp_path / "md" / "in.lmp").read_text()
    first_pe = [ln.split() for ln in log.splitlines() if ln.split()[:1] == ["0"]][0][3]
    assert float(first_pe) == pytest.approx(r.energy, abs=1e-4)
    assert info["atoms"] == 32
