"""Harmonic phonons with phonopy: ``hdnnp phonons STRUCTURE POTENTIAL`` (or ``--reference REF``).

1. **Relax** the positions (and the cell with ``relax_cell``) with the potential, keeping the space group
   (ASE ``FixSymmetry``), to a largest residual force of ``fmax`` (1e-4 eV/Å by default; finite-displacement
   force constants need a structure at its minimum).
2. **Force constants** (fc2) by finite displacements of the supercell (phonopy), the displaced supercells
   evaluated in one batch with the compiled engine — or, with a reference, labelled through the label store
   (parallel, cached, resumable). Displaced structures that extrapolate are reported; with a committee, the
   largest per-atom force spread over them too.
3. **Band structure** along the standard path of the primitive cell (seekpath, via phonopy), **DOS** on a
   mesh, **thermal properties** (free energy, entropy, heat capacity); CSV, phonopy's own files and plots.
4. **Imaginary modes**: frequencies below −``imaginary_tol`` THz are listed with their q-points and drawn
   in red on the band plot; the command says so.

Frequencies in THz, energies per unit cell of the *input* cell's primitive cell as phonopy defines them
(kJ/mol for free energy, J/K/mol for entropy and heat capacity, per mole of primitive cells).
"""
from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["PhononSettings", "run_phonons", "ForceEngine", "relax"]


@dataclass
class PhononSettings:
    supercell: list[int] = field(default_factory=lambda: [2, 2, 2])
    displacement: float = 0.01           # Å
    relax: bool = True
    relax_cell: bool = False
    fmax: float = 1e-4                   # eV/Å
    max_steps: int = 2000
    mesh: list[int] = field(default_factory=lambda: [20, 20, 20])
    t_min: float = 0.0
    t_max: float = 1000.0
    t_step: float = 10.0
    band_points: int = 101
    imaginary_tol: float = 0.05          # THz
    symprec: float = 1e-5
    workers: int | None = None
    progress: bool = True


# --- forces from a potential or a reference ------------------------------------------------------
class ForceEngine:
    """Forces of many structures: a potential folder (compiled evaluator, committee aware) or a reference
    (through the label store). ``calculator()`` gives an ASE calculator for the relaxation."""

    def __init__(self, potential=None, reference=None, store=None, length_unit=None, energy_unit=None,
                 workers=None, progress=True):
        if (potential is None) == (reference is None):
            raise InputError("give a potential folder or a reference, not both")
        self.potential, self.reference, self.store = potential, reference, store
        self.workers, self.progress = workers, progress
        self.evaluator = None
        if potential is not None:
            from ..model.evaluator import load_potential
            self.evaluator = load_potential(potential, length_unit=length_unit, energy_unit=energy_unit)
        self.name = str(potential) if potential is not None else reference.name
        self.extrapolating = 0
        self.max_spread = None

    def calculator(self):
        if self.evaluator is not None:
            from ..calculator import HDNNPCalculator
            return HDNNPCalculator(self.evaluator, warn_extrapolation=False)
        from ..references import ReferenceCalculator
        return ReferenceCalculator(self.reference, store=self.store)

    def forces(self, atoms_list, what: str = "structures") -> list[np.ndarray]:
        from ..structures import Structure
        structs = [Structure.from_ase(a) for a in atoms_list]
        if self.evaluator is not None:
            from tqdm import tqdm
            out = []
            for s in tqdm(structs, desc=f"forces ({what})", unit="struct", file=sys.stderr,
                          disable=not self.progress or len(structs) < 10, leave=False):
                p = self.evaluator.evaluate(s, stress=False)
                if p.n_extrapolations:
                    self.extrapolating += 1
                if p.forces_std is not None:
                    self.max_spread = max(self.max_spread or 0.0, float(p.forces_std.max()))
                out.append(np.asarray(p.forces))
            return out
        from ..labels import LabelStore, default_workers, label
        store = self.store if isinstance(self.store, LabelStore) else LabelStore(self.store or "labels.db")
        run = label(structs, self.reference, store, workers=self.workers if self.workers is not None
                    else default_workers(), progress=self.progress, desc=f"label {what}")
        if run.interrupted:
            raise KeyboardInterrupt
        bad = [k for k, r in enumerate(run.results) if r is None or not r.ok or r.forces is None]
        if bad:
            r = run.results[bad[0]]
            raise InputError(f"the reference failed on {len(bad)} of the {what} (first: "
                             f"{(r.error if r is not None else 'not computed')})")
        return [np.asarray(r.forces) for r in run.results]


