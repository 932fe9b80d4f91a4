"""Active learning against random sampling at equal labels: Si with LAMMPS' Stillinger-Weber (Si.sw) as
the reference, through the label store.

1. An independent test set: MD *with SW itself* (ASE Langevin, LAMMPS in-process) from five kinds of
   64-atom cells — crystal (300, 900, 1500 K), liquid (melted at 3000 K, sampled at 2500 K), a vacancy
   (600, 1200 K), a (001) slab with two surfaces (600, 1200 K) and strained crystals (±4 %, shear; 900 K) —
   frames every 100 steps after 500 steps of equilibration, labelled by SW.
2. ``hdnnp learn`` from 8 rattled crystal cells, a committee of 4 trained each iteration with the
   embedded example's symmetry functions and 24-24 networks (Levenberg–Marquardt, fixed epochs), exploring
   with MD from a crystal, a vacancy cell, a slab and a strained cell at 300, 900, 1500 and 2500 K, adding
   up to 20 labels per iteration until ``--labels`` labels.
3. The random baseline: the same number of frames drawn at random from all of that run's exploration
   trajectories (the 8 starting cells kept), labelled by SW and trained with the same configuration.
4. Both committees' mean potentials on the test set; and the Spearman rank correlation between each test
   structure's committee spread (RMS per-atom force disagreement) and its true force error.

Usage: python benchmarks/bench_active_learning.py [--workdir DIR] [--labels 150] [--quick]
Resumable: rerun the same command after an interruption (labels, MD and training are reused).
Last line: al_force_rmse=… random_force_rmse=… al_potential=DIR random_potential=DIR
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import _local  # noqa: E402,F401
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from ase.build import bulk  # noqa: E402
from ase.io import read as aread, write as awrite  # noqa: E402


def sw_calculator():
    from ase.calculators.lammpslib import LAMMPSlib

    from hdnnp.references.lammps import _load_mpi, potentials_dir
    _load_mpi()
    return LAMMPSlib(lmpcmds=["pair_style sw", f"pair_coeff * * {potentials_dir() / 'Si.sw'} Si"],
                     atom_types={"Si": 1}, keep_alive=True, log_file=None)


def crystal(seed=0, strain=None):
    a = bulk("Si", "diamond", a=5.431, cubic=True) * (2, 2, 2)
    if strain is not None:
        a.set_cell(a.cell[:] @ (np.eye(3) + np.asarray(strain)), scale_atoms=True)
    a.rattle(0.01, seed=seed)
    return a


def vacancy(seed=0):
    a = crystal(seed)
    del a[0]
    return a


def slab(seed=0):
    a = bulk("Si", "diamond", a=5.431, cubic=True) * (2, 2, 2)
    a.center(vacuum=5.0, axis=2)
    a.rattle(0.01, seed=seed)
    return a


def sw_md(atoms, temps, steps_eq, steps, every, seed):
    """Langevin MD with SW; frames every ``every`` steps after ``steps_eq`` at each temperature."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    atoms = atoms.copy()
    atoms.calc = sw_calculator()
    MaxwellBoltzmannDistribution(atoms, temperature_K=temps[0], rng=np.random.default_rng(seed))
    frames = []
    for T in temps:
        dyn = Langevin(atoms, 1.0 * units.fs, temperature_K=T, friction=0.02, rng=np.random.default_rng(seed + int(T)))
        dyn.run(steps_eq)
        for _ in range(steps // every):
            dyn.run(every)
            f = atoms.copy()
            f.info["group"] = f"{atoms.info.get('kind', '')} {T:g} K"
            frames.append(f)
    return frames


def test_structures(quick: bool):
    n, eq = (100, 200) if quick else (1000, 500)
    out = []
    plan = [("crystal", crystal(1), [300, 900, 1500]),
            ("vacancy", vacancy(2), [600, 1200]),
            ("surface", slab(3), [600, 1200]),
            ("strained +4%", crystal(4, np.diag([0.04, 0.04, 0.04])), [900]),
            ("strained -4%", crystal(5, np.diag([-0.04, -0.04, -0.04])), [900]),
            ("sheared", crystal(6, [[0, 0.05, 0], [0.05, 0, 0], [0, 0, 0]]), [900])]
    for k, (kind, a, temps) in enumerate(plan):
        a.info["kind"] = kind
        out += sw_md(a, temps, eq, n, 100 if not quick else 50, seed=100 + k)
    liquid = crystal(7)
    liquid.info["kind"] = "liquid"
    out += sw_md(liquid, [3000, 2500], eq, n, 100 if not quick else 50, seed=200)[n // (100 if not quick else 50):]
    return out


def train_config(epochs: int) -> dict:
    from hdnnp.cli.train import example_config
    lines = example_config().model.symmetry_functions.lines
    return {"model": {"symmetry_functions": {"lines": lines, "cutoff_type": 1}, "hidden": [24, 24]},
            "loss": {"energy": 1.0, "forces": 0.05},
            "optimizer": {"name": "lm", "epochs": epochs, "lm": {"iterations": 10, "force_atoms": 1000}},
            "data": {"validation_fraction": 0.1},
            "run": {"progress": "none", "plots": False}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="bench-active-learning")
    ap.add_argument("--labels", type=int, default=150, help="label budget (default 150)")
    ap.add_argument("--per-iteration", type=int, default=20)
    ap.add_argument("--committee", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--steps", type=int, default=500, help="MD steps per exploration run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="a small version that runs in a few minutes")
    args = ap.parse_args()
    if args.quick:
        args.labels, args.per_iteration, args.committee, args.epochs, args.steps = 24, 8, 2, 4, 100
    work = Path(args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    from hdnnp.io import read, write
    from hdnnp.labels import LabelStore, label
    from hdnnp.references import get_reference
    ref = get_reference("sw-si")
    store = LabelStore(work / "labels.db")

    # 1. the independent test set
    test_path = work / "test.extxyz"
    if not test_path.is_file():
        from hdnnp.structures import Structure
        frames = test_structures(args.quick)
        run = label([Structure.from_ase(a) for a in frames], ref, store, workers=1, progress=False)
        write(test_path, run.labelled)
    test = read(str(test_path))
    print(f"test set: {len(test)} SW-labelled frames ({', '.join(sorted({str(s.info.get('group', '')) for s in test}))})")

    # 2. active learning
    init = work / "initial.xyz"
    starts = work / "starts.xyz"
    if not init.is_file():
        rng = np.random.default_rng(args.seed)
        cells = []
        for k in range(8):
            a = crystal(10 + k, np.diag(rng.uniform(-0.03, 0.03, 3)))
            a.positions += rng.normal(0.0, [0.03, 0.06, 0.1, 0.15][k % 4], a.positions.shape)
            cells.append(a)
        awrite(init, cells)
        awrite(starts, [crystal(20), vacancy(21), slab(22), crystal(23, np.diag([0.03, 0.03, 0.03]))])
    cfg = {"reference": "sw-si", "store": str(work / "labels.db"), "initial": [str(init)], "test": [str(test_path)],
           "committee": args.committee, "train": train_config(args.epochs),
           "explore": {"structures": [str(starts)], "temperatures": [300, 900, 1500, 2500], "steps": args.steps,
                       "timestep": 1.0, "sample_every": 20},
           "select": {"per_iteration": args.per_iteration},
           "stop": {"max_labels": args.labels, "confident_fraction": 0.999, "max_iterations": 50},
           "workers": 1, "seed": args.seed, "output": str(work / "al")}
    (work / "learn.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    from hdnnp.workflows.learn import learn, load_learn_config
    lc = load_learn_config(work / "learn.yaml")
    summary = learn(lc, resume=(work / "al" / "learn.yaml").is_file(), progress=False)
    al_pot = Path(summary["potential"])
    n_labels = summary["labels"]

    # 3. random frames from the same exploration trajectories, the same number of labels
    rnd_dir = work / "random"
    rnd_pot = rnd_dir / "train" / "potential"
    if not (rnd_pot / "committee.json").is_file() or not (rnd_dir / "train" / "metadata.json").is_file():
        rnd_dir.mkdir(exist_ok=True)
        data_path = rnd_dir / "train.extxyz"
        if not data_path.is_file():
            pool = []
            for traj in sorted((work / "al").glob("iter_*/explore/run_*/trajectory.extxyz")):
                pool += aread(traj, index=":")[1:]
            initial = read(str(work / "al" / "data" / "train_0.extxyz"))
            rng = np.random.default_rng(args.seed + 7)
            pick = rng.choice(len(pool), n_labels - len(initial), replace=False)
            from hdnnp.structures import Structure
            run = label([Structure.from_ase(pool[i]) for i in sorted(pick)], ref, store, workers=1, progress=False)
            write(data_path, list(initial) + run.labelled)
        from hdnnp.training import train
        from hdnnp.training.config import config_from_dict
        d = train_config(args.epochs)
        d["data"].update(train=[str(data_path)], test=[str(test_path)])
        d["run"].update(output=str(rnd_dir / "train"), committee=args.committee, seed=args.seed)
        tc = config_from_dict(d, base_dir=str(work))
        train(tc, resume=(rnd_dir / "train" / "member_1").exists(), log=lambda *a, **k: None)
    n_random = len(read(str(rnd_dir / "train.extxyz")))

    # 4. both on the test set
    from hdnnp.model.evaluator import CommitteeEvaluator
    from hdnnp.workflows.validate import compare
    res = {}
    for name, pot in (("al", al_pot), ("random", rnd_pot)):
        c = compare(CommitteeEvaluator.load(pot), test)
        e = c.errors()
        groups = {}
        for g in sorted(set(c.group)):
            mask = np.array([x == g for x in c.group])
            groups[g] = round(c.errors(mask)["force_rmse_meV_A"], 1)
        res[name] = {"force_rmse": e["force_rmse_meV_A"], "energy_rmse": e["energy_rmse_meV_atom"],
                     "spearman": e.get("spread_error_spearman"), "groups": groups}
        print(f"{name:7s} {n_labels if name == 'al' else n_random} labels: test force RMSE {e['force_rmse_meV_A']:.1f} "
              f"meV/Å, energy {e['energy_rmse_meV_atom']:.2f} meV/atom, spread-error Spearman "
              f"{e.get('spread_error_spearman', float('nan')):.2f}")
        print("         per group (meV/Å): " + ", ".join(f"{g} {v}" for g, v in groups.items()))
    (work / "result.json").write_text(json.dumps(res, indent=2))
    print(f"wall {time.perf_counter() - t0:.0f} s; report {work / 'al' / 'report.csv'}, {work / 'al' / 'learn.png'}")
    print(f"al_force_rmse={res['al']['force_rmse']:.1f} random_force_rmse={res['random']['force_rmse']:.1f} "
          f"labels={n_labels} spearman_al={res['al']['spearman']:.2f} al_potential={al_pot} random_potential={rnd_pot}")


if __name__ == "__main__":
    main()
