"""How local are the reference charges of liquid water? The bound any local charge network (cutoff R) has.

A local network gives an atom the same charge whatever lies beyond its cutoff R. This measures what the reference
does: for a few H atoms of one DeePMD water frame (``../shared/data/water-deepmd``, LGPL-3.0) it keeps every
molecule whose O lies within R of the H, fills the rest of the periodic box with the molecules of other frames
whose O lies beyond R + ``--gap`` (so nothing overlaps), and computes the charges with GFN2-xTB (tblite, the
``gfn2-xtb`` preset's method and electronic temperature). The spread of the H's charge over the fillings is what
its environment beyond R decides — the part no network with cutoff R can learn — reported relative to the
spread of H charges over the frames.

Measured 2026-12-07 (one core, ~25 s per 192-atom cell), R = 6 Å (the charge benchmark's cutoff), gap 0.6 Å,
four fillings per H:

    H 97: spread 0.0032 e   H 77: 0.0016 e   H 169: 0.0010 e      (std of H charges over frames 0.0122 e)
    locality_floor_rel=0.17

So with a 6 Å cutoff a local network cannot get the H charges of GFN2-xTB water below ~0.17 of their spread (the
goal of the charge benchmark is 0.15), however many frames it is trained on; the networks reach 0.35. (The
filling leaves a thin gap of lower density at R; the frames' own molecules beyond R are not the same as those of
the fillings either, so this is a measure of the size, not an exact bound.) Rotating the molecules beyond R at
random instead moved the H charges by 0.001–0.012 e — larger, as those arrangements break the hydrogen-bond
network far away.

Last line: locality_floor_rel=<RMS spread over the H atoms / std of H charges> R=…
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import _local  # noqa: F401  (hdnnp from src/ or the installed package)
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HDNNP_SHARED", ROOT.parent / "shared"))


def molecules(s) -> dict:
    """{O index: [O, H, H]}: every H to its nearest O (minimum image)."""
    Z, pos = s.numbers, s.positions
    O, H = np.flatnonzero(Z == 8), np.flatnonzero(Z == 1)
    out = {int(o): [int(o)] for o in O}
    for h in H:
        out[int(O[np.argmin(mic(pos[O] - pos[h], s.cell)[1])])].append(int(h))
    return out


def mic(d, cell):
    """(vectors, lengths) of the minimum images of the rows of ``d`` in a fully periodic ``cell`` (ASE)."""
    from ase.geometry import find_mic
    return find_mic(np.atleast_2d(d), np.asarray(cell), True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-R", "--radius", type=float, default=6.0, help="Å: the cutoff whose outside is exchanged")
    p.add_argument("--gap", type=float, default=0.6, help="Å between kept and filled molecules' O")
    p.add_argument("--atoms", type=int, default=3, help="H atoms tested")
    p.add_argument("--fillings", type=int, default=4, help="other frames whose molecules fill the outside")
    a = p.parse_args()
    from hdnnp.io import read
    from hdnnp.references import get_reference
    from hdnnp.structures import Structure

    ref = get_reference("gfn2-xtb")
    frames = read(SHARED / "data" / "water-deepmd" / "data" / "data_0")[:8 * (a.fillings + 1):8]
    A, others = frames[0], frames[1:]
    cell = np.asarray(A.cell)
    mA = molecules(A)
    rng = np.random.default_rng(2)
    spreads = []
    for h in rng.choice(np.flatnonzero(A.numbers == 1), a.atoms, replace=False):
        c = A.positions[h]
        Z0, P0 = [], []                      # the molecules of A within R of the H, kept in every filling
        for o, mem in mA.items():
            if mic(A.positions[o] - c, cell)[1][0] <= a.radius:
                Z0 += [A.numbers[k] for k in mem]
                P0 += [A.positions[k] for k in mem]
        ih = [k for k, x in enumerate(P0) if np.allclose(x, A.positions[h])][0]
        qs = []
        for B in others:
            Z, P = list(Z0), list(P0)
            for o, mem in molecules(B).items():
                if mic(B.positions[o] - c, cell)[1][0] > a.radius + a.gap:
                    Z += [B.numbers[k] for k in mem]
                    P += list(B.positions[o] + mic(B.positions[mem] - B.positions[o], cell)[0])
            s = Structure(np.array(Z), np.array(P), cell=cell, pbc=True)
            qs.append(float(ref.compute(s).atom_properties["charges"][ih]))
            print(f"H {h}: filled from another frame ({len(Z) // 3} molecules), q = {qs[-1]:.4f} e", flush=True)
        spreads.append(float(np.std(qs)))
        print(f"H {h}: spread over {len(qs)} fillings {spreads[-1]:.4f} e", flush=True)
    q = np.concatenate([ref.compute(f).atom_properties["charges"] for f in frames[:3]])
    Zs = np.concatenate([f.numbers for f in frames[:3]])
    std_h = float(q[Zs == 1].std())
    floor = float(np.sqrt(np.mean(np.square(spreads))) / std_h)
    print(f"std of H charges (3 frames): {std_h:.4f} e")
    print(f"locality_floor_rel={floor:.2f} R={a.radius:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
