"""Atomic charges learned by per-atom property networks, against GFN2-xTB (tblite) charges or, with ``--reference
gpaw-hirshfeld``, Hirshfeld charges of the PBE density (GPAW) made through the label store, on a periodic system:
liquid water (``--system water``), packed ethanol (``--system ethanol``),
amorphous silica (``--system sio2``) or TiO2 polymorphs (``--system tio2``).

Data:
- ``ethanol``: ``--frames`` (default 160) periodic boxes of 16 ethanol molecules at the liquid's density (11.58 Å
  cubic, 144 atoms), each made here (``ethanol_box``, seed = frame number) from rMD17 geometries
  (``../shared/data/rmd17``, CC0: 500 K intramolecular motion) randomly rotated about a bcc arrangement, no two
  molecules closer than 3.0 Å (C/O–C/O), 2.0 Å (H–C/O), 1.9 Å (H–H): packings, not an equilibrated liquid — every
  frame has its own contacts. ~8–10 s per frame. Besides the per-element figures it prints the errors per site
  (H on O, on CH2, on CH3; the two C; O), labels the test molecules alone too (GFN2-xTB, through the store) and
  prints how much the neighbours move each site's charge and how much of that a linear function of the
  potential of the other molecules at the molecule's atoms explains.
- ``water``: the DeePMD water frames in ``../shared/data/water-deepmd`` (64 H2O in a 12.44 Å cubic box,
  LGPL-3.0): every 4th frame of each of the four systems, ``--frames`` per system (default 20).
- ``sio2``: amorphous silica made here: ``--cells`` (default 3) melt–quenches of 72 atoms (24 SiO2, 2.2 g/cm³) with
  ``hdnnp amorphous -r vashishta-sio2`` (5 ps at 4000 K, 500 K/ps to 300 K, 2 ps there; seeds 1, 2, ...), every
  second frame of each quench (``--frames``, default 48 per cell): liquid to glass. ~8–18 s per frame for GFN2-xTB
  on one core.
- ``tio2``: the aenet TiO2 set in ``../shared/data/tio2-aenet`` (Artrith & Urban 2016, MIT; rutile, anatase,
  brookite and other cells of 6–95 atoms, bulk and surfaces): every 2nd cell of at most 47 atoms, ``--frames``
  in all (default 400; ~3 s per cell for GFN2-xTB on one core). Its charges spread far more than water's: Ti
  from ~0.06 e (under-coordinated, surfaces) to ~0.83 e.
Every structure is labelled with the ``gfn2-xtb`` preset (tblite; Mulliken-type charges in e; or GPAW, see below) into
``WORKDIR/labels.db`` as it finishes; cells whose SCF does not converge are recorded as failed and left out.
Every 4th labelled structure is the test set (sio2: every frame of the last melt–quench); the rest train (10 % of
them validation).

Model: one network per element on automatically chosen symmetry functions, the predictions shifted per
structure so that they sum to its total charge (``total_charge: true``), Adam.

Reported on the test set: per element the charge RMSE divided by the standard deviation of the reference
charges (goal ≤ 0.15), and the largest |Σ q_i − Q| over the test frames (exact conservation: ~1e-13).

Measured 2026-12-06, water (80 frames, 25 s per frame for GFN2-xTB on one core; 54 train, 6 validation, 20 test
frames):

    default (64 SFs per element, cutoff 6 Å, 64-64, 1,500 epochs, 92 s):
    charge_rel_rmse=0.405 charge_rel_rmse_H=0.405 charge_rel_rmse_O=0.318 total_charge_err=5.7e-14
    40 SFs, 32-32, 400 epochs:   charge_rel_rmse_H=0.409 charge_rel_rmse_O=0.272
    cutoff 8 Å:                  charge_rel_rmse_H=0.430 charge_rel_rmse_O=0.323

    again 2026-12-07 (labels made again, same frames; since session 12 every network keeps its own best
    validation epoch; 259 s beside other jobs):
    charge_rel_rmse=0.360 charge_rel_rmse_H=0.360 charge_rel_rmse_O=0.250 total_charge_err=2.8e-14
    charge equilibration (--qeq), same labels (665 s):
    charge_rel_rmse=0.450 charge_rel_rmse_H=0.448 charge_rel_rmse_O=0.450 total_charge_err=9.2e-14
    --frames 40 (100 frames, 68 train; 141 s):
    charge_rel_rmse=0.348 charge_rel_rmse_H=0.348 charge_rel_rmse_O=0.245 total_charge_err=2.8e-14

    --qeq again with the electronegativity scale per element from the data (2026-12-07, --frames 40, 598 s):
    charge_rel_rmse=0.453 charge_rel_rmse_H=0.400 charge_rel_rmse_O=0.453 total_charge_err=1.5e-13
    the same, hardness started at 50 instead of 1 eV/e² (nearly local charges at the start; 324 s):
    charge_rel_rmse=0.362 charge_rel_rmse_H=0.362 charge_rel_rmse_O=0.259 total_charge_err=2.8e-14
    — the local networks' figures; the hardness stayed at 50 (H 50.3, O 50.0): the fit gains nothing from the
    long-range response of the charge-equilibration model.

    --neighbour-features (each atom's networks also see its neighbours' symmetry functions; 2026-12-07, --frames
    40, 64-64, 1,429 s beside other jobs):
    charge_rel_rmse=0.349 charge_rel_rmse_H=0.349 charge_rel_rmse_O=0.242 total_charge_err=2.5e-14
    — no change (they took ethanol's O shielding from 0.176 to 0.115).

    --response (charge also flows between neighbours in the potential of the other atoms' charges; 2026-12-07,
    --frames 40, 600 epochs, one core):
    charge_rel_rmse=0.227 charge_rel_rmse_H=0.227 charge_rel_rmse_O=0.188 total_charge_err=5.7e-14
    with --response-width 1.5 (287 s): H 0.259, O 0.217; and a committee of four with --member-splits: H 0.255,
    O 0.207; the potential made self-consistent in three steps (a trial, not kept): H 0.255, O 0.211; with
    --neighbour-features too: validation loss 0.084 against 0.055 at a third of the run (stopped).

Water with GFN2-xTB charges does not reach the goal (with GPAW's Hirshfeld charges it does: below), and charge
equilibration does not help it (local electronegativities make local charges only through the inverse Coulomb
matrix, which spreads each over the neighbours). Why not:
``diag_charge_locality.py`` shows that what lies beyond the 6 Å cutoff moves an H charge by RMS 0.17 of the H spread
— a floor for any local network, close to the goal itself. What moves these charges: the net charge of a water
molecule spreads by 0.023 e over the test frames (charge transfer along hydrogen bonds) — more than an H charge
(0.012 e). A quadratic fit of the H charge on its own O–H length explains nothing (RMSE/std 0.995); with the H-bond
length 0.74, the Ewald potential of fixed SPC/E charges at the H adds almost nothing (0.71): the networks' 0.36 is
well beyond these. The charges spread little (0.012 e for H, 0.020 e for O); the training set keeps RMSE/std ~0.21
with these local networks (loss 0.044 against 0.15 on validation), and a longer cutoff did not help. More frames
help only slowly (54 → 68 training frames: 0.360 → 0.348); every frame rather than every 4th, or descriptors that
see the hydrogen-bond network, are what is left to try.

Hirshfeld charges of the PBE density (``--reference gpaw-hirshfeld``: GPAW LCAO dzp, grid 0.2 Å, Γ point; water,
2026-12-07, the same 80 frames as above; 130 s per frame on one core, 65–90 s with two workers): H 0.104 ± 0.015 e,
O −0.209 ± 0.027 e; every frame's charges sum to −0.023 e (the partition's integration, not a charged cell; with
``total_charge: true`` the predictions sum to 0, an offset of 1.2e-4 e per atom, under 1 % of the spread). The
labels are clean: a 10⁴× tighter SCF moves them by 2e-5 e, shifting all atoms by (0.1, 0.07, 0.033) Å against the
grid by 2–4e-5 e. Unlike GFN2-xTB's these charges are local, and the automatic set of 64 functions per element
was what limited them: a linear fit on the functions (44 frames, 31 train) gives H 0.254 / O 0.136 with those 64,
0.202 / 0.098 with all 252 candidates, 0.184 / 0.093 with every candidate once ζ runs to 32 (416 H, 391 O
functions; 200 of them: 0.193; an 8 Å cutoff: 0.209). Networks on those: 64-64 0.212 / 0.115, 16-16 0.195 /
0.110, 16-16 with ``--response`` 0.166 / 0.108.

    --frames 20 --sf 512 --zetas 1 2 4 8 16 32 --hidden 16 16 --epochs 400 (60 train, 20 test frames; 47 s):
    charge_rel_rmse=0.183 charge_rel_rmse_H=0.183 charge_rel_rmse_O=0.106 total_charge_err=1.4e-14
    the same with --response (236 s):
    charge_rel_rmse=0.151 charge_rel_rmse_H=0.151 charge_rel_rmse_O=0.105 total_charge_err=1.1e-14
    the same with --committee 4 --member-splits (936 s on two cores beside other work):
    charge_rel_rmse=0.147 charge_rel_rmse_H=0.147 charge_rel_rmse_O=0.099 total_charge_err=3.6e-15
    — within 15 % of the spread for both elements (the goal), H narrowly.

Ethanol boxes (``--system ethanol``, 2026-12-07; GFN2-xTB 8.2 s per frame; every 4th frame tests):

    --frames 160, local networks (64-64, 1,500 epochs, 239 s):
    charge_rel_rmse=0.468 charge_rel_rmse_H=0.094 charge_rel_rmse_C=0.059 charge_rel_rmse_O=0.468
    the same with --neighbour-features (787 s):  H 0.102  C 0.066  O 0.455
    the same with --response --response-width 1.5 (1,624 s beside other jobs):
    charge_rel_rmse=0.386 charge_rel_rmse_H=0.067 charge_rel_rmse_C=0.058 charge_rel_rmse_O=0.386
    --response --epochs 300 (0.75 Å; 0.4 Å: O 0.290):
    charge_rel_rmse=0.299 charge_rel_rmse_H=0.059 charge_rel_rmse_C=0.052 charge_rel_rmse_O=0.299
    --frames 480 --epochs 400, local networks (one core, 158 s):  H 0.086  C 0.054  O 0.449
    --frames 480 --response --response-width 1.5 --epochs 400 (one core, 656 s):
    charge_rel_rmse=0.294 charge_rel_rmse_H=0.055 charge_rel_rmse_C=0.053 charge_rel_rmse_O=0.294
    (training frames: O 0.151); the same at 0.75 Å (one core, 883 s):
    charge_rel_rmse=0.236 charge_rel_rmse_H=0.047 charge_rel_rmse_C=0.044 charge_rel_rmse_O=0.236
    What the neighbours do to a molecule (the test molecules labelled alone): O ±0.0072 e, H ±0.008–0.011 e, C ±0.005–0.006 e; the potential of the other molecules at the molecule's atoms
    explains 78 % (O), 85 % (H), 55 % (C) of it, linearly (five-fold cross-validated).

Amorphous silica (``--system sio2``, 2026-12-07): 144 frames of three melt–quenches, all labelled (14.9 s per
frame on one core, none failed); charges O −0.32 ± 0.06 e, Si 0.65 ± 0.03 e. Trained on cells 1 and 2 (96
frames), tested on every frame of cell 3 (48, liquid at 4000 K to glass at 300 K):

    default (64 SFs, 64-64, 1,500 epochs, 127 s):
    charge_rel_rmse=0.426 charge_rel_rmse_O=0.320 charge_rel_rmse_Si=0.426 total_charge_err=7.3e-15
    --committee 8 --member-splits --hidden 16 16:
    charge_rel_rmse=0.386 charge_rel_rmse_O=0.307 charge_rel_rmse_Si=0.386 total_charge_err=3.3e-15
    the same with --neighbour-features (377 s):
    charge_rel_rmse=0.347 charge_rel_rmse_O=0.291 charge_rel_rmse_Si=0.347 total_charge_err=2.4e-15
    the same with --qeq instead:
    charge_rel_rmse=0.648 charge_rel_rmse_O=0.476 charge_rel_rmse_Si=0.648 total_charge_err=1.2e-14

    eight melt–quenches (--cells 8: 384 frames, 9.1 s per frame for the 240 new ones), trained on cells 1–7 (336
    frames), tested on cell 8; committee 8, own splits, 16-16, neighbour sums (1,314 s):
    charge_rel_rmse=0.262 charge_rel_rmse_O=0.258 charge_rel_rmse_Si=0.262 total_charge_err=3.6e-15
    (3.5× the frames: Si 0.347 → 0.262, O 0.291 → 0.258 — on another test cell; at that rate Si would need ~10×
    more frames again for 0.15.)

Not the goal either: with five times water's spread of O charges, the networks still miss a third of it on a glass
they never saw (with the neighbour sums the networks fit their training frames to ~0.08 and held-out frames of the
same two cells to ~0.24: more, and more varied, frames are what they lack).

TiO2 (``--system tio2``, measured 2026-12-06): at 300 K electronic temperature the SCF of 175 of 400 cells did not
converge in 250 cycles; at 3000 K (the default here) 169 still failed (recorded in the store, left out), 2.0 s per
cell. On the 231 that converged (Ti 0.06–0.83 e):

    64 SFs, 64-64, 1,500 epochs (300 K labels, 225 cells):  charge_rel_rmse_O=0.890 charge_rel_rmse_Ti=0.696
    32 SFs, 16-16, 500 epochs (300 K labels):               charge_rel_rmse_O=0.676 charge_rel_rmse_Ti=0.521
    charge equilibration (--qeq), 300 K labels:             charge_rel_rmse_O=0.699 charge_rel_rmse_Ti=0.526
    32 SFs, 16-16, 500 epochs (3000 K labels, 231 cells):   charge_rel_rmse_O=0.672 charge_rel_rmse_Ti=0.439

    the 163 stoichiometric cells alone (--stoichiometric; Ti2O4 and Ti8O16), same settings (2026-12-07):
    charge_rel_rmse=0.456 charge_rel_rmse_O=0.456 charge_rel_rmse_Ti=0.295 total_charge_err=1.8e-15

Worse than water. The charges that vary most are those of the oxygen-deficient cells (Ti8O14, Ti8O15: Ti from
0.06 e), where the extra electrons spread over the cell by the SCF; the 64-64 networks fit the training set to
RMSE/std 0.1 and miss the test set (0.9). Not a system where local charge networks reach 15 % with ~200 cells —
nor are its 6- and 24-atom cells, which tblite computes at the Γ point only, one whose charges are converged in
the cell size.

Last line: charge_rel_rmse=<max over elements> charge_rel_rmse_<El>=… total_charge_err=…
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import _local  # noqa: F401  (hdnnp from src/ or the installed package)
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HDNNP_SHARED", ROOT.parent / "shared"))


def ethanol_box(seed: int, molecules: int = 16, density: float = 0.789):
    """A periodic box of ``molecules`` (16: a bcc arrangement of two per octant) rMD17 ethanol geometries
    (CC0; each drawn at random from the first 1,000 of ``rmd17_ethanol_train_01``, 500 K intramolecular motion),
    randomly rotated and displaced (0.3 Å) about the sites, at the liquid's density (0.789 g/cm³: 11.58 Å for 16),
    with no two molecules closer than 3.0 Å (C/O–C/O), 2.0 Å (H–C/O) or 1.9 Å (H–H) — packings, not an
    equilibrated liquid, so every frame differs in its contacts (hydrogen bonds included)."""
    from ase import Atoms
    from scipy.spatial.transform import Rotation

    if molecules != 16:
        raise ValueError("ethanol_box places 16 molecules")
    z = np.load(SHARED / "data" / "rmd17" / "rmd17_ethanol_train_01.npz")
    L = (molecules * 46.069 / 6.02214076e23 / density * 1e24) ** (1.0 / 3.0)
    c = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)], float)
    sites = np.concatenate([c, c + 0.5]) * L / 2
    heavy = np.asarray(z["nuclear_charges"]) > 1
    lim = np.where(heavy[:, None] & heavy[None], 3.0, np.where(heavy[:, None] | heavy[None], 2.0, 1.9))
    for attempt in range(20):            # a molecule that finds no place: the whole box again
        rng = np.random.default_rng([seed, 46] + ([attempt] if attempt else []))
        placed = []
        for m in range(molecules):
            for _ in range(10000):
                g = z["coords"][rng.integers(1000)]
                g = Rotation.random(random_state=int(rng.integers(2 ** 31))).apply(g - g.mean(0)) + sites[m] \
                    + rng.normal(0.0, 0.3, 3)
                if all(not (np.linalg.norm((d := g[:, None] - p[None]) - L * np.round(d / L), axis=2) < lim).any()
                       for p in placed):
                    placed.append(g)
                    break
            else:
                break
        if len(placed) == molecules:
            break
    else:
        raise RuntimeError(f"ethanol box {seed}: no packing found")
    a = Atoms(numbers=np.tile(z["nuclear_charges"], molecules), positions=np.concatenate(placed), cell=[L] * 3,
              pbc=True)
    a.wrap()
    return a


def ethanol_sites(s) -> dict:
    """{site: atom mask} of an ethanol box: H on O, H on the CH2 carbon, H on the CH3 carbon, the CH2 (bonded to O)
    and the CH3 carbon, O — from the (minimum-image) distances within each molecule (9 atoms in rMD17 order)."""
    n = s.natoms // 9
    L = np.diag(np.asarray(s.cell))
    r = s.positions.reshape(n, 9, 3)
    num = s.numbers[:9]
    out = {k: np.zeros(s.natoms, bool) for k in ("H(O)", "H(CH2)", "H(CH3)", "C(H2O)", "C(H3)", "O")}
    cs, o = np.flatnonzero(num == 6), int(np.flatnonzero(num == 8)[0])
    for m in range(n):
        dist = lambda i, j: np.linalg.norm((d := r[m, i] - r[m, j]) - L * np.round(d / L))     # noqa: E731
        c2 = min(cs, key=lambda c: dist(c, o))
        for i in range(9):
            if num[i] == 8:
                k = "O"
            elif num[i] == 6:
                k = "C(H2O)" if i == c2 else "C(H3)"
            else:
                near = min([o, *cs], key=lambda j: dist(i, j))
                k = "H(O)" if near == o else ("H(CH2)" if near == c2 else "H(CH3)")
            out[k][9 * m + i] = True
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--system", choices=["water", "tio2", "sio2", "ethanol"], default="water")
    p.add_argument("--cells", type=int, default=3, help="sio2: amorphous cells (melt–quenches from seeds 1, 2, ...)")
    p.add_argument("--workdir", type=Path, help="default: bench_charges_<system>")
    p.add_argument("--frames", type=int, help="water: frames per system (four systems, default 20); "
                                                "tio2: cells in all (default 400); sio2: frames per "
                                                "melt–quench (default 48)")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--electronic-temperature", type=float,
                   help="K, GFN2-xTB's Fermi smearing (default: 300 for water, 3000 for tio2, where at 300 K the SCF "
                        "of 175 of 400 cells did not converge in 250 cycles)")
    p.add_argument("--epochs", type=int, default=1500)
    p.add_argument("--sf", type=int, default=64, help="automatic symmetry functions per element")
    p.add_argument("--zetas", type=int, nargs="+",
                   help="angular ζ of the automatic candidates (default 1 2 4; sharper angles see hydrogen bonds)")
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    p.add_argument("--cutoff", type=float, help="symmetry-function cutoff, Å (default: from the data)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--qeq", action="store_true",
                   help="charge equilibration (equilibrate: true): electronegativities from the networks, charges from "
                        "the electrostatics of the whole cell")
    p.add_argument("--response", action="store_true",
                   help="properties.targets[0].response: charge also flows between neighbours in proportion to the "
                        "difference of the electrostatic potential of the other atoms' charges")
    p.add_argument("--response-width", type=float, default=0.75,
                   help="properties.targets[0].response_width, Å (the figures above before 2026-12-07 14:00: 1.5)")
    p.add_argument("--stoichiometric", action="store_true",
                   help="tio2: only the TiO2 cells (O = 2 Ti), without the oxygen-deficient Ti8O14 and Ti8O15")
    p.add_argument("--committee", type=int, default=1, help="properties.committee")
    p.add_argument("--member-splits", action="store_true", help="properties.member_splits (committees)")
    p.add_argument("--neighbour-features", action="store_true", help="properties.neighbour_features: every atom's "
                   "networks also see its neighbours' symmetry functions")
    p.add_argument("--reference", choices=["gfn2-xtb", "gpaw-hirshfeld"], default="gfn2-xtb",
                   help="the charges: GFN2-xTB (tblite, Mulliken-type) or Hirshfeld charges of the PBE density (GPAW, "
                        "LCAO dzp, grid 0.2 Å, Γ point)")
    p.add_argument("--label-only", action="store_true")
    a = p.parse_args()

    from hdnnp.io import read, write
    from hdnnp.labels import LabelStore, label
    from hdnnp.labels.executor import default_workers
    from hdnnp.references import get_reference

    wd = (a.workdir or Path(f"bench_charges_{a.system}")).resolve()
    wd.mkdir(parents=True, exist_ok=True)
    frames, cell_of = [], []
    if a.system == "water":
        for k in range(4):
            frames += read(SHARED / "data" / "water-deepmd" / "data" / f"data_{k}")[::4][:a.frames or 20]
    elif a.system == "ethanol":
        frames = [ethanol_box(seed) for seed in range(1, (a.frames or 160) + 1)]
        from hdnnp.structures import Structure
        frames = [Structure.from_ase(f) for f in frames]
    elif a.system == "tio2":
        cells = [s for s in read(SHARED / "data" / "tio2-aenet" / "dir_xsf.tar.gz") if s.natoms <= 47]
        frames = cells[::2][:a.frames or 400]
    else:
        from _local import hdnnp as sh
        for seed in range(1, a.cells + 1):
            out = wd / f"cell_s{seed}"
            if not (out / "quench.extxyz").is_file():
                sh(["amorphous", "-r", "vashishta-sio2", "-c", "SiO2", "--atoms", 72, "--density", 2.2,
                    "--t-melt", 4000, "--melt", 5, "--rate", 500, "--anneal", 2, "--seed", seed, "-o", out], wd)
            part = read(out / "quench.extxyz")[::2][:a.frames or 48]
            cell_of += [seed] * len(part)
            frames += part
    t0 = time.perf_counter()
    etemp = a.electronic_temperature or (300.0 if a.system == "water" else 3000.0)
    if a.reference == "gpaw-hirshfeld":
        ref = get_reference("gpaw-hirshfeld", {"kpts": [1, 1, 1]})     # the preset at the Γ point
    else:
        ref = get_reference({"code": "tblite", "method": "GFN2-xTB", "electronic_temperature": etemp})
    name = {"gfn2-xtb": "GFN2-xTB", "gpaw-hirshfeld": "GPAW Hirshfeld"}[a.reference]
    run = label(frames, ref, LabelStore(wd / "labels.db"),
                workers=default_workers() if a.workers is None else a.workers, desc=f"label ({name})")
    print(run.summary(), flush=True)
    if run.interrupted:
        return 130
    el = [r.elapsed for r in run.results if r is not None and r.ok]
    print(f"{name}: {np.mean(el):.1f} s per structure", flush=True)
    if a.label_only:
        return 0
    lab = run.labelled
    if a.stoichiometric and a.system == "tio2":
        lab = [x for x in lab if (x.numbers == 8).sum() == 2 * (x.numbers == 22).sum()]
        print(f"{len(lab)} stoichiometric cells", flush=True)
    if a.system == "sio2":          # the last melt–quench is the test set: a glass the networks never saw
        last = [c for c, r in zip(cell_of, run.results) if r is not None and r.ok]
        test = [s for s, c in zip(lab, last) if c == a.cells]
        train = [s for s, c in zip(lab, last) if c != a.cells]
    else:
        test = lab[::4]
        train = [s for k, s in enumerate(lab) if k % 4]
    write(wd / "train.xyz", train)
    write(wd / "test.xyz", test)
    cfg = {
        "data": {"train": ["train.xyz"], "test": ["test.xyz"], "validation_fraction": 0.1},
        "model": {"symmetry_functions": {"auto": {"budget": a.sf, **({"cutoff": a.cutoff} if a.cutoff else {}),
                                                         **({"zetas": a.zetas} if a.zetas else {})}}},
        "loss": {"energy": 0.0, "forces": 0.0},
        "properties": {"targets": [{"name": "charges", "unit": "e", "total_charge": True,
                                    "equilibrate": a.qeq, "response": a.response,
                                    "response_width": a.response_width}],
                       "hidden": a.hidden, "epochs": a.epochs, "batch_size": a.batch_size, "lr": 3e-3,
                       "min_lr": 1e-5, "neighbour_features": a.neighbour_features,
                       "committee": a.committee, "member_splits": a.member_splits},
        "run": {"output": "run", "seed": 1, "progress": "log"},
    }
    import shutil

    import yaml
    (wd / "train.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    if (wd / "run").exists():
        shutil.rmtree(wd / "run")
    from hdnnp.training import load_config, train as train_run
    t1 = time.perf_counter()
    res = train_run(load_config(wd / "train.yaml"))
    t_train = time.perf_counter() - t1
    tab = res["properties"]["test"]["charges"]
    from hdnnp.properties.predict import PropertyPredictor
    pred = PropertyPredictor(wd / "run" / "potential").predict(test)
    qerr = max(abs(float(p["charges"][0].sum()) - s.charge) for p, s in zip(pred, test))
    for e, t in tab.items():
        print(f"{e}: test charge RMSE {t['rmse']:.4f} e, std {t['std']:.4f} e, RMSE/std {t['rel_rmse']:.3f} "
              f"({t['n']} atoms)")
    worst = max(t["rel_rmse"] for t in tab.values())
    sites = {}
    if a.system == "ethanol":       # how much of each element's spread is the difference between its sites
        ref_q = np.concatenate([np.asarray(s.atom_properties["charges"]) for s in test])
        pred_q = np.concatenate([p["charges"][0] for p in pred])
        masks = [ethanol_sites(s) for s in test]
        for k in masks[0]:
            m = np.concatenate([mk[k] for mk in masks])
            r, e = ref_q[m], pred_q[m] - ref_q[m]
            sites[k] = {"mean": float(r.mean()), "std": float(r.std()), "rmse": float(np.sqrt(np.mean(e ** 2)))}
            print(f"site {k:<7} charge {r.mean():+.4f} ± {r.std():.4f} e, RMSE {sites[k]['rmse']:.4f} e, "
                  f"RMSE/site std {sites[k]['rmse'] / r.std():.3f}")
        # the same molecules alone (GFN2-xTB, through the store): how much of each charge the neighbours make
        from hdnnp.structures import Structure
        L = [np.diag(np.asarray(s.cell)) for s in test]
        alone = []
        for s, Lk in zip(test, L):
            for m in range(s.natoms // 9):
                r = s.positions[9 * m:9 * m + 9]
                r = r[0] + (r - r[0]) - Lk * np.round((r - r[0]) / Lk)              # whole molecule
                alone.append(Structure(numbers=s.numbers[9 * m:9 * m + 9], positions=r))
        iso = label(alone, ref, LabelStore(wd / "labels.db"), workers=1, desc="label single molecules")
        if iso.interrupted or len(iso.labelled) != len(alone):
            print("single molecules: not all labelled; no split into own and neighbours' part")
        else:
            q_alone = np.concatenate([np.asarray(x.atom_properties["charges"]) for x in iso.labelled])
            for k in masks[0]:
                m = np.concatenate([mk[k] for mk in masks])
                d = ref_q[m] - q_alone[m]
                sites[k]["neighbours_std"] = float(d.std())
                print(f"site {k:<7} the neighbours move it by {d.mean():+.4f} ± {d.std():.4f} e "
                      f"(the networks' RMSE {sites[k]['rmse']:.4f} e)")
            # is that part a response to the potential of the other molecules? A linear fit (5-fold cross-validated)
            # of it on that potential at the nine atoms of the molecule, per atom of the molecule
            from hdnnp.properties.qeq import coulomb_matrix
            pots, k0 = [], 0
            for s in test:
                n = s.natoms // 9
                A = coulomb_matrix(s.positions, s.numbers, s.cell, s.pbc, sigma=np.full(s.natoms, 0.05))
                mol = np.repeat(np.arange(n), 9)
                pots.append((np.where(mol[:, None] != mol[None], A, 0.0) @ q_alone[k0:k0 + s.natoms]).reshape(n, 9))
                k0 += s.natoms
            V = np.concatenate(pots)                                                   # (molecules, 9)
            dq = (ref_q - q_alone).reshape(-1, 9)
            X = np.c_[V, np.ones(len(V))]
            fold = np.arange(len(V)) % 5
            explained = {}
            for i, sym in enumerate(test[0].symbols[:9]):
                pred_i = np.zeros(len(V))
                for f in range(5):
                    c = np.linalg.lstsq(X[fold != f], dq[fold != f, i], rcond=None)[0]
                    pred_i[fold == f] = X[fold == f] @ c
                explained.setdefault(sym, []).append(1.0 - np.var(dq[:, i] - pred_i) / np.var(dq[:, i]))
            for sym, v in explained.items():
                print(f"{sym}: the potential of the other molecules at the molecule's atoms explains "
                      f"{100 * np.mean(v):.0f} % of what the neighbours do to its charges (linear, cross-validated)")
            sites["explained_by_potential"] = {sym: float(np.mean(v)) for sym, v in explained.items()}
    (wd / "bench_charges.json").write_text(json.dumps({"per_element": tab, "total_charge_err": qerr, "sites": sites,
                                                       "train_s": t_train, "label_s_per_frame": float(np.mean(el)),
                                                       "wall_s": time.perf_counter() - t0}, indent=2))
    print(f"training {t_train:.0f} s")
    print(f"charge_rel_rmse={worst:.3f} " + " ".join(f"charge_rel_rmse_{e}={t['rel_rmse']:.3f}" for e, t in tab.items())
          + f" total_charge_err={qerr:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