def relax(atoms, calc, *, fmax: float, relax_cell: bool, max_steps: int, symprec: float, log=print):
    """Relax positions (and the cell) keeping the symmetry; returns (atoms, largest residual force)."""
    from ase.constraints import FixSymmetry
    from ase.optimize import BFGS

    a = atoms.copy()
    a.calc = calc
    a.set_constraint(FixSymmetry(a, symprec=symprec))
    target = a
    if relax_cell:
        from ase.filters import FrechetCellFilter
        target = FrechetCellFilter(a)
    opt = BFGS(target, logfile=None, maxstep=0.05)
    converged = opt.run(fmax=fmax, steps=max_steps)
    f = np.abs(a.get_forces()).max() if len(a) else 0.0
    a.set_constraint()
    if not converged:
        log(f"phonons: the relaxation stopped after {max_steps} steps with a largest force of {f:.2e} eV/Å "
            f"(fmax {fmax:g}); the force constants may be off")
    out = a.copy()
    out.calc = None
    return out, float(f)


# --- the workflow ----------------------------------------------------------------------------------
def _phonopy_atoms(atoms):
    from phonopy.structure.atoms import PhonopyAtoms
    return PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=np.array(atoms.cell[:]),
                        scaled_positions=atoms.get_scaled_positions())


def _ase_atoms(pa):
    from ase import Atoms
    return Atoms(symbols=pa.symbols, cell=pa.cell, scaled_positions=pa.scaled_positions, pbc=True)


def require_phonopy():
    try:
        import phonopy  # noqa: F401
        import seekpath  # noqa: F401
    except ImportError as exc:
        raise InputError(f"phonons need phonopy and seekpath ({exc.name} is missing): "
                         "pip install 'hdnnp[phonons]'") from None


def force_constants(atoms, engine: ForceEngine, s: PhononSettings, log=print):
    """A phonopy object with fc2 of ``atoms`` (relaxed as asked) from ``engine``."""
    require_phonopy()
    from phonopy import Phonopy

    if not atoms.pbc.all():
        raise InputError("phonons need a periodic cell (all three directions)")
    info = {}
    if s.relax:
        atoms, fres = relax(atoms, engine.calculator(), fmax=s.fmax, relax_cell=s.relax_cell,
                            max_steps=s.max_steps, symprec=s.symprec, log=log)
        info["relaxed_max_force_eV_A"] = fres
    ph = Phonopy(_phonopy_atoms(atoms), supercell_matrix=np.diag(s.supercell), primitive_matrix="auto",
                 symprec=s.symprec)
    ph.generate_displacements(distance=s.displacement)
    cells = [_ase_atoms(sc) for sc in ph.supercells_with_displacements]
    log(f"phonons: {len(cells)} displaced {len(cells[0])}-atom supercells "
        f"({'x'.join(map(str, s.supercell))}, {s.displacement} Å), forces from {engine.name}")
    forces = engine.forces(cells + [_ase_atoms(ph.supercell)], "displaced supercells")
    # the residual forces of the undisplaced supercell are subtracted (what is left of an imperfect minimum)
    residual = forces[-1]
    ph.forces = np.array(forces[:-1]) - residual[None]
    info["residual_force_supercell_eV_A"] = float(np.abs(residual).max())
    ph.produce_force_constants()
    ph.symmetrize_force_constants()
    info.update(n_displacements=len(cells), supercell_atoms=len(cells[0]),
                extrapolating_supercells=engine.extrapolating, committee_max_force_spread_eV_A=engine.max_spread)
    return ph, atoms, info


