"""Molecular dynamics with a potential: NVE / NVT / NPT, in LAMMPS (pair style hdnnp/fast, MPI ranks)
or in-process with ASE (the HDNNPCalculator). Both engines start from the same velocities
(Maxwell–Boltzmann, seeded) and write the same outputs into one run folder:

* ``trajectory.extxyz`` (positions, cell; energies and forces with the ASE engine),
* ``thermo.csv`` (step, time_ps, temperature_K, pe_eV, ke_eV, etotal_eV, pressure_bar, volume_A3),
* ``md.png`` (temperature, energies and pressure vs time), and, for LAMMPS, ``in.lmp``, ``log.lammps``.

With a committee thermo.csv gains ``energy_std_eV_atom`` and ``max_forces_std_eV_A`` (the largest
per-atom force disagreement), every frame whose largest force disagreement exceeds ``uncertain_above``
is appended to ``uncertain.extxyz``, and the run stops once it exceeds ``stop_above`` (``md.json`` says
where). LAMMPS checks the spread every ``spread_every`` steps (the pair style's ``committee_every``).

Units: fs, K, bar (LAMMPS metal convention), eV, Å.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import HDNNPError

__all__ = ["MDSettings", "run_md", "plot_thermo", "THERMO_COLUMNS"]

THERMO_COLUMNS = ["step", "time_ps", "temperature_K", "pe_eV", "ke_eV", "etotal_eV", "pressure_bar",
                  "volume_A3"]
BAR = 1e5 / 160.21766208e9   # eV/Å^3 per bar


@dataclass
class MDSettings:
    ensemble: str = "nve"            # nve | nvt | npt
    temperature: float = 300.0       # K (initial velocities; thermostat target)
    pressure: float = 1.0            # bar (npt)
    timestep: float = 0.5            # fs
    steps: int = 1000
    thermo_every: int = 10
    dump_every: int = 100
    tdamp: float = 100.0             # fs
    pdamp: float = 1000.0            # fs
    seed: int = 12345
    engine: str = "lammps"           # lammps | ase
    ranks: int = 1
    progress: bool = True
    #: committees: write frames whose largest per-atom force spread exceeds this (eV/Å) to uncertain.extxyz
    uncertain_above: float | None = None
    #: committees: stop the run when the largest per-atom force spread exceeds this (eV/Å)
    stop_above: float | None = None
    #: committees, LAMMPS engine: every members' forces (the spread) every this many steps, the mean only
    #: in between (ASE: every step)
    spread_every: int = 1

    def validate(self) -> "MDSettings":
        if self.ensemble not in ("nve", "nvt", "npt"):
            raise HDNNPError(f"ensemble must be nve, nvt or npt, not {self.ensemble!r}")
        if self.engine not in ("lammps", "ase"):
            raise HDNNPError(f"engine must be lammps or ase, not {self.engine!r}")
        if self.timestep <= 0 or self.steps < 0 or self.thermo_every < 1 or self.dump_every < 1:
            raise HDNNPError("timestep > 0, steps >= 0, thermo/dump intervals >= 1 needed")
        if self.ranks < 1:
            raise HDNNPError("ranks must be >= 1")
        return self


def _initial_velocities(atoms, s: MDSettings):
    from ase.md import velocitydistribution as vd
    if atoms.get_velocities() is None or not np.any(atoms.get_velocities()):
        rng = np.random.default_rng(s.seed)
        if hasattr(vd, "thermalize_momenta"):           # ASE >= 3.28
            vd.thermalize_momenta(atoms, temperature_K=s.temperature, rng=rng)
        else:
            vd.MaxwellBoltzmannDistribution(atoms, temperature_K=s.temperature, rng=rng)
        vd.Stationary(atoms)


def run_md(atoms, potential_dir, outdir, settings: MDSettings, length_unit: str | None = None,
           energy_unit: str | None = None) -> Path:
    """Run MD; returns the path of thermo.csv."""
    s = settings.validate()
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    atoms = atoms.copy()
    _initial_velocities(atoms, s)
    if s.engine == "lammps":
        path = _run_lammps(atoms, potential_dir, out, s, length_unit, energy_unit)
    else:
        path = _run_ase(atoms, potential_dir, out, s, length_unit, energy_unit)
    plot_thermo(path, out / "md.png")
    return path


def _units(potential_dir, length_unit, energy_unit):
    from .model.n2p2 import read_potential
    p = read_potential(potential_dir)
    return p, (length_unit or p.length_unit or "angstrom"), (energy_unit or p.energy_unit or "ev")


# --- progress ---------------------------------------------------------------------------------
class _Progress:
    def __init__(self, s: MDSettings, engine: str):
        from tqdm import tqdm
        self.s = s
        self.bar = tqdm(total=s.steps, desc=f"md {engine}", unit="step", disable=not s.progress,
                        file=sys.stderr, dynamic_ncols=True)
        self.t0 = time.perf_counter()
        self.step0 = None

    def update(self, step: int):
        if self.step0 is None:
            self.step0, self.t0 = step, time.perf_counter()
        done = step - self.bar.n
        if done > 0:
            self.bar.update(done)
        dt = time.perf_counter() - self.t0
        if dt > 0 and step > self.step0:
            ns_day = (step - self.step0) * self.s.timestep * 1e-6 / (dt / 86400.0)
            self.bar.set_postfix_str(f"{ns_day:.3g} ns/day", refresh=False)

    def close(self):
        self.bar.close()


# --- LAMMPS -------------------------------------------------------------------------------------
def _run_lammps(atoms, potential_dir, out: Path, s: MDSettings, lu, eu) -> Path:
    from .lammps import build_plugin, export_potential
    from .lammps.runner import boundary, lammps_cell, lammps_command, lammps_env, write_data

    from .model.evaluator import COMMITTEE_FILE
    pot, lu, eu = _units(potential_dir, lu, eu)
    elements = list(pot.elements)
    from .model.charge import read_charge_file
    charge = float(atoms.info.get("charge", 0.0)) if read_charge_file(potential_dir) is not None else None
    export_potential(potential_dir, out / "potential.hdnnp", lu, eu, charge=charge)
    committee = (Path(potential_dir) / COMMITTEE_FILE).is_file()
    opts, spread_cols = "", ""
    uncertain = out / "uncertain.extxyz"
    uncertain.unlink(missing_ok=True)
    if committee:
        opts = f" committee_every {s.spread_every}"
        if s.uncertain_above is not None:
            opts += f" dump_above {s.uncertain_above!r} uncertain.extxyz"
        if s.stop_above is not None:
            opts += f" stop_above {s.stop_above!r}"
        spread_cols = " c_spread[4] c_spread[3]"
    ncols = 10 if committee else 8
    plugin = build_plugin()
    at, box = lammps_cell(atoms)
    # rotate the velocities with the cell (lammps_cell keeps fractional coordinates)
    if atoms.cell.rank == 3:
        rot = np.linalg.solve(atoms.cell[:], at.cell[:])
        at.set_velocities(atoms.get_velocities() @ rot)
    write_data(out / "data.lmp", at, elements, box)
    tri = at.cell.rank == 3 and any(abs(x) > 0 for x in box[6:])
    fix = {"nve": "fix md all nve",
           "nvt": f"fix md all nvt temp {s.temperature} {s.temperature} {s.tdamp / 1000.0}",
           "npt": f"fix md all npt temp {s.temperature} {s.temperature} {s.tdamp / 1000.0} "
                  f"{'tri' if tri else 'iso'} {s.pressure} {s.pressure} {s.pdamp / 1000.0}"}[s.ensemble]
    script = f"""# hdnnp md (engine lammps)
