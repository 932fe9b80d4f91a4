"""Lattice thermal conductivity with phono3py: ``hdnnp thermal-conductivity STRUCTURE POTENTIAL``.

The structure is relaxed as in :mod:`hdnnp.workflows.phonons` (symmetry kept, ``fmax``), then phono3py
builds the displaced supercells for the third-order force constants (``supercell``) and, when
``fc2_supercell`` differs, for the second-order ones; their forces come from the potential in one batch (or
from a reference through the label store); phono3py computes fc2, fc3, the phonon–phonon interaction on the
``mesh`` and κ(T) in the relaxation-time approximation (``method: rta``) or from the direct solution of the
linearised Boltzmann equation (``lbte``), with or without isotope scattering.

κ is written as a tensor per temperature (W/m/K; Voigt order xx yy zz yz xz xy) in ``kappa.csv``, plotted in
``kappa.png``, and summarised in ``kappa.json`` with the number of force calculations (supercells) used.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .phonons import ForceEngine, _ase_atoms, _phonopy_atoms, relax

__all__ = ["KappaSettings", "run_kappa", "KappaTraining", "train_for_kappa"]

VOIGT = ("xx", "yy", "zz", "yz", "xz", "xy")


@dataclass
class KappaSettings:
    supercell: list[int] = field(default_factory=lambda: [2, 2, 2])        # fc3
    fc2_supercell: list[int] | None = None                                 # default: the fc3 supercell
    displacement: float = 0.03                                              # Å (phono3py's default)
    mesh: list[int] = field(default_factory=lambda: [11, 11, 11])
    temperatures: list[float] = field(default_factory=lambda: [300.0])
    method: str = "rta"                                                     # rta | lbte
    isotope: bool = False
    relax: bool = True
    relax_cell: bool = False
    fmax: float = 1e-4
    max_steps: int = 2000
    symprec: float = 1e-5


def require_phono3py():
    try:
        import phono3py  # noqa: F401
    except ImportError:
        raise InputError("thermal conductivity needs phono3py: pip install 'hdnnp[phonons]'") from None


def _phono3py(atoms, s: KappaSettings):
    from phono3py import Phono3py
    fc2 = s.fc2_supercell if s.fc2_supercell and list(s.fc2_supercell) != list(s.supercell) else None
    ph3 = Phono3py(_phonopy_atoms(atoms), supercell_matrix=np.diag(s.supercell),
                   phonon_supercell_matrix=np.diag(fc2) if fc2 else None, primitive_matrix="auto",
                   symprec=s.symprec, log_level=0)
    ph3.generate_displacements(distance=s.displacement)
    if fc2:
        ph3.generate_fc2_displacements(distance=s.displacement)
    return ph3, fc2 is not None


def run_kappa(atoms, engine: ForceEngine, out, s: KappaSettings, log=print, extra: dict | None = None) -> dict:
    """Relax, fc2 and fc3, κ(T); writes kappa.csv/png/json (``extra``: more fields for kappa.json)."""
    require_phono3py()
    if s.method not in ("rta", "lbte"):
        raise InputError(f"method must be rta or lbte, not {s.method!r}")
    if not atoms.pbc.all():
        raise InputError("thermal conductivity needs a periodic cell (all three directions)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = {}
    if s.relax:
        atoms, fres = relax(atoms, engine.calculator(), fmax=s.fmax, relax_cell=s.relax_cell,
                            max_steps=s.max_steps, symprec=s.symprec, log=log)
        info["relaxed_max_force_eV_A"] = fres
    atoms.write(out / "relaxed.extxyz")
    ph3, sep = _phono3py(atoms, s)
    cells = ph3.supercells_with_displacements
    live = [k for k, c in enumerate(cells) if c is not None]
    log(f"thermal conductivity: {len(live)} displaced {len(ph3.supercell)}-atom supercells for fc3"
        + (f" and {len(ph3.phonon_supercells_with_displacements)} for fc2" if sep else "")
        + f", forces from {engine.name}")
    todo = [_ase_atoms(cells[k]) for k in live]
    if sep:
        todo += [_ase_atoms(c) for c in ph3.phonon_supercells_with_displacements]
    forces = engine.forces(todo, "displaced supercells")
    n3 = len(ph3.supercell)
    F3 = np.zeros((len(cells), n3, 3))
    for k, f in zip(live, forces[:len(live)]):
        F3[k] = f
    ph3.forces = F3
    if sep:
        ph3.phonon_forces = np.array(forces[len(live):])
    ph3.produce_fc3()
    ph3.produce_fc2()
    ph3.symmetrize_fc3()
    ph3.symmetrize_fc2()
    ph3.mesh_numbers = list(s.mesh)
    ph3.init_phph_interaction()
    T = [float(t) for t in s.temperatures]
    ph3.run_thermal_conductivity(temperatures=T, is_LBTE=(s.method == "lbte"), is_isotope=s.isotope,
                                 write_kappa=False)
    tc = ph3.thermal_conductivity
    kappa = np.asarray(tc.kappa)[0] if s.method == "rta" else np.asarray(tc.kappa)[0]
    with open(out / "kappa.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["T_K"] + [f"kappa_{c}_W_mK" for c in VOIGT])
        for t, k in zip(T, kappa):
            w.writerow([t] + [float(x) for x in k])
    plot_kappa(T, kappa, out / "kappa.png", f"{engine.name}, {s.method.upper()}, mesh {'x'.join(map(str, s.mesh))}")
    summary = dict(info, engine=engine.name, method=s.method, isotope=s.isotope, mesh=list(s.mesh),
                   supercell=list(s.supercell), fc2_supercell=list(s.fc2_supercell or s.supercell),
                   displacement_A=s.displacement,
                   force_calculations=len(todo),      # phono3py's displacement set (fc3, and fc2 when separate)
                   temperatures_K=T, kappa_W_mK={f"{t:g}": dict(zip(VOIGT, map(float, k))) for t, k in zip(T, kappa)},
                   extrapolating_supercells=engine.extrapolating,
                   committee_max_force_spread_eV_A=engine.max_spread, **(extra or {}))
    (out / "kappa.json").write_text(json.dumps(summary, indent=2))
    if engine.extrapolating:
        log(f"thermal conductivity: {engine.extrapolating} of {len(todo)} displaced supercells extrapolate "
            "(symmetry functions outside the training range)")
    return summary


def plot_kappa(T, kappa, png, title=""):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kappa = np.asarray(kappa)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for c, name in enumerate(VOIGT[:3]):
        ax.plot(T, kappa[:, c], "o-", label=f"κ_{name}")
    if np.abs(kappa[:, 3:]).max() > 1e-6 * max(np.abs(kappa).max(), 1e-30):
        for c in range(3, 6):
            ax.plot(T, kappa[:, c], "s--", label=f"κ_{VOIGT[c]}")
    ax.set_xlabel("T (K)")
    ax.set_ylabel("κ (W/m/K)")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


# --- training data made for the job ------------------------------------------------------------------
@dataclass
class KappaTraining:
    """``--train``: a training set for force constants, labelled by the reference through the store."""
    # Å, Gaussian std: large enough that the forces' anharmonic part (what fc3 is) is learned (Si/SW: 0.01-0.08 Å gave
    # κ 32-41 % low, 0.03-0.2 Å 8-14 %)
    amplitudes: list[float] = field(default_factory=lambda: [0.03, 0.06, 0.1, 0.15, 0.2])
    per_amplitude: int = 12
    strains: list[float] = field(default_factory=lambda: [-0.02, -0.01, 0.01, 0.02])     # isotropic
    check: int = 4                   # held-out displaced supercells (amplitude 0.03 Å)
    #: an amplitude is used only while the cells' stiffness F_rms/u_rms stays within this factor of the smallest
    #: amplitude's: beyond it the forces leave the region force constants describe (Tersoff GaN: 1.37 at 0.1 Å,
    #: 2.2 at 0.2 Å with forces up to 146 eV/Å, which a smooth potential cannot fit; SW Si: 1.16 at 0.2 Å)
    max_stiffening: float = 1.5
    committee: int = 1
    config: dict | None = None       # training configuration (mapping); default: hdnnp init's choice, forces weighted
    time_budget: float = 900.0       # s, for the whole training
    #: Å, the symmetry functions' cutoff of the default configuration (None: hdnnp init's rule, 2.5 × the median
    #: nearest-neighbour distance, at least 6 Å). Force constants of a short-ranged reference (Tersoff: first
    #: neighbours only) are followed more closely by a cutoff just beyond the neighbours it sees.
    cutoff: float | None = None
    seed: int = 1


#: Å, the held-out check cells' amplitude (phono3py's displacement)
CHECK_AMPLITUDE = 0.03
#: cells of each amplitude labelled first to measure how the forces stiffen
PROBE_CELLS = 2
#: Levenberg–Marquardt's force atoms per iteration for --train (its Jacobian has 3 rows per atom)
MAX_LM_FORCE_ATOMS = 20000
#: strains along each axis added to the training set when the cell is relaxed (--relax-cell)
UNIAXIAL_STRAINS = (-0.01, 0.01)
#: stress weight of the default training loss when the cell is relaxed (the loss takes (100·Δσ[eV/Å³])²: a
#: 1 meV/Å³ stress error then weighs as much as a 10 meV/Å force error)
KAPPA_STRESS_WEIGHT = 0.01
#: --train's default model: at least this many symmetry functions per element and nodes per hidden layer
KAPPA_SF_BUDGET = 48
KAPPA_HIDDEN = 32


def _group(amp: float) -> str:
    return f"displaced {amp:g} Å"


def _displaced(base, amp: float, rng, group: str | None = None):
    a = base.copy()
    a.positions += rng.normal(0.0, amp, a.positions.shape)
    a.info["group"] = group or _group(amp)
    return a


def training_cells(atoms, supercell, t: KappaTraining, relax_cell: bool = False):
    """Random-displacement supercells at several amplitudes, isotropically strained ones (each rattled by
    0.02 Å), and held-out displaced supercells for the check. With ``relax_cell`` (the potential relaxes the cell
    before the force constants) also cells stretched along x, y and z by ±1 %, so that every lattice parameter
    has its stress in the data, not only the volume: a potential that knew only isotropic strains put wurtzite
    GaN's c 0.9 % short of Tersoff's, and κ_zz 45 % low."""
    rng = np.random.default_rng(t.seed)
    base = atoms.repeat(tuple(int(x) for x in supercell))
    train = [_displaced(base, amp, rng) for amp in t.amplitudes for _ in range(t.per_amplitude)]
    strains = [(np.full(3, 1.0 + eps), f"strained {eps:+g}") for eps in t.strains]
    if relax_cell:
        strains += [(1.0 + eps * np.eye(3)[axis], f"strained {'xyz'[axis]} {eps:+g}")
                    for axis in range(3) for eps in UNIAXIAL_STRAINS]
    for stretch, group in strains:          # each rattled by 0.02 Å
        a = base.copy()
        a.set_cell(a.cell[:] * stretch[None, :], scale_atoms=True)
        a.positions += rng.normal(0.0, 0.02, a.positions.shape)
        a.info["group"] = group
        train.append(a)
    check = [_displaced(base, CHECK_AMPLITUDE, rng, f"check {CHECK_AMPLITUDE:g} Å") for _ in range(t.check)]
    return train, check


def _amplitude_probe(atoms, supercell, t: KappaTraining, train_cells, check_cells, reference, store,
                     workers) -> dict:
    """Label the first PROBE_CELLS cells of every amplitude (and the check cells): {amplitude: (stiffness
    F_rms/u_rms, stiffness / the smallest amplitude's)}, each stiffness pooled over its cells (one cell alone
    scatters by ±30 % in Tersoff GaN, whose forces are heavy-tailed)."""
    from ..labels import label
    from ..structures import Structure
    base = atoms.repeat(tuple(int(x) for x in supercell)).positions
    amps = sorted(t.amplitudes)
    groups = {a: [c for c in train_cells if c.info["group"] == _group(a)][:PROBE_CELLS] for a in amps}
    cells = [c for a in amps for c in groups[a]] + list(check_cells)
    run = label([Structure.from_ase(c) for c in cells], reference, store, workers=workers, desc="probe amplitudes")
    if run.interrupted:
        raise KeyboardInterrupt
    f2, u2 = {}, {}
    owner = [a for a in amps for _ in groups[a]] + [CHECK_AMPLITUDE] * len(check_cells)
    for a, c, r in zip(owner, cells, run.results):
        if r is not None and r.ok:
            f2[a] = f2.get(a, 0.0) + float(np.sum(np.square(r.forces)))
            u2[a] = u2.get(a, 0.0) + float(np.sum(np.square(np.asarray(c.positions) - base)))
    if not f2:
        raise InputError("the reference could label none of the displaced supercells")
    k = {a: np.sqrt(f2[a] / u2[a]) for a in f2}
    k0 = k[min(k)]
    return {a: (float(k[a]), float(k[a] / k0)) for a in amps if a in k}


def default_training_config(cells, t: KappaTraining, relax_cell: bool = False) -> dict:
    """--train's configuration when none is given: hdnnp init's choice for the labelled ``cells`` (cutoff
    ``t.cutoff`` when set), forces weighted, no validation split; stress only with ``relax_cell`` (the potential
    then sets the cell, so it must know the stress)."""
    from ..training.autoconfig import choose, summarize

    summary = summarize(cells)
    if t.cutoff:
        summary.cutoff = float(t.cutoff)
    settings, _ = choose(summary, t.time_budget)
    # fc3 is a small part of the forces (~1 % at phono3py's 0.03 Å), so the fit must be far tighter than init
    # aims for; the sets are small (tens of supercells), which keeps this affordable. SW Si, 68 cells of 64
    # atoms, 3.6 Å: init's choice (24 functions, 24-24, LM on 1000 sampled atoms) fits the training forces to
    # 12.9 meV/Å and gives κ 5.9 % low; every atom's forces in each LM iteration: 7.4 meV/Å, 1.2 % low; and
    # 48 functions with 32-32 networks: 6.4 meV/Å after 19 epochs, κ within 0.9 %.
    auto = settings["symmetry_functions"].get("auto")
    if isinstance(auto, dict):
        auto["budget"] = max(int(auto.get("budget", 0)), KAPPA_SF_BUDGET)
    settings["hidden"] = [max(h, KAPPA_HIDDEN) for h in settings["hidden"]]
    opt = settings["optimizer"]
    if opt.get("name") == "lm":
        n_atoms = sum(len(c) for c in cells)
        opt["lm"] = dict(opt.get("lm", {}), force_atoms=int(min(max(n_atoms, 1000), MAX_LM_FORCE_ATOMS)))
    # no validation split: the set is small and of one kind, and the held-out check cells judge the fit
    # (on Tersoff GaN the best-validation epoch on six cells was epoch 3 of 51, exported with 3 % force
    # error where the final weights had 1.7 %)
    return {"model": {"symmetry_functions": settings["symmetry_functions"], "hidden": settings["hidden"]},
            "loss": dict(settings["loss"], forces=1.0, stress=KAPPA_STRESS_WEIGHT if relax_cell else 0.0),
            "optimizer": settings["optimizer"],
            "data": {"validation_fraction": 0.0},
            "run": {"time_budget": t.time_budget, "progress": "none"}}


def train_for_kappa(atoms, reference, store, out, s: KappaSettings, t: KappaTraining, workers=None,
                    log=print) -> dict:
    """Label the training and check cells with the reference, train a potential on them, and check it on
    the held-out cells. Returns ``{potential, labels_used, check_force_rmse_meV_A, check_relative}``."""
    from ..io import write
    from ..labels import LabelStore, default_workers, label
    from ..structures import Structure
    from ..training import train
    from ..training.config import config_from_dict

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_cells, check_cells = training_cells(atoms, s.supercell, t, relax_cell=s.relax_cell)
    store = store if isinstance(store, LabelStore) else LabelStore(store)
    workers = workers if workers is not None else default_workers()
    probes = _amplitude_probe(atoms, s.supercell, t, train_cells, check_cells, reference, store, workers)
    kept = [amp for amp, (_, ratio) in probes.items() if ratio <= t.max_stiffening]
    dropped = [amp for amp in probes if amp not in kept]
    n_probed = len(dropped) * min(PROBE_CELLS, t.per_amplitude)
    if dropped:
        log("thermal conductivity, training set: amplitudes " + ", ".join(f"{a:g}" for a in dropped) + " Å left out: "
            "the forces stiffen by " + ", ".join(f"{probes[a][1]:.2f}×" for a in dropped) + " against "
            f"{min(probes):g} Å (more than max_stiffening {t.max_stiffening:g}: outside the region the force "
            "constants describe); their cells go to " + ", ".join(f"{a:g}" for a in kept) + " Å")
        rng = np.random.default_rng([t.seed, 1])
        base = atoms.repeat(tuple(int(x) for x in s.supercell))
        extra = [_displaced(base, kept[k % len(kept)], rng) for k in range(len(dropped) * t.per_amplitude - n_probed)]
        gone = {_group(a) for a in dropped}
        train_cells = [c for c in train_cells if c.info["group"] not in gone]
        train_cells += extra
    run = label([Structure.from_ase(a) for a in train_cells + check_cells], reference, store, workers=workers,
                desc="label training cells")
    if run.interrupted:
        raise KeyboardInterrupt
    log(f"thermal conductivity, training set: {run.summary()}")
    lab = run.labelled
    n_train = sum(1 for r in run.results[:len(train_cells)] if r is not None and r.ok)
    tr, ck = lab[:n_train], lab[n_train:]
    if len(tr) < 4 or not ck:
        raise InputError("too few training cells could be labelled by the reference")
    write(out / "train.extxyz", tr)
    write(out / "check.extxyz", ck)
    pot = out / "train" / "potential"
    if not (out / "train" / "metadata.json").is_file():
        d = json.loads(json.dumps(t.config)) if t.config is not None else default_training_config(tr, t, s.relax_cell)
        d.setdefault("data", {})
        d["data"]["train"] = [str((out / "train.extxyz").resolve())]
        d["data"]["test"] = [str((out / "check.extxyz").resolve())]
        d["data"].pop("label", None)
        d.setdefault("run", {})
        d["run"].update(output=str((out / "train").resolve()), committee=t.committee, seed=t.seed)
        cfg = config_from_dict(d, file="thermal-conductivity --train", base_dir=str(out))
        started = (out / "train" / ("member_1" if t.committee > 1 else "checkpoint.pt")).exists()
        train(cfg, resume=started, log=lambda *a, **k: None)
    from ..model.evaluator import load_potential
    ev = load_potential(pot)
    df, fref = [], []
    for c in ck:
        p = ev.evaluate(c, stress=False)
        df.append((p.forces - c.forces).ravel())
        fref.append(np.asarray(c.forces).ravel())
    df, fref = np.concatenate(df), np.concatenate(fref)
    rmse = float(np.sqrt(np.mean(df ** 2)))
    rel = rmse / float(np.sqrt(np.mean(fref ** 2)))
    log(f"thermal conductivity: the trained potential on {len(ck)} held-out displaced supercells: force RMSE "
        f"{rmse * 1e3:.2f} meV/Å ({rel:.1%} of the RMS force)")
    return {"potential": str(pot), "labels_used": len(train_cells) + len(check_cells) + n_probed,
            "amplitudes_A": kept, "stiffening": {f"{a:g}": r for a, (_, r) in probes.items()},
            "check_force_rmse_meV_A": rmse * 1e3, "check_relative": rel}
