"""``hdnnp learn CONFIG`` / ``hdnnp learn --resume RUN_DIR``: active learning with a committee."""
from __future__ import annotations

import argparse
import sys

EXAMPLE = """\
# learn.yaml: Si with LAMMPS' Stillinger-Weber as the reference
reference: sw-si                # a preset (hdnnp label --list-references), a YAML file or a mapping
store: labels.db                 # the label store (shared with hdnnp label / validate / train)
initial: [start.xyz]             # a few starting structures, labelled first
test: [test.xyz]                 # optional: an independent test set (labelled through the store)
committee: 4
train: train.yaml                # optional: a training configuration (data.train is set by learn)
explore:
  structures: [start.xyz]        # MD starting structures (default: initial)
  temperatures: [300, 900, 1500]
  pressures: null                # bar: NPT at each pressure; null: NVT
  steps: 1000
  timestep: 1.0                  # fs
  sample_every: 20
select:
  low: null                      # eV/Å; null: 2 x the committee's validation spread, at most 5 % of the RMS force
  high: null                     # eV/Å; null: 50 % of the RMS reference force
  per_iteration: 20
  method: fps                    # fps | random
stop:
  max_labels: 150
  confident_fraction: 0.95
  max_iterations: 10
output: learn-run
"""


def register(sub) -> None:
    p = sub.add_parser(
        "learn", help="active learning: explore with a committee, label what it disagrees on, retrain",
        description="Build a training set automatically: train a committee on the labels so far, run MD with it at "
                    "the listed temperatures and pressures, score every frame by the committee's largest per-atom "
                    "force disagreement, label the most diverse frames in the uncertain band with the reference "
                    "(through the label store), and repeat until the explored frames are confident or the label "
                    "budget is spent. Everything lives in the run folder; --resume continues after any "
                    "interruption without recomputing finished labels, training or MD.",
        epilog="a configuration to start from:\n\n" + EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", help="learn configuration (YAML)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a learning run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..workflows.learn import learn, load_learn_config, resume_config

    if args.resume:
        cfg = resume_config(args.resume)
    elif args.config:
        cfg = load_learn_config(args.config)
    else:
        print("hdnnp learn: give a CONFIG file or --resume RUN_DIR (hdnnp learn --help shows an example)",
              file=sys.stderr)
        return 2
    try:
        res = learn(cfg, resume=bool(args.resume), progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: hdnnp learn --resume {cfg.path(cfg.output)}", file=sys.stderr)
        return 130
    print(f"potential (committee): {res['potential']}")
    print(f"report: {cfg.path(cfg.output) / 'report.csv'}, {cfg.path(cfg.output) / 'learn.png'}")
    return 0
