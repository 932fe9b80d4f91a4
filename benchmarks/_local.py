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
