"""Could charge equilibration reach reference charges that local networks miss? The electronegativities it needs.

Charge equilibration (``equilibrate: true``) makes charges q = argmin Σ χ_i q_i + ½ qᵀ(A + J) q at fixed total
charge, with local electronegativities χ_i. For reference charges q_ref and a hardness J the electronegativities
that reproduce them exactly are χ_i = −[(A + J) q_ref]_i + λ (λ: one constant per structure). If these are local
functions of each atom's environment, a local model learns them and the equilibrated charges follow — including
the long-range part no local charge network sees. This checks that with kernel ridge regression (Gaussian kernel
on each element's scaled symmetry functions, the charge benchmark's own), fitted on the training frames of a
finished ``bench_charges.py`` run and tested on its test frames:

- ``direct``: the charges themselves (then shifted to the total charge), the local-network route;
- ``J=…``: the implied χ (centred per structure) for that hardness (eV/e², every element), then the charges
  solved from the predicted χ.

Measured 2026-12-07 (RMSE / std of the test charges per element; kernel width 0.5, ridge 0.01 for water):

    water (--frames 40: 75 train, 25 test):    direct H 0.379 O 0.269
        J=0: H 1.12 O 1.82   J=5: H 0.62 O 0.67   J=20: H 0.46 O 0.34   J=100: H 0.39 O 0.27
    silica (--cells 8, every 4th training frame: 84 train, 48 test; width 1, ridge 0.01): direct O 0.438 Si 0.428
        J=0: O 4.9 Si 21.6   J=5: O 0.78 Si 1.58   J=20: O 0.53 Si 0.63   J=100: O 0.45 Si 0.45

The smaller the hardness — the more the charges answer to the whole structure — the worse: the electronegativities
that GFN2-xTB's charges imply are far less local than the charges themselves, and at large J charge equilibration
is the local model again. So charge equilibration with one hardness per element cannot beat local networks on these
charges (as the networks found: ``--qeq`` was worse on water, TiO2 and silica); the non-local part of GFN2-xTB's
Mulliken charges is not that of Gaussian charges with diagonal hardness.

Usage: ``python benchmarks/diag_qeq_implied.py WORKDIR [--stride N] [--gamma G] [--ridge R] [--J 0 5 20 100]``
(WORKDIR: a bench_charges work folder with train.xyz, test.xyz and run/potential). Last line: the figures.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _local  # noqa: F401  (hdnnp from src/ or the installed package)
import numpy as np


def krr(Xa, ya, Xb, ridge: float, gamma: float) -> np.ndarray:
    def K(P, Q):
        return np.exp(-gamma * ((P * P).sum(1)[:, None] + (Q * Q).sum(1)[None] - 2.0 * P @ Q.T))
    m = ya.mean()
    return K(Xb, Xa) @ np.linalg.solve(K(Xa, Xa) + ridge * np.eye(len(Xa)), ya - m) + m


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workdir", type=Path)
    p.add_argument("--stride", type=int, default=1, help="every N-th training frame (kernel size)")
    p.add_argument("--gamma", type=float, default=0.5)
    p.add_argument("--ridge", type=float, default=1e-2)
    p.add_argument("--J", type=float, nargs="+", default=[0.0, 5.0, 20.0, 100.0])
    a = p.parse_args()

    from hdnnp.io import read
    from hdnnp.properties.model import features, load
    from hdnnp.properties.qeq import coulomb_matrix

    model, sfset = load(a.workdir / "run" / "potential")
    els = model.elements

    def prepare(structures):
        out = []
        for s in structures:
            f = features(s, sfset, els)
            out.append((f, coulomb_matrix(s.positions, s.numbers, s.cell, s.pbc),
                        np.asarray(s.atom_properties["charges"], float), float(s.charge)))
        return out

    tr = prepare(read(a.workdir / "train.xyz")[::a.stride])
    te = prepare(read(a.workdir / "test.xyz"))

    def by_element(F, values):
        return {e: np.concatenate([v[f.atoms[e]] for (f, *_), v in zip(F, values)]) for e in range(len(els))}

    def to_frames(F, per_el):
        out, off = [], dict.fromkeys(per_el, 0)
        for f, *_ in F:
            v = np.zeros(f.natoms)
            for e, x in per_el.items():
                n = len(f.atoms[e])
                v[f.atoms[e]] = x[off[e]:off[e] + n]
                off[e] += n
            out.append(v)
        return out

    X = {name: {e: np.concatenate([f.G[e] for f, *_ in F]) for e in range(len(els))} for name, F in
         (("train", tr), ("test", te))}
    for e in range(len(els)):
        g = X["train"][e]
        rng = np.ptp(g, 0)
        mu, sc = g.mean(0), 1.0 / np.where(rng > 0, rng, 1.0)
        for name in X:
            X[name][e] = (X[name][e] - mu) * sc
    q_te = by_element(te, [q for *_, q, _ in te])

    def rel(pred):
        pe = by_element(te, pred)
        return {els[e]: float(np.sqrt(np.mean((pe[e] - q_te[e]) ** 2)) / q_te[e].std()) for e in pe if len(pe[e])}

    q_tr = by_element(tr, [q for *_, q, _ in tr])
    direct = to_frames(te, {e: krr(X["train"][e], q_tr[e], X["test"][e], a.ridge, a.gamma) for e in q_tr})
    direct = [p + (Q - p.sum()) / len(p) for p, (*_, Q) in zip(direct, te)]
    res = {"direct": rel(direct)}
    print("direct", res["direct"], flush=True)
    for J in a.J:
        chi = []
        for f, A, q, _ in tr:
            c = -(A + J * np.eye(len(q))) @ q
            chi.append(c - c.mean())
        c_tr = by_element(tr, chi)
        c_te = to_frames(te, {e: krr(X["train"][e], c_tr[e], X["test"][e], a.ridge, a.gamma) for e in c_tr})
        qs = []
        for (f, A, q, Q), c in zip(te, c_te):
            n = len(q)
            M = np.zeros((n + 1, n + 1))
            M[:n, :n] = A + J * np.eye(n)
            M[:n, n] = M[n, :n] = 1.0
            qs.append(np.linalg.solve(M, np.concatenate([-c, [Q]]))[:n])
        res[f"J={J:g}"] = rel(qs)
        print(f"J={J:g}", res[f"J={J:g}"], flush=True)
    print(" ".join(f"{k}:" + ",".join(f"{el}={v:.3f}" for el, v in d.items()) for k, d in res.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
