"""Systematic symmetry-function sets (candidate sets for selection, or sets to use as they are).

Two families, both element-resolved (one function per neighbour element / unordered neighbour pair)
or weighted (one function for all neighbours, weighted by the atomic numbers):

``kind="gaussian"`` (types 2, 3, 9; weighted 12, 13)
    Radial grids of (η, r_s) pairs, written for n2p2's ``exp(-η (r - r_s)²)``:

    * ``rule="imbalzano2018"`` (Imbalzano et al., J. Chem. Phys. 148, 241730 (2018)), n = number of pairs:
      centred: r_s = 0, η_m = (n'^(m/n') / r_c)², m = 0..n' with n' = n - 1;
      shifted: r_s,m = r_c / n^(m/n) for m = 1..n (dense at short range), η_m = 1 / (r_s,m-1 - r_s,m)².
    * ``rule="gastegger2018"`` (Gastegger et al., J. Chem. Phys. 148, 241709 (2018)), an equidistant grid
      r_m = linspace(r_min, r_c, n): centred: r_s = 0, η_m = 1 / (2 r_m²);
      shifted: r_s,m = r_m, η = 1 / (2 Δr²) with Δr the grid spacing.

    ``mode`` is ``"shift"``, ``"center"`` or ``"both"`` (both grids, 2n radial functions per neighbour).
    Angular functions (narrow type 3 and/or wide type 9; weighted narrow 13) take the centred η grid of
    the same rule with ``n_angular`` points, r_s = 0, λ = ±1 and ζ from ``zetas`` (default 1, 2, 4, 16).

``kind="compact"`` (types 20, 21, 22; weighted 23, 24, 25; Bircher et al. 2020 polynomial functions)
    Radial: centred functions on (-r_m, r_m) (monotone, like a cutoff function of radius r_m; r_m
    equidistant in [max(r_min, r_c/n), r_c]) for ``mode`` center, and shifted bumps on (c - w, c + w)
    for ``mode`` shift: centres c_i = r_min + iΔ (i = 0..n-1), half width w = 2Δ (each bump overlaps
    its neighbours), Δ = (r_c - r_min)/(n + 1) so that the last bump ends at r_c. Angular: the radial part is
    centred on (-r_c', r_c') for ``n_angular`` radii r_c' equidistant in [r_c/2, r_c], times the angular
    windows (-180°, 180°), (0°, 360°) and ``n_angle_windows`` overlapping windows inside [0°, 180°].
    Subtype ``p2`` (n2p2's default polynomial core).

Every parameter is a length in Å (and an η in Å⁻²). The functions returned are sorted and validated
by :class:`SymmetryFunctionSet` exactly as lines read from an input.nn.
"""
from __future__ import annotations

import itertools
import math
from typing import Iterable, Sequence

import numpy as np

from ..errors import InputError
from .symmetry_functions import ATOMIC_NUMBERS, SymmetryFunctionSet

__all__ = ["radial_grid", "angle_windows", "generate_symmetry_functions", "generate_lines", "count_functions",
           "adaptive_lines", "to_input_nn", "to_config_yaml", "RULES", "MODES", "KINDS", "DEFAULT_ZETAS",
           "ADAPTIVE_ZETAS"]

RULES = ("imbalzano2018", "gastegger2018")
MODES = ("shift", "center", "both")
KINDS = ("gaussian", "compact")
DEFAULT_ZETAS = (1, 2, 4, 16)
ADAPTIVE_ZETAS = (1, 2, 4)
_ANGULAR = ("narrow", "wide", "both", "none")


def _fmt(x: float) -> str:
    """Shortest float text that reads back to the same double."""
    x = float(x)
    if x == 0.0:
        return "0.0"
    return repr(x)


