"""Labelling in parallel: local worker processes by default, a Dask cluster when one is named.

:func:`label` looks every structure up in the :class:`~hdnnp.labels.store.LabelStore`, computes the
missing labels on workers and writes each to the store the moment it comes back, so an interrupted
run (Ctrl-C, SIGKILL, a lost node) loses at most the calculations in flight: rerun the same call and
it continues. Both paths run the same function, :func:`hdnnp.references.compute_label`.

* ``workers=N`` (default): N processes started with ``spawn`` (no forked OpenMP/MPI state), each
  with one thread (OMP/BLAS/MKL thread counts set to 1). ``workers=0`` computes in this process.
* ``scheduler='local'``: a local ``dask.distributed`` cluster of N single-threaded worker processes.
* ``scheduler='tcp://host:8786'``: an existing Dask scheduler (workers started by you, e.g. with
  ``dask-jobqueue`` on Slurm/PBS or ``dask worker`` on each node).
* ``scheduler='slurm'`` / ``'pbs'``: a ``dask-jobqueue`` cluster of N jobs, each one single-threaded
  worker; ``jobqueue`` passes its options (``cores``, ``memory``, ``queue``, ``account``,
  ``walltime``, ``job_extra_directives`` …).

A worker process that dies (segfault, out of memory) is replaced: the labels that were in flight are
rerun one at a time, and the one that kills its worker again is recorded as failed with that message.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field

from ..errors import HDNNPError
from ..references import Reference, Result, compute_label, get_code
from ..structures import Structure
from .store import LabelStore, label_key

__all__ = ["label", "LabelRun", "single_thread_env", "default_workers"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")


@dataclass
class LabelRun:
    """What :func:`label` did. ``results[k]`` belongs to ``structures[k]`` (input order);
    ``labelled`` are the successfully labelled structures, in input order."""

    structures: list[Structure]
    results: list[Result]
    reused: int = 0
    computed: int = 0
    failed: int = 0
    wall: float = 0.0
    interrupted: bool = False
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def labelled(self) -> list[Structure]:
        return [r.apply(s) for s, r in zip(self.structures, self.results) if r is not None and r.ok]

    def summary(self) -> str:
        ok = sum(1 for r in self.results if r is not None and r.ok)
        lines = [f"{len(self.structures)} structures: {ok} labelled ({self.reused} from the store, "
                 f"{self.computed} computed now), {sum(1 for r in self.results if r is not None and not r.ok)} "
                 f"failed, in {self.wall:.1f} s"]
        for msg, n in sorted(self.errors.items(), key=lambda kv: -kv[1])[:5]:
            lines.append(f"  failed x{n}: {msg.splitlines()[0]}")
        return "\n".join(lines)


def default_workers() -> int:
    """The cores this process may use (CPU affinity bounded by a cgroup quota, :func:`hdnnp.threads.available_cores`):
    the default number of labelling workers."""
    from ..threads import available_cores
    return available_cores()


@contextlib.contextmanager
def single_thread_env():
    """Thread-count variables set to 1 while worker processes start (they inherit them)."""
    old = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update({k: "1" for k in THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def label(structures, reference: Reference, store: LabelStore, *, workers: int = 1, scheduler=None,
          jobqueue: dict | None = None, retry_failed: bool = False, progress: bool = True,
          desc: str | None = None) -> LabelRun:
    """Label ``structures`` with ``reference`` through ``store``; returns a :class:`LabelRun`.

    Labels already in the store are reused (failed ones too, unless ``retry_failed``); the rest are
    computed on ``workers`` processes (or the Dask ``scheduler``) and written as they finish.
    Ctrl-C stops cleanly: finished labels are in the store and ``run.interrupted`` is True.
    """
    structures = list(structures)
    t0 = time.perf_counter()
    keys = [label_key(reference, s) for s in structures]
    run = LabelRun(structures=structures, results=[None] * len(structures))
    todo: dict[str, list[int]] = {}
    for k, key in enumerate(keys):
        res = store.get(key) if key in store else None
        if res is not None and (res.ok or not retry_failed):
            run.results[k] = res
            run.reused += 1
        else:
            todo.setdefault(key, []).append(k)
    if todo:        # a store that holds every label needs no reference code installed
        get_code(reference.code).require_module()

    def done(key: str, result: Result) -> None:
        idx = todo[key]
        store.put(key, structures[idx[0]], reference, result)
        for k in idx:
            run.results[k] = result
        run.computed += len(idx)
        bar.update()
        if not result.ok:
            run.failed += len(idx)
            msg = (result.error or "failed").splitlines()[0]
            run.errors[msg] = run.errors.get(msg, 0) + len(idx)

    tasks = [(key, structures[idx[0]]) for key, idx in todo.items()]
    bar = None
    if tasks:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), desc=desc or f"label {reference.name}", unit="label", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True)
    try:
        if not tasks:
            pass
        elif scheduler:
            _run_dask(tasks, reference, done, workers, scheduler, jobqueue or {})
        elif workers <= 0:
            for key, s in tasks:
                done(key, compute_label(reference, s))
        else:
            _run_local(tasks, reference, done, workers)
    except KeyboardInterrupt:
        run.interrupted = True
    finally:
        if bar is not None:
            bar.close()
    run.wall = time.perf_counter() - t0
    return run


def _run_local(tasks, reference, done, workers: int) -> None:
    """At most 2×workers labels in flight; when a worker process dies, the labels that were in
    flight are rerun one at a time, so the one that kills its worker is found and recorded."""
    import multiprocessing as mp
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")
    queue = deque(tasks)
    suspects: deque = deque()
    state = {"ok": 0, "isolated_crashes": 0}

    def new_pool(n):
        with single_thread_env():
            return ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_exit_with_parent,
                                       initargs=(os.getpid(),))

    def finish(key, result):
        state["ok"] += 1
        done(key, result)

    while queue or suspects:
        if suspects:   # isolate: one label, one fresh single-worker pool
            key, s = suspects.popleft()
            pool = new_pool(1)
            try:
                result = pool.submit(compute_label, reference, s).result()
                state["isolated_crashes"] = 0
                finish(key, result)
            except BrokenProcessPool:
                state["isolated_crashes"] += 1
                if state["isolated_crashes"] >= 2 and state["ok"] == 0:
                    raise HDNNPError("labelling worker processes die before returning any label (they cannot "
                                     "start, or every calculation crashes them); run with --workers 0 to see "
                                     "the error in this process") from None
                done(key, Result(status="failed", error="worker process died while computing this label "
                                 "(segmentation fault or out of memory?)"))
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
                _terminate(pool)
            continue
        pool = new_pool(min(workers, len(queue)))
        running: dict = {}
        try:
            while queue or running:
                while queue and len(running) < 2 * workers:
                    key, s = queue.popleft()
                    running[pool.submit(compute_label, reference, s)] = (key, s)
                finished, _ = wait(set(running), return_when=FIRST_COMPLETED)
                broken = False
                for fut in finished:
                    key, s = running.pop(fut)
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        suspects.append((key, s))
                        continue
                    finish(key, result)
                if broken:
                    suspects.extend(running.values())
                    running.clear()
                    break
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            _terminate(pool)
            raise
        pool.shutdown(wait=not suspects, cancel_futures=True)
        if suspects:
            _terminate(pool)


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: leave when the process that started this worker is gone (killed with SIGKILL,
    a lost session), instead of lingering idle."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def _terminate(pool) -> None:
    for p in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            p.terminate()


def _run_dask(tasks, reference, done, workers: int, scheduler: str, jobqueue: dict) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise HDNNPError("labelling on a Dask cluster needs dask.distributed: pip install 'hdnnp[cluster]'") from None
    cluster = None
    with single_thread_env():
        if scheduler == "local":
            cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        elif scheduler in ("slurm", "pbs"):
            try:
                import dask_jobqueue
            except ImportError:
                raise HDNNPError(f"scheduler {scheduler!r} needs dask-jobqueue: pip install dask-jobqueue") from None
            kind = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[scheduler]
            opts = {"cores": 1, "processes": 1, "memory": "4GB", **jobqueue}
            cluster = kind(**opts)
            cluster.scale(jobs=max(1, workers))
        client = Client(cluster if cluster is not None else scheduler)
    try:
        futures = {}
        for key, s in tasks:
            futures[client.submit(compute_label, reference, s, pure=False)] = key
        for fut in as_completed(futures):
            key = futures[fut]
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker: record, go on
                result = Result(status="failed", error=f"Dask worker failed: {type(exc).__name__}: {exc}")
            done(key, result)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
