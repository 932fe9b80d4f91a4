"""Descriptor length and accuracy against the number of elements: element-resolved SFs (types 2/3),
element-weighted SFs (types 12/13) and the learned element embedding (``model.embedding``) on
element-resolved SFs, for EMT-labelled alloys of 2, 3, 4 and 5 elements.

Data (fixed seed, built in a temporary folder): for the first n of Cu, Ag, Au, Ni, Pd, random fcc
(8, 16, 32 atoms) and bcc (16, 24 atoms) supercells with random compositions (Dirichlet(1)
fractions), Vegard lattice constants from the EMT fcc ones, ±4 % volumetric and ~2 % shear strain,
and Gaussian rattles of 0.02-0.12 Å; energies (eV) and forces (eV/Å) from ``ase.calculators.emt``.
``--structures`` per set, the last ``--test`` of them the fixed test set (no validation set).

Element-resolved SFs and the embedding use the same SF shapes (Gaussian, r_c 5 Å, cutoff type 6,
6 shifted radial functions on [2, 5] Å, angular η = 0, ζ = 1, 4, λ = ±1; the embedding mixes them
into ``--channels`` = 4 channels per shape); the weighted set, whose length does not grow with n,
has a finer grid (12 radial, 2 angular η: 20 functions; ``--weighted-grid``). All runs use the same
network (``--hidden``, tanh) and the same optimiser budget (Levenberg–Marquardt, ``--epochs`` × ``--iterations``, loss weights energy 1
(eV/atom)², forces 0.05 (eV/Å)²), one thread.

``<kind>_len`` is per element: the input length of one element network (the same for every
element): resolved 6n + 4n(n+1)/2 (quadratic in n), weighted 20 and embedding 10·K (constant).
``<kind>_total_len`` sums it over the n element networks (n × per element: cubic, linear, linear).
Errors are test-set RMSEs: energy in meV/atom, force components in meV/Å. One line per n:

    sf_elements n_elements=<n> resolved_len=.. weighted_len=.. embedding_len=..
        resolved_total_len=.. weighted_total_len=.. embedding_total_len=.. resolved_e=..
        weighted_e=.. embedding_e=.. resolved_f=.. weighted_f=.. embedding_f=.. wall_s=..

and a last line ``sf_elements_summary ...`` with the worst ratio of weighted / embedding errors to
the resolved ones and the total wall time.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

t0 = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
import _local  # noqa: E402,F401  (hdnnp from src/ or the installed package)

METALS = ["Cu", "Ag", "Au", "Ni", "Pd"]
#: fcc lattice constants (Å) near the EMT minima
A_FCC = {"Cu": 3.61, "Ag": 4.09, "Au": 4.08, "Ni": 3.52, "Pd": 3.89}
CELLS = [("fcc", (2, 1, 1)), ("fcc", (2, 2, 1)), ("fcc", (2, 2, 2)), ("bcc", (2, 2, 2)),
         ("bcc", (3, 2, 2))]


def make_alloys(elements: list[str], n: int, seed: int) -> list:
    """``n`` random strained and rattled alloy cells of ``elements``, EMT-labelled."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lat, rep = CELLS[rng.integers(len(CELLS))]
        frac = rng.dirichlet(np.ones(len(elements)))
        a_fcc = float(sum(f * A_FCC[e] for f, e in zip(frac, elements)))
        a = a_fcc if lat == "fcc" else a_fcc / 2 ** (1 / 3)       # same volume per atom
        atoms = bulk("Cu", lat, a=a, cubic=True).repeat(rep)
        atoms.set_chemical_symbols(rng.choice(elements, size=len(atoms), p=frac).tolist())
        strain = np.eye(3) * (1 + rng.uniform(-0.04, 0.04) / 3) + rng.normal(0, 0.02, (3, 3))
        atoms.set_cell(atoms.cell[:] @ (0.5 * (strain + strain.T)), scale_atoms=True)
        atoms.positions += rng.normal(0, rng.uniform(0.02, 0.12), atoms.positions.shape)
        atoms.calc = EMT()
        atoms.get_potential_energy()
        atoms.get_forces()
        out.append(atoms)
    return out


#: (radial, angular η) grid sizes: element-resolved shapes, and the weighted set (which may be
#: larger: its length does not grow with the number of elements)
GRID = {"resolved": (6, 1), "weighted": (12, 2)}