def radial_grid(cutoff: float, n: int, rule: str = "imbalzano2018", mode: str = "shift",
                r_min: float = 0.5) -> list[tuple[float, float]]:
    """(η [Å⁻²], r_s [Å]) pairs of one Gaussian radial grid (see the module docstring), sorted by r_s
    then η. ``n`` >= 2 pairs per mode; ``mode="both"`` returns the centred then the shifted grid."""
    rule = _norm_rule(rule)
    if mode not in MODES:
        raise InputError(f"radial grid mode must be one of {MODES}, got {mode!r}")
    if not cutoff > 0:
        raise InputError(f"cutoff must be > 0 Å, got {cutoff}")
    if int(n) != n or n < 2:
        raise InputError(f"a radial grid needs at least 2 points, got {n}")
    n = int(n)
    if mode == "both":
        return (radial_grid(cutoff, n, rule, "center", r_min) + radial_grid(cutoff, n, rule, "shift", r_min))
    if rule == "imbalzano2018":
        if mode == "center":
            m = np.arange(n)
            eta = ((n - 1) ** (m / (n - 1)) / cutoff) ** 2
            return [(float(e), 0.0) for e in eta]
        ext = cutoff / n ** (np.arange(n + 1) / n)          # r_c, ..., r_c/n (descending)
        eta = 1.0 / (ext[:-1] - ext[1:]) ** 2
        rs = ext[1:]
        return sorted(((float(e), float(r)) for e, r in zip(eta, rs)), key=lambda p: p[1])
    # gastegger2018
    if not 0.0 < r_min < cutoff:
        raise InputError(f"gastegger2018 grid needs 0 < r_min < cutoff, got r_min={r_min}, cutoff={cutoff}")
    grid = np.linspace(r_min, cutoff, n)
    if mode == "center":
        return [(float(1.0 / (2.0 * r * r)), 0.0) for r in grid]
    dr = (cutoff - r_min) / (n - 1)
    return [(float(1.0 / (2.0 * dr * dr)), float(r)) for r in grid]


def angular_eta_grid(cutoff: float, n: int, rule: str = "imbalzano2018", r_min: float = 0.5) -> list[float]:
    """η values of the angular functions: the centred radial grid of ``rule`` (n = 1: η = 0)."""
    if n < 1:
        return []
    if n == 1:
        return [0.0]
    return [e for e, _ in radial_grid(cutoff, n, rule, "center", r_min)]


def angle_windows(n_windows: int) -> list[tuple[float, float]]:
    """Compact angular windows in degrees: (-180, 180) (largest at 0°), (0, 360) (largest at 180°), and
    ``n_windows`` windows [c - h, c + h] with c = h, 2h, ..., n·h and h = 180/(n + 1) (each overlaps its
    neighbours by half and stays inside [0°, 180°])."""
    out = [(-180.0, 180.0), (0.0, 360.0)]
    h = 180.0 / (n_windows + 1)
    for i in range(1, n_windows + 1):
        c = i * h
        out.append((round(c - h, 10), round(c + h, 10)))
    return out


def _norm_rule(rule: str) -> str:
    r = rule.lower()
    for full in RULES:
        if r == full or r == full[:-4]:
            return full
    raise InputError(f"grid rule must be one of {RULES}, got {rule!r}")


def _norm_elements(elements: Sequence[str]) -> list[str]:
    if isinstance(elements, str):
        elements = elements.replace(",", " ").split()
    els = list(dict.fromkeys(elements))
    if not els:
        raise InputError("at least one element is needed")
    for e in els:
        if e not in ATOMIC_NUMBERS:
            raise InputError(f"unknown element symbol {e!r}")
    return sorted(els, key=ATOMIC_NUMBERS.__getitem__)


def _centre_lines(centre: str, weighted: bool, weighted_type: int, resolved_type: int,
                  neighbours: list[tuple], tail: str) -> list[str]:
    """One weighted line for ``centre``, or one element-resolved line per neighbour element
    (radial) or neighbour pair (angular) in ``neighbours``, each ending in ``tail``."""
    if weighted:
        return [f"{centre} {weighted_type} {tail}"]
    return [f"{centre} {resolved_type} {' '.join(n)} {tail}" for n in neighbours]


