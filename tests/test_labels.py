"""The label store and executor: nothing lost on SIGKILL, nothing recomputed, failures recorded,
local processes and a local Dask cluster giving identical labels."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from hdnnp.labels import LabelStore, label, label_key
from hdnnp.references import get_reference
from hdnnp.structures import Structure

HERE = Path(__file__).resolve().parent


def _cells(n, sym="Cu", rep=2, amp=0.05, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        a = bulk(sym, cubic=True) * (rep, rep, rep)
        a.positions += rng.normal(0, amp, a.positions.shape)
        out.append(Structure.from_ase(a))
    return out


def _slow(delay=0.1):
    return get_reference({"code": "ase", "calculator": "_slow_calc.SlowEMT", "kwargs": {"delay": delay}})


@pytest.fixture(autouse=True)
def _importable_helpers(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def test_store_roundtrip_reuse_and_failures(tmp_path):
    store = LabelStore(tmp_path / "l.db")
    cells = _cells(4) + [Structure.from_ase(bulk("Si"))]   # EMT has no Si: one failure
    ref = get_reference("emt")
    run = label(cells, ref, store, workers=0, progress=False)
    assert (run.computed, run.reused, run.failed) == (5, 0, 1)
    assert "Si" in next(iter(run.errors))
    again = label(cells, ref, LabelStore(tmp_path / "l.db"), workers=0, progress=False)
    assert (again.computed, again.reused) == (0, 5)
    for a, b in zip(run.results[:4], again.results[:4]):
        assert a.energy == b.energy
        np.testing.assert_array_equal(a.forces, b.forces)
        np.testing.assert_array_equal(a.stress, b.stress)
    retry = label(cells, ref, LabelStore(tmp_path / "l.db"), workers=0, progress=False, retry_failed=True)
    assert (retry.computed, retry.reused) == (1, 4)
    assert len(LabelStore(tmp_path / "l.db")) == 5
    labelled = list(LabelStore(tmp_path / "l.db").structures(reference=ref))
    assert len(labelled) == 4 and all(s.forces is not None for s in labelled)


def test_duplicates_are_computed_once(tmp_path):
    c = _cells(2)
    run = label([c[0], c[1], c[0]], get_reference("emt"), LabelStore(tmp_path / "l.db"), workers=0,
                progress=False)
    assert run.computed == 3 and len(LabelStore(tmp_path / "l.db")) == 2
    assert run.results[0].energy == run.results[2].energy


def test_a_full_store_needs_no_reference_code_installed(tmp_path, monkeypatch):
    """Training from a store someone else labelled (GPAW, PySCF, ...) must not ask for that code."""
    from hdnnp.errors import HDNNPError
    from hdnnp.references._base import Code
    c = _cells(3)
    ref = get_reference("emt")
    label(c[:2], ref, LabelStore(tmp_path / "l.db"), workers=0, progress=False)

    def missing(self):
        raise HDNNPError(f"reference code {self.name!r} needs a package that is not installed")
    monkeypatch.setattr(Code, "require_module", missing)
    again = label(c[:2], ref, LabelStore(tmp_path / "l.db"), workers=0, progress=False)
    assert again.reused == 2 and len(again.labelled) == 2
    with pytest.raises(HDNNPError, match="not installed"):
        label(c, ref, LabelStore(tmp_path / "l.db"), workers=0, progress=False)


def test_store_name_must_end_in_db(tmp_path):
    from hdnnp.errors import InputError
    with pytest.raises(InputError, match=r"end in \.db"):
        LabelStore(tmp_path / "labels.sqlite")


def test_sigkill_loses_nothing_and_recomputes_nothing(tmp_path):
    n = 40
    cells = _cells(n, seed=7)
    write(tmp_path / "cells.xyz", [s.to_ase() for s in cells])
    (tmp_path / "ref.yaml").write_text("code: ase\ncalculator: _slow_calc.SlowEMT\nkwargs: {delay: 0.15}\nreuse: false\n")
    cmd = [sys.executable, "-m", "hdnnp", "label", "cells.xyz", "-r", "ref.yaml", "--store", "k.db",
           "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (tmp_path / "k.db").exists() and len(LabelStore(tmp_path / "k.db")) >= 10:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = LabelStore(tmp_path / "k.db")
    done_before = {row.label_key: (row.ctime, row.energy) for row in before.db.select()}
    assert 10 <= len(done_before) < n, "the run was not interrupted partway"

    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"({len(done_before)} from the store, {n - len(done_before)} computed now)" in out.stdout
    after = LabelStore(tmp_path / "k.db")
    rows = {row.label_key: (row.ctime, row.energy) for row in after.db.select()}
    assert len(rows) == n == after.db.count()
    for key, v in done_before.items():
        assert rows[key] == v            # same row, not recomputed

    # the store equals an uninterrupted run's
    from hdnnp.io import read
    cells = read(tmp_path / "cells.xyz")      # the positions exactly as the command read them
    ref = get_reference(str(tmp_path / "ref.yaml"))
    full = LabelStore(tmp_path / "full.db")
    label(cells, ref, full, workers=2, progress=False)
    for s in cells:
        key = label_key(ref, s)
        a, b = after.get(key), full.get(key)
        assert a.ok and b.ok and a.energy == b.energy
        np.testing.assert_array_equal(a.forces, b.forces)
        np.testing.assert_array_equal(a.stress, b.stress)


def test_local_dask_cluster_gives_identical_labels(tmp_path):
    pytest.importorskip("distributed")
    a = [Structure.from_ase(x) for x in _ase_si(6)]
    ref = get_reference("sw-si")
    procs = label(a, ref, LabelStore(tmp_path / "p.db"), workers=2, progress=False)
    dask = label(a, ref, LabelStore(tmp_path / "d.db"), workers=2, scheduler="local", progress=False)
    assert dask.computed == 6 and dask.failed == 0
    for x, y in zip(procs.results, dask.results):
        assert x.energy == y.energy
        np.testing.assert_array_equal(x.forces, y.forces)
        np.testing.assert_array_equal(x.stress, y.stress)


def _ase_si(n):
    out = []
    for k in range(n):
        a = bulk("Si", cubic=True) * (2, 2, 2)
        a.rattle(0.05, seed=k)
        out.append(a)
    return out


def test_worker_crash_is_recorded_and_the_rest_go_on(tmp_path):
    ref = get_reference({"code": "ase", "calculator": "_slow_calc.Crashing"})
    small = _cells(3, rep=1)            # 4 atoms: fine
    big = _cells(1, rep=3, seed=3)      # 108 atoms: the worker process dies
    run = label(small + big, ref, LabelStore(tmp_path / "c.db"), workers=2, progress=False)
    assert [r.ok for r in run.results] == [True, True, True, False]
    assert "worker process died" in run.results[3].error


def test_label_cli_writes_and_exports(tmp_path, capsys):
    from hdnnp.cli.main import main
    from hdnnp.io import read
    write(tmp_path / "c.xyz", _ase_si(3))
    os.chdir(tmp_path)
    assert main(["label", "c.xyz", "-r", "sw-si", "-o", "out.xyz", "--workers", "0", "--no-progress"]) == 0
    assert "3 labelled (0 from the store, 3 computed now)" in capsys.readouterr().out
    got = read(tmp_path / "out.xyz")
    assert len(got) == 3 and got[0].stress is not None
    assert main(["label", "--export", "-o", "all.data"]) == 0
    assert len(read(tmp_path / "all.data")) == 3
    assert main(["label", "c.xyz", "-r", "sw-si", "--set", "pair_stile=sw"]) == 2
    assert "reference.pair_stile" in capsys.readouterr().err
    assert main(["label", "--list-references"]) == 0
    assert "gpaw-pbe" in capsys.readouterr().out


def test_training_config_labels_through_the_store(tmp_path):
    from hdnnp.errors import InputError
    from hdnnp.training.config import config_from_dict
    from hdnnp.training.trainer import load_structures

    write(tmp_path / "cells.xyz", _ase_si(4))   # structures without labels
    d = {"data": {"train": ["cells.xyz"], "label": {"reference": "sw-si", "workers": 0}},
         "model": {"elements": ["Si"], "symmetry_functions": {"lines": ["Si 2 Si 0.01 0.0 6.0"]}}}
    cfg = config_from_dict(d, base_dir=str(tmp_path))
    got = load_structures(cfg, cfg.data.train)
    assert len(got) == 4 and all(s.energy is not None and s.stress is not None for s in got)
    assert len(LabelStore(tmp_path / "labels.db")) == 4
    d["data"]["label"]["reference"] = {"preset": "sw-si", "pair_styl": "sw"}
    with pytest.raises(InputError, match=r"data\.label\.reference\.pair_styl"):
        config_from_dict(d, base_dir=str(tmp_path))


def test_validate_cli_foreign_potential_against_sw(tmp_path, capsys):
    """hdnnp validate on the published mlearn Si HDNNP (Bohr/Hartree files) against Stillinger–Weber."""
    import json

    from conftest import require_shared
    from hdnnp.cli.main import main
    pot = require_shared("n2p2-reference", "mlearn_Si")
    frames = _ase_si(12)
    for k, a in enumerate(frames):
        a.info["group"] = "hot" if k % 2 else "cold"
    write(tmp_path / "traj.xyz", frames)
    os.chdir(tmp_path)
    args = ["validate", str(pot), "traj.xyz", "-r", "sw-si", "-n", "5", "--pick", "fps", "--workers", "0",
            "--potential-length-unit", "bohr", "--potential-energy-unit", "hartree", "--no-progress", "-o", "val"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "picked      5 of 12 structures (fps)" in out and "5 computed now" in out
    summary = json.loads((tmp_path / "val" / "summary.json").read_text())
    groups = {r["group"]: r for r in summary["errors"]}
    assert set(groups) == {"cold", "hot", "all"} and groups["all"]["structures"] == 5
    assert summary["picked_indices"][0] == 0 and len(set(summary["picked_indices"])) == 5
    # DFT-trained potential vs SW: forces agree to a fraction of an eV/Å, energies differ by the convention
    assert groups["all"]["force_rmse_meV_A"] < 1000
    assert (tmp_path / "val" / "parity.png").exists() and (tmp_path / "val" / "structures.csv").exists()
    assert main(args) == 0
    assert "(5 from the store, 0 computed now)" in capsys.readouterr().out


def test_farthest_point_and_uniform_picks():
    from hdnnp.descriptors.fingerprints import farthest_point, uniform_pick
    X = np.array([[0.0], [0.1], [5.0], [10.0], [9.9]])
    assert farthest_point(X, 3) == [0, 3, 2]
    assert uniform_pick(10, 4) == [0, 3, 6, 9] and uniform_pick(3, 5) == [0, 1, 2]


def test_workers_leave_when_their_parent_is_killed(tmp_path):
    cells = _cells(30, seed=5)
    write(tmp_path / "cells.xyz", [s.to_ase() for s in cells])
    (tmp_path / "ref.yaml").write_text("code: ase\ncalculator: _slow_calc.SlowEMT\nkwargs: {delay: 0.2}\n")
    cmd = [sys.executable, "-m", "hdnnp", "label", "cells.xyz", "-r", "ref.yaml", "--store", "w.db",
           "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not ((tmp_path / "w.db").exists() and len(LabelStore(tmp_path / "w.db")) >= 2):
        time.sleep(0.05)

    def children(pid):
        out = set()
        for t in Path(f"/proc/{pid}/task").iterdir():
            out |= {int(x) for x in (t / "children").read_text().split()}
        return out
    kids = children(proc.pid)
    assert kids
    os.kill(proc.pid, signal.SIGKILL)          # only the parent, as `kill -9 PID` does
    proc.wait()
    def read(path):
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    def workers():   # live worker processes (the resource tracker is multiprocessing's helper, not a worker)
        return [k for k in kids if "State:\tZ" not in read(f"/proc/{k}/status") and read(f"/proc/{k}/status")
                and "resource_tracker" not in read(f"/proc/{k}/cmdline")]
    deadline = time.time() + 15
    while time.time() < deadline and workers():
        time.sleep(0.2)
    left = workers()
    for k in left:
        try:
            os.kill(k, signal.SIGKILL)
        except OSError:
            pass
    assert not left, f"worker processes {left} outlived their parent"


def test_label_checks_that_the_reference_is_translation_invariant(tmp_path):
    """--check-translation: EMT passes (its energy does not move under a rigid translation); a reference with an
    egg-box term (as on a real-space grid) is refused before anything else is labelled."""
    from ase.build import bulk
    from ase.io import write as awrite
    from hdnnp.labels import LabelStore
    from hdnnp.io import read
    from hdnnp.labels.checks import translation_spread
    from hdnnp.references import get_reference
    from hdnnp.structures import Structure
    cu = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
    cu.rattle(0.05, seed=1)
    s = Structure.from_ase(cu)
    ok = translation_spread(s, get_reference("emt"), LabelStore(tmp_path / "a.db"))
    assert ok["n"] == 2 and ok["energy_meV_atom"] < 1e-6 and ok["force_meV_A"] < 1e-6
    egg = {"code": "ase", "calculator": "_slow_calc.EggBoxEMT", "kwargs": {"amplitude": 0.01}}
    bad = translation_spread(s, get_reference(egg), LabelStore(tmp_path / "b.db"))
    assert bad["energy_meV_atom"] > 1
    awrite(tmp_path / "cells.xyz", [cu, cu])
    (tmp_path / "egg.yaml").write_text("code: ase\ncalculator: _slow_calc.EggBoxEMT\nkwargs: {amplitude: 0.01}\n")
    cmd = [sys.executable, "-m", "hdnnp", "label", str(tmp_path / "cells.xyz"), "-r", str(tmp_path / "egg.yaml"),
           "--store", str(tmp_path / "c.db"), "--workers", "0", "--check-translation", "1", "-o",
           str(tmp_path / "out.xyz")]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parent)
    assert r.returncode != 0 and "not translation-invariant" in r.stderr and not (tmp_path / "out.xyz").exists()
    cmd[cmd.index("-r") + 1] = "emt"
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parent)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("translation"))
    assert float(line.split("energy changes by ")[1].split()[0]) < 1e-6
    assert len(read(tmp_path / "out.xyz")) == 2            # the translated copies stay in the store only
