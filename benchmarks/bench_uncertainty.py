"""Does the committee's spread mean something? Spearman rank correlation, over held-out structures,
between each structure's committee disagreement (RMS per-atom force spread) and its true force error
(RMS over the structure's force components), and between the energy spread and the energy error.

* ``tio2``: aenet TiO2 (../shared/data/tio2-aenet), split 90/10 as bench_init_default.py; ``hdnnp init``
  with a time budget, then ``hdnnp train --committee 4`` (the budget shared by the members); test set =
  the held-out 10 %.
* ``si-sw``: the committee ``bench_active_learning.py`` learned (its work folder: ``--al-workdir``) on
  that benchmark's independent SW test set (crystal, liquid, vacancy, surface, strained, 300-2500 K).

Usage: python benchmarks/bench_uncertainty.py [--budget 8m] [--al-workdir bench-active-learning] [--keep DIR]
Last line: spearman_tio2=… spearman_energy_tio2=… spearman_si_sw=… (force spread vs force error)
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import _local  # noqa: E402,F401
import numpy as np  # noqa: E402

from bench_init_default import prepare  # noqa: E402


def spearmans(potential, test) -> dict:
    from hdnnp.model.evaluator import CommitteeEvaluator
    from hdnnp.workflows.validate import compare, spearman
    c = compare(CommitteeEvaluator.load(potential), test)
    e_err = np.abs(np.array(c.e_pred) - np.array(c.e_ref)) / np.array(c.natoms)
    e = c.errors()
    return {"force": spearman(c.spread_per_structure(), c.force_error_per_structure()),
            "energy": spearman(np.array(c.e_std), e_err), "n": len(test),
            "force_rmse": e["force_rmse_meV_A"], "energy_rmse": e["energy_rmse_meV_atom"],
            "spread_rms": e.get("force_std_rms_meV_A")}


def tio2(budget: str, keep: Path | None) -> dict:
    from hdnnp.io import read
    work = Path(tempfile.mkdtemp(prefix="unc_tio2_")) if keep is None else keep / "tio2"
    work.mkdir(parents=True, exist_ok=True)
    train, test = prepare("tio2", work)
    if not (work / "run" / "potential" / "committee.json").is_file():
        if not (work / "train.yaml").is_file():
            subprocess.run([sys.executable, "-m", "hdnnp", "init", str(train), "--test", str(test), "-o", str(work / "train.yaml"),
                            "--run-dir", str(work / "run"), "--time-budget", budget], check=True)
        resume = (work / "run" / "member_1").exists()
        cmd = [sys.executable, "-m", "hdnnp", "train", "--resume", str(work / "run")] if resume else \
            [sys.executable, "-m", "hdnnp", "train", str(work / "train.yaml"), "--committee", "4"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return spearmans(work / "run" / "potential", read(str(test)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", default="8m", help="time budget of the whole TiO2 committee (default 8m)")
    ap.add_argument("--al-workdir", default="bench-active-learning")
    ap.add_argument("--keep", type=Path, help="keep the TiO2 run here (and resume it)")
    args = ap.parse_args()
    res = {}
    al = Path(args.al_workdir)
    summary = al / "al" / "summary.json"
    if summary.is_file():
        from hdnnp.io import read
        pot = Path(json.loads(summary.read_text())["potential"])
        res["si_sw"] = spearmans(pot, read(str(al / "test.extxyz")))
    else:
        print(f"si-sw: no finished bench_active_learning run in {al} (skipped)")
    res["tio2"] = tio2(args.budget, args.keep)
    for k, v in res.items():
        print(f"{k}: {v['n']} held-out structures, force RMSE {v['force_rmse']:.1f} meV/Å, RMS spread "
              f"{v['spread_rms']:.1f} meV/Å; Spearman(force spread, force error) {v['force']:.2f}, "
              f"Spearman(energy spread, energy error) {v['energy']:.2f}")
    print(f"spearman_tio2={res['tio2']['force']:.3f} spearman_energy_tio2={res['tio2']['energy']:.3f} "
          + (f"spearman_si_sw={res['si_sw']['force']:.3f} spearman_energy_si_sw={res['si_sw']['energy']:.3f}"
             if "si_sw" in res else "spearman_si_sw=nan"))


if __name__ == "__main__":
    main()
