"""Committee training and ``hdnnp learn``: configuration errors, a cut-down active-learning loop with a
(slow) EMT reference, killed with SIGKILL during labelling and during training and resumed: no label is
lost or computed twice, and the loop ends with its report."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase.build import bulk
from ase.io import write

from hdnnp.errors import InputError
from hdnnp.labels import LabelStore
from hdnnp.workflows.learn import config_from_mapping

HERE = Path(__file__).resolve().parent

CU_SF = ["Cu 2 Cu 0.01 0.0 4.5", "Cu 2 Cu 0.05 0.0 4.5", "Cu 2 Cu 0.2 2.5 4.5", "Cu 2 Cu 0.5 2.5 4.5",
         "Cu 3 Cu Cu 0.01 1 1 4.5", "Cu 3 Cu Cu 0.01 -1 1 4.5", "Cu 3 Cu Cu 0.01 1 4 4.5",
         "Cu 3 Cu Cu 0.05 1 2 4.5"]


def _train_template(epochs=3):
    return {"model": {"symmetry_functions": {"lines": CU_SF, "cutoff_type": 1}, "hidden": [6]},
            "loss": {"energy": 1.0, "forces": 0.1},
            "optimizer": {"name": "lm", "epochs": epochs, "lm": {"iterations": 5}},
            "data": {"validation_fraction": 0.2}, "run": {"progress": "none", "plots": False}}


def _cells(n, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        a = bulk("Cu", "fcc", a=3.6, cubic=True) * (2, 1, 1)
        a.positions += rng.normal(0, 0.04 + 0.02 * (k % 3), a.positions.shape)
        out.append(a)
    return out


def test_learn_config_errors(tmp_path):
    with pytest.raises(InputError, match="reference"):
        config_from_mapping({"initial": ["a.xyz"]})
    with pytest.raises(InputError, match="'learn.explor' is not known"):
        config_from_mapping({"reference": "emt", "initial": ["a.xyz"], "explor": {}})
    with pytest.raises(InputError, match="'explore.temperature' is not known"):
        config_from_mapping({"reference": "emt", "initial": ["a.xyz"], "explore": {"temperature": 300}})
    with pytest.raises(InputError, match="committee"):
        config_from_mapping({"reference": "emt", "initial": ["a.xyz"], "committee": 1})
    with pytest.raises(InputError, match="select.method"):
        config_from_mapping({"reference": "emt", "initial": ["a.xyz"], "select": {"method": "best"}})
    cfg = config_from_mapping({"reference": "emt", "initial": "a.xyz", "explore": {"temperatures": 500}})
    assert cfg.initial == ["a.xyz"] and cfg.explore.temperatures == [500.0]


@pytest.mark.slow
def test_learn_survives_sigkill_during_labelling_and_training(tmp_path):
    write(tmp_path / "start.xyz", _cells(10))
    (tmp_path / "ref.yaml").write_text("code: ase\ncalculator: _slow_calc.SlowEMT\nkwargs: {delay: 0.4}\n")
    cfg = {"reference": "ref.yaml", "store": "labels.db", "initial": ["start.xyz"], "committee": 2,
           "train": _train_template(),
           "explore": {"temperatures": [600], "steps": 40, "timestep": 2.0, "sample_every": 5},
           "select": {"per_iteration": 4}, "stop": {"max_iterations": 2, "max_labels": 100},
           "workers": 1, "output": "run"}
    (tmp_path / "learn.yaml").write_text(yaml.safe_dump(cfg))
    env = dict(os.environ, PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run_dir = tmp_path / "run"

    def start(*args):
        return subprocess.Popen([sys.executable, "-m", "hdnnp", "learn", *args, "--no-progress"], cwd=tmp_path,
                                env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def kill_when(proc, cond, what):
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None:
            if cond():
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return
            time.sleep(0.05)
        out = proc.stdout.read().decode() if proc.stdout else ""
        pytest.fail(f"the run ended before {what}: {out[-2000:]}")

    def rows():
        p = tmp_path / "labels.db"
        if not p.exists():
            return {}
        return {r.label_key: r.ctime for r in LabelStore(p).db.select()}

    # 1. killed while labelling the initial structures
    kill_when(start("learn.yaml"), lambda: len(rows()) >= 3, "3 labels were stored")
    first = rows()
    assert 3 <= len(first) < 10, "not interrupted while labelling"
    assert not (run_dir / "data" / "train_0.extxyz").exists()
    # 2. resumed, killed while training the first committee (after member 1 has checkpointed)
    ckpt = run_dir / "iter_0" / "train" / "member_1" / "checkpoint.pt"
    kill_when(start("--resume", "run"), ckpt.is_file, "member 1 checkpointed")
    second = rows()
    assert len(second) == 10
    assert all(second[k] == v for k, v in first.items()), "a stored label was computed again"
    # 3. resumed to the end
    out = subprocess.run([sys.executable, "-m", "hdnnp", "learn", "--resume", "run", "--no-progress"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "labels (initial structures): 10 structures: 10 labelled (10 from the store, 0 computed now)" \
        not in out.stdout          # the initial set was not even relabelled: train_0.extxyz was there
    final = rows()
    assert all(final[k] == v for k, v in second.items()), "a stored label was computed again"
    from hdnnp.io import read
    data = read(str(run_dir / "data" / "train_1.extxyz"))
    assert len(final) == len(data) == 10 + 4, "labels lost, or stored without reaching the training set"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["iterations"] == 2 and summary["labels"] == 14 and "max_iterations" in summary["stopped"]
    import csv
    with open(run_dir / "report.csv") as fh:
        rep = list(csv.DictReader(fh))
    assert [int(r["iteration"]) for r in rep] == [0, 1]
    assert int(rep[0]["selected"]) == 4 and int(rep[1]["labels"]) == 14
    assert float(rep[0]["low_eV_A"]) < float(rep[0]["high_eV_A"])
    assert (run_dir / "learn.png").stat().st_size > 1000
    info = json.loads((run_dir / "iter_1" / "train" / "potential" / "committee.json").read_text())
    assert info["members"] == ["member_1", "member_2"] and info["force_std_validation"] > 0
    # a second start without --resume refuses to overwrite
    again = subprocess.run([sys.executable, "-m", "hdnnp", "learn", "learn.yaml"], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert again.returncode != 0 and "--resume" in again.stderr + again.stdout


def test_committee_training_predict_and_md(tmp_path):
    """run.committee: members on one split, one folder with the merged mean and calibration; predict writes
    the spread; ASE MD writes the uncertain frames and stops above its threshold."""
    from hdnnp.io import read
    from hdnnp.model.evaluator import CommitteeEvaluator, Evaluator, load_potential
    from hdnnp.training import train
    from hdnnp.training.config import config_from_dict
    from hdnnp.structures import Structure
    from hdnnp.io import write as hwrite
    from ase.calculators.emt import EMT
    structs = []
    for a in _cells(12, seed=3):
        a.calc = EMT()
        s = Structure.from_ase(a)
        s.energy, s.forces = a.get_potential_energy(), a.get_forces()
        structs.append(s)
    hwrite(tmp_path / "d.extxyz", structs)
    d = _train_template(epochs=2)
    d["data"]["train"] = [str(tmp_path / "d.extxyz")]
    d["run"].update(output=str(tmp_path / "com"), committee=2, seed=4)
    res = train(config_from_dict(d, base_dir=str(tmp_path)), log=lambda *a, **k: None)
    pot = Path(res["potential"])
    info = json.loads((pot / "committee.json").read_text())
    assert info["members"] == ["member_1", "member_2"] and info["merged_mean"] and info["calibration_set"] == "validation"
    ev = load_potential(pot)
    assert isinstance(ev, CommitteeEvaluator) and ev.calibration == pytest.approx(info["force_std_validation"])
    # the members: seeds 4 and 5, one split
    import yaml as _y
    c1 = _y.safe_load((tmp_path / "com" / "member_1" / "config.yaml").read_text())
    c2 = _y.safe_load((tmp_path / "com" / "member_2" / "config.yaml").read_text())
    assert (c1["run"]["seed"], c2["run"]["seed"]) == (4, 5) and c1["data"]["split_seed"] == c2["data"]["split_seed"] == 4
    # the merged mean at the top level equals the committee mean
    r = ev.evaluate(structs[0])
    m = Evaluator(ev.potential).evaluate(structs[0])
    assert m.energy == pytest.approx(r.energy, abs=1e-9)
    np.testing.assert_allclose(m.forces, r.forces, atol=1e-9)
    # predict writes the spread
    out = subprocess.run([sys.executable, "-m", "hdnnp", "predict", str(pot), str(tmp_path / "d.extxyz"), "-o",
                          str(tmp_path / "p.xyz"), "--no-progress"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "committee   2 members" in out.stdout
    p = read(str(tmp_path / "p.xyz"))
    assert p[0].atom_properties["forces_std"].shape == (8,) and "energy_std" in p[0].info
    # MD with thresholds
    from hdnnp.md import MDSettings, run_md
    atoms = _cells(1, seed=9)[0]
    st = MDSettings(ensemble="nvt", temperature=900, steps=30, timestep=2.0, thermo_every=5, dump_every=10,
                    engine="ase", progress=False, uncertain_above=0.0, stop_above=1e9)
    run_md(atoms, pot, tmp_path / "md", st)
    summ = json.loads((tmp_path / "md" / "md.json").read_text())
    assert summ["committee"] and summ["uncertain_frames"] == 31 and summ["stopped_at_step"] is None
    assert len(read(str(tmp_path / "md" / "uncertain.extxyz"))) == 31
    st.stop_above = 0.0
    run_md(atoms, pot, tmp_path / "md2", st)
    assert json.loads((tmp_path / "md2" / "md.json").read_text())["stopped_at_step"] == 0
    import csv
    with open(tmp_path / "md" / "thermo.csv") as fh:
        row = next(csv.DictReader(fh))
    assert float(row["max_forces_std_eV_A"]) > 0
