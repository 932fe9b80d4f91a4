"""Train on mlearn Si (training.json) with the SFs and 24-24 tanh network of the published HDNNP
(published-hdnnp.input.nn, SFs in Bohr, converted to Å) and report errors on test.json.

Published potential: 6.93 meV/atom, 170 meV/Å; n2p2's trainer (Kalman, 24 epochs, 2 MPI ranks):
6.35 meV/atom, 154 meV/Å after 264 s. Default optimiser: Levenberg–Marquardt (``lm``, 18 epochs of
12 iterations, loss energy 1 (eV/atom)², forces 0.05 (eV/Å)², stress 0.0005 (100·eV/Å³)²; per
iteration the Gauss–Newton matrix takes all energies, 1000 random atoms' force components and 96
random structures' stresses); ``--optimizer kalman`` runs n2p2's scheme (no stress: n2p2 cannot
train on it). Measured 2026-11-25 on the quiet 2-core machine: 6.292 meV/atom, 148.6 meV/Å in 75.4 s
(seed 1: 6.028 / 150.6 in 73.2 s; seed 2: 5.609 / 148.0 in 75.1 s). Last line:
test_energy_rmse_mev_per_atom=<x> test_force_rmse_mev_per_A=<y> wall_s=<z> ranks=<n> threads=<t> peak_rss_mb_per_rank=<m>

``--dataset li`` (mlearn's published Li functions, the reference of bench_init_default.py), 2026-12-06:
1.817 meV/atom, 24.75 meV/Å in 229 s (``--force-weight 1.0``: 8.61 / 22.90). ``--ranks 2``: data-parallel
(docs/parallel.md): 55.4 s against 63.0 s for one rank of two threads, peak memory per rank 1.1 against 1.9 GB.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

t0 = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
import _local  # noqa: E402,F401  (hdnnp from src/ or the installed package)
SHARED = Path(os.environ.get("HDNNP_SHARED", ROOT.parent / "shared"))
if not (SHARED / "data").is_dir():
    SHARED = Path("/work/shared")
SI = SHARED / "data" / "mlearn" / "Si"
LI = SHARED / "data" / "mlearn" / "Li"

# mlearn's published Li HDNNP (materialsvirtuallab/mlearn, mvl_models/Li/nnp/input.nn, BSD-3-Clause; Zuo et al.,
# J. Phys. Chem. A 124, 731 (2020)): 45 radial and 64 angular functions, Bohr units, cutoff 9.8265759 Bohr
# (5.2 Å), 24-24 tanh. The parameters are listed here; the file itself is not copied.
LI_ETA_BOHR = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
LI_RS_BOHR = (0.0, 1.8897261, 3.7794523, 5.6691784, 7.5589045)
LI_CUTOFF_BOHR = 9.8265759


def published_li_input_nn(path: Path) -> Path:
    """Write the published mlearn Li symmetry functions (n2p2 ``symfunction_short`` lines, Bohr)."""
    lines = [f"symfunction_short Li 2 Li {eta:.7f} {rs:.7f} {LI_CUTOFF_BOHR}"
             for eta in LI_ETA_BOHR for rs in LI_RS_BOHR]
    lines += [f"symfunction_short Li 3 Li Li {eta:.7f} {lam:d} {zeta:.7f} {LI_CUTOFF_BOHR}"
              for eta in LI_ETA_BOHR for lam in (-1, 1) for zeta in (1.0, 16.0, 2.0, 4.0)]
    path.write_text("\n".join(["number_of_elements 1", "elements Li", "cutoff_type 1", *lines]) + "\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="si", choices=["si", "li", "tio2"],
                    help="mlearn Si (published-hdnnp.input.nn), mlearn Li (mlearn's published Li functions) or "
                         "aenet TiO2 (split 90/10 with seed 2016 as bench_init_default; generated functions, "
                         "8 radial and 4 angular per element pair, 6 Å)")
    ap.add_argument("--ranks", type=int, default=1,
                    help="data-parallel ranks (torchrun, gloo); --threads is then per rank (default 2/N)")
    ap.add_argument("--optimizer", default="lm", choices=["lm", "kalman", "lbfgs", "adam"])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--structures-per-update", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--energy-weight", type=float, default=None)
    ap.add_argument("--force-weight", type=float, default=None)
    ap.add_argument("--lm-iterations", type=int, default=12)
    ap.add_argument("--force-atoms", type=int, default=1000)
    ap.add_argument("--l2", type=float, default=0.0)
    ap.add_argument("--stress-weight", type=float, default=None)
    ap.add_argument("--stress-structures", type=int, default=96)
    ap.add_argument("--seed", type=int, default=123456)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if a.threads is None:
        a.threads = max(1, 2 // a.ranks)
    if a.ranks > 1 and "WORLD_SIZE" not in os.environ:
        return launch(a)
    from hdnnp.training import config_from_dict, train
    if a.energy_weight is None:
        a.energy_weight = 1.0 if a.optimizer == "lm" else 100.0
    if a.force_weight is None:
        a.force_weight = 0.05 if a.optimizer == "lm" else 1.0
    if a.stress_weight is None:
        a.stress_weight = 0.0005 if a.optimizer == "lm" else 0.0
    if a.epochs is None:
        a.epochs = 18 if a.optimizer == "lm" else 6
    out = a.out or os.environ.get("BENCH_OUT") or tempfile.mkdtemp(prefix=f"bench_train_{a.dataset}_")
    Path(out).mkdir(parents=True, exist_ok=True)
    if a.dataset == "tio2":
        from hdnnp.descriptors.generate import generate_lines
        train_f, test_f = tio2_split(Path(out))
        sf = {"lines": generate_lines(["O", "Ti"], 6.0, 8, 4)}
    else:
        data = SI if a.dataset == "si" else LI
        train_f, test_f = data / "training.json", data / "test.json"
        input_nn = (SI / "published-hdnnp.input.nn" if a.dataset == "si"
                    else published_li_input_nn(Path(out) / "published-li.input.nn"))
        sf = {"input_nn": str(input_nn), "length_unit": "bohr"}
    cfg = config_from_dict({
        "data": {"train": [str(train_f)], "test": [str(test_f)],
                 "validation_fraction": 0.0},
        "model": {"symmetry_functions": sf,
                  "hidden": [24, 24], "activation": "t", "scaling": "scale_center"},
        "loss": {"energy": a.energy_weight, "forces": a.force_weight, "stress": a.stress_weight},
        "optimizer": {"name": a.optimizer, "epochs": a.epochs, "lbfgs_iterations": 25,
                      "kalman": {"structures_per_update": a.structures_per_update},
                      "lm": {"iterations": a.lm_iterations, "force_atoms": a.force_atoms, "l2": a.l2,
                             "stress_structures": a.stress_structures}},
        "run": {"output": str(Path(out) / "run"), "seed": a.seed, "threads": a.threads,
                "plots": False, "progress": "log"},
    })
    res = train(cfg)
    if os.environ.get("RANK", "0") != "0":
        return
    e = res["errors"]["test"]
    wall = time.perf_counter() - t0
    import json
    import resource
    meta = json.loads((Path(out) / "run" / "metadata.json").read_text())
    rss = meta.get("peak_rss_mb_per_rank", [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0])
    print(f"test: energy RMSE {e['energy_rmse']:.2f} meV/atom, force RMSE {e['force_rmse']:.1f} meV/Å"
          + (" (published 6.93 / 170; n2p2 trainer 6.35 / 154 in 264 s)" if a.dataset == "si" else ""))
    print(f"test_energy_rmse_mev_per_atom={e['energy_rmse']:.3f} "
          f"test_force_rmse_mev_per_A={e['force_rmse']:.3f} wall_s={wall:.1f} ranks={a.ranks} "
          f"threads={a.threads} peak_rss_mb_per_rank={max(rss):.0f}")


def tio2_split(work: Path) -> tuple[Path, Path]:
    """aenet TiO2 split 90/10 with seed 2016 (as bench_init_default.py and bench_sf_auto.py)."""
    import numpy as np

    from hdnnp.io import read, write
    tr, te = work / "train.xyz", work / "test.xyz"
    if not (tr.is_file() and te.is_file()):
        allx = read(SHARED / "data" / "tio2-aenet" / "dir_xsf.tar.gz")
        order = np.random.default_rng(2016).permutation(len(allx))
        n_test = int(round(0.1 * len(allx)))
        write(te, [allx[i] for i in np.sort(order[:n_test])])
        write(tr, [allx[i] for i in np.sort(order[n_test:])])
    return tr, te


def launch(a) -> None:
    """Run this benchmark as a.ranks torchrun ranks; the wall time includes their start-up."""
    import subprocess
    import sys
    out = a.out or tempfile.mkdtemp(prefix=f"bench_train_{a.dataset}_")
    Path(out).mkdir(parents=True, exist_ok=True)
    if a.dataset == "tio2":                    # written once, before the ranks read it
        tio2_split(Path(out))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={a.ranks}",
           __file__, *sys.argv[1:]]
    r = subprocess.run(cmd, env=dict(os.environ, BENCH_OUT=out, OMP_NUM_THREADS=str(a.threads)),
                       capture_output=True, text=True)
    lines = r.stdout.strip().splitlines()
    if r.returncode or not lines:
        print(r.stdout, r.stderr)
        raise SystemExit(r.returncode or 1)
    print("\n".join(lines[:-1]))
    wall = time.perf_counter() - t0
    print(lines[-1].replace(lines[-1].split("wall_s=")[1].split()[0], f"{wall:.1f}"))


if __name__ == "__main__":
    main()
