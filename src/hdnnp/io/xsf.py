"""XCrySDen/aenet XSF files: one structure per file, Å and eV, optional forces (eV/Å) after the
coordinates. aenet puts the total energy in a comment, ``# total energy = E eV`` (ase.io.read does
not return it, so this is our own parser). Accepts a single ``.xsf``, a folder of them, or a
``.tar.gz``/``.tgz``/``.tar`` archive; members are read in sorted name order and named
``archive:member``.
"""
from __future__ import annotations

import re
import tarfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..structures import Structure, symbol_to_number
from ._common import parse_float

_ENERGY = re.compile(r"#\s*total\s+energy\s*=\s*(\S+)\s*(\S*)", re.IGNORECASE)
_PBC = {"CRYSTAL": (True, True, True), "SLAB": (True, True, False), "POLYMER": (True, False, False),
        "MOLECULE": (False, False, False)}
_SECTIONS = set(_PBC) | {"PRIMVEC", "CONVVEC", "PRIMCOORD", "ATOMS", "ANIMSTEPS"}


def parse_xsf(text: str, source: str, index: int = 0) -> Structure:
    """One structure from the text of an XSF file; ``source`` names it in errors."""
    energy = None
    body = []  # (lineno, fields)
    for lineno, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s:
            continue
        if s.startswith("#"):
            m = _ENERGY.match(s)
            if m:
                unit = m.group(2).lower()
                if unit not in ("", "ev"):
                    raise InputError(f"total energy is in {m.group(2)!r}; only eV is supported",
                                     file=source, line=lineno)
                energy = parse_float(m.group(1), file=source, line=lineno, what="total energy")
            continue
        body.append((lineno, s.split()))
    pbc = (False, False, False)
    cell = None
    atoms = None
    i = 0
    while i < len(body):
        lineno, parts = body[i]
        key = parts[0].upper()
        if key in _PBC:
            pbc = _PBC[key]
            i += 1
        elif key == "ANIMSTEPS":
            raise InputError("animated XSF (ANIMSTEPS) is not supported; use one file per structure",
                             file=source, line=lineno)
        elif key in ("PRIMVEC", "CONVVEC"):
            if i + 3 >= len(body):
                raise InputError(f"{key} needs 3 lattice-vector lines (file truncated?)", file=source, line=lineno)
            rows = []
            for ln, vec in body[i + 1:i + 4]:
                if len(vec) != 3:
                    raise InputError(f"lattice vector needs 3 numbers, found {len(vec)}", file=source, line=ln)
                rows.append([parse_float(t, file=source, line=ln, what="lattice") for t in vec])
            if key == "PRIMVEC":
                cell = np.array(rows)
            i += 4
        elif key == "PRIMCOORD":
            if i + 1 >= len(body):
                raise InputError("PRIMCOORD needs an atom-count line", file=source, line=lineno)
            ln, cnt = body[i + 1]
            if not cnt[0].isdigit():
                raise InputError(f"expected the atom count after PRIMCOORD, found {cnt[0]!r}", file=source, line=ln)
            n = int(cnt[0])
            atoms = body[i + 2:i + 2 + n]
            if len(atoms) < n:
                raise InputError(f"PRIMCOORD says {n} atoms but {len(atoms)} atom line(s) follow (truncated?)",
                                 file=source, line=ln)
            i += 2 + n
        elif key == "ATOMS":
            j = i + 1
            while j < len(body) and body[j][1][0].upper() not in _SECTIONS:
                j += 1
            atoms = body[i + 1:j]
            i = j
        else:
            raise InputError(f"unexpected line {' '.join(parts)[:60]!r}", file=source, line=lineno)
    if atoms is None or not atoms:
        raise InputError("no atoms (no PRIMCOORD or ATOMS block)", file=source)
    if any(pbc) and cell is None:
        raise InputError("periodic XSF without PRIMVEC", file=source)
    numbers, pos, frc = [], [], []
    nf = len(atoms[0][1])
    for ln, parts in atoms:
        if len(parts) not in (4, 7):
            raise InputError(f"atom line needs 4 (element x y z) or 7 (… fx fy fz) fields, found {len(parts)}",
                             file=source, line=ln)
        if len(parts) != nf:
            raise InputError("forces are given for some atoms but not others", file=source, line=ln)
        el = parts[0]
        if el.isdigit():
            z = int(el)
            if not 0 < z < 119:
                raise InputError(f"invalid atomic number {el}", file=source, line=ln)
        else:
            z = symbol_to_number(el, file=source, line=ln)
        numbers.append(z)
        vals = [parse_float(t, file=source, line=ln, what="atom field") for t in parts[1:]]
        pos.append(vals[:3])
        if nf == 7:
            frc.append(vals[3:])
    return Structure(numbers=numbers, positions=pos, cell=cell if cell is not None else np.zeros((3, 3)),
                     pbc=pbc, energy=energy, forces=np.array(frc) if nf == 7 else None,
                     source=source, index=index)


def is_archive(path) -> bool:
    name = str(path).lower()
    return name.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz"))


def read_xsf(path) -> list[Structure]:
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".xsf" and p.is_file())
        if not files:
            raise InputError("folder contains no .xsf files", file=str(path))
        return [parse_xsf(_text(f.read_bytes(), str(f)), str(f)) for f in files]
    if is_archive(path):
        out = []
        try:
            with tarfile.open(path, "r:*") as tar:
                # read in archive order (seeking back in a gzip stream is slow), then sort by name
                texts = {m.name: tar.extractfile(m).read() for m in tar
                         if m.isfile() and m.name.lower().endswith(".xsf")}
            if not texts:
                raise InputError("archive contains no .xsf files", file=str(path))
            for name in sorted(texts):
                src = f"{path}:{name}"
                out.append(parse_xsf(_text(texts[name], src), src))
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InputError(f"cannot read archive: {exc}", file=str(path)) from None
        return out
    return [parse_xsf(_text(path.read_bytes(), str(path)), str(path))]


def _text(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not a text file", file=source) from None
