"""Amorphous cells by melt–quench MD in LAMMPS: ``hdnnp amorphous``.

Atoms of the given composition are placed at random (no two closer than ``min_distance``) in a cubic box of
the given density, then LAMMPS runs NVT: ``melt`` ps at ``t_melt``, a linear quench to ``t_final`` at
``rate`` K/ps, and ``anneal`` ps at ``t_final`` (``pressure`` given: the quench and anneal run NPT at that
pressure, so the density relaxes). The interaction is an hdnnp potential (the ``hdnnp/fast`` plugin) or a LAMMPS
reference (``sw-si``, a ``pedone`` YAML, …).

Outputs: ``amorphous.extxyz`` (the final cell), ``quench.extxyz`` (frames), ``thermo.csv``, ``rdf.csv`` and
``rdf.png`` (partial radial distribution functions averaged over the anneal's frames), ``in.lmp``,
``log.lammps``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["AmorphousSettings", "random_cell", "melt_quench", "partial_rdf", "parse_composition"]

AMU_G = 1.66053906660e-24     # g per atomic mass unit


@dataclass
class AmorphousSettings:
    t_melt: float = 3000.0       # K
    melt: float = 10.0           # ps
    t_final: float = 300.0       # K
    rate: float = 100.0          # K/ps (quench)
    anneal: float = 10.0         # ps
    timestep: float = 1.0        # fs
    pressure: float | None = None  # bar: NPT for quench and anneal
    dump_every: float = 0.1      # ps
    min_distance: float = 1.6    # Å
    seed: int = 1
    ranks: int = 1


def parse_composition(text: str) -> dict[str, int]:
    """``Li3PO4`` → {Li: 3, P: 1, O: 4}; ``Si`` → {Si: 1}."""
    from ase.data import atomic_numbers
    parts = re.findall(r"([A-Z][a-z]?)(\d*)", text)
    if not parts or "".join(e + n for e, n in parts) != text:
        raise InputError(f"composition {text!r}: write it as a formula, e.g. Si, SiO2, Li3PO4")
    out: dict[str, int] = {}
    for e, n in parts:
        if e not in atomic_numbers:
            raise InputError(f"composition {text!r}: unknown element {e}")
        out[e] = out.get(e, 0) + (int(n) if n else 1)
    return out


def random_cell(composition: dict[str, int], units: int, density: float, *, min_distance: float, seed: int):
    """``units`` formula units at random positions in a cube of ``density`` g/cm³."""
    from ase import Atoms
    from ase.data import atomic_masses, atomic_numbers
    symbols = [e for e, n in composition.items() for _ in range(n * units)]
    mass = sum(atomic_masses[atomic_numbers[e]] for e in symbols) * AMU_G
    L = (mass / density * 1e24) ** (1.0 / 3.0)          # Å
    rng = np.random.default_rng(seed)
    pos = np.zeros((len(symbols), 3))
    for k in range(len(symbols)):
        for _ in range(20000):
            p = rng.uniform(0.0, L, 3)
            d = pos[:k] - p
            d -= L * np.round(d / L)
            if k == 0 or np.min(np.einsum("ij,ij->i", d, d)) >= min_distance ** 2:
                pos[k] = p
                break
        else:
            raise InputError(f"cannot place {len(symbols)} atoms {min_distance} Å apart at {density} g/cm³: lower "
                             "--min-distance or the density")
    order = np.argsort([atomic_numbers[e] for e in symbols], kind="stable")
    return Atoms(symbols=[symbols[i] for i in order], positions=pos[order], cell=[L, L, L], pbc=True)


def melt_quench(atoms, out, s: AmorphousSettings, *, potential=None, reference=None, log=print) -> dict:
    from ase.io import read, write

    from ..lammps.runner import md_setup, run_in

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dt = s.timestep / 1000.0
    at, head, elements = md_setup(atoms, out, potential, reference, timestep_ps=dt)
    n_melt = int(round(s.melt / dt))
    n_quench = max(1, int(round(abs(s.t_melt - s.t_final) / s.rate / dt)))
    n_anneal = int(round(s.anneal / dt))
    every = max(1, int(round(s.dump_every / dt)))
    damp = 100 * dt
    ens = (lambda t0, t1: f"fix md all nvt temp {t0} {t1} {damp}") if s.pressure is None else \
        (lambda t0, t1: f"fix md all npt temp {t0} {t1} {damp} iso {s.pressure} {s.pressure} {1000 * dt}")
    script = f"""# hdnnp amorphous: melt-quench
{head}
thermo_style custom step time temp pe press vol density
thermo_modify format float %.10g
thermo {every}
velocity all create {s.t_melt} {s.seed} dist gaussian mom yes rot yes
fix melt all nvt temp {s.t_melt} {s.t_melt} {damp}
run {n_melt}
unfix melt
{ens(s.t_melt, s.t_final)}
dump q all custom {every} quench.lammpstrj id element x y z
dump_modify q element {' '.join(elements)} sort id
run {n_quench}
unfix md
{ens(s.t_final, s.t_final)}
run {n_anneal}
write_dump all custom final.lammpstrj id element x y z modify element {' '.join(elements)} sort id
"""
    (out / "in.lmp").write_text(script)
    log(f"amorphous: {len(at)} atoms, melt {s.melt:g} ps at {s.t_melt:g} K, quench at {s.rate:g} K/ps "
        f"({n_quench * dt:.1f} ps), anneal {s.anneal:g} ps at {s.t_final:g} K"
        + (f", NPT {s.pressure:g} bar" if s.pressure is not None else ", NVT"))
    run_in(out, s.ranks)
    frames = read(out / "quench.lammpstrj", index=":", format="lammps-dump-text")
    final = read(out / "final.lammpstrj", format="lammps-dump-text")
    for f in frames + [final]:
        f.pbc = True
    write(out / "quench.extxyz", frames, format="extxyz")
    write(out / "amorphous.extxyz", final, format="extxyz")
    _thermo_csv(out / "log.lammps", out / "thermo.csv")
    # partial RDFs from the last frames of the quench dump (the anneal is after it) and the final cell
    tail = frames[-max(1, len(frames) // 10):] + [final]
    r, g = partial_rdf(tail, r_max=min(8.0, 0.49 * min(final.cell.lengths())))
    with open(out / "rdf.csv", "w") as fh:
        fh.write("r_A," + ",".join(f"g_{a}-{b}" for a, b in g) + "\n")
        for k, x in enumerate(r):
            fh.write(f"{x:.4f}," + ",".join(f"{v[k]:.6f}" for v in g.values()) + "\n")
    plot_rdf(r, g, out / "rdf.png", f"{final.get_chemical_formula()}, {len(final) / final.get_volume():.4f} atoms/Å³")
    mass = final.get_masses().sum() * AMU_G
    summary = {"atoms": len(final), "formula": final.get_chemical_formula(),
               "density_g_cm3": mass / (final.get_volume() * 1e-24), "t_final_K": s.t_final,
               "quench_rate_K_ps": s.rate, "first_peak_A": {f"{a}-{b}": float(r[np.argmax(v)]) for (a, b), v in g.items()}}
    (out / "amorphous.json").write_text(json.dumps(summary, indent=2))
    return summary


def partial_rdf(frames, r_max: float = 8.0, bins: int = 200):
    """Partial g_ab(r) averaged over ``frames`` (minimum image via ASE's neighbour list)."""
    from ase.neighborlist import neighbor_list
    els = sorted(set(frames[0].get_chemical_symbols()), key=lambda e: frames[0].get_chemical_symbols().index(e))
    edges = np.linspace(0.0, r_max, bins + 1)
    r = 0.5 * (edges[1:] + edges[:-1])
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    pairs = [(a, b) for i, a in enumerate(els) for b in els[i:]]
    acc = {p: np.zeros(bins) for p in pairs}
    for f in frames:
        sym = np.array(f.get_chemical_symbols())
        i, j, d = neighbor_list("ijd", f, r_max)
        V = f.get_volume()
        for a, b in pairs:
            na, nb = (sym == a).sum(), (sym == b).sum()
            m = (sym[i] == a) & (sym[j] == b)
            h, _ = np.histogram(d[m], bins=edges)
            acc[(a, b)] += h / (na * nb / V) / shell
    return r, {p: v / len(frames) for p, v in acc.items()}


def plot_rdf(r, g, png, title=""):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for (a, b), v in g.items():
        ax.plot(r, v, label=f"{a}–{b}")
    ax.axhline(1.0, color="0.6", lw=0.6)
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g(r)")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def _thermo_csv(log: Path, csv_path: Path) -> None:
    from ..lammps.runner import thermo_blocks
    rows = [r for block in thermo_blocks(log.read_text()) for r in block]
    with open(csv_path, "w") as fh:
        fh.write("step,time_ps,temperature_K,pe_eV,pressure_bar,volume_A3,density_g_cm3\n")
        for r in rows:
            fh.write(",".join(repr(x) for x in r) + "\n")
