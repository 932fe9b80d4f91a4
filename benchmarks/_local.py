"""Which hdnnp the benchmarks import: this checkout's ``src/`` when it holds a compiled core built in
place (``tools/build_ext.sh``), otherwise the installed package (``pip install .``, editable or not),
so that a fresh clone works after the README's install command."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if any((ROOT / "src" / "hdnnp").glob("_core*")):
    sys.path.insert(0, str(ROOT / "src"))
