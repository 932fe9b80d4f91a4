"""Training beside another CPU-bound process: ``bench_train_si.py`` quiet, then with one busy process pinned to
core 0 of this machine, and the ratio of the wall times (issue: at most 2.5×; ideal 2× on 2 cores).

The package sets OMP_WAIT_POLICY=PASSIVE (idle OpenMP threads sleep) and uses the cores this process may use
(``hdnnp.threads``); ``--active`` runs the busy case with spinning threads (OMP_WAIT_POLICY=ACTIVE) for comparison.

Usage: python benchmarks/bench_shared_core.py [--active]
Last line: shared_core_slowdown=<busy / quiet> quiet_s=… busy_s=…
"""
import argparse
import multiprocessing as mp
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _busy():
    os.sched_setaffinity(0, {0})
    x = 0
    while True:
        x += 1


def run(env) -> float:
    out = subprocess.run([sys.executable, str(HERE / "bench_train_si.py")], env=env, capture_output=True, text=True,
                         check=True).stdout
    return float(re.search(r"wall_s=([0-9.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--active", action="store_true", help="spinning OpenMP threads in the busy case")
    a = ap.parse_args()
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    quiet = run(env)
    print(f"quiet: {quiet:.1f} s", flush=True)
    p = mp.Process(target=_busy, daemon=True)
    p.start()
    time.sleep(1.0)
    try:
        if a.active:
            env["OMP_WAIT_POLICY"] = "ACTIVE"
        busy = run(env)
    finally:
        p.terminate()
    print(f"beside a busy process: {busy:.1f} s")
    print(f"shared_core_slowdown={busy / quiet:.2f} quiet_s={quiet:.1f} busy_s={busy:.1f}")


if __name__ == "__main__":
    main()
