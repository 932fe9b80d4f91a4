"""Which hdnnp the benchmarks import: this checkout's ``src/`` when it holds a compiled core built in
place (``tools/build_ext.sh``), otherwise the installed package (``pip install .``, editable or not),
so that a fresh clone works after the README's install command."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if any((ROOT / "src" / "hdnnp").glob("_core*")):
    sys.path.insert(0, str(ROOT / "src"))


def hdnnp(args, cwd):
    """Run ``hdnnp ARGS`` in ``cwd`` (echoed), failing loudly."""
    import subprocess
    print("$ hdnnp " + " ".join(str(a) for a in args), flush=True)
    subprocess.run([sys.executable, "-m", "hdnnp", *[str(a) for a in args]], cwd=cwd, check=True)


def label_split(frames, reference: str, wd: Path, workers: int = 1, test_fraction: float = 0.1) -> None:
    """Label ASE ``frames`` with a reference preset through ``wd/labels.db``; write ``wd/test.extxyz`` (the first
    ``test_fraction``, at least 10) and ``wd/train.extxyz``."""
    from ase.io import write

    from hdnnp.labels import LabelStore, label
    from hdnnp.references import get_reference
    from hdnnp.structures import Structure
    run = label([Structure.from_ase(f) for f in frames], get_reference(reference), LabelStore(wd / "labels.db"),
                workers=workers, desc=f"label ({reference})")
    print(run.summary(), flush=True)
    lab = [s.to_ase() for s in run.labelled]
    n_test = max(10, int(len(lab) * test_fraction))
    write(wd / "test.extxyz", lab[:n_test])
    write(wd / "train.extxyz", lab[n_test:])


def timed_label(structure_file, preset: str, timeout: float, overrides: dict | None = None) -> dict:
    """Seconds of one reference calculation (energy and forces) of the first structure in ``structure_file``,
    in a child process with one thread, stopped after ``timeout`` s: ``{"seconds", "finished"}`` (when it did
    not finish, ``seconds`` is a lower bound)."""
    import os
    import subprocess
    import time
    code = ("import time; from ase.io import read; from hdnnp.references import get_reference, compute_label; "
            "from hdnnp.structures import Structure; "
            f"a = read({str(structure_file)!r}); t = time.perf_counter(); "
            f"r = compute_label(get_reference({preset!r}, {overrides!r}), Structure.from_ase(a)); "
            "print('LABEL_S', time.perf_counter() - t, r.energy is not None and r.forces is not None)")
    t0 = time.perf_counter()
    try:
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    except subprocess.TimeoutExpired:
        return {"seconds": time.perf_counter() - t0, "finished": False}
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("LABEL_S")]
    if not line or line[0].split()[2] != "True":
        raise SystemExit(f"{preset} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return {"seconds": float(line[0].split()[1]), "finished": True}


def kappa_reference_and_trained(common, ref_dir: Path, trained_dir: Path, train_args) -> tuple[dict, dict, float, float]:
    """``hdnnp thermal-conductivity COMMON`` with the reference into ``ref_dir`` and with ``--train TRAIN_ARGS``
    into ``trained_dir``, each skipped when its kappa.json is there: (reference's kappa.json, trained's,
    seconds of the first, seconds of the second)."""
    import json
    import subprocess
    import time
    t0 = time.perf_counter()
    if not (ref_dir / "kappa.json").is_file():
        subprocess.run([sys.executable, "-m", "hdnnp", "thermal-conductivity", *common, "-o", str(ref_dir)],
                       check=True)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    done = trained_dir / "kappa.json"
    if not done.is_file() or "labels_used" not in json.loads(done.read_text()):
        subprocess.run([sys.executable, "-m", "hdnnp", "thermal-conductivity", *common, "-o", str(trained_dir),
                        "--train", *[str(a) for a in train_args]], check=True)
    t_pot = time.perf_counter() - t0
    return (json.loads((ref_dir / "kappa.json").read_text()), json.loads(done.read_text()), t_ref, t_pot)


def dump_frames(traj, cell, n: int) -> list:
    """``n`` frames spread evenly over a LAMMPS dump ``traj`` (as ``hdnnp diffusion`` writes it) as ASE atoms in a
    copy of ``cell`` (the cell in LAMMPS' orientation), wrapped into it."""
    import numpy as np

    from hdnnp.workflows.diffusion import read_dump
    sym, pos, _ = read_dump(traj)
    frames = []
    for k in np.linspace(0, len(pos) - 1, n).astype(int):
        a = cell.copy()
        a.set_chemical_symbols(sym)
        a.positions = pos[k]
        a.wrap()
        frames.append(a)
    return frames
