"""Thermal conductivity from equilibrium MD (Green–Kubo): ``hdnnp thermal-conductivity --method green-kubo``.

LAMMPS runs the MD: NVT equilibration at T (``equilibration`` ps), then NVE production (``production`` ps)
writing the heat flux every ``sample_every`` steps. The flux is LAMMPS' ``compute heat/flux`` with the
per-atom virial in the centroid form (``compute centroid/stress/atom``), which many-body potentials need: the
``hdnnp/fast`` pair style gives it in the same pass as the forces; a LAMMPS reference runs its own pair style
with LAMMPS' centroid virials, and Stillinger-Weber (``--reference sw-si``), whose LAMMPS pair style has none,
runs as the plugin's ``sw/centroid`` (the same energy and forces): both sides follow one protocol.

    κ_αα(τ) = 1 / (V k_B T²) ∫₀^τ ⟨J_α(0) J_α(t)⟩ dt,   J = Σ_i e_i v_i + Σ_i W_i · v_i   (J·V from LAMMPS)

κ(τ) is averaged over x, y, z (isotropic systems) and evaluated at the correlation time ``tau`` ps. The
uncertainty is the standard error over ``blocks`` independent segments of the production run (each
segment's own autocorrelation, the three directions of a segment averaged first). Outputs: ``gk.csv`` (τ,
κ(τ) mean and standard error), ``gk.png`` (the normalised autocorrelation and the running integral with its
band), ``gk.json`` (κ ± σ at ``tau``), ``flux.txt`` (the raw flux), ``in.lmp``, ``log.lammps``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import HDNNPError, InputError
from ..units import KB_EV

__all__ = ["GKSettings", "run_green_kubo", "gk_kappa"]

#: eV/(ps Å K) -> W/(m K)
EV_PS_A_TO_W_MK = 1.602176634e-19 / 1e-12 / 1e-10


@dataclass
class GKSettings:
    temperature: float = 300.0       # K
    timestep: float = 1.0            # fs
    equilibration: float = 20.0      # ps (NVT)
    production: float = 100.0        # ps (NVE)
    sample_every: int = 5            # steps between flux samples
    tau: float = 10.0                # ps, correlation time at which κ is read
    blocks: int = 5
    repeat: list[int] | None = None
    ranks: int = 1
    seed: int = 4928459


def gk_kappa(flux: np.ndarray, dt_ps: float, volume: float, temperature: float, tau_ps: float, blocks: int):
    """κ(τ) (W/m/K) from the heat flux times volume ``flux`` (n, 3), eV·Å/ps, sampled every ``dt_ps``:
    returns (lags_ps, kappa_mean(τ), kappa_sem(τ), acf_normalised(τ)) with the mean and standard error
    over ``blocks`` segments."""
    flux = np.asarray(flux, float)
    n = len(flux)
    nlag = int(round(tau_ps / dt_ps)) + 1
    seg = n // max(blocks, 1)
    if seg < 2 * (nlag - 1):
        raise InputError(f"the production run is too short for τ = {tau_ps} ps with {blocks} blocks: each block "
                         f"has {seg * dt_ps:.1f} ps; make the run at least {2 * tau_ps * blocks:.0f} ps long or "
                         "shorten tau")
    pref = EV_PS_A_TO_W_MK / (volume * KB_EV * temperature ** 2)
    kappas, acfs = [], []
    # no mean is subtracted: the flux's ensemble mean is zero (zero total momentum), and a block's own mean holds
    # the slow fluctuations that carry κ in a crystal
    for b in range(blocks):
        x = flux[b * seg:(b + 1) * seg]
        m = len(x)
        f = np.fft.rfft(x, n=2 * m, axis=0)
        ac = np.fft.irfft(f * np.conj(f), axis=0)[:nlag] / (m - np.arange(nlag))[:, None]   # unbiased
        c = ac.mean(axis=1)                                                                     # x, y, z
        integral = np.concatenate([[0.0], np.cumsum(0.5 * (c[1:] + c[:-1]) * dt_ps)])        # trapezoid
        kappas.append(pref * integral)
        acfs.append(c / c[0])
    kappas = np.array(kappas)
    mean = kappas.mean(axis=0)
    sem = kappas.std(axis=0, ddof=1) / np.sqrt(blocks) if blocks > 1 else np.zeros_like(mean)
    return np.arange(nlag) * dt_ps, mean, sem, np.mean(acfs, axis=0)


def run_green_kubo(atoms, out, s: GKSettings, *, potential=None, reference=None, length_unit=None,
                   energy_unit=None, log=print, progress=True) -> dict:
    from ..lammps.runner import md_setup

    if not atoms.pbc.all():
        raise InputError("Green-Kubo needs a periodic cell")
    if s.production / max(s.blocks, 1) < 2 * s.tau - 1e-9:      # checked before the MD, not after it
        raise InputError(f"the production run is too short for τ = {s.tau:g} ps with {s.blocks} blocks: each block "
                         f"would have {s.production / max(s.blocks, 1):g} ps; make --production at least "
                         f"{2 * s.tau * s.blocks:g} ps, or shorten --tau, or use fewer --blocks")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if s.repeat:
        atoms = atoms.repeat(tuple(s.repeat))
    dt_ps = s.timestep / 1000.0
    at, head, _ = md_setup(atoms, out, potential, reference, timestep_ps=dt_ps, length_unit=length_unit,
                           energy_unit=energy_unit)
    n_eq = int(round(s.equilibration / dt_ps))
    n_prod = int(round(s.production / dt_ps))
    script = f"""# hdnnp thermal-conductivity --method green-kubo
{head}
velocity all create {2 * s.temperature} {s.seed} dist gaussian mom yes rot yes
fix eq all nvt temp {s.temperature} {s.temperature} {100 * dt_ps}
thermo 1000
run {n_eq}
unfix eq
compute ke all ke/atom
compute pe all pe/atom
compute sa all centroid/stress/atom NULL virial
compute flux all heat/flux ke pe sa
fix nve all nve
thermo_style custom step temp pe etotal press
fix jf all ave/time {s.sample_every} 1 {s.sample_every} c_flux[1] c_flux[2] c_flux[3] file flux.txt format " %.10e"
run {n_prod}
"""
    n_samples = n_prod // s.sample_every
    if _finished(out, script, n_samples):
        log(f"green-kubo: {out}/flux.txt holds this run's {n_samples} flux samples already (same in.lmp); "
            "analysing it without running the MD again")
    else:
        (out / "in.lmp").write_text(script)
        log(f"green-kubo: {len(at)} atoms, {s.equilibration:g} ps NVT + {s.production:g} ps NVE at "
            f"{s.temperature:g} K ({n_eq + n_prod} steps) in LAMMPS "
            f"({'hdnnp/fast' if potential is not None else reference.name})")
        _run_md(out, s, reference)
    flux = np.loadtxt(out / "flux.txt", comments="#")[:, 1:4]
    volume = abs(np.linalg.det(at.cell[:]))
    lags, kap, sem, acf = gk_kappa(flux, s.sample_every * dt_ps, volume, s.temperature, s.tau, s.blocks)
    np.savetxt(out / "gk.csv", np.column_stack([lags, kap, sem, acf]), delimiter=",",
               header="tau_ps,kappa_W_mK,kappa_sem_W_mK,acf_normalised", comments="")
    plot_gk(lags, kap, sem, acf, out / "gk.png", s)
    summary = {"method": "green-kubo", "engine": str(potential) if potential is not None else reference.name,
               "atoms": len(at), "temperature_K": s.temperature, "volume_A3": volume, "timestep_fs": s.timestep,
               "equilibration_ps": s.equilibration, "production_ps": s.production, "tau_ps": s.tau,
               "blocks": s.blocks, "kappa_W_mK": float(kap[-1]), "kappa_sem_W_mK": float(sem[-1])}
    (out / "gk.json").write_text(json.dumps(summary, indent=2))
    return summary


def _finished(out: Path, script: str, n_samples: int) -> bool:
    """Whether ``out`` holds a finished run of exactly this input: the same in.lmp and every flux sample."""
    try:
        if (out / "in.lmp").read_text() != script:
            return False
        rows = sum(1 for ln in (out / "flux.txt").read_text().splitlines() if ln.strip() and not ln.startswith("#"))
    except OSError:
        return False
    return rows >= n_samples


def _run_md(out: Path, s: GKSettings, reference) -> None:
    from ..lammps.runner import run_in
    try:
        run_in(out, s.ranks)
    except HDNNPError as exc:
        if reference is not None and "does not support compute centroid/stress/atom" in str(exc):
            raise InputError(f"LAMMPS' pair style {reference.settings['pair_style']} has no centroid per-atom virial, "
                             "so its heat flux would be wrong for a many-body potential (compute stress/atom is); "
                             "Green-Kubo needs it") from None
        raise


def plot_gk(lags, kap, sem, acf, png, s: GKSettings):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
    ax[0].plot(lags, acf)
    ax[0].axhline(0, color="k", lw=0.5)
    ax[0].set_ylabel("HFACF (normalised)")
    ax[1].plot(lags, kap, color="C1")
    ax[1].fill_between(lags, kap - sem, kap + sem, color="C1", alpha=0.3, label=f"± s.e. over {s.blocks} blocks")
    ax[1].set_xlabel("correlation time τ (ps)")
    ax[1].set_ylabel("κ(τ) (W/m/K)")
    ax[1].set_title(f"κ({s.tau:g} ps) = {kap[-1]:.3g} ± {sem[-1]:.2g} W/m/K at {s.temperature:g} K", fontsize=10)
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