def generate_lines(elements: Sequence[str], cutoff: float, n_radial: int = 8, n_angular: int = 4, *,
                   kind: str = "gaussian", rule: str = "imbalzano2018", mode: str = "shift",
                   angular: str = "narrow", zetas: Iterable[float] = DEFAULT_ZETAS, weighted: bool = False,
                   r_min: float = 0.5, n_angle_windows: int = 3) -> list[str]:
    """``symfunction_short`` argument strings (without the keyword), Å units. See
    :func:`generate_symmetry_functions`."""
    els = _norm_elements(elements)
    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}")
    if angular not in _ANGULAR:
        raise InputError(f"angular must be one of {_ANGULAR}, got {angular!r}")
    if not (isinstance(cutoff, (int, float)) and math.isfinite(cutoff) and cutoff > 0):
        raise InputError(f"cutoff must be a positive number of Å, got {cutoff!r}")
    if n_radial < 0 or n_angular < 0:
        raise InputError("n_radial and n_angular must be >= 0")
    zetas = [float(z) for z in zetas]
    if any(z < 1 for z in zetas):
        raise InputError(f"zeta values must be >= 1, got {zetas}")
    rc = float(cutoff)
    pairs = list(itertools.combinations_with_replacement(els, 2))
    singles = [(e,) for e in els]
    ang_types = {"narrow": ["n"], "wide": ["w"], "both": ["n", "w"], "none": []}[angular]
    lines: list[str] = []
    if kind == "gaussian":
        rad = radial_grid(rc, n_radial, rule, mode, r_min) if n_radial >= 2 else (
            [(0.0, 0.0)] if n_radial == 1 else [])
        etas_a = angular_eta_grid(rc, n_angular, rule, r_min) if ang_types else []
        for c in els:
            for eta, rs in rad:
                lines += _centre_lines(c, weighted, 12, 2, singles, f"{_fmt(eta)} {_fmt(rs)} {_fmt(rc)}")
            for at in ang_types:
                if weighted and at == "w":  # n2p2 has no weighted wide Gaussian type
                    continue
                for eta in etas_a:
                    for z in zetas:
                        for lam in (-1.0, 1.0):
                            tail = (f"{_fmt(eta)} 0.0 " if weighted else f"{_fmt(eta)} ") + \
                                f"{_fmt(lam)} {_fmt(z)} {_fmt(rc)}"
                            lines += _centre_lines(c, weighted, 13, 3 if at == "n" else 9, pairs,
                                                   tail)
        if weighted and ang_types == ["w"]:
            raise InputError("weighted Gaussian angular functions exist only as narrow (type 13); "
                             "use angular='narrow' or 'both'")
        return lines
    # compact polynomial functions
    rad_c: list[tuple[float, float]] = []
    if n_radial >= 1:
        if mode in ("center", "both"):
            radii = np.linspace(max(r_min, rc / n_radial) if n_radial > 1 else rc, rc, n_radial)
            rad_c += [(-float(r), float(r)) for r in radii]
        if mode in ("shift", "both"):
            if n_radial == 1:
                rad_c.append((0.0, rc))
            else:
                # centres c_i = r_min + i·Δ (i = 0..n-1), half width w = 2Δ, the last bump ending at r_c
                lo = max(r_min, 0.0)
                sp = (rc - lo) / (n_radial + 1)
                rad_c += [(float(lo + (i - 2) * sp), float(lo + (i + 2) * sp)) for i in range(n_radial)]
    ang_radii = ([rc] if n_angular == 1 else list(np.linspace(rc / 2, rc, n_angular))) if n_angular else []
    windows = angle_windows(n_angle_windows)
    for c in els:
        for rl, rr in rad_c:
            lines += _centre_lines(c, weighted, 23, 20, singles, f"{_fmt(rl)} {_fmt(rr)} p2")
        for at in ang_types:
            for r in ang_radii:
                for al, ar in windows:
                    tail = f"{_fmt(-r)} {_fmt(r)} {_fmt(al)} {_fmt(ar)} p2"
                    lines += _centre_lines(c, weighted, 24 if at == "n" else 25,
                                           21 if at == "n" else 22, pairs, tail)
    return lines


def generate_symmetry_functions(elements: Sequence[str], cutoff: float, n_radial: int = 8,
                                n_angular: int = 4, *, kind: str = "gaussian", rule: str = "imbalzano2018",
                                mode: str = "shift", angular: str = "narrow",
                                zetas: Iterable[float] = DEFAULT_ZETAS, weighted: bool = False,
                                cutoff_type: int = 6, cutoff_alpha: float = 0.0, r_min: float = 0.5,
                                n_angle_windows: int = 3, budget: int | None = None) -> SymmetryFunctionSet:
    """A systematic symmetry-function set on radial and angular grids (lengths in Å).

    ``elements``: chemical symbols; ``cutoff``: r_c in Å; ``n_radial``: points per radial grid (per
    neighbour element unless ``weighted``); ``n_angular``: η values (gaussian) or radii (compact) of the
    angular functions; ``angular``: ``"narrow"`` (3/21), ``"wide"`` (9/22), ``"both"`` or ``"none"``;
    ``kind``/``rule``/``mode``: see the module docstring; ``zetas``: ζ of Gaussian angular functions
    (each with λ = ±1); ``weighted``: types 12/13 or 23/24/25 instead of element-resolved ones;
    ``cutoff_type``/``cutoff_alpha``: n2p2 cutoff function (6 = polynomial, C² smooth; unused by the
    compact types); ``budget``: at most this many functions per element — ``n_radial`` and
    ``n_angular`` are reduced in turn (largest first, never below 2 and 1) until the set fits.
    """
    kw = dict(kind=kind, rule=rule, mode=mode, angular=angular, zetas=tuple(zetas), weighted=weighted,
              r_min=r_min, n_angle_windows=n_angle_windows)
    if budget is not None:
        n_radial, n_angular = fit_budget(elements, cutoff, n_radial, n_angular, budget, **kw)
    lines = generate_lines(elements, cutoff, n_radial, n_angular, **kw)
    els = _norm_elements(elements)
    return SymmetryFunctionSet.from_n2p2_lines(els, [(i + 1, ln.split()) for i, ln in enumerate(lines)],
                                               cutoff_type, cutoff_alpha, file="generated")


