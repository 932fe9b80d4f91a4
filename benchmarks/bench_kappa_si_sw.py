"""Lattice thermal conductivity of Si from a potential trained for the job against Stillinger-Weber's own κ.

Protocol (both sides identical): conventional 8-atom diamond cell relaxed (symmetry kept, 1e-4 eV/Å), fc2 and
fc3 on its 2×2×2 supercell (64 atoms), 0.03 Å displacements, RTA on an 11×11×11 mesh, no isotopes,
200/300/400/500 K.

1. ``hdnnp thermal-conductivity si8.xyz -r sw-si``: SW's κ (phono3py's full displacement set labelled by SW).
2. ``hdnnp thermal-conductivity si8.xyz -r sw-si --train``: random-displacement (0.01–0.08 Å) and strained
   64-atom supercells labelled by SW, a potential trained on them (time budget ``--budget``), checked on
   held-out displaced supercells, and κ from it.

Usage: python benchmarks/bench_kappa_si_sw.py [--workdir DIR] [--budget 600] [--committee 1]
Last line: kappa_rel_err_max=… labels_used=… direct_displacements=…
"""
import argparse
from pathlib import Path

from _local import kappa_reference_and_trained
from ase.build import bulk


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="bench-kappa-si-sw")
    ap.add_argument("--budget", type=float, default=900.0, help="training time budget, s")
    ap.add_argument("--committee", type=int, default=1)
    ap.add_argument("--mesh", type=int, nargs=3, default=[11, 11, 11])
    ap.add_argument("--amplitudes", type=float, nargs="+", default=[0.03, 0.06, 0.1, 0.15, 0.2])
    ap.add_argument("--per-amplitude", type=int, default=12)
    ap.add_argument("--cutoff", type=float, help="--train-cutoff, Å (default: hdnnp init's, 6 Å here)")
    ap.add_argument("--tag", default="trained", help="folder of the trained run (several settings side by side)")
    args = ap.parse_args()
    work = Path(args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    bulk("Si", "diamond", a=5.431, cubic=True).write(work / "si8.xyz")
    common = [str(work / "si8.xyz"), "-r", "sw-si", "--store", str(work / "labels.db"), "--mesh",
              *map(str, args.mesh), "-T", "200", "300", "400", "500", "--no-progress"]
    ref, pot, t_ref, t_pot = kappa_reference_and_trained(
        common, work / "sw", work / args.tag,
        ["--train-budget", args.budget, "--committee", args.committee, "--train-amplitudes", *args.amplitudes,
         "--train-per-amplitude", args.per_amplitude, *(["--train-cutoff", args.cutoff] if args.cutoff else [])])
    errs = []
    print("  T (K)   κ_SW (W/m/K)   κ_HDNNP   rel. error")
    for T, k in ref["kappa_W_mK"].items():
        kp = pot["kappa_W_mK"][T]["xx"]
        err = kp / k["xx"] - 1.0
        errs.append(abs(err))
        print(f"  {float(T):5.0f}   {k['xx']:12.2f}   {kp:9.2f}   {err:+.2%}")
    print(f"SW: {ref['force_calculations']} supercell calculations ({t_ref:.0f} s); trained: {pot['labels_used']} SW "
          f"labels, held-out force RMSE {pot['check_force_rmse_meV_A']:.2f} meV/Å ({pot['check_relative']:.2%}), "
          f"{t_pot:.0f} s in all")
    print(f"kappa_rel_err_max={max(errs):.4f} labels_used={pot['labels_used']} "
          f"direct_displacements={pot['force_calculations']}")


if __name__ == "__main__":
    main()
