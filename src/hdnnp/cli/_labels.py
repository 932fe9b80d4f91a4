"""Command-line options every command that labels structures shares: the reference, the label store
and the executor (``hdnnp label``, ``hdnnp validate`` and the workflows)."""
from __future__ import annotations

from ..labels.executor import default_workers


def add_reference_arguments(p, *, required: bool = True) -> None:
    g = p.add_argument_group("reference calculations")
    g.add_argument("-r", "--reference", required=required, metavar="REF",
                   help="a preset (hdnnp label --list-references) or a YAML file with 'code' and settings")
    g.add_argument("--set", dest="reference_set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one reference setting (value read as YAML), e.g. --set ecut=300 "
                        "--set 'kpts=[2,2,2]'; repeatable")
    g.add_argument("--store", default="labels.db", metavar="FILE.db",
                   help="label store (ASE SQLite database); existing labels are reused (default labels.db)")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="parallel worker processes, one thread each (default: the cores available; 0 computes "
                        "in this process)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="label on Dask instead: 'local' (a local cluster of --workers processes), a scheduler "
                        "address tcp://host:port, or 'slurm'/'pbs' (dask-jobqueue, --workers jobs)")
    g.add_argument("--retry-failed", action="store_true", help="recompute labels that failed before")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def reference_from_args(args):
    from ..references import get_reference, parse_overrides
    return get_reference(args.reference, parse_overrides(args.reference_set))


def label_from_args(args, structures, reference, store=None, desc=None):
    """Label ``structures`` as the command-line options say; prints how to continue if interrupted."""
    import sys

    from ..labels import LabelStore, label

    store = store or LabelStore(args.store)
    workers = default_workers() if args.workers is None else args.workers
    run = label(structures, reference, store, workers=workers, scheduler=args.scheduler,
                retry_failed=args.retry_failed, progress=not args.no_progress, desc=desc)
    if run.interrupted:
        print(f"interrupted: {len(store)} labels are safe in {store.path}; run the same command again to "
              "continue where it stopped", file=sys.stderr)
        raise SystemExit(130)
    return run
