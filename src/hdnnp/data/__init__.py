"""Small real data sets shipped inside the package (each folder keeps its source and licence).

``example_path()`` gives the embedded default used by the README's first command.
"""
from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent

#: name -> file, relative to this folder
EXAMPLES = {
    "si": "mlearn_Si/training.json",
    "si-test": "mlearn_Si/test.json",
}


def example_path(name: str = "si") -> Path:
    """Path of an embedded data set: 'si' (mlearn Si training set, 214 structures, BSD-3) or 'si-test'."""
    try:
        return _HERE / EXAMPLES[name]
    except KeyError:
        raise ValueError(f"unknown example {name!r}; available: {', '.join(EXAMPLES)}") from None