def count_functions(elements: Sequence[str], n_radial: int, n_angular: int, **kw) -> int:
    """Functions per central element (the same for every element) of a generated set."""
    els = _norm_elements(elements)
    lines = generate_lines(els, kw.pop("cutoff", 6.0), n_radial, n_angular, **kw)
    return sum(1 for ln in lines if ln.split()[0] == els[0])


def fit_budget(elements, cutoff, n_radial, n_angular, budget, **kw) -> tuple[int, int]:
    """Largest (n_radial, n_angular) not above the given ones with at most ``budget`` functions per
    element (reduces whichever contributes more functions first)."""
    if budget < 1:
        raise InputError(f"budget must be >= 1 function per element, got {budget}")
    nr, na = int(n_radial), int(n_angular)
    while True:
        n = count_functions(elements, nr, na, cutoff=cutoff, **kw)
        if n <= budget:
            return nr, na
        rad = count_functions(elements, nr, 0, cutoff=cutoff, **kw)
        if (n - rad >= rad and na > 1) or nr <= 2:
            if na > 1:
                na -= 1
                continue
            if na == 1 and nr <= 2:
                na = 0
                continue
            if nr <= 2:
                raise InputError(f"budget {budget} is too small: the smallest grid has {n} functions per "
                                 "element (use fewer zetas, angular='none', or weighted functions)")
        nr -= 1