def sf_lines(elements, weighted: bool) -> list[str]:
    from hdnnp.descriptors.generate import generate_lines
    nr, na = GRID["weighted" if weighted else "resolved"]
    return generate_lines(elements, 5.0, nr, na, rule="gastegger2018", r_min=2.0, zetas=(1, 4),
                          weighted=weighted)


def run(folder: Path, elements, kind: str, a) -> dict:
    from hdnnp.training import config_from_dict, train
    model = {"elements": list(elements), "hidden": list(a.hidden), "activation": "t",
             "symmetry_functions": {"lines": sf_lines(elements, kind == "weighted"),
                                    "cutoff_type": 6}}
    if kind == "embedding":
        model["embedding"] = {"channels": a.channels}
    cfg = config_from_dict({
        "data": {"train": [str(folder / "train.extxyz")], "test": [str(folder / "test.extxyz")],
                 "validation_fraction": 0.0},
        "model": model,
        "loss": {"energy": 1.0, "forces": 0.05},
        "optimizer": {"name": "lm", "epochs": a.epochs,
                      "lm": {"iterations": a.iterations, "force_atoms": a.force_atoms}},
        "run": {"output": str(folder / f"run_{kind}"), "seed": a.seed, "threads": 1,
                "plots": False, "progress": "log" if a.verbose else "none"},
    })
    res = train(cfg, log=print if a.verbose else (lambda *x, **k: None))
    e = res["errors"]["test"]
    return {"len": _input_length(elements, kind, a.channels), "e": e["energy_rmse"], "f": e["force_rmse"], "wall": res["wall_s"]}


def _input_length(elements, kind, channels) -> int:
    """Network input length of the first element (all elements have the same)."""
    from hdnnp.descriptors import SymmetryFunctionSet
    lines = sf_lines(elements, kind == "weighted")
    s = SymmetryFunctionSet.from_n2p2_lines(elements, [(i + 1, ln.split())
                                                      for i, ln in enumerate(lines)], 6)
    if kind != "embedding":
        return len(s.for_element(elements[0]))
    from hdnnp.training.embedding import mixing_layout
    return mixing_layout(s, elements[0])[3] * channels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-elements", type=int, nargs="+", default=[2, 3, 4, 5])
    ap.add_argument("--kinds", nargs="+", default=["resolved", "weighted", "embedding"])
    ap.add_argument("--structures", type=int, default=300)
    ap.add_argument("--test", type=int, default=60)
    ap.add_argument("--hidden", type=int, nargs="+", default=[8, 8])
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--force-atoms", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--weighted-grid", type=int, nargs=2, default=list(GRID["weighted"]),
                    metavar=("N_RADIAL", "N_ANGULAR_ETA"))
    ap.add_argument("--verbose", action="store_true", help="print the training logs")
    a = ap.parse_args()
    GRID["weighted"] = tuple(a.weighted_grid)
    import torch
    torch.set_num_threads(1)
    worst = {}
    with tempfile.TemporaryDirectory(prefix="bench_sf_elements_") as tmp:
        for n in a.n_elements:
            t1 = time.perf_counter()
            elements = METALS[:n]
            folder = Path(tmp) / f"n{n}"
            folder.mkdir()
            from ase.io import write
            frames = make_alloys(elements, a.structures, seed=1000 + n)
            write(folder / "train.extxyz", frames[:-a.test])
            write(folder / "test.extxyz", frames[-a.test:])
            r = {k: run(folder, elements, k, a) for k in a.kinds}
            parts = [f"{k}_len={r[k]['len']}" for k in a.kinds]
            parts += [f"{k}_total_len={n * r[k]['len']}" for k in a.kinds]
            parts += [f"{k}_e={r[k]['e']:.2f}" for k in a.kinds]
            parts += [f"{k}_f={r[k]['f']:.1f}" for k in a.kinds]
            print(f"sf_elements n_elements={n} " + " ".join(parts)
                  + f" wall_s={time.perf_counter() - t1:.0f}", flush=True)
            if "resolved" in r:
                for k in a.kinds:
                    if k != "resolved":
                        q = max(r[k]["e"] / r["resolved"]["e"], r[k]["f"] / r["resolved"]["f"])
                        worst[k] = max(worst.get(k, 0.0), q)
    print("sf_elements_summary " + " ".join(f"{k}_worst_error_ratio={v:.2f}"
                                             for k, v in worst.items())
          + f" wall_s={time.perf_counter() - t0:.0f}")


if __name__ == "__main__":
    main()
