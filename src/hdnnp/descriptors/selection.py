"""Unsupervised selection of symmetry functions on a data set, and the automatic set for training.

Per central element, the candidate functions are the columns of the matrix G (atoms × functions),
computed on a seeded subsample of the data's atoms. In order:

1. **constant** columns are dropped (standard deviation <= 1e-10 × |mean|, or exactly constant);
2. **mostly zero** columns: |G| <= ``zero_tol`` for more than ``max_zero_fraction`` of the atoms;
3. **duplicates**: |Pearson correlation| > ``max_correlation`` with a function kept before it (candidates
   are visited in n2p2's order, so of two duplicates the earlier, usually the smoother, stays);
4. the rest is **ranked** on the scaled columns Z = (G - mean) / std (``scaling="std"``, the default of
   :func:`select_columns`) or Z = (G - mean) / (max - min) (``scaling="range"``, the default of the
   automatic set: the network's min-max scaled inputs, so spread that comes from a few outlying atoms
   counts little), either by

   * ``method="cur"``: Imbalzano et al., J. Chem. Phys. 148, 241730 (2018), deterministic iterative CUR:
     pick the column with the largest leverage on the leading singular vector of the residual
     matrix, orthogonalise every column against it, repeat;
   * ``method="fps"``: farthest-point sampling of the columns with the distance sqrt(1 - r²)
     (r = correlation; anti-correlated functions count as redundant), starting from the column
     with the largest leverage on the first principal component;

   and the first ``n_keep`` are kept.

What was kept is measured against the whole candidate matrix (every non-constant column, standardised,
including the dropped ones): the **explained variance** ‖P_S Z‖²/‖Z‖² of the projection on the span of
the kept columns S, the **relative reconstruction error** ‖Z - P_S Z‖_F / ‖Z‖_F = sqrt(1 - explained), and
for reference the PCA optimum (the variance of the first k principal components, which no k columns can
beat).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import InputError
from .symmetry_functions import ATOMIC_NUMBERS, SymmetryFunctionSet, compute_descriptors

__all__ = ["select_columns", "descriptor_matrices", "select_symmetry_functions", "auto_symmetry_functions",
           "format_table", "plot_selection", "write_report", "default_cutoff", "pair_distances", "METHODS",
           "SCALINGS", "GRIDS"]

METHODS = ("cur", "fps")
SCALINGS = ("std", "range")
RADIAL_TYPES = (2, 12, 20, 23)
GRIDS = ("adaptive", "systematic")


# ---------------------------------------------------------------------- column selection (pure numpy)
def _top_eigvec(C: np.ndarray) -> np.ndarray:
    from scipy.linalg import eigh
    m = C.shape[0]
    if m == 1:
        return np.ones(1)
    _, v = eigh(C, subset_by_index=[m - 1, m - 1], check_finite=False)
    return v[:, 0]


def _rank_cur(Z: np.ndarray) -> list[int]:
    C = Z.T @ Z
    m = C.shape[0]
    order: list[int] = []
    alive = np.ones(m, dtype=bool)
    tol = 1e-12 * max(np.trace(C), 1e-300)
    while alive.any():
        diag = np.where(alive, np.diag(C), 0.0)
        if diag.sum() <= tol:
            break
        v = _top_eigvec(C)
        score = np.where(alive & (diag > tol / m), v * v, -1.0)
        c = int(np.argmax(score))
        if score[c] < 0:
            break
        order.append(c)
        alive[c] = False
        col = C[:, c].copy()
        C -= np.outer(col, col) / col[c]
        C[c, :] = 0.0
        C[:, c] = 0.0
    # columns already spanned by the chosen ones: append by remaining (residual) norm, then index
    rest = [j for j in range(m) if alive[j]]
    rest.sort(key=lambda j: (-C[j, j], j))
    return order + rest


def _rank_fps(Z: np.ndarray) -> list[int]:
    n = Z.shape[0]
    R = (Z.T @ Z) / n
    m = R.shape[0]
    v = _top_eigvec(R)
    first = int(np.argmax(v * v))
    order = [first]
    d = np.sqrt(np.clip(1.0 - R[first] ** 2, 0.0, None))
    d[first] = -1.0
    for _ in range(m - 1):
        c = int(np.argmax(d))
        order.append(c)
        d = np.minimum(d, np.sqrt(np.clip(1.0 - R[c] ** 2, 0.0, None)))
        d[order] = -1.0
    return order


def _information_curve(Zs: np.ndarray, Zt: np.ndarray) -> np.ndarray:
    """Cumulative fraction of ‖Zt‖² explained by the span of the first k columns of Zs (k = 1..m)."""
    total = float(np.sum(Zt * Zt))
    n, m = Zs.shape
    Q = np.zeros((n, min(n, m)))
    nq = 0
    gains = np.zeros(m)
    for k in range(m):
        a = Zs[:, k]
        r = a.copy()
        for _ in range(2):  # re-orthogonalise for stability
            if nq:
                r -= Q[:, :nq] @ (Q[:, :nq].T @ r)
        nr = np.linalg.norm(r)
        if nq < Q.shape[1] and nr > 1e-8 * max(np.linalg.norm(a), 1e-300):
            q = r / nr
            Q[:, nq] = q
            nq += 1
            p = q @ Zt
            gains[k] = float(p @ p)
    return np.minimum(np.cumsum(gains) / total, 1.0) if total > 0 else np.ones(m)


def select_columns(G: np.ndarray, n_keep: int | None = None, method: str = "cur", *,
                   max_correlation: float = 0.999, max_zero_fraction: float = 0.95, zero_tol: float = 1e-6,
                   min_explained: float = 0.999, scaling: str = "std",
                   reserve: tuple[Sequence[bool], int] | None = None) -> dict:
    """Select columns of G (atoms × candidate functions). Returns a dict (plain Python types):

    ``kept``: column indices in selection order; ``dropped``: [(index, reason, detail)] with reason
    ``constant``, ``mostly zero``, ``duplicate`` or ``not selected``; ``order``: the full ranking of the
    columns that passed the filters; ``explained_variance``/``reconstruction_error``/``pca_variance``:
    lists over k = 1..len(order). ``n_keep`` None: the smallest k with explained variance >=
    ``min_explained``. ``scaling``: how the columns are made comparable before ranking (see
    :data:`SCALINGS`): ``"std"`` divides each centred column by its standard deviation, ``"range"`` by
    its range max - min (what the network sees with n2p2's min-max scaling: a column whose spread
    comes from a few outlying atoms keeps little variance and ranks low). ``reserve`` = (mask over the
    columns, k): at least k of the kept columns come from the masked ones (the best-ranked of them
    replace the worst-ranked others), as far as the ranking has them.
    """
    if method not in METHODS:
        raise InputError(f"selection method must be one of {METHODS}, got {method!r}")
    if scaling not in SCALINGS:
        raise InputError(f"selection scaling must be one of {SCALINGS}, got {scaling!r}")
    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 2:
        raise ValueError("G must be a 2-D array (atoms × functions)")
    if not 0.0 < max_correlation <= 1.0:
        raise InputError(f"max_correlation must be in (0, 1], got {max_correlation}")
    if not 0.0 < max_zero_fraction <= 1.0:
        raise InputError(f"max_zero_fraction must be in (0, 1], got {max_zero_fraction}")
    n, m = G.shape
    mean = G.mean(axis=0)
    std = G.std(axis=0)
    dropped: list[tuple[int, str, str]] = []
    constant = (std == 0.0) | (std <= 1e-10 * np.abs(mean))
    zero_frac = np.mean(np.abs(G) <= zero_tol, axis=0)
    for j in np.nonzero(constant)[0]:
        dropped.append((int(j), "constant", f"value {mean[j]:.6g} on all {n} atoms"))
    target = np.nonzero(~constant)[0]
    S = np.zeros_like(G)      # standardised: correlations (duplicates, FPS distances)
    S[:, target] = (G[:, target] - mean[target]) / std[target]
    if scaling == "range":
        Z = np.zeros_like(G)  # what CUR ranks and the information curve measures
        span = G.max(axis=0) - G.min(axis=0)
        Z[:, target] = (G[:, target] - mean[target]) / span[target]
    else:
        Z = S
    pool = []
    for j in target:
        if zero_frac[j] > max_zero_fraction:
            dropped.append((int(j), "mostly zero", f"|G| <= {zero_tol:g} for {100 * zero_frac[j]:.1f}% of atoms"))
        else:
            pool.append(int(j))
    # near-duplicates (candidate order)
    kept_dup: list[int] = []
    if pool:
        R = (S[:, pool].T @ S[:, pool]) / n
        keep_mask = np.zeros(len(pool), dtype=bool)
        for a in range(len(pool)):
            if keep_mask.any():
                ra = np.abs(R[a, keep_mask])
                b = int(np.argmax(ra))
                if ra[b] > max_correlation:
                    partner = pool[np.nonzero(keep_mask)[0][b]]
                    dropped.append((pool[a], "duplicate", f"|r| = {ra[b]:.5f} with candidate {partner}"))
                    continue
            keep_mask[a] = True
        kept_dup = [p for p, k in zip(pool, keep_mask) if k]
    out = {"n_atoms": n, "n_candidates": m, "method": method, "scaling": scaling, "kept": [], "dropped": [], "order": [],
           "explained_variance": [], "reconstruction_error": [], "pca_variance": []}
    if not kept_dup:
        out["dropped"] = sorted(dropped)
        return out
    Zp = Z[:, kept_dup]
    local = _rank_cur(Zp) if method == "cur" else _rank_fps(S[:, kept_dup])
    order = [kept_dup[i] for i in local]
    Zt = Z[:, target]
    expl = _information_curve(Z[:, order], Zt)
    ev = np.linalg.eigvalsh(Zt.T @ Zt)[::-1] if len(target) <= n else np.linalg.eigvalsh(Zt @ Zt.T)[::-1]
    ev = np.clip(ev, 0.0, None)
    pca = np.cumsum(ev) / max(ev.sum(), 1e-300)
    pca_k = [float(pca[min(k, len(pca) - 1)]) for k in range(len(order))]
    if n_keep is None:
        hit = np.nonzero(expl >= min_explained)[0]
        n_keep = int(hit[0]) + 1 if len(hit) else len(order)
    n_keep = int(min(max(n_keep, 0), len(order)))
    kept = order[:n_keep]
    if reserve is not None:
        mask, k_min = np.asarray(reserve[0], dtype=bool), int(reserve[1])
        k_min = min(k_min, n_keep, sum(1 for j in order if mask[j]))
        have = sum(1 for j in kept if mask[j])
        if have < k_min:
            res_ = [j for j in order if mask[j]][:k_min]
            rest = [j for j in order if not mask[j]][:n_keep - k_min]
            chosen = set(res_) | set(rest)
            kept = [j for j in order if j in chosen]
    name = "CUR" if method == "cur" else "FPS"
    kept_set = set(kept)
    for r, j in enumerate(order, start=1):
        if j not in kept_set:
            dropped.append((j, "not selected", f"{name} rank {r}"))
    out.update(kept=kept, dropped=sorted(dropped), order=order,
               explained_variance=[float(x) for x in expl],
               reconstruction_error=[float(math.sqrt(max(0.0, 1.0 - x))) for x in expl],
               pca_variance=pca_k)
    return out


# ---------------------------------------------------------------------- data → G matrices
def _check_structures(structures, elements: Sequence[str], what: str = "the symmetry functions") -> None:
    allowed = {ATOMIC_NUMBERS[e] for e in elements}
    for k, s in enumerate(structures):
        bad = sorted(set(np.asarray(s.numbers).tolist()) - allowed)
        if bad:
            names = [_symbol(z) for z in bad]
            src = f"{s.source}, " if getattr(s, "source", None) else ""
            idx = s.index if getattr(s, "index", None) is not None else k
            raise InputError(f"{src}structure {idx}: element(s) {names} not in {what}' elements "
                             f"{list(elements)}")


def _symbol(z: int) -> str:
    for s, zz in ATOMIC_NUMBERS.items():
        if zz == z:
            return s
    return str(z)


def descriptor_matrices(sfset: SymmetryFunctionSet, structures, *, max_atoms: int = 2000,
                        max_structures: int | None = 500, seed: int = 0) -> tuple[dict, dict]:
    """{element: G (atoms × functions in n2p2 order)} on a seeded subsample (at most ``max_structures``
    structures, then at most ``max_atoms`` atoms per element), and {element: atoms available}."""
    structures = list(structures)
    if not structures:
        raise InputError("no structures to select symmetry functions on")
    _check_structures(structures, sfset.elements, "the symmetry-function set")
    rng = np.random.default_rng(seed)
    idx = np.arange(len(structures))
    if max_structures is not None and len(idx) > max_structures:
        idx = np.sort(rng.choice(len(idx), size=max_structures, replace=False))
    rows: dict[str, list[np.ndarray]] = {el: [] for el in sfset.elements}
    for k in idx:
        s = structures[k]
        d = compute_descriptors(s.positions, s.numbers, s.cell, s.pbc, sfset)
        for el, (ids, G) in d.by_element().items():
            if len(ids) and G.shape[1]:
                rows[el].append(G)
    out, available = {}, {}
    for el in sfset.elements:
        nsf = len(sfset.for_element(el))
        G = np.concatenate(rows[el], axis=0) if rows[el] else np.zeros((0, nsf))
        available[el] = G.shape[0]
        if G.shape[0] > max_atoms:
            G = G[np.sort(rng.choice(G.shape[0], size=max_atoms, replace=False))]
        out[el] = G
    return out, available


def select_symmetry_functions(sfset: SymmetryFunctionSet, structures, n_keep: int | Mapping[str, int] | None = None,
                              method: str = "cur", *, max_correlation: float = 0.999,
                              max_zero_fraction: float = 0.95, zero_tol: float = 1e-6,
                              min_explained: float = 0.999, max_atoms: int = 2000,
                              max_structures: int | None = 500, min_atoms: int = 10,
                              seed: int = 0, scaling: str = "std", min_radial: float = 0.0
                              ) -> tuple[SymmetryFunctionSet, dict]:
    """Reduce ``sfset`` on ``structures`` (eV/Å :class:`hdnnp.Structure` list), per central element.

    ``n_keep``: functions to keep per element (an int for all, or {element: int}); None = the fewest
    that explain ``min_explained`` of the candidates' variance. Returns the reduced set (the kept
    :class:`SymmetryFunction` objects, unchanged) and a report (plain dict, JSON/YAML-ready): per element
    ``n_atoms``, ``n_candidates``, ``n_kept``, ``kept`` (lines in selection order), ``dropped``
    ([{line, reason, detail}]), ``counts`` (per reason) and ``curve`` (n, explained_variance,
    reconstruction_error, pca_variance); ``scaling``: see :func:`select_columns`; ``min_radial``: at
    least this fraction of each element's kept functions (rounded up) are radial (types 2, 12, 20, 23)
    where the ranking has enough of them. Raises InputError
    when an element has fewer than
    max(``min_atoms``, n_keep) atoms in the data or the data contain elements outside the set.
    """
    if method not in METHODS:
        raise InputError(f"selection method must be one of {METHODS}, got {method!r}")
    if scaling not in SCALINGS:
        raise InputError(f"selection scaling must be one of {SCALINGS}, got {scaling!r}")
    mats, available = descriptor_matrices(sfset, structures, max_atoms=max_atoms,
                                          max_structures=max_structures, seed=seed)
    report = {"method": method, "scaling": scaling, "min_radial": min_radial, "seed": seed,
              "n_structures": len(structures),
              "settings": {"max_correlation": max_correlation, "max_zero_fraction": max_zero_fraction,
                           "zero_tol": zero_tol, "min_explained": min_explained, "max_atoms": max_atoms,
                           "max_structures": max_structures},
              "elements": {}}
    keep_funcs = []
    for el in sfset.elements:
        funcs = sfset.for_element(el)
        nk = n_keep.get(el) if isinstance(n_keep, Mapping) else n_keep
        need = max(min_atoms, (nk or 0))
        if available[el] < need:
            raise InputError(f"element {el} has {available[el]} atoms in the data set; selecting "
                             f"{nk if nk is not None else 'symmetry functions'} for it needs at least {need} "
                             "atoms (give more structures, or keep fewer functions)")
        res = select_columns(mats[el], nk, method, max_correlation=max_correlation,
                             max_zero_fraction=max_zero_fraction, zero_tol=zero_tol, min_explained=min_explained,
                             scaling=scaling,
                             reserve=([f.type in RADIAL_TYPES for f in funcs], math.ceil(min_radial * (nk or 0)))
                             if min_radial > 0 and nk else None)
        line = [f.to_n2p2_line().split(None, 1)[1] for f in funcs]
        counts = {"constant": 0, "mostly zero": 0, "duplicate": 0, "not selected": 0}
        for _, reason, _ in res["dropped"]:
            counts[reason] += 1
        report["elements"][el] = {
            "n_atoms": res["n_atoms"], "n_atoms_available": available[el], "n_candidates": len(funcs),
            "n_kept": len(res["kept"]), "requested": nk,
            "kept": [line[j] for j in res["kept"]],
            "dropped": [{"line": line[j], "reason": r, "detail": _detail(d, line)}
                        for j, r, d in res["dropped"]],
            "counts": counts,
            "curve": {"n": list(range(1, len(res["order"]) + 1)),
                      "explained_variance": res["explained_variance"],
                      "reconstruction_error": res["reconstruction_error"],
                      "pca_variance": res["pca_variance"]},
        }
        keep_funcs += [funcs[j] for j in sorted(res["kept"])]
    kept_ids = {id(f) for f in keep_funcs}
    reduced = SymmetryFunctionSet(sfset.elements, [f for f in sfset.functions if id(f) in kept_ids])
    return reduced, report


def _detail(d: str, line: list[str]) -> str:
    """Name the partner of a duplicate by its line instead of its column index."""
    if "with candidate " in d:
        head, j = d.rsplit("with candidate ", 1)
        return f"{head}with '{line[int(j)]}'"
    return d


# ---------------------------------------------------------------------- automatic set
def default_cutoff(structures, max_structures: int = 200, seed: int = 0) -> tuple[float, dict]:
    """Cutoff (Å) from the data: 2.5 × the median nearest-neighbour distance, at least 6 Å, rounded up to
    0.5 Å; and the statistics it came from (median and minimum nearest-neighbour distance)."""
    from ..neighbours import neighbour_list
    rng = np.random.default_rng(seed)
    idx = np.arange(len(structures))
    if len(idx) > max_structures:
        idx = rng.choice(len(idx), size=max_structures, replace=False)
    nn = []
    for k in idx:
        s = structures[k]
        nl = neighbour_list(s.positions, 5.0, s.cell, s.pbc)
        if len(nl.distances) == 0:
            continue
        d = np.full(len(s.positions), np.inf)
        np.minimum.at(d, nl.i, nl.distances)
        nn.append(d[np.isfinite(d)])
    if not nn or not sum(len(x) for x in nn):
        return 6.0, {"median_nn_distance": None, "min_nn_distance": None,
                     "rule": "no neighbours within 5 Å: 6 Å"}
    allnn = np.concatenate(nn)
    med, mn = float(np.median(allnn)), float(allnn.min())
    rc = max(6.0, math.ceil(2.5 * med * 2.0) / 2.0)
    return rc, {"median_nn_distance": med, "min_nn_distance": mn,
                "rule": "max(6 Å, 2.5 × median nearest-neighbour distance), rounded up to 0.5 Å"}


def pair_distances(structures, elements: Sequence[str], cutoff: float, max_structures: int = 200, seed: int = 0,
                   max_pairs: int = 50000) -> tuple[dict, dict]:
    """Distances seen in the data on a seeded subsample of structures: {(centre, neighbour): distances
    below ``cutoff`` (at most ``max_pairs``, randomly thinned)} and {centre: median nearest-neighbour
    distance} (Å)."""
    from ..neighbours import neighbour_list
    rng = np.random.default_rng(seed)
    idx = np.arange(len(structures))
    if len(idx) > max_structures:
        idx = np.sort(rng.choice(len(idx), size=max_structures, replace=False))
    zs = [ATOMIC_NUMBERS[e] for e in elements]
    acc: dict = {(a, b): [] for a in elements for b in elements}
    nn: dict = {a: [] for a in elements}
    for k in idx:
        s = structures[k]
        num = np.asarray(s.numbers)
        nl = neighbour_list(s.positions, cutoff, s.cell, s.pbc)
        if len(nl.distances) == 0:
            continue
        zi, zj = num[nl.i], num[nl.j]
        d_nn = np.full(len(num), np.inf)
        np.minimum.at(d_nn, nl.i, nl.distances)
        for a, za in zip(elements, zs):
            ok = np.isfinite(d_nn) & (num == za)
            nn[a].append(d_nn[ok])
            for b, zb in zip(elements, zs):
                acc[(a, b)].append(nl.distances[(zi == za) & (zj == zb)])
    out = {}
    for key, parts in acc.items():
        d = np.concatenate(parts) if parts else np.zeros(0)
        if len(d) > max_pairs:
            d = np.concatenate([[d.min()], rng.choice(d, size=max_pairs - 1, replace=False)])
        out[key] = d
    med = {a: (float(np.median(np.concatenate(v))) if v and sum(len(x) for x in v) else None)
           for a, v in nn.items()}
    return out, med


def auto_symmetry_functions(structures, elements: Sequence[str] | None = None, cutoff: float | None = None,
                            budget: int = 32, seed: int = 0, *, kind: str = "gaussian",
                            method: str = "cur", candidates: int | None = None, cutoff_type: int = 6,
                            max_atoms: int = 2000, max_structures: int | None = 300,
                            grid: str = "adaptive", scaling: str = "range", min_radial: float = 0.5,
                            zetas: Sequence[float] | None = None, **select_kw) -> tuple[SymmetryFunctionSet, dict]:
    """Generate a large candidate set on ``structures`` and select ``budget`` functions per element.

    ``elements``: the model's elements (default: those in the data; an element named here but absent
    from the data, or present in the data but not named, is an InputError). ``cutoff`` (Å): default from
    :func:`default_cutoff`.

    Candidates (``grid``):

    * ``"adaptive"`` (default, Gaussian only): grids placed where the training data have neighbours
      (:func:`hdnnp.descriptors.generate.adaptive_lines`): per centre/neighbour element pair,
      equidistant shifted, quantile-placed shifted and centred radial Gaussians starting at the
      shortest distance seen for that pair (12 each), narrow + wide angular functions with 5 η tied to
      the nearest-neighbour distance, ζ ∈ {1, 2, 4} (ζ = 8, 16 respond to a narrow window of angles
      only; at a fixed budget they displaced broader functions), λ = ±1;
    * ``"systematic"``: both Imbalzano radial grids (shifted and centred, 12 points each) and narrow +
      wide angular functions (6 η, ζ ∈ {1, 2, 4, 16}, λ = ±1), element-resolved, reduced to at most
      ``candidates`` per element (default max(8 × budget, 200)); ``kind="compact"`` uses the compact
      polynomial grids instead.

    ``zetas``: ζ values of the angular candidates (default: as listed above for each grid).

    Selection: :func:`select_symmetry_functions` with ``method`` and ``scaling`` (default ``"range"``:
    CUR on the columns min-max scaled as the network will see them) and ``min_radial`` (default 0.5:
    at least half of each element's functions radial). Returns the selected set and a
    report (plain dict: cutoff and where it came from, the generation settings, the selection
    report, and ``lines``/``cutoff_type`` to put in a training config).
    """
    from .generate import ADAPTIVE_ZETAS, adaptive_lines, generate_symmetry_functions
    structures = list(structures)
    if not structures:
        raise InputError("symmetry_functions: auto needs training structures")
    if grid not in GRIDS:
        raise InputError(f"candidate grid must be one of {GRIDS}, got {grid!r}")
    if not 0.0 <= min_radial <= 1.0:
        raise InputError(f"min_radial must be a fraction in [0, 1], got {min_radial}")
    if grid == "adaptive" and kind != "gaussian":
        raise InputError("grid 'adaptive' makes Gaussian functions; use grid 'systematic' for kind 'compact'")
    present = sorted({int(z) for s in structures for z in np.asarray(s.numbers).tolist()})
    present_sym = [_symbol(z) for z in present]
    if elements is None or len(elements) == 0:
        elements = present_sym
    elements = sorted(dict.fromkeys(elements), key=lambda e: ATOMIC_NUMBERS.get(e, 999))
    for e in elements:
        if e not in ATOMIC_NUMBERS:
            raise InputError(f"unknown element symbol {e!r}")
    missing = [e for e in elements if e not in present_sym]
    if missing:
        raise InputError(f"element(s) {missing} are named for the model but do not occur in the training "
                         f"data (elements in the data: {present_sym}); symmetry functions cannot be "
                         "selected without atoms of every element")
    _check_structures(structures, elements, "the model")
    if int(budget) != budget or budget < 1:
        raise InputError(f"budget must be a positive number of functions per element, got {budget}")
    budget = int(budget)
    if cutoff is None:
        cutoff, cinfo = default_cutoff(structures, seed=seed)
        cinfo["from"] = "data"
    else:
        if not cutoff > 0:
            raise InputError(f"cutoff must be > 0 Å, got {cutoff}")
        cinfo = {"from": "given"}
    if zetas is not None:
        zetas = tuple(float(z) for z in zetas)
        if not zetas or any(not (z >= 1.0 and math.isfinite(z)) for z in zetas):
            raise InputError(f"zetas must be a non-empty list of numbers >= 1, got {list(zetas)}")
    if grid == "adaptive":
        zs = zetas or ADAPTIVE_ZETAS
        dists, nn = pair_distances(structures, elements, float(cutoff), seed=seed)
        gen = dict(grid="adaptive", n_radial=12, n_angular=5, zetas=zs, angular="both",
                   cutoff_type=cutoff_type,
                   shortest_distance={f"{a}-{b}": (float(d.min()) if len(d) else None)
                                      for (a, b), d in dists.items()},
                   nearest_neighbour_distance=nn)
        lines = adaptive_lines(elements, float(cutoff), dists, nn, n_radial=12, n_angular=5,
                               zetas=zs, angular="both")
        cand = SymmetryFunctionSet.from_n2p2_lines(elements, [(i + 1, ln.split()) for i, ln in enumerate(lines)],
                                                   cutoff_type, 0.0, file="generated")
    else:
        cand_budget = candidates if candidates is not None else max(8 * budget, 200)
        r_min = 0.5
        if cinfo.get("min_nn_distance"):
            r_min = max(0.5, round(0.8 * cinfo["min_nn_distance"], 3))
        gen = dict(kind=kind, rule="imbalzano2018", mode="both", angular="both", zetas=zetas or (1, 2, 4, 16),
                   n_radial=12, n_angular=6, r_min=r_min, cutoff_type=cutoff_type)
        if kind == "compact":
            gen.update(mode="both", n_angular=4)
        cand = generate_symmetry_functions(elements, cutoff, budget=cand_budget, **gen)
        gen["grid"] = "systematic"
    # atoms per element in the data (cheap check before computing anything)
    counts = {e: 0 for e in elements}
    for s in structures:
        for z, c in zip(*np.unique(np.asarray(s.numbers), return_counts=True)):
            counts[_symbol(int(z))] += int(c)
    min_atoms = select_kw.pop("min_atoms", 10)
    for e in elements:
        need = max(min_atoms, budget + 1)
        if counts[e] < need:
            raise InputError(f"element {e} has {counts[e]} atoms in the training data; automatic selection of "
                             f"{budget} symmetry functions needs at least {need} (give more data or a smaller "
                             "budget)")
    n_keep = {e: min(budget, len(cand.for_element(e))) for e in elements}
    sel, rep = select_symmetry_functions(cand, structures, n_keep, method, max_atoms=max_atoms,
                                         max_structures=max_structures, min_atoms=min_atoms, seed=seed,
                                         scaling=scaling, min_radial=min_radial, **select_kw)
    ct = cutoff_type
    report = {"cutoff": float(cutoff), "cutoff_info": cinfo, "budget": budget,
              "generate": {k: (list(v) if isinstance(v, tuple) else v) for k, v in gen.items()}
              | {"n_candidates": {e: len(cand.for_element(e)) for e in elements}},
              "selection": rep, "elements": list(sel.elements), "cutoff_type": ct, "cutoff_alpha": 0.0,
              "length_unit": "angstrom",
              "lines": [ln.split(None, 1)[1] for ln in sel.to_n2p2_lines()]}
    return sel, report


# ---------------------------------------------------------------------- output
def _table_counts(n: int, kept: int) -> list[int]:
    ks = {1, n, kept}
    k = 2
    while k < n:
        ks.add(k)
        k *= 2
    return sorted(x for x in ks if 1 <= x <= n)


def format_table(report: dict) -> str:
    """Per element: what was dropped and why, and the information kept against the number kept."""
    rep = report.get("selection", report)
    out = []
    for el, r in rep["elements"].items():
        c = r["counts"]
        out.append(f"{el}: {r['n_candidates']} candidates on {r['n_atoms']} atoms "
                   f"({r['n_atoms_available']} available) -> kept {r['n_kept']} ({rep['method'].upper()}); "
                   f"dropped {c['constant']} constant, {c['mostly zero']} mostly zero, "
                   f"{c['duplicate']} near-duplicates, {c['not selected']} not selected")
        cv = r["curve"]
        if not cv["n"]:
            continue
        out.append(f"  {'kept':>5}  {'explained var':>13}  {'PCA optimum':>11}  {'rel. recon. error':>17}")
        for k in _table_counts(len(cv["n"]), r["n_kept"]):
            mark = "  <- kept" if k == r["n_kept"] else ""
            out.append(f"  {k:>5}  {cv['explained_variance'][k - 1]:>13.6f}  {cv['pca_variance'][k - 1]:>11.6f}"
                       f"  {cv['reconstruction_error'][k - 1]:>17.3e}{mark}")
    return "\n".join(out)


def plot_selection(report: dict, path) -> Path:
    """PNG: explained variance (and the PCA optimum) and reconstruction error against the number kept."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rep = report.get("selection", report)
    els = list(rep["elements"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for el in els:
        r = rep["elements"][el]
        cv = r["curve"]
        if not cv["n"]:
            continue
        l, = axes[0].plot(cv["n"], cv["explained_variance"], label=f"{el} ({rep['method'].upper()})")
        axes[0].plot(cv["n"], cv["pca_variance"], "--", color=l.get_color(), alpha=0.6, label=f"{el} PCA optimum")
        axes[1].semilogy(cv["n"], np.maximum(cv["reconstruction_error"], 1e-16), color=l.get_color(), label=el)
        for ax in axes:
            ax.axvline(r["n_kept"], color=l.get_color(), lw=0.8, ls=":")
    axes[0].set_xlabel("symmetry functions kept")
    axes[0].set_ylabel("explained variance (standardised G)")
    axes[1].set_xlabel("symmetry functions kept")
    axes[1].set_ylabel("relative reconstruction error ‖G − P G‖/‖G‖")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(report: dict, path) -> Path:
    """The report as JSON (``.json``) or YAML (anything else)."""
    path = Path(path)
    if path.suffix == ".json":
        path.write_text(json.dumps(report, indent=1) + "\n")
    else:
        import yaml
        path.write_text(yaml.safe_dump(report, sort_keys=False, width=120))
    return path
