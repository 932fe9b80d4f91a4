"""How many threads the package uses, decided in one place.

``available_cores()`` is what this process may really use: its CPU affinity, bounded by a cgroup CPU quota
(containers and batch jobs often show every core of the host while granting a few). Training uses that many
torch intra-op threads by default (``run.threads`` overrides); labelling workers run one thread each; and the
package sets ``OMP_WAIT_POLICY=PASSIVE`` unless the user chose otherwise, so that idle OpenMP threads sleep instead
of spinning: on a machine shared with other CPU-bound work, spinning threads fight for the cores.
``benchmarks/bench_shared_core.py`` (``bench_train_si.py`` beside one process pinned busy on a core of this 2-core
machine): 1.28× the quiet wall time with passive threads (61.8 → 79.0 s), 2.31× with spinning ones (62.8 → 144.9 s).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["available_cores", "cgroup_quota", "describe", "configure_torch"]


def cgroup_quota() -> float | None:
    """CPUs granted by a cgroup quota (v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``), or None."""
    try:
        t = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if t and t[0] != "max":
            return float(t[0]) / float(t[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        q = float(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        p = float(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        if q > 0 and p > 0:
            return q / p
    except (OSError, ValueError):
        pass
    return None


def _affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_cores() -> int:
    """Cores this process may use: the CPU affinity, bounded by a cgroup quota (at least 1)."""
    n = _affinity()
    q = cgroup_quota()
    if q is not None:
        n = min(n, max(1, math.ceil(q - 1e-9)))
    return max(1, n)


def describe() -> str:
    q = cgroup_quota()
    return (f"{available_cores()} core(s) available (affinity {_affinity()}"
            + (f", cgroup quota {q:g}" if q is not None else "") + "; OMP_WAIT_POLICY="
            + os.environ.get("OMP_WAIT_POLICY", "unset") + ")")


def configure_torch(threads: int = 0) -> int:
    """Set torch's intra-op threads (0: the available cores); returns the number set."""
    import torch
    n = threads if threads and threads > 0 else available_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