def run_phonons(atoms, engine: ForceEngine, out, s: PhononSettings, log=print) -> dict:
    """The whole command: relax, fc2, band structure, DOS, thermal properties, plots; returns a summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ph, relaxed, info = force_constants(atoms, engine, s, log)
    relaxed.write(out / "relaxed.extxyz")
    ph.save(out / "phonopy_params.yaml", settings={"force_constants": True})
    # band structure along seekpath's standard path
    ph.auto_band_structure(npoints=s.band_points, write_yaml=False, filename=str(out / "band.yaml"))
    bs = ph.get_band_structure_dict()
    labels = _path_labels(ph)
    ph.run_mesh(s.mesh, is_gamma_center=True)
    ph.run_total_dos()
    dos = ph.get_total_dos_dict()
    ph.run_thermal_properties(t_min=s.t_min, t_max=s.t_max, t_step=s.t_step)
    tp = ph.get_thermal_properties_dict()
    # imaginary modes on the path and on the mesh
    imag = []
    for seg, (qs, fr) in enumerate(zip(bs["qpoints"], bs["frequencies"])):
        for q, f in zip(qs, fr):
            if f.min() < -s.imaginary_tol:
                imag.append({"q": [round(float(x), 4) for x in q], "frequency_THz": float(f.min())})
    mesh_min = float(np.min(ph.get_mesh_dict()["frequencies"]))
    _write_band_csv(out / "band.csv", bs)
    with open(out / "dos.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frequency_THz", "dos_states_per_THz"])
        w.writerows(zip(dos["frequency_points"], dos["total_dos"]))
    with open(out / "thermal.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["T_K", "free_energy_kJ_mol", "entropy_J_K_mol", "heat_capacity_J_K_mol"])
        w.writerows(zip(tp["temperatures"], tp["free_energy"], tp["entropy"], tp["heat_capacity"]))
    plot_band_dos(bs, labels, dos, out / "phonons.png", s.imaginary_tol)
    plot_thermal(tp, out / "thermal.png")
    gamma = _frequencies(ph, [0.0, 0.0, 0.0])
    summary = dict(info, engine=engine.name, n_atoms_unit_cell=len(relaxed),
                   primitive_atoms=len(ph.primitive), supercell=s.supercell, displacement_A=s.displacement,
                   mesh=s.mesh, gamma_frequencies_THz=[round(float(f), 6) for f in gamma],
                   max_frequency_THz=float(np.max(ph.get_mesh_dict()["frequencies"])),
                   min_frequency_mesh_THz=mesh_min, imaginary_modes_on_path=len(imag),
                   imaginary_examples=imag[:10], path=[list(x) for x in labels])
    (out / "phonons.json").write_text(json.dumps(summary, indent=2))
    if imag or mesh_min < -s.imaginary_tol:
        log(f"phonons: IMAGINARY MODES: {len(imag)} points on the band path below −{s.imaginary_tol} THz "
            f"(lowest {min([m['frequency_THz'] for m in imag] + [mesh_min]):.3f} THz; drawn in red in "
            f"{out / 'phonons.png'}; q-points in phonons.json). The structure is not at a minimum of this potential, "
            "or the supercell is too small.")
    if engine.extrapolating:
        log(f"phonons: {engine.extrapolating} of {info['n_displacements']} displaced supercells extrapolate "
            "(symmetry functions outside the training range): the force constants there are not trained")
    return summary


def _frequencies(ph, q) -> np.ndarray:
    """Frequencies (THz) at one q-point."""
    ph.run_qpoints([q])
    return np.asarray(ph.qpoints.frequencies[0])


def _path_labels(ph) -> list[tuple[float, str]]:
    """(distance, label) of the path's special points, from phonopy's band structure."""
    bs = ph.band_structure
    labels = getattr(bs, "labels", None) or []
    dist = bs.get_distances() if hasattr(bs, "get_distances") else bs.distances
    ticks = []
    k = 0
    path_conn = getattr(bs, "path_connections", None) or [True] * len(dist)
    for seg, d in enumerate(dist):
        if seg == 0 or not path_conn[seg - 1]:
            ticks.append((float(d[0]), labels[k] if k < len(labels) else ""))
            k += 1
        ticks.append((float(d[-1]), labels[k] if k < len(labels) else ""))
        k += 1
    merged = []
    for d, lab in ticks:
        lab = lab.replace("GAMMA", "Γ").replace("$\\Gamma$", "Γ").replace("$", "").replace("\\mathrm{", "").replace("}", "")
        if merged and abs(merged[-1][0] - d) < 1e-9:
            if lab and lab not in merged[-1][1].split("|"):
                merged[-1] = (d, merged[-1][1] + "|" + lab)
        else:
            merged.append((d, lab))
    return merged


def _write_band_csv(path, bs):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        nb = bs["frequencies"][0].shape[1]
        w.writerow(["segment", "distance", "qx", "qy", "qz"] + [f"band_{b + 1}_THz" for b in range(nb)])
        for seg, (d, q, f) in enumerate(zip(bs["distances"], bs["qpoints"], bs["frequencies"])):
            for x, qq, ff in zip(d, q, f):
                w.writerow([seg, x, *qq, *ff])


def plot_band_dos(bs, labels, dos, png, tol):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, axd) = plt.subplots(1, 2, figsize=(9, 5), sharey=True, gridspec_kw={"width_ratios": [3, 1]})
    for d, f in zip(bs["distances"], bs["frequencies"]):
        for b in range(f.shape[1]):
            ax.plot(d, f[:, b], color="C0", lw=1.2)
            neg = f[:, b] < -tol
            if neg.any():
                ax.plot(np.asarray(d)[neg], f[neg, b], "r.", ms=3)
    for x, _ in labels:
        ax.axvline(x, color="0.6", lw=0.6)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks([x for x, _ in labels])
    ax.set_xticklabels([lab for _, lab in labels])
    ax.set_xlim(labels[0][0], labels[-1][0])
    fmin = min(float(np.min(f)) for f in bs["frequencies"])
    fmax = max(float(np.max(f)) for f in bs["frequencies"])
    ax.set_ylim(min(0.0, fmin) - 0.03 * (fmax - min(0.0, fmin)), 1.05 * fmax)
    ax.set_ylabel("frequency (THz)")
    ax.set_title("phonon band structure" + (" — imaginary modes in red" if any(
        (f < -tol).any() for f in bs["frequencies"]) else ""))
    axd.plot(dos["total_dos"], dos["frequency_points"], color="C1")
    axd.set_xlabel("DOS (states/THz)")
    axd.set_xlim(left=0)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def plot_thermal(tp, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(11, 3.6))
    T = tp["temperatures"]
    for a, key, lab in zip(ax, ("free_energy", "entropy", "heat_capacity"),
                           ("free energy (kJ/mol)", "entropy (J/K/mol)", "heat capacity C_v (J/K/mol)")):
        a.plot(T, tp[key])
        a.set_xlabel("T (K)")
        a.set_ylabel(lab)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
