"""Helpers shared by the readers and writers: strict number parsing with file:line errors,
unit scaling that round-trips bit for bit, and float formatting that loses nothing."""
from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..units import energy_factor, length_factor


def parse_float(token: str, *, file, line, what: str = "value") -> float:
    """A finite float from ``token``; Fortran ``1.0D+00`` is accepted. InputError otherwise."""
    try:
        if "_" in token:
            raise ValueError
        value = float(token)
    except ValueError:
        try:
            if "_" in token or not any(c in token for c in "dD"):
                raise ValueError
            value = float(token.replace("D", "E").replace("d", "e"))
        except ValueError:
            raise InputError(f"{what}: {token!r} is not a number", file=file, line=line) from None
    if not math.isfinite(value):
        raise InputError(f"{what} is {token!r}; NaN and infinite values are not allowed",
                         file=file, line=line)
    return value


def fmt(x) -> str:
    """Shortest text that reads back as exactly the same float64."""
    return repr(float(x))


def fmt_row(values) -> str:
    return " ".join(map(repr, np.asarray(values, dtype=np.float64).reshape(-1).tolist()))


class Units:
    """Factors from a file's units to eV/Å (multiply on read; :meth:`inverse` on write)."""

    def __init__(self, length_unit: str = "angstrom", energy_unit: str = "ev"):
        try:
            self.length = length_factor(length_unit)
            self.energy = energy_factor(energy_unit)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        self.length_unit, self.energy_unit = length_unit.lower(), energy_unit.lower()
        self.force = self.energy / self.length
        self.stress = self.energy / self.length ** 3

    @property
    def is_native(self) -> bool:
        return self.length == 1.0 and self.energy == 1.0


def scale(values, factor: float):
    """``values * factor`` (file units → eV/Å); the identity when factor is 1."""
    if factor == 1.0:
        return values
    if isinstance(values, float):
        return values * factor
    return np.asarray(values, dtype=np.float64) * factor


def unscale(values, factor: float):
    """Inverse of :func:`scale` that is exact where possible: returns x with ``x * factor == values``
    bit for bit whenever such an x exists near ``values / factor`` (always the case for values that
    :func:`scale` produced), so file → structures → file → structures is loss-free in any units."""
    if factor == 1.0:
        return values
    scalar = np.ndim(values) == 0
    y = np.asarray(values, dtype=np.float64)
    x = y / factor
    bad = x * factor != y
    if bad.any():
        for step in (1, -1, 2, -2, 3, -3):
            cand = x.copy()
            direction = np.inf if step > 0 else -np.inf
            for _ in range(abs(step)):
                cand = np.nextafter(cand, direction)
            hit = bad & (cand * factor == y)
            x = np.where(hit, cand, x)
            bad &= ~hit
            if not bad.any():
                break
    return float(x) if scalar else x


def read_tagged_json(path, fmt: str, what: str) -> dict:
    """A JSON file the package wrote, checked by its ``format`` tag (``what`` names it in the error)."""
    import json
    from pathlib import Path
    try:
        d = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", file=str(path)) from None
    if not isinstance(d, dict) or d.get("format") != fmt:
        raise InputError(f"not {what} (format key)", file=str(path))
    return d
