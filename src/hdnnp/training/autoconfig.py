"""``hdnnp init``: read the data and write a starting configuration made for it, with the reasons.

:func:`summarize` measures what matters for the choice: periodic cells or molecules, elements, atoms per
structure and in all, which labels exist, the spread of the energies once per-element reference
energies are fitted (eV/atom), the force magnitude and the cutoff the data suggest.
:func:`choose` turns that and a time budget into settings. The rules, from this repository's benchmarks
(``benchmarks/bench_sf_auto.py``, ``bench_train_si.py``, ``bench_train_ethanol.py``):

* **Symmetry functions**: always the automatic, data-adapted selection (it beat the hand-written sets
  on Si, TiO2 and ethanol at equal length). Periodic solids: 24 per element plus 16 per further element
  (at most 56; TiO2: 40, the length at which the automatic set won), cutoff from the data (at least 6 Å). Molecules: 128 per element with ζ up to 16 (sharp
  angular functions gained most on ethanol).
* **Network and optimiser**: periodic solids train best with Levenberg–Marquardt on n2p2-size networks
  (24-24; 32-32 above 20,000 training atoms), force weight 0.05 (stress 0.0005 where present).
  Molecules with forces train best with Adam on wider networks (96-96-96), batch 16, cosine decay,
  force weight 1 (the energy error did not rise with it); the epochs are bound by the time budget; min-max
  scaling and a 5 % validation set (rMD17 ethanol at the default budget: 0.42 meV/atom, 37.8 meV/Å against
  0.69 / 47.5 with scale_center and 10 %).
* **Epochs**: as many as the time budget allows: ``run.time_budget`` is set, and training times its
  first epoch and fits the rest (see ``hdnnp train``). ``optimizer.epochs`` is the ceiling.
* **Default time budget**: 3 minutes per 1,000 training atoms on a 2-core machine, between 3 and 60
  minutes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DataSummary", "summarize", "choose", "config_text", "default_time_budget"]


@dataclass
class DataSummary:
    n_structures: int
    elements: list[str]
    periodic: int                      # structures periodic in 3D
    molecules: int                     # structures with no periodic direction
    atoms_mean: float
    atoms_total: int
    has_energy: bool
    has_forces: bool
    has_stress: bool
    energy_spread: float | None        # eV/atom, std after fitting per-element reference energies
    force_rms: float | None            # eV/Å
    cutoff: float                      # Å suggested by the data
    nn_median: float | None
    formats: list[str] = field(default_factory=list)
    charges: list[float] = field(default_factory=lambda: [0.0])    # the total charges in the data

    @property
    def kind(self) -> str:
        if self.molecules == self.n_structures:
            return "molecules"
        if self.periodic == self.n_structures:
            return "periodic"
        return "mixed"


def fit_atom_energies(structures, elements: list[str], charge: bool = False):
    """Per-element reference energies by linear least squares: E_s ≈ Σ_el n_s,el · μ_el. With ``charge``
    (a charge-aware potential) the total charge is one more column, E_s ≈ Σ_el n_s,el · μ_el + Q_s · μ_Q, and
    (μ, μ_Q) is returned: μ_Q (eV per e) is the energy of the charge per structure, which does not grow with the
    number of atoms as a sum of atomic energies does (removing an electron from a supercell costs about the
    band edge, whatever the cell's size)."""
    S = [s for s in structures if s.energy is not None]
    if not S:
        return (np.zeros(len(elements)), 0.0) if charge else np.zeros(len(elements))
    counts = np.array([[np.sum(np.array(s.symbols) == el) for el in elements] for s in S], float)
    if charge:
        counts = np.hstack([counts, np.array([[float(s.charge)] for s in S])])
    E = np.array([s.energy for s in S])
    mu, *_ = np.linalg.lstsq(counts, E, rcond=None)
    return (mu[:-1], float(mu[-1])) if charge else mu


def summarize(structures, formats=()) -> DataSummary:
    from ase.data import atomic_numbers

    from ..descriptors.selection import default_cutoff

    elements = sorted({el for s in structures for el in s.symbols}, key=lambda e: atomic_numbers[e])
    nat = np.array([s.natoms for s in structures])
    with_e = [s for s in structures if s.energy is not None]
    spread = None
    if len(with_e) > len(elements):
        # the energy of the charge too where there are several, as training fits it
        charged = len({float(s.charge) for s in with_e}) > 1
        fit = fit_atom_energies(with_e, elements, charge=charged)
        mu, mu_q = fit if charged else (fit, 0.0)
        spread = float(np.std([(s.energy - mu_q * s.charge - sum(mu[elements.index(x)] for x in s.symbols)) / s.natoms
                               for s in with_e]))
    f = [s.forces for s in structures if s.forces is not None]
    frms = float(np.sqrt(np.mean(np.concatenate([x.ravel() for x in f]) ** 2))) if f else None
    rc, stats = default_cutoff(structures)
    return DataSummary(
        n_structures=len(structures), elements=elements,
        periodic=sum(1 for s in structures if np.all(s.pbc)), molecules=sum(1 for s in structures if not np.any(s.pbc)),
        atoms_mean=float(nat.mean()), atoms_total=int(nat.sum()), has_energy=bool(with_e), has_forces=bool(f),
        has_stress=any(s.stress is not None and np.all(s.pbc) for s in structures), energy_spread=spread,
        force_rms=frms, cutoff=rc, nn_median=stats.get("median_nn_distance"), formats=list(formats),
        charges=sorted({float(s.charge) for s in structures}))


def default_time_budget(summary: DataSummary) -> float:
    """Seconds: 3 minutes per 1,000 training atoms, between 3 and 60 minutes."""
    return float(min(3600.0, max(180.0, 180.0 * summary.atoms_total / 1000.0)))


def choose(summary: DataSummary, time_budget: float | None = None) -> tuple[dict, list[str]]:
    """Settings (a nested mapping for the config) and the reasons, one line each."""
    budget = float(time_budget or default_time_budget(summary))
    nel = len(summary.elements)
    why = []
    kind = summary.kind
    if kind == "molecules" and summary.has_forces:
        sf = {"auto": {"budget": 128, "zetas": [1, 2, 4, 8, 16]}}
        hidden, opt = [96, 96, 96], {"name": "adam", "epochs": 20000, "batch_size": 16, "lr": 0.003,
                                      "schedule": "cosine", "min_lr": 1e-6}
        loss = {"energy": 1.0, "forces": 1.0, "stress": 0.0}
        scaling, val = "scale", 0.05
        why += [f"{summary.n_structures} isolated molecules with forces: automatic symmetry functions, 128 per "
                "element with sharp angular ones (ζ up to 16), min-max scaled",
                "Adam on 96-96-96 networks with cosine decay and force weight 1: on molecules with forces it beat "
                "Levenberg–Marquardt, whose cost grows with the square of the weight count",
                "validation set 5 %: the cosine schedule's final weights are kept, so the validation set only "
                "watches the run and the rest of the data trains"]
    else:
        scaling, val = "scale_center", 0.1
        per = min(56, 24 + 16 * (nel - 1))
        sf = {"auto": {"budget": per}}
        hidden = [32, 32] if summary.atoms_total > 20000 else [24, 24]
        opt = {"name": "lm", "epochs": 200, "lm": {"iterations": 10, "force_atoms": 1000}}
        loss = {"energy": 1.0, "forces": 0.05 if summary.has_forces else 0.0,
                "stress": 0.0005 if summary.has_stress else 0.0}
        what = {"periodic": "periodic cells", "mixed": "periodic cells and molecules",
                "molecules": "molecules without forces"}[kind]
        why += [f"{summary.n_structures} {what} ({nel} element{'s' if nel > 1 else ''}): automatic symmetry "
                f"functions, {per} per element",
                f"Levenberg–Marquardt on {'-'.join(map(str, hidden))} networks (n2p2-size; fastest and most accurate "
                f"there), force weight {loss['forces']}" + (", stress weight 0.0005" if summary.has_stress else "")]
    if summary.cutoff:
        why.append(f"cutoff {summary.cutoff:g} Å: 2.5 × the median nearest-neighbour distance "
                   f"({summary.nn_median:.2f} Å), at least 6 Å" if summary.nn_median else f"cutoff {summary.cutoff:g} Å")
    why.append(f"time budget {budget / 60:.1f} min (run.time_budget): training times its first epoch and runs "
               f"as many as fit, up to {opt['epochs']}" + ("" if time_budget else
                                                          "; default 3 min per 1,000 training atoms"))
    if summary.energy_spread is not None:
        what = "per-element reference energies" + (" and the energy of the charge" if len(summary.charges) > 1 else "")
        why.append(f"energy spread after {what}: {summary.energy_spread * 1e3:.1f} meV/atom "
                   "(an energy RMSE well below this is a useful fit)")
    sf["auto"]["cutoff"] = summary.cutoff
    settings = {"symmetry_functions": sf, "hidden": hidden, "optimizer": opt, "loss": loss,
                "time_budget": budget, "scaling": scaling, "validation_fraction": val}
    if len(summary.charges) > 1:
        settings["charge_input"] = True
        why.append(f"{len(summary.charges)} total charges in the data ({', '.join(f'{q:g}' for q in summary.charges)}):"
                   " a charge-aware potential, the total charge an input of every network (model.charge_input)")
    return settings, why


def _units(path, fmt, length_unit, energy_unit) -> str:
    if fmt in ("n2p2", "extxyz"):
        return f"{{path: {path}, length_unit: {length_unit}, energy_unit: {energy_unit}}}"
    return f"{{path: {path}}}     # {fmt}: fixed units, converted to Å and eV on reading"


def config_text(train_files, test_files, formats, summary: DataSummary, settings: dict, why: list[str], *,
                length_unit="angstrom", energy_unit="ev", output="run") -> str:
    import yaml

    fmt_train = formats[:len(train_files)]
    fmt_test = formats[len(train_files):]
    tr = "\n".join(f"    - {_units(p, f, length_unit, energy_unit)}" for p, f in zip(train_files, fmt_train))
    te = "\n".join(f"    - {_units(p, f, length_unit, energy_unit)}" for p, f in zip(test_files, fmt_test)) or "    []"

    def block(d, indent):
        return "\n".join(" " * indent + ln for ln in yaml.safe_dump(d, sort_keys=False,
                                                                   default_flow_style=None).splitlines())
    reasons = "\n".join(f"#   - {w}" for w in why)
    charge_line = ("  charge_input: true        # the total charge is an input of every network (several charge states)\n"
                   if settings.get("charge_input") else "")
    o = settings["optimizer"]
    return f"""# hdnnp training configuration (hdnnp train CONFIG), written by 'hdnnp init' for this data.
# Units: eV and Å unless stated. Why these settings:
{reasons}
data:
  train:
{tr}
  test:             # explicit test files; when empty, test_fraction of train is held out
{te}
  validation_fraction: {settings.get("validation_fraction", 0.1)}
  test_fraction: {0.0 if test_files else 0.1}
model:
  elements: [{", ".join(summary.elements)}]
  symmetry_functions:   # chosen on the training split when training starts; written to the run's config.yaml
{block(settings["symmetry_functions"], 4)}
  hidden: {settings["hidden"]}      # hidden layer sizes
  activation: t             # n2p2 letter: t tanh, p softplus, s logistic, ...
  scaling: {settings.get("scaling", "scale_center")}     # none, scale, center, scale_center, scale_sigma (n2p2 modes)
{charge_line}loss:                       # weights: energy per atom (eV/atom)², force components (eV/Å)²,
                            # stress components in units of 10 meV/Å³, squared
{block(settings["loss"], 2)}
optimizer:                  # lm (Levenberg–Marquardt), adam, lbfgs or kalman
{block(o, 2)}
run:
  output: {output}
  seed: 1
  time_budget: {settings["time_budget"]:.0f}         # seconds; training fits its epochs into it
  device: cpu               # cpu, cuda, auto
"""