# ---------------------------------------------------------------------- data-adapted grids
def _weighted_quantiles(d: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles of the distances ``d`` weighted by 1/r² (the pair density per unit volume, i.e. the
    radial distribution function rather than the raw pair count, which grows as r² in a solid)."""
    d = np.sort(np.asarray(d, dtype=np.float64))
    w = 1.0 / d ** 2
    cw = np.cumsum(w)
    cw = (cw - 0.5 * w) / cw[-1]
    return np.interp(q, cw, d)


def adaptive_lines(elements: Sequence[str], cutoff: float, pair_distances, nn_distance, *, n_radial: int = 12,
                   n_angular: int = 5, zetas: Iterable[float] = ADAPTIVE_ZETAS, angular: str = "both",
                   min_width: float = 0.2) -> list[str]:
    """Element-resolved Gaussian candidates on grids adapted to the data (``symfunction_short``
    argument strings, Å units).

    ``pair_distances``: {(centre, neighbour): 1-D array of the centre–neighbour distances below
    ``cutoff`` seen in the data}; ``nn_distance``: {centre: typical (median) nearest-neighbour
    distance}. Per (centre, neighbour) pair with data, r_lo = the shortest distance seen:

    * shifted Gaussians (type 2) on an equidistant grid of ``n_radial`` centres in [r_lo, r_c], width
      σ = grid spacing (η = 1/(2σ²)), Gastegger-style but starting where the data start;
    * shifted Gaussians at the ``n_radial`` quantiles (k + ½)/n of the pair distances weighted by
      1/r² (dense at the coordination shells / bond lengths), σ = half the gap to the farther
      neighbouring centre (at least ``min_width``);
    * centred Gaussians (r_s = 0) with η = 1/(2r²) for ``n_radial`` radii r equidistant in [r_lo, r_c].

    Pairs without any distance below r_c get no radial function (it would be zero everywhere).
    Angular functions per unordered neighbour pair: narrow (3) and/or wide (9) with η = 0 and
    η = 1/(2r²) for ``n_angular`` - 1 radii r geometrically spaced in [nearest-neighbour distance, r_c],
    λ = ±1 and ζ from ``zetas``. Duplicate lines are removed.
    """
    els = _norm_elements(elements)
    if angular not in _ANGULAR:
        raise InputError(f"angular must be one of {_ANGULAR}, got {angular!r}")
    if not (isinstance(cutoff, (int, float)) and math.isfinite(cutoff) and cutoff > 0):
        raise InputError(f"cutoff must be a positive number of Å, got {cutoff!r}")
    if n_radial < 2 or n_angular < 0:
        raise InputError("adaptive grids need n_radial >= 2 and n_angular >= 0")
    rc = float(cutoff)
    zetas = [float(z) for z in zetas]
    pairs = list(itertools.combinations_with_replacement(els, 2))
    ang_types = {"narrow": [3], "wide": [9], "both": [3, 9], "none": []}[angular]
    lines: list[str] = []
    for c in els:
        for e in els:
            d = np.asarray(pair_distances.get((c, e), ()), dtype=np.float64)
            d = d[(d > 0) & (d < rc)]
            if len(d) == 0:
                continue
            r_lo = float(d.min())
            if r_lo >= rc - 1e-6:
                continue
            grid = np.linspace(r_lo, rc, n_radial)
            dr = float(grid[1] - grid[0])
            rad = [(1.0 / (2.0 * dr * dr), float(r)) for r in grid]
            q = _weighted_quantiles(d, (np.arange(n_radial) + 0.5) / n_radial)
            ext = np.concatenate([[r_lo], q, [rc]])
            for k in range(n_radial):
                sig = max(ext[k + 2] - ext[k + 1], ext[k + 1] - ext[k], min_width)
                rad.append((1.0 / (2.0 * sig * sig), float(q[k])))
            rad += [(1.0 / (2.0 * r * r), 0.0) for r in grid]
            lines += [f"{c} 2 {e} {_fmt(round(eta, 6))} {_fmt(round(rs, 4))} {_fmt(rc)}" for eta, rs in rad]
        if not ang_types or n_angular < 1:
            continue
        r_nn = float(nn_distance.get(c) or rc / 4)
        r_nn = min(max(r_nn, 0.5), rc / 2)
        etas = [0.0] + ([1.0 / (2.0 * r * r) for r in np.geomspace(r_nn, rc, n_angular - 1)]
                        if n_angular > 1 else [])
        for t in ang_types:
            for eta in etas:
                for z in zetas:
                    for lam in (-1.0, 1.0):
                        lines += [f"{c} {t} {a} {b} {_fmt(round(eta, 6))} {_fmt(lam)} {_fmt(z)} {_fmt(rc)}"
                                  for a, b in pairs]
    return list(dict.fromkeys(lines))


# ---------------------------------------------------------------------- output
def to_input_nn(sfset: SymmetryFunctionSet, cutoff_type: int | None = None, cutoff_alpha: float | None = None,
                header: str = "") -> str:
    """An n2p2 ``input.nn`` block: ``elements``, ``cutoff_type`` and the ``symfunction_short`` lines
    (lengths in Å)."""
    ct, alpha = _cutoff_of(sfset, cutoff_type, cutoff_alpha)
    out = []
    if header:
        out += ["# " + h for h in header.splitlines()]
    out += [f"number_of_elements {len(sfset.elements)}", "elements " + " ".join(sfset.elements),
            f"cutoff_type {ct} {_fmt(alpha)}" if alpha else f"cutoff_type {ct}"]
    for el in sfset.elements:
        out.append(f"# {el}: {len(sfset.for_element(el))} symmetry functions")
        out += [sf.to_n2p2_line() for sf in sfset.functions if sf.element == el]
    return "\n".join(out) + "\n"


def to_config_yaml(sfset: SymmetryFunctionSet, cutoff_type: int | None = None,
                   cutoff_alpha: float | None = None, header: str = "") -> str:
    """The ``model:`` section of a training config (``hdnnp train``) with these functions:
    ``model: {elements, symmetry_functions: {lines, cutoff_type, cutoff_alpha, length_unit: angstrom}}``."""
    ct, alpha = _cutoff_of(sfset, cutoff_type, cutoff_alpha)
    out = []
    if header:
        out += ["# " + h for h in header.splitlines()]
    out += ["model:", f"  elements: [{', '.join(sfset.elements)}]", "  symmetry_functions:",
            "    length_unit: angstrom", f"    cutoff_type: {ct}", f"    cutoff_alpha: {_fmt(alpha)}",
            "    lines:"]
    for el in sfset.elements:
        out.append(f"      # {el}: {len(sfset.for_element(el))}")
        out += [f'      - "{sf.to_n2p2_line().split(None, 1)[1]}"' for sf in sfset.functions if sf.element == el]
    return "\n".join(out) + "\n"


def _cutoff_of(sfset, cutoff_type, cutoff_alpha):
    if cutoff_type is None:
        cts = {(sf.cutoff_type, sf.cutoff_alpha) for sf in sfset.functions}
        if len(cts) > 1:
            raise InputError(f"the set mixes cutoff types {sorted(cts)}; give cutoff_type")
        cutoff_type, a = cts.pop() if cts else (6, 0.0)
        if cutoff_alpha is None:
            cutoff_alpha = a
    return int(cutoff_type), float(cutoff_alpha or 0.0)
