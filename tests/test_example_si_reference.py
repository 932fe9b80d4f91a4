"""The documented example (examples/si_reference/run_sw.sh) end to end: label rattled Si cells with
Stillinger–Weber, train, run MD with the potential, validate it against Stillinger–Weber."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "si_reference"


@pytest.mark.slow
def test_run_sw_example(tmp_path):
    if shutil.which("hdnnp") is None:
        pytest.fail("the hdnnp command is not on PATH (pip install the package)")
    env = dict(os.environ, EPOCHS="6")
    out = subprocess.run(["bash", str(EXAMPLE / "run_sw.sh"), str(tmp_path / "w")], capture_output=True, text=True,
                         env=env, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    w = tmp_path / "w"
    assert "80 labelled (0 from the store, 80 computed now)" in out.stdout
    summary = json.loads((w / "validation" / "summary.json").read_text())
    err = summary["errors"][-1]
    assert err["structures"] == 20
    # an HDNNP trained for 6 LM epochs on 80 SW cells: a few meV/atom, ~0.1 eV/Å on its own MD
    assert err["energy_rmse_meV_atom"] < 15 and err["force_rmse_meV_A"] < 250
    assert (w / "validation" / "parity.png").stat().st_size > 10_000
    # rerunning labels nothing again
    again = subprocess.run(["hdnnp", "label", "cells.xyz", "-r", "sw-si", "--no-progress"], cwd=w,
                           capture_output=True, text=True)
    assert "(80 from the store, 0 computed now)" in again.stdout
