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
