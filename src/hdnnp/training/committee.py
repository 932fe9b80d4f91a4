"""Train a committee: ``run.committee: M`` trains M members on one training split with one
symmetry-function set (seeds ``run.seed`` … ``run.seed + M − 1``), each in its own run folder
``RUN/member_k``, and writes ``RUN/potential`` as one potential folder:

* the members' merged mean at the top level (an n2p2 potential: n2p2 and LAMMPS read it as one),
* each member in ``member_k/``,
* ``committee.json``: the member folders and the committee's calibration on its validation set
  (``force_std_validation``, eV/Å: the RMS per-atom force disagreement), which is the unit of the
  per-atom trust score and the default scale of ``hdnnp learn``'s selection band.

``hdnnp predict``, the calculator and ``hdnnp md`` load that folder as a committee (mean and spread).
A run interrupted between or inside members resumes with ``hdnnp train --resume RUN``: finished members
are kept, an interrupted one continues from its checkpoint.
"""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

from . import config as C

__all__ = ["train_committee", "write_committee", "committee_errors"]


def _member_config(cfg: C.TrainConfig, k: int, out: Path) -> C.TrainConfig:
    m = copy.deepcopy(cfg)
    m.run.committee = 1
    m.run.output = str(out / f"member_{k}")
    m.run.seed = cfg.run.seed + k - 1
    # one training/validation split for every member (the calibration and merging need it)
    m.data.split_seed = cfg.run.seed if cfg.data.split_seed is None else cfg.data.split_seed
    if cfg.run.time_budget:
        m.run.time_budget = cfg.run.time_budget / cfg.run.committee
    if k > 1:
        m.properties = None     # per-atom property networks: trained once, by the first member (their own
                                # committee is properties.committee), and copied beside the merged potential
    return m


def train_committee(cfg: C.TrainConfig, *, resume: bool = False, log=print) -> dict:
    """Train (or resume) the committee described by ``cfg`` (``run.committee`` members)."""
    from ..errors import InputError
    from .trainer import train

    M = cfg.run.committee
    out = C.resolve_path(cfg, cfg.run.output)
    if not resume and (out / "member_1").exists():
        raise InputError(f"run folder {out} already holds a committee run (use --resume {out} to continue "
                         "it, or choose another run.output)")
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        C.dump_config(cfg, out / "config.yaml")
    results = []
    for k in range(1, M + 1):
        mcfg = _member_config(cfg, k, out)
        mdir = Path(mcfg.run.output)
        if k > 1 and cfg.model.symmetry_functions.auto is not None:
            # the first member chose the functions; every member uses its choice
            first = C.load_config(out / "member_1" / "config.yaml")
            mcfg.model.symmetry_functions = first.model.symmetry_functions
        if (mdir / "metadata.json").is_file() and (mdir / "potential" / "input.nn").is_file():
            log(f"committee member {k}/{M}: done ({mdir})")
            results.append(json.loads((mdir / "metadata.json").read_text()))
            continue
        again = (mdir / "checkpoint.pt").is_file()
        if again:
            mcfg = C.load_config(mdir / "config.yaml")
        log(f"committee member {k}/{M}: {'resuming' if again else 'training'} in {mdir}")
        train(mcfg, resume=again, log=log)
        results.append(json.loads((mdir / "metadata.json").read_text()))
    pot_dir = out / "potential"
    info = write_committee([out / f"member_{k}" / "potential" for k in range(1, M + 1)], pot_dir)
    if cfg.properties is not None:
        import shutil

        from ..properties.model import JSON_NAME, NPZ_NAME
        for name in (JSON_NAME, NPZ_NAME):
            shutil.copy2(out / "member_1" / "potential" / name, pot_dir / name)
    table = committee_errors(cfg, pot_dir, info)
    (pot_dir / "committee.json").write_text(json.dumps(info, indent=2))
    lines = ["committee of %d: mean-potential errors and the members' spread" % M,
             f"{'set':11s}{'E RMSE meV/at':>15s}{'F RMSE meV/Å':>15s}{'F spread meV/Å':>16s}{'spearman':>10s}"]
    def f(x, w, d):
        return (f"{x:{w}.{d}f}" if isinstance(x, (int, float)) else "-".rjust(w))
    for name, e in table.items():
        lines.append(f"{name:11s}{f(e.get('energy_rmse'), 15, 3)}{f(e.get('force_rmse'), 15, 3)}"
                     f"{f(e.get('force_std_rms'), 16, 3)}{f(e.get('spearman'), 10, 2)}")
    text = "\n".join(lines) + "\n"
    (out / "errors.txt").write_text(text)
    log(text)
    meta = {"committee": M, "members": [f"member_{k}" for k in range(1, M + 1)], "errors": table,
            "errors_units": "energy meV/atom, force meV/Å", "calibration": info,
            "wall_s": sum(float(r.get("wall_s", 0.0)) for r in results)}
    (out / "metadata.json").write_text(json.dumps(meta, indent=2))
    return {"errors": table, "potential": str(pot_dir), "run": str(out), "wall_s": meta["wall_s"],
            "molecular": False, "notes": [], "stopped": None, "committee": M}


def write_committee(member_dirs, folder, info: dict | None = None) -> dict:
    """Write a committee folder from member potential folders: the merged mean (when the members can
    be merged into one network) at the top level, ``member_k/`` copies, ``committee.json``."""
    from ..model import read_potential, write_potential
    from ..model.committee import check_members, merge_committee

    folder = Path(folder)
    members = [read_potential(d) for d in member_dirs]
    check_members(members, normalisation=False)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    try:
        write_potential(merge_committee(members), folder)
        merged = True
    except ValueError:     # members that differ in normalisation: no single n2p2 network
        merged = False
    names = []
    for k, d in enumerate(member_dirs, start=1):
        shutil.copytree(d, folder / f"member_{k}")
        names.append(f"member_{k}")
    info = dict(info or {}, members=names, merged_mean=merged)
    (folder / "committee.json").write_text(json.dumps(info, indent=2))
    return info


def committee_errors(cfg: C.TrainConfig, pot_dir: Path, info: dict) -> dict:
    """The committee's mean-potential errors on the validation and test sets and its spread there;
    sets ``info['force_std_validation']`` (eV/Å) from the validation set (else the training set)."""
    from ..model.evaluator import CommitteeEvaluator
    from ..workflows.validate import compare
    from .trainer import load_structures, split_sets

    mcfg = _member_config(cfg, 1, Path(C.resolve_path(cfg, cfg.run.output)))
    train_all = load_structures(mcfg, mcfg.data.train)
    test = load_structures(mcfg, mcfg.data.test) if mcfg.data.test else []
    sets = split_sets(mcfg, train_all, test)
    ev = CommitteeEvaluator.load(pot_dir)
    table = {}
    for name in ("train", "validation", "test"):
        structs = [s for s in sets[name] if s.energy is not None and s.forces is not None]
        if not structs:
            continue
        e = compare(ev, structs).errors()
        table[name] = {"structures": e["structures"], "energy_rmse": e["energy_rmse_meV_atom"],
                       "force_rmse": e["force_rmse_meV_A"], "force_std_rms": e.get("force_std_rms_meV_A"),
                       "spearman": e.get("spread_error_spearman")}
    source = "validation" if "validation" in table else "train"
    cal = table.get(source)
    if cal and cal.get("force_std_rms"):
        info["force_std_validation"] = cal["force_std_rms"] / 1e3
        info["force_rmse_validation"] = cal["force_rmse"] / 1e3
        info["calibration_set"] = source       # "train": no validation set (the spread there is optimistic)
    return table
