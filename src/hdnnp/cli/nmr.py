"""``hdnnp nmr TRAJECTORY MODEL_DIR --reference-shielding H=31.8 C=197``: NMR spectra from a trajectory."""
from __future__ import annotations

import sys


def register(sub):
    p = sub.add_parser(
        "nmr", help="NMR spectra from a trajectory with per-atom shielding networks",
        description="Predict NMR shieldings for every frame of a trajectory with per-atom property networks "
                    "(a folder with properties.json from 'hdnnp train' with a shielding target), convert them to "
                    "chemical shifts δ = σ_ref − σ_iso with the reference shieldings you give (e.g. of TMS computed "
                    "with the same method and basis), and plot the averaged spectrum per element with Lorentzian "
                    "broadening and the distribution of every site (atom index). --reference with "
                    "--reference-frames N also labels N evenly spaced frames with the reference code through the "
                    "label store and reports its time per frame and the model's errors on them. Writes sites.csv, "
                    "spectrum_<El>.csv, spectrum.png, sites.png and nmr.json.",
        epilog="example: hdnnp nmr md/traj.xyz run/potential --reference-shielding H=32.2 C=199.5 --skip 100")
    p.add_argument("trajectory", metavar="TRAJECTORY", nargs="+", help="frames of one system (any readable format)")
    p.add_argument("model", metavar="MODEL_DIR", help="folder with properties.json (a run's potential folder)")
    p.add_argument("--target", help="the shielding target's name (default: 'shielding', or the model's first)")
    p.add_argument("--reference-shielding", nargs="+", metavar="EL=PPM", default=[],
                   help="σ_ref per element for δ = σ_ref − σ_iso; elements without one are plotted as −σ_iso")
    p.add_argument("--width", nargs="+", metavar="EL=PPM", default=[],
                   help="Lorentzian FWHM per element (default H 0.05, C 0.5, others 1 ppm)")
    p.add_argument("--elements", nargs="+", help="elements to report (default: all that carry the target)")
    p.add_argument("--skip", type=int, default=0, help="frames to drop at the start (equilibration)")
    p.add_argument("--every", type=int, default=1, help="use every n-th frame")
    p.add_argument("-r", "--reference", metavar="REF", help="reference code for --reference-frames (e.g. pyscf-rhf-nmr)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a reference setting")
    p.add_argument("--reference-frames", type=int, default=0, metavar="N",
                   help="label N evenly spaced frames with --reference (default 0)")
    p.add_argument("--store", default="labels.db", help="label store for --reference (default labels.db)")
    p.add_argument("--workers", type=int, help="labelling worker processes")
    p.add_argument("-o", "--output-dir", default="nmr")
    from ._engine import add_input_args
    add_input_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import InputError
    from ..workflows.nmr import NMRSettings, run_nmr
    from ._units import read_structures

    frames = read_structures(args.trajectory, args.format, args)
    ref = None
    if args.reference_frames and not args.reference:
        raise InputError("--reference-frames needs --reference REF (e.g. pyscf-rhf-nmr)")
    if args.reference:
        from ..references import get_reference, parse_overrides
        ref = get_reference(args.reference, parse_overrides(args.set), where="--reference")
    from ._engine import key_values
    form = "ELEMENT=VALUE, e.g. H=31.8"
    st = NMRSettings(target=args.target,
                     reference_shielding=key_values(args.reference_shielding, "--reference-shielding", form),
                     widths=key_values(args.width, "--width", form), elements=args.elements or [], skip=args.skip,
                     every=args.every)
    s = run_nmr(frames, args.model, args.output_dir, st, reference=ref, store=args.store,
                reference_frames=args.reference_frames, workers=args.workers, progress=not args.no_progress,
                log=lambda m: print(m, file=sys.stderr))
    print(f"{s['frames']} frames, {s['atoms']} atoms: {s['model_s_per_frame'] * 1e3:.3g} ms per frame "
          f"(target {s['target']}, {s['kind']})")
    for el in s["elements"]:
        sites = [r for r in s["sites"] if r["element"] == el]
        what = "δ" if el in s["reference_shielding_ppm"] else "σ_iso"
        key = "shift_mean_ppm" if what == "δ" else "sigma_iso_mean_ppm"
        vals = " ".join(f"{r[key]:.2f}" for r in sites[:12]) + (" ..." if len(sites) > 12 else "")
        print(f"{el}: {len(sites)} sites, mean {what} (ppm): {vals}")
    if "reference" in s:
        r = s["reference"]
        errs = ", ".join(f"{el} {e['iso_rmse_ppm']:.3g} ppm" for el, e in r["errors"].items())
        print(f"reference {r['name']}: {r['s_per_frame']:.3g} s per frame on {r['frames']} frames "
              f"({r['speedup']:.3g}x the model's time); model RMSE of σ_iso: {errs}")
    print(f"written: {args.output_dir}/sites.csv, spectrum.png, sites.png, nmr.json")
    return 0
