"""The NMR application: ¹H and ¹³C spectra of ethanol from a 300 K MD run with the package's own potential,
shieldings predicted for every frame, and the time per frame against the PySCF reference per frame.

Needs two trained models (nothing is trained here):
  ``--potential``  an ethanol potential made by hdnnp (e.g. ``bench_init_default.py ethanol --keep DIR``:
                   ``DIR/ethanol/run/potential``),
  ``--shielding``  per-atom shielding networks (``bench_nmr_ethanol.py``: ``WORKDIR/run/potential``).

Steps:
1. MD: ``hdnnp md`` with LAMMPS, NVT 300 K (Nosé–Hoover, 100 fs), 0.5 fs, ``--steps`` (default 40,000 = 20 ps),
   a frame every ``--dump-every`` steps (default 20), starting from the first rMD17 test geometry;
2. reference shieldings σ_ref of tetramethylsilane (TMS) with the same method (pyscf RHF/6-31G* GIAO, through
   the label store) on an idealised geometry (Si–C 1.875 Å, C–H 1.09 Å, Si–C–H 111°, staggered);
3. ``hdnnp nmr`` on the trajectory (first ``--skip`` frames dropped) with δ = σ_ref(TMS) − σ_iso, labelling
   ``--reference-frames`` (default 10) evenly spaced frames with PySCF for its time per frame and the model's
   errors on MD geometries.

Measured 2026-12-06 with the ethanol potential of ``bench_init_default.py ethanol`` and the shielding networks of
``bench_nmr_ethanol.py`` (committee of 8; 20 ps, 2,000 frames, 100 dropped)::

    TMS RHF/6-31G* GIAO: σ_ref(H) = 32.771 ppm, σ_ref(C) = 199.830 ppm
    nmr_md frames=1901 model_ms_per_frame=0.390 reference_s_per_frame=2.31 speedup=5.93e+03 rmse_H_ppm=0.066 rmse_C_ppm=0.461

(one network trained on 500 geometries: 0.294 ms per frame, 7.85e+03, H 0.068, C 0.942 ppm.)
Mean shifts (ppm): CH2 4.23 and 4.31, CH3 2.27, 1.73 and 1.82, OH 0.80; C: CH2 55.5, CH3 23.3 (experiment in
solution: 3.7, 1.2, 2.6; 58, 18 — RHF/6-31G* of the isolated molecule, no solvent).

Last line: nmr_md frames=… model_ms_per_frame=… reference_s_per_frame=… speedup=… rmse_H_ppm=… rmse_C_ppm=…
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import _local  # noqa: F401  (hdnnp from src/ or the installed package)
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HDNNP_SHARED", ROOT.parent / "shared"))


def tms():
    """Tetramethylsilane on an idealised geometry (Å)."""
    from hdnnp.structures import Structure
    dirs = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float) / np.sqrt(3)
    num, pos = [14], [np.zeros(3)]
    c_hu = -np.cos(np.radians(111.0))          # cosine between C->H and the Si->C direction
    for u in dirs:
        c = 1.875 * u
        num.append(6)
        pos.append(c)
        e1 = np.cross(u, [0.0, 0.0, 1.0] if abs(u[2]) < 0.9 else [1.0, 0.0, 0.0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(u, e1)
        for k in range(3):
            phi = 2 * np.pi * k / 3
            h = c_hu * u + np.sqrt(1 - c_hu ** 2) * (np.cos(phi) * e1 + np.sin(phi) * e2)
            num.append(1)
            pos.append(c + 1.09 * h)
    return Structure(num, np.array(pos))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--potential", type=Path, required=True)
    p.add_argument("--shielding", type=Path, required=True)
    p.add_argument("--workdir", type=Path, default=Path("bench_nmr_md_ethanol"))
    p.add_argument("--steps", type=int, default=40000)
    p.add_argument("--dump-every", type=int, default=20)
    p.add_argument("--skip", type=int, default=100, help="frames dropped as equilibration")
    p.add_argument("--reference-frames", type=int, default=10)
    p.add_argument("--store", type=Path, help="label store (default WORKDIR/labels.db)")
    a = p.parse_args()

    from _local import hdnnp

    from hdnnp.io import read, write
    from hdnnp.labels import LabelStore, label
    from hdnnp.references import get_reference

    wd = a.workdir.resolve()
    wd.mkdir(parents=True, exist_ok=True)
    store = (a.store or wd / "labels.db").resolve()
    start = read(SHARED / "data" / "rmd17" / "rmd17_ethanol_test_01.npz")[0]
    write(wd / "start.xyz", [start])
    traj = wd / "md" / "trajectory.extxyz"
    if not traj.is_file():
        hdnnp(["md", "start.xyz", a.potential.resolve(), "--engine", "lammps", "--ensemble", "nvt",
               "--temperature", 300, "--timestep", 0.5, "--tdamp", 100, "--steps", a.steps,
               "--dump-every", a.dump_every, "--thermo-every", 200, "-o", "md", "--no-progress"], wd)
    ref = get_reference("pyscf-rhf-nmr")
    run = label([tms()], ref, LabelStore(store), workers=0, desc="TMS (pyscf GIAO)")
    sig = np.asarray(run.results[0].atom_properties["shielding"]).reshape(-1, 3, 3)
    iso = np.trace(sig, axis1=1, axis2=2) / 3
    s_h, s_c = float(iso[np.array(tms().numbers) == 1].mean()), float(iso[np.array(tms().numbers) == 6].mean())
    print(f"TMS RHF/6-31G* GIAO: σ_ref(H) = {s_h:.3f} ppm, σ_ref(C) = {s_c:.3f} ppm", flush=True)
    hdnnp(["nmr", traj, a.shielding.resolve(), "--reference-shielding", f"H={s_h:.4f}", f"C={s_c:.4f}",
           "--elements", "H", "C", "--skip", a.skip, "-r", "pyscf-rhf-nmr", "--reference-frames", a.reference_frames,
           "--store", store, "--workers", "1", "-o", "nmr", "--no-progress"], wd)
    s = json.loads((wd / "nmr" / "nmr.json").read_text())
    r = s["reference"]
    print(f"nmr_md frames={s['frames']} model_ms_per_frame={s['model_s_per_frame'] * 1e3:.3f} "
          f"reference_s_per_frame={r['s_per_frame']:.2f} speedup={r['speedup']:.3g} "
          f"rmse_H_ppm={r['errors']['H']['iso_rmse_ppm']:.3f} rmse_C_ppm={r['errors']['C']['iso_rmse_ppm']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