units metal
atom_style atomic
atom_modify map array
boundary {boundary(at)}
read_data data.lmp
plugin load {plugin}
pair_style hdnnp/fast warn maxwarn 5{opts}
pair_coeff * * potential.hdnnp {' '.join(elements)}
compute spread all pair hdnnp/fast
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
timestep {s.timestep / 1000.0}
{fix}
thermo_style custom step time temp pe ke etotal press vol{spread_cols}
thermo_modify format float %.15g flush yes
thermo {s.thermo_every}
dump traj all custom {s.dump_every} trajectory.lammpstrj id element x y z vx vy vz
dump_modify traj element {' '.join(elements)} sort id
run {s.steps}
"""
    (out / "in.lmp").write_text(script)
    cmd = lammps_command("in.lmp", s.ranks, ["-log", "log.lammps"])
    prog = _Progress(s, f"lammps x{s.ranks}")
    rows = []
    tail = []
    with subprocess.Popen(cmd, cwd=out, env=lammps_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as proc:
        header = False
        for line in proc.stdout:
            tail = (tail + [line])[-40:]
            t = line.split()
            if t[:2] == ["Step", "Time"]:
                header = True
                continue
            if header and len(t) == ncols:
                try:
                    vals = [float(x) for x in t]
                except ValueError:
                    header = False
                    continue
                rows.append(vals)
                prog.update(int(vals[0]))
            elif header and t[:2] == ["Loop", "time"]:
                header = False
        rc = proc.wait()
    prog.close()
    stopped = None
    if rc != 0:
        text = "".join(tail)
        import re
        m = re.search(r"hdnnp/fast: step (\d+): the committee's largest per-atom force spread", text)
        if not (committee and m):
            raise HDNNPError(f"LAMMPS failed (exit {rc}) in {out}:\n{text}")
        stopped = int(m.group(1))
        print(f"md: stopped at step {stopped}: the committee's largest per-atom force spread exceeds "
              f"{s.stop_above} eV/Å", file=sys.stderr)
    extra = ["energy_std_eV_atom", "max_forces_std_eV_A"] if committee else []
    path = _write_thermo(out / "thermo.csv", rows, extra)
    _lammps_dump_to_extxyz(out / "trajectory.lammpstrj", out / "trajectory.extxyz", atoms.pbc)
    import json
    n_unc = 0
    if uncertain.is_file() and uncertain.stat().st_size:
        from ase.io import read as aread
        n_unc = len(aread(uncertain, index=":"))
    (out / "md.json").write_text(json.dumps({"steps_run": int(rows[-1][0]) if rows else 0, "uncertain_frames": n_unc,
                                             "stopped_at_step": stopped, "committee": committee}, indent=2))
    return path


def _lammps_dump_to_extxyz(dump: Path, xyz: Path, pbc):
    from ase.io import read, write
    if not dump.is_file():
        return
    frames = read(dump, index=":", format="lammps-dump-text")
    for f in frames:
        f.pbc = pbc
    write(xyz, frames, format="extxyz")


# --- ASE ----------------------------------------------------------------------------------------
def _run_ase(atoms, potential_dir, out: Path, s: MDSettings, lu, eu) -> Path:
    from ase import units
    from ase.io import write

    from .calculator import HDNNPCalculator

    _, lu, eu = _units(potential_dir, lu, eu)
    atoms.calc = HDNNPCalculator(str(potential_dir), length_unit=lu, energy_unit=eu, warn_extrapolation=False)
    from .model.evaluator import CommitteeEvaluator
    committee = isinstance(atoms.calc.evaluator, CommitteeEvaluator)
    dt = s.timestep * units.fs
    if s.ensemble == "nve":
        from ase.md.verlet import VelocityVerlet
        dyn = VelocityVerlet(atoms, timestep=dt)
    elif s.ensemble == "nvt":
        from ase.md.nose_hoover_chain import NoseHooverChainNVT
        dyn = NoseHooverChainNVT(atoms, timestep=dt, temperature_K=s.temperature, tdamp=s.tdamp * units.fs)
    else:
        from ase.md.nose_hoover_chain import IsotropicMTKNPT
        dyn = IsotropicMTKNPT(atoms, timestep=dt, temperature_K=s.temperature,
                              pressure_au=s.pressure * units.bar, tdamp=s.tdamp * units.fs,
                              pdamp=s.pdamp * units.fs)
    rows = []
    traj = out / "trajectory.extxyz"
    traj.unlink(missing_ok=True)
    prog = _Progress(s, "ase")
    periodic = atoms.pbc.all()
    uncertain = out / "uncertain.extxyz"
    uncertain.unlink(missing_ok=True)
    summary = {"steps_run": 0, "uncertain_frames": 0, "stopped_at_step": None, "committee": committee,
               "extrapolating_steps": 0}
    extrapolating, seen = set(), set()

    class _Stop(Exception):
        pass

    def record():
        step = dyn.nsteps
        if step in seen:          # ASE calls its observers at step 0 too
            return
        seen.add(step)
        summary["steps_run"] = step
        atoms.get_potential_energy()
        if atoms.calc.n_extrapolations:
            extrapolating.add(step)
            summary["extrapolating_steps"] = len(extrapolating)
        spread = []
        if committee:
            atoms.get_forces()
            r = atoms.calc.results
            fmax = float(np.max(r["forces_std"])) if len(atoms) else 0.0
            spread = [r["energy_std_per_atom"], fmax]
            if s.uncertain_above is not None and fmax > s.uncertain_above:
                frame = atoms.copy()
                frame.info.update(step=step, max_forces_std=fmax)
                write(uncertain, frame, format="extxyz", append=True)
                summary["uncertain_frames"] += 1
        if step % s.thermo_every == 0:
            pe, ke = atoms.get_potential_energy(), atoms.get_kinetic_energy()
            p = (-np.trace(atoms.get_stress(voigt=False)) / 3.0 / BAR + 0.0) if periodic else 0.0
            if periodic:
                p += 2.0 * ke / (3.0 * atoms.get_volume()) / BAR
            rows.append([step, step * s.timestep / 1000.0, atoms.get_temperature(), pe, ke, pe + ke, p,
                         atoms.get_volume() if periodic else 0.0] + spread)
        if step % s.dump_every == 0:
            write(traj, atoms, format="extxyz", append=True)
        prog.update(step)
        if committee and s.stop_above is not None and spread[1] > s.stop_above:
            summary["stopped_at_step"] = step
            raise _Stop

    dyn.attach(record, interval=1)
    try:
        record()
        dyn.run(s.steps)
    except _Stop:
        print(f"md: stopped at step {summary['stopped_at_step']}: the committee's largest per-atom force "
              f"spread exceeds {s.stop_above} eV/Å", file=sys.stderr)
    prog.close()
    if summary["extrapolating_steps"]:
        print(f"md: symmetry functions left the training range at {summary['extrapolating_steps']} of "
              f"{summary['steps_run'] + 1} steps (extrapolation: the potential is not trained there)", file=sys.stderr)
    import json
    (out / "md.json").write_text(json.dumps(summary, indent=2))
    extra = ["energy_std_eV_atom", "max_forces_std_eV_A"] if committee else []
    return _write_thermo(out / "thermo.csv", rows, extra)


# --- outputs ------------------------------------------------------------------------------------
def _write_thermo(path: Path, rows, extra=()) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(THERMO_COLUMNS + list(extra))
        seen = set()
        for r in rows:
            if int(r[0]) in seen:
                continue
            seen.add(int(r[0]))
            w.writerow([int(r[0])] + [repr(float(x)) for x in r[1:]])
    return path


def read_thermo(path) -> dict:
    data = np.genfromtxt(path, delimiter=",", names=True)
    return {k: np.atleast_1d(data[k]) for k in data.dtype.names}


def plot_thermo(thermo_csv, png) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = read_thermo(thermo_csv)
    t = d["time_ps"]
    spread = "max_forces_std_eV_A" in d
    fig, ax = plt.subplots(4 if spread else 3, 1, figsize=(7, 10.5 if spread else 8), sharex=True)
    ax[0].plot(t, d["temperature_K"])
    ax[0].set_ylabel("temperature (K)")

    ax[1].plot(t, d["etotal_eV"] - d["etotal_eV"][0], label="total − E₀")
    ax[1].plot(t, d["pe_eV"] - d["pe_eV"][0], label="potential − E₀", alpha=0.7)
    ax[1].set_ylabel("energy (eV)")
    ax[1].legend()
    ax[2].plot(t, d["pressure_bar"])
    ax[2].set_ylabel("pressure (bar)")
    if spread:
        ax[3].plot(t, d["max_forces_std_eV_A"] * 1e3)
        ax[3].set_ylabel("largest force spread\n(committee, meV/Å)")
    ax[-1].set_xlabel("time (ps)")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)

    return Path(png)


def energy_drift(thermo_csv, natoms: int) -> float:
    """Slope of a linear fit of the total energy vs time, eV/atom/ps."""
    d = read_thermo(thermo_csv)
    slope = np.polyfit(d["time_ps"], d["etotal_eV"], 1)[0]
    return float(slope / natoms)
