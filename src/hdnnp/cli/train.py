"""``hdnnp train``: train a potential from a YAML configuration (or the embedded example), or
resume an interrupted run."""
from __future__ import annotations

import argparse
from pathlib import Path


def example_config(output: str = "hdnnp-example-run", epochs: int | None = None):
    """The embedded mlearn Si example: the symmetry functions (27, converted to Å) and 24-24 tanh
    network of the published mlearn HDNNP, trained with Levenberg–Marquardt (optimizer.name lm) on
    energies, forces and stress of 90 % of the training set (10 % validation picks the best epoch), tested on the test set.
    About 1.5 min on 2 cores; test errors ≈ 6 meV/atom and ≈ 165 meV/Å (published HDNNP:
    6.93 / 170)."""
    from ..data import example_path
    from ..training.config import config_from_dict
    sf = ["Si 2 Si 0.0357 4.0 5.5", "Si 2 Si 0.0714 4.0 5.5", "Si 2 Si 0.1786 4.0 5.5"]
    for eta in (0.0357, 0.0714, 0.1786):
        for lam in (-1, 1):
            for zeta in (1, 2, 4, 16):
                sf.append(f"Si 3 Si Si {eta} {lam} {zeta} 5.5")
    d = {"data": {"train": [str(example_path("si"))], "test": [str(example_path("si-test"))],
                  "validation_fraction": 0.1},
         "model": {"symmetry_functions": {"lines": sf, "cutoff_type": 1}, "hidden": [24, 24],
                   "activation": "t", "scaling": "scale"},
         "loss": {"energy": 1.0, "forces": 0.05, "stress": 0.0005},
         "optimizer": {"name": "lm", "epochs": epochs or 18,
                       "lm": {"iterations": 10, "force_atoms": 1000, "stress_structures": 96}},
         "run": {"output": output, "seed": 1}}
    return config_from_dict(d, base_dir=str(Path.cwd()))


def _launch(args) -> int:
    """--nproc N: run this command again as N data-parallel ranks under torchrun (one machine)."""
    import os
    import subprocess
    import sys
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.nproc}",
            "-m", "hdnnp", "train"]
    if args.config:
        argv.append(args.config)
    for flag, value in (("--resume", args.resume), ("--output", args.output), ("--epochs", args.epochs),
                        ("--device", args.device), ("--committee", args.committee)):
        if value is not None:
            argv += [flag, str(value)]
    if args.example:
        argv.append("--example")
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    return subprocess.call(argv, env=env)


def _run(args) -> int:
    import os
    import sys
    if args.nproc and args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch(args)
    try:
        rc = _train(args)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            # a rank of a finished data-parallel run leaves without running the interpreter's and the C++ runtime's
            # teardown: under load, a background thread of the process group's store could still be joinable there
            # and abort the rank ("terminate called without an active exception") after the work was done and written
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(rc)
        return rc
    except KeyboardInterrupt:
        run = _run_dir(args)
        print(f"\ninterrupted. The last checkpoint is in {run}/checkpoint.pt (saved every run.checkpoint_every "
              f"epochs); continue with: hdnnp train --resume {run}", file=sys.stderr)
        return 130


def _run_dir(args) -> str:
    if args.resume:
        return args.resume
    if args.output:
        return args.output
    if args.example:
        return "hdnnp-example-run"
    try:
        from ..training.config import load_config, resolve_path
        cfg = load_config(args.config)
        return str(resolve_path(cfg, cfg.run.output))
    except Exception:  # noqa: BLE001 - only for the message
        return "RUN_DIR"


def _train(args) -> int:
    from ..training import load_config, train
    from ..training.config import load_config as _lc  # noqa: F401
    if args.resume:
        cfg = load_config(Path(args.resume) / "config.yaml")
        if args.epochs is not None:
            cfg.optimizer.epochs = args.epochs   # continue a run that was still improving
        res = train(cfg, resume=True)
    elif args.example:
        cfg = example_config(args.output or "hdnnp-example-run", args.epochs)
        if args.device:
            cfg.run.device = args.device
        if args.committee:
            cfg.run.committee = args.committee
        res = train(cfg)
    else:
        if not args.config:
            print("hdnnp train: give a CONFIG file, --example or --resume RUN_DIR")
            return 2
        cfg = load_config(args.config)
        if args.output:
            cfg.run.output = args.output
        if args.epochs is not None:
            cfg.optimizer.epochs = args.epochs
        if args.device:
            cfg.run.device = args.device
        if args.committee:
            cfg.run.committee = args.committee
        res = train(cfg)
    import os
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch.distributed as td
        if td.is_initialized():
            td.barrier()              # rank 0 has written its files; then every rank leaves the group together
            td.destroy_process_group()
        if int(os.environ.get("RANK", "0")) != 0:
            return 0
    if res.get("committee"):
        print(f"committee of {res['committee']} (mean and spread): {res['potential']}")
        print(f"members, errors, calibration: {res['run']}")
        return 0
    name = "test" if res["errors"].get("test") else "validation (no test set)" \
        if res["errors"].get("validation") else None
    t = res["errors"].get(name.split()[0]) if name else None
    if t:
        mol = (f" ({t['energy_rmse_per_structure']:.2f} meV/molecule)" if res.get("molecular")
               and "energy_rmse_per_structure" in t else "")
        print(f"{name} errors: energy RMSE {t.get('energy_rmse', float('nan')):.2f} meV/atom{mol}, "
              f"force RMSE {t.get('force_rmse', float('nan')):.1f} meV/Å")
    pot = Path(res["potential"])
    if (pot / "input.nn").is_file():
        print(f"potential (n2p2 format, eV/Å): {pot}")
    if (pot / "properties.json").is_file():
        print(f"per-atom property networks (properties.json/.npz; hdnnp predict, the calculator): {pot}")
    print(f"plots, metrics, errors: {res['run']}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "train", help="train a potential (YAML config, --example, or --resume RUN_DIR)",
        description="Train an HDNNP from DFT data. The run folder gets the resolved config.yaml, "
                    "metrics.csv, checkpoints, plots, errors.txt, metadata.json and the n2p2 "
                    "potential folder.",
        epilog="example: hdnnp train --example      (mlearn Si, a few minutes on 2 cores)\n"
               "         hdnnp init data.extxyz > train.yaml && hdnnp train train.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", help="YAML configuration file")
    p.add_argument("--example", action="store_true",
                   help="train on the embedded mlearn Si example (test on its test set)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    p.add_argument("--output", "-o", help="run folder (overrides run.output)")
    p.add_argument("--epochs", type=int, help="override optimizer.epochs")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="override run.device")
    p.add_argument("--committee", type=int, metavar="M",
                   help="train a committee of M members (override run.committee): one potential folder "
                        "giving the mean and the members' spread")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="data-parallel training on N processes of this machine (torchrun, gloo on the CPU, NCCL "
                        "on GPUs): the structures and their descriptors are split across them. Several machines: "
                        "launch 'torchrun ... -m hdnnp train CONFIG' yourself (docs/train.md)")
    p.set_defaults(func=_run)
