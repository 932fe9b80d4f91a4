"""MD speed on the amorphous Li3PO4 cell of bench_diffusion_li3po4.py: the HDNNP (hdnnp/fast plugin) on 1 and 2
MPI ranks against the Pedone reference (Ewald) and against one GPAW step (PBE, LCAO dzp, Γ point: the cheapest
DFT force call; a plane-wave step costs more), all on this machine.

Usage: python benchmarks/bench_md_speed_li3po4.py [--workdir /work/bench_lpo] [--steps 2000] [--no-gpaw]
Last line: ns_per_day_hdnnp_1=… ns_per_day_pedone_1=… ns_per_day_hdnnp_2=… ns_per_day_pedone_2=…
           gpaw_s_per_step=… ns_per_day_gpaw=… hdnnp_over_gpaw=… (">" where the GPAW step ran past --gpaw-timeout)
"""
import argparse
import re
from pathlib import Path

import _local  # noqa: F401


def md_speed(atoms, out, potential, reference, ranks, steps):
    from hdnnp.lammps.runner import md_setup, run_in
    out.mkdir(parents=True, exist_ok=True)
    _, head, _ = md_setup(atoms, out, potential, reference, timestep_ps=0.001)
    (out / "in.lmp").write_text(f"""{head}
velocity all create 1000 1 dist gaussian
fix 1 all nvt temp 1000 1000 0.1
thermo {steps}
run {steps}
""")
    log = run_in(out, ranks)
    return float(re.findall(r"Performance:\s+([0-9.eE+-]+) ns/day", log)[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/work/bench_lpo")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--no-gpaw", action="store_true")
    ap.add_argument("--gpaw-only", action="store_true", help="only time the GPAW step (kept in gpaw_step.json)")
    ap.add_argument("--gpaw-timeout", type=float, default=1800.0,
                    help="s: stop the GPAW step here and report a lower bound (default 1800)")
    args = ap.parse_args()
    wd = Path(args.workdir)
    from ase.io import read

    from hdnnp.references import get_reference
    atoms = read(wd / "cell" / "amorphous.extxyz")
    ref = get_reference("pedone-li3po4")
    pot = wd / "run" / "potential"
    out = {}
    import json
    gfile = wd / "gpaw_step.json"
    if not args.no_gpaw and not gfile.is_file():
        # one GPAW force call in a child process, stopped after --gpaw-timeout s (then a lower bound is reported)
        from _local import timed_label
        t = timed_label(wd / "cell" / "amorphous.extxyz", "gpaw-pbe-lcao", args.gpaw_timeout)
        info = {"gpaw_s_per_step": t["seconds"], "finished": t["finished"]}
        gfile.write_text(json.dumps({**info, "preset": "gpaw-pbe-lcao"}))
    if args.gpaw_only:
        print(gfile.read_text())
        return
    for r in (1, 2):
        out[f"ns_per_day_hdnnp_{r}"] = md_speed(atoms, wd / f"speed_hdnnp_{r}", pot, None, r, args.steps)
        out[f"ns_per_day_pedone_{r}"] = md_speed(atoms, wd / f"speed_pedone_{r}", None, ref, r, args.steps)
        print(f"{r} rank(s): HDNNP {out[f'ns_per_day_hdnnp_{r}']:.2f} ns/day, Pedone "
              f"{out[f'ns_per_day_pedone_{r}']:.2f} ns/day", flush=True)
    bound = ""
    if not args.no_gpaw:
        g = json.loads(gfile.read_text())
        dt = g["gpaw_s_per_step"]
        bound = "" if g["finished"] else ">"     # the step did not finish: the figures are bounds
        out["gpaw_s_per_step"] = dt
        out["ns_per_day_gpaw"] = 86400.0 / dt * 1e-6         # 1 fs steps
        out["hdnnp_over_gpaw"] = out["ns_per_day_hdnnp_1"] / out["ns_per_day_gpaw"]
    print(" ".join(f"{k}={bound if k in ('gpaw_s_per_step', 'hdnnp_over_gpaw') else ''}{v:.4g}"
                   for k, v in out.items()) + f" atoms={len(atoms)}")


if __name__ == "__main__":
    main()
