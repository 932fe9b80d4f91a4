"""Point defects: ``hdnnp defects BULK POTENTIAL`` (or ``--reference REF``).

1. **Defects** in a supercell of the bulk: vacancies and substitutions on the symmetry-distinct sites (spglib),
   antisites (two-element crystals), and interstitials on the symmetry-distinct largest empty spheres of the
   cell (local maxima of the distance to the nearest atom on a grid, reduced by the space group).
2. **Relaxation that escapes the ideal-site trap.** Started from the ideal lattice site, a relaxation can stay
   on a stationary point that symmetry protects (Si vacancy with Stillinger-Weber: 4.34 eV, against 2.84 eV
   in the low minimum). Each defect is therefore relaxed from several starts: the defect's nearest neighbours
   moved along their bonds to the defect site by each of ``distortions`` (fractions of their distance, negative:
   towards it), then every atom within ``rattle_radius`` of the defect displaced by a Gaussian of ``rattle`` Å
   (``rattle_seeds`` draws); the plain ideal start is always among them. The lowest minimum is kept and the
   spread of the minima reported.
3. **Formation energies** E_f = E_defect − E_bulk − Σ_i Δn_i μ_i (Δn_i: atoms of element i added), with the
   chemical potentials given (``mu``) or, for elements whose elemental bulk is the input cell, its energy per
   atom. (Charged defects need a charge-aware potential; see the docs.)

Outputs: ``defects.csv`` (one row per defect: formation energy, the energies of the plain relaxation and of the
unrelaxed defect, the spread of the minima, the best start), ``defects.json``, ``<name>.extxyz`` (the relaxed
defect cell), ``distortions.png`` (the energy of every start against its distortion, per defect).
"""
from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import InputError
from ..units import COULOMB, H_EV_THZ, KB_EV

__all__ = ["DefectSettings", "Defect", "generate_defects", "interstitial_sites", "run_defects",
           "vibrational_free_energy", "harmonic_free_energy"]


@dataclass
class DefectSettings:
    supercell: list[int] = field(default_factory=lambda: [2, 2, 2])
    vacancies: bool = True
    vacancy_elements: list[str] = field(default_factory=list)     # vacancies of these elements only (empty: all)
    interstitials: list[str] = field(default_factory=list)      # elements to insert
    substitutions: list[tuple[str, str]] = field(default_factory=list)   # (host, dopant)
    antisites: bool = False
    distortions: list[float] = field(default_factory=lambda: [-0.6, -0.4, -0.2, 0.0, 0.2, 0.4])
    rattle: float = 0.05            # Å
    rattle_seeds: int = 1
    rattle_radius: float = 5.0      # Å
    neighbours: int = 4             # distorted nearest neighbours
    fmax: float = 0.01              # eV/Å
    max_steps: int = 2000
    mu: dict[str, float] = field(default_factory=dict)        # eV/atom
    symprec: float = 1e-3
    #: charge states (e); charged ones need a charge-aware potential or a reference that takes the charge
    charges: list[int] = field(default_factory=lambda: [0])
    vbm: float | None = None        # eV, the valence-band maximum of the bulk on the reference's energy scale
    gap: float | None = None        # eV, band gap (the Fermi-level range of the plot)
    dielectric: float | None = None  # static dielectric constant for the point-charge correction
    correction: str = "none"        # none | makov-payne | lany-zunger
    corrections: dict[int, float] = field(default_factory=dict)   # user-supplied per-charge corrections, eV
    #: relax the perfect supercell's positions (symmetry kept) before the defects are made from it
    relax_bulk: bool = True
    #: harmonic phonons of the relaxed defect and bulk supercells: vibrational free energy of formation against T
    phonons: bool = False
    phonon_fmax: float = 1e-3       # eV/Å, the tighter relaxation before the displacements
    displacement: float = 0.01      # Å
    temperatures: list[float] = field(default_factory=lambda: [float(t) for t in range(0, 1001, 50)])


@dataclass
class Defect:
    name: str
    kind: str
    atoms: object                    # ase.Atoms, the ideal (unrelaxed) defect supercell
    site: np.ndarray                 # Cartesian position of the defect in the supercell
    delta: dict[str, int]            # atoms added per element (negative: removed)
    multiplicity: int = 1


def _symmetry(atoms, symprec):
    import spglib
    cell = (np.array(atoms.cell[:]), atoms.get_scaled_positions(), atoms.numbers)
    ds = spglib.get_symmetry_dataset(cell, symprec=symprec)
    if ds is None:
        raise InputError("spglib found no symmetry for the bulk cell (check the structure or --symprec)")
    return ds


def interstitial_sites(atoms, *, symprec=1e-3, grid=24, min_distance=1.0) -> list[np.ndarray]:
    """Symmetry-distinct interstitial sites (fractional coordinates of the unit cell): local maxima of the
    distance to the nearest atom on a grid, at least ``min_distance`` Å from every atom."""
    ds = _symmetry(atoms, symprec)
    cell = np.array(atoms.cell[:])
    g = np.indices((grid, grid, grid)).reshape(3, -1).T / grid    # 24ths: halves, thirds, quarters, sixths, eighths
    frac = atoms.get_scaled_positions()
    d = g[:, None, :] - frac[None, :, :]
    d -= np.round(d)
    dist = np.linalg.norm(d @ cell, axis=2).min(axis=1).reshape(grid, grid, grid)
    peaks = []
    for idx in zip(*np.nonzero(dist >= min_distance)):
        v = dist[idx]
        nb = [dist[tuple((np.array(idx) + o) % grid)] for o in
              np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1])).reshape(3, -1).T if any(o)]
        if v >= max(nb):
            peaks.append((np.array(idx) / grid, v))
    peaks.sort(key=lambda p: -p[1])
    out: list[np.ndarray] = []
    for f, _ in peaks:
        images = [(R @ f + t) % 1.0 for R, t in zip(ds.rotations, ds.translations)]
        if any(np.min([np.linalg.norm(((im - o + 0.5) % 1.0 - 0.5) @ cell) for im in images]) < 0.5 for o in out):
            continue
        out.append(f)
    return out


def generate_defects(bulk, s: DefectSettings) -> list[Defect]:
    """The defects of ``s`` in the supercell of ``bulk``."""
    ds = _symmetry(bulk, s.symprec)
    rep = tuple(int(x) for x in s.supercell)
    sc = bulk.repeat(rep)
    symbols = bulk.get_chemical_symbols()
    distinct = sorted(set(int(x) for x in ds.equivalent_atoms))
    unknown = sorted(set(s.vacancy_elements) - set(symbols))
    if unknown:
        raise InputError(f"--vacancies {' '.join(unknown)}: not in the bulk structure (it has "
                         f"{', '.join(sorted(set(symbols)))})")
    out: list[Defect] = []
    for a in distinct:
        el = symbols[a]
        mult = int(np.sum(ds.equivalent_atoms == a))
        if s.vacancies and (not s.vacancy_elements or el in s.vacancy_elements):
            d = sc.copy()
            site = d.positions[a].copy()
            del d[a]
            out.append(Defect(f"v_{el}_{a}", "vacancy", d, site, {el: -1}, mult))
        for host, dop in s.substitutions:
            if host == el:
                d = sc.copy()
                d[a].symbol = dop
                out.append(Defect(f"{dop}_{el}_{a}", "substitution", d, d.positions[a].copy(), {el: -1, dop: 1}, mult))
        if s.antisites:
            for other in sorted(set(symbols) - {el}):
                d = sc.copy()
                d[a].symbol = other
                out.append(Defect(f"{other}_{el}_{a}", "antisite", d, d.positions[a].copy(), {el: -1, other: 1}, mult))
    if s.interstitials:
        cell = np.array(bulk.cell[:])
        for k, f in enumerate(interstitial_sites(bulk, symprec=s.symprec)):
            for el in s.interstitials:
                d = sc.copy()
                pos = f @ cell
                from ase import Atom
                d.append(Atom(el, pos))
                out.append(Defect(f"{el}_i{k}", "interstitial", d, pos, {el: 1}))
    if not out:
        raise InputError("no defects asked for (vacancies, --interstitials, --substitutions, --antisites)")
    return out


def distorted_starts(defect: Defect, s: DefectSettings):
    """(label, distortion, atoms) starts: the ideal cell first, then each distortion × rattle seed."""
    a0 = defect.atoms
    cell = np.array(a0.cell[:])
    vec = a0.positions - defect.site
    vec -= np.round(vec @ np.linalg.inv(cell)) @ cell
    r = np.linalg.norm(vec, axis=1)
    order = [i for i in np.argsort(r) if r[i] > 0.1][: s.neighbours]
    starts = [("ideal", 0.0, a0.copy())]
    near = r < s.rattle_radius
    for dist in s.distortions:
        for seed in range(s.rattle_seeds):
            a = a0.copy()
            a.positions[order] = defect.site + vec[order] * (1.0 + dist)
            if s.rattle > 0:
                rng = np.random.default_rng(1000 + seed)
                a.positions[near] += rng.normal(0.0, s.rattle, (int(near.sum()), 3))
            starts.append((f"{dist:+.0%}" + (f" seed {seed}" if s.rattle_seeds > 1 else ""), dist, a))
    return starts


#: above this many atoms the relaxations use L-BFGS: BFGS diagonalises its dense 3N×3N Hessian at every step
#: (2 s per step for a 511-atom cell on 2 cores, against 0.05 s for the potential's forces)
LBFGS_ABOVE = 200


def _relax(atoms, calc, fmax, steps):
    """(relaxed atoms, energy, converged, symmetry-function values outside the potential's training range at the
    end — 0 for a reference code)."""
    from ase.optimize import BFGS, LBFGS
    a = atoms.copy()
    a.calc = calc
    opt = (LBFGS(a, logfile=None, maxstep=0.1) if len(a) > LBFGS_ABOVE else
           BFGS(a, logfile=None, maxstep=0.1))
    ok = opt.run(fmax=fmax, steps=steps)
    e = float(a.get_potential_energy())
    return a, e, bool(ok), int(getattr(calc, "n_extrapolations", 0) or 0), int(opt.nsteps)


class Relaxed(NamedTuple):
    """One start of the distortion search after its relaxation."""
    e_f: float                  # formation energy, eV
    label: str                  # "ideal", "-20%", ...
    distortion: float
    atoms: object               # ase.Atoms, relaxed
    converged: bool
    extrapolations: int         # symmetry-function values outside the potential's training range at the end

    @property
    def untrusted(self) -> str:
        """Why this is not a minimum to keep ('' when it is)."""
        why = []
        if not self.converged:
            why.append("did not converge")
        if self.extrapolations:
            why.append(f"ends outside the potential's training range ({self.extrapolations} symmetry-function values)")
        return " and ".join(why)


def madelung_energy(cell) -> float:
    """Ewald energy (eV) of a unit point charge in the periodic ``cell`` with a compensating background:
    negative, −α/(2L)·e²/(4πε0) for a cubic cell of side L (α = 2.8373 simple cubic)."""
    from scipy.special import erfc
    cell = np.asarray(cell, float)
    V = abs(np.linalg.det(cell))
    eta = np.sqrt(np.pi) / V ** (1 / 3)
    rcut, gcut = 6.0 / eta, 12.0 * eta
    rec = 2 * np.pi * np.linalg.inv(cell).T
    def points(vectors, cut):
        """Lattice vectors n·vectors (n ≠ 0) of a box reaching beyond ``cut``, (M, 3)."""
        n = [int(np.ceil(cut / np.linalg.norm(v))) + 1 for v in vectors]
        g = np.stack(np.meshgrid(*[np.arange(-m, m + 1) for m in n], indexing="ij"), -1).reshape(-1, 3)
        return g[np.any(g != 0, axis=1)] @ vectors

    r = np.linalg.norm(points(cell, rcut), axis=1)
    real = float(np.sum(erfc(eta * r) / r))
    g2 = np.sum(points(rec, gcut) ** 2, axis=1)
    recip = float(np.sum(4 * np.pi / V * np.exp(-g2 / (4 * eta * eta)) / g2))
    return 0.5 * COULOMB * (real + recip - 2 * eta / np.sqrt(np.pi) - np.pi / (V * eta * eta))


def point_charge_correction(q: float, cell, dielectric: float, scheme: str = "makov-payne") -> float:
    """eV added to a defect of charge ``q`` in ``cell``: the first-order Makov–Payne term −q² E_M / ε (E_M the
    Madelung energy of a unit charge, :func:`madelung_energy`); ``lany-zunger`` scales it by
    1 + c_sh (1 − 1/ε) with c_sh = −0.369 (Lany & Zunger, PRB 78, 235104 (2008); their cubic-cell value, about
    2/3 of the first-order term for large ε)."""
    e = -q * q * madelung_energy(cell) / dielectric
    if scheme == "lany-zunger":
        e *= 1.0 - 0.369 * (1.0 - 1.0 / dielectric)
    elif scheme != "makov-payne":
        raise InputError(f"unknown correction {scheme!r}: none, makov-payne or lany-zunger")
    return float(e)


def transition_levels(ef0: dict[int, float]) -> list[tuple[int, int, float]]:
    """Thermodynamic transition levels (q, q', ε(q/q')) in order of rising Fermi level: the corners of the lower
    envelope of E_f(q) + q E_F (E_F from the VBM; ``ef0`` holds E_f(q) at the VBM). A charge state that is never
    the lowest is skipped (negative-U: ε(q/q−2) directly)."""
    qs = sorted(ef0, reverse=True)
    out, q, x = [], qs[0], -np.inf
    while True:
        nxt = [((ef0[p] - ef0[q]) / (q - p), p) for p in qs if p < q]
        nxt = [(lv, p) for lv, p in nxt if lv >= x - 1e-12]
        if not nxt:
            return out
        lv, p = min(nxt)
        out.append((q, p, float(lv)))
        q, x = p, lv


def harmonic_free_energy(freqs_thz, temperatures, cutoff: float = 1e-2) -> np.ndarray:
    """Harmonic vibrational free energy (eV) of modes ``freqs_thz`` at each temperature (K):
    Σ [hν/2 + k_B T ln(1 − exp(−hν/k_B T))] over the modes above ``cutoff`` THz (the translations and any
    imaginary mode are left out; :func:`vibrational_free_energy` counts the imaginary ones)."""
    e = H_EV_THZ * np.asarray([f for f in np.ravel(freqs_thz) if f > cutoff])
    out = []
    for T in temperatures:
        f = 0.5 * e.sum()
        if T > 0:
            f += KB_EV * T * np.log1p(-np.exp(-e / (KB_EV * T))).sum()
        out.append(f)
    return np.array(out)


def vibrational_free_energy(atoms, engine, s: DefectSettings, *, charge: float = 0, what: str = "supercell",
                            log=print) -> dict:
    """Harmonic phonons of the supercell ``atoms`` at its Γ point (phonopy finite displacements; the symmetry the
    cell has is used), after relaxing the positions to ``s.phonon_fmax``: the free energy at ``s.temperatures``,
    the frequencies and the number of imaginary modes."""
    from phonopy import Phonopy

    from .phonons import _ase_atoms, _phonopy_atoms, relax, require_phonopy
    require_phonopy()
    a = atoms.copy()
    a.info["charge"] = charge
    relaxed, fres = relax(a, engine.calculator(), fmax=s.phonon_fmax, relax_cell=False, max_steps=s.max_steps,
                          symprec=s.symprec, log=log)
    ph = Phonopy(_phonopy_atoms(relaxed), supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P",
                 symprec=s.symprec)
    ph.generate_displacements(distance=s.displacement)
    cells = [_ase_atoms(c) for c in ph.supercells_with_displacements] + [_ase_atoms(ph.supercell)]
    for c in cells:
        c.info["charge"] = charge
    forces = engine.forces(cells, f"displacements ({what})")
    ph.forces = np.array(forces[:-1]) - forces[-1][None]
    ph.produce_force_constants()
    ph.symmetrize_force_constants()
    ph.run_mesh([1, 1, 1], is_gamma_center=True)
    freqs = np.sort(ph.get_mesh_dict()["frequencies"][0])
    n_imag = int(np.sum(freqs < -0.05))
    if n_imag:
        log(f"defects: {what}: {n_imag} imaginary mode(s) (lowest {freqs[0]:.2f} THz): not at a minimum of the "
            "potential; they are left out of the free energy")
    return {"free_energy_eV": harmonic_free_energy(freqs, s.temperatures), "frequencies_THz": freqs,
            "imaginary_modes": n_imag, "displacements": len(cells) - 1, "residual_force_eV_A": fres}


def run_defects(bulk, engine, out, s: DefectSettings, log=print) -> dict:
    """Relax every defect (in every charge state) with the distortion search and write the formation energies."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    charged = any(q != 0 for q in s.charges)
    if charged:
        if s.vbm is None:
            raise InputError("charged defects need the valence-band maximum of the bulk on the reference's energy "
                             "scale (--vbm EV)")
        ev = getattr(engine, "evaluator", None)
        if ev is not None and not hasattr(ev, "set_charge"):
            raise InputError("charged defects need a charge-aware potential (trained with model.charge_input: the "
                             "folder has a charge.json), or a reference code that takes the charge (--reference)")
        if s.correction != "none" and not s.dielectric:
            raise InputError(f"the {s.correction} correction needs the dielectric constant (--dielectric EPS)")
    calc = engine.calculator()
    sc = bulk.repeat(tuple(int(x) for x in s.supercell))
    if s.relax_bulk:
        # the perfect supercell at the engine's own minimum (positions; the symmetry, translations included, kept):
        # otherwise every defect's relaxation energy holds the bulk's, and E_f is too low by it
        from .phonons import relax
        relaxed, fres = relax(sc, calc, fmax=s.fmax, relax_cell=False, max_steps=s.max_steps, symprec=s.symprec,
                              log=log)
        moved = float(np.abs(relaxed.positions - sc.positions).max())
        if moved > 1e-6:
            log(f"defects: the perfect supercell relaxed (positions, symmetry kept; largest move {moved:.3f} Å, "
                f"residual force {fres:.2g} eV/Å); the defects are made from it")
        bulk = bulk.copy()
        bulk.positions = relaxed.positions[:len(bulk)]
        sc = bulk.repeat(tuple(int(x) for x in s.supercell))
    sc.calc = calc
    e_bulk = float(sc.get_potential_energy())
    mu = dict(s.mu)
    els = sorted(set(bulk.get_chemical_symbols()))
    if len(els) == 1 and els[0] not in mu:
        mu[els[0]] = e_bulk / len(sc)
    defects = generate_defects(bulk, s)
    # finite-size correction per charge state (the same supercell for every defect)
    corrections = {q: s.corrections[q] if q in s.corrections else
                   point_charge_correction(q, sc.cell[:], s.dielectric, s.correction)
                   if q and s.correction != "none" else 0.0 for q in s.charges}
    rows, landscape, ef0, relaxed_cells = [], {}, {}, {}
    for d in defects:
        need = [e for e in d.delta if e not in mu]
        if need:
            raise InputError(f"defect {d.name}: give the chemical potential of {', '.join(need)} (--mu {need[0]}=EV)")
        for q in s.charges:
            name = d.name if not charged else f"{d.name}_q{q:+d}"
            corr = corrections[q]
            # E_f at the VBM (E_F = 0): E_def(q) − E_bulk − Σ Δn μ + q E_VBM + E_corr(q)
            ref = e_bulk + sum(n * mu[e] for e, n in d.delta.items()) - q * (s.vbm or 0.0) - corr
            d.atoms.info["charge"] = q
            d.atoms.calc = calc
            e_unrelaxed = float(d.atoms.get_potential_energy()) - ref
            results = []
            starts = distorted_starts(d, s)
            for k, (label, dist, a) in enumerate(starts):
                a.info["charge"] = q
                t0 = time.perf_counter()
                relaxed, e, ok, n_extra, steps = _relax(a, calc, s.fmax, s.max_steps)
                results.append(Relaxed(e - ref, label, dist, relaxed, ok, n_extra))
                log(f"defects: {name}: start {label} ({k + 1}/{len(starts)}): {e - ref:.3f} eV after {steps} steps "
                    f"({time.perf_counter() - t0:.0f} s){'' if ok else ', not converged'}")
            results.sort(key=lambda r: r.e_f)
            # a minimum is kept only where the relaxation converged and (for a potential) stayed inside its
            # training range: a potential can have holes outside it, far below any real minimum
            kept = [r for r in results if not r.untrusted] or results
            if len(kept) == len(results) and any(r.untrusted for r in results):
                log(f"defects: {name}: no start converged inside the potential's training range; the lowest "
                    "result is reported, but do not trust it")
            best = kept[0]
            for r in results:
                if r not in kept and r.e_f < best.e_f:
                    log(f"defects: {name}: start {r.label} reached {r.e_f:.3f} eV but {r.untrusted}: not kept "
                        "as a minimum (add such structures to the training set, or check the potential there)")
            plain = next(r for r in results if r.label == "ideal")
            best.atoms.write(out / f"{name}.extxyz")
            relaxed_cells[(d.name, q)] = (best.atoms, d)
            landscape[name] = [{"start": r.label, "distortion": r.distortion, "formation_energy_eV": r.e_f,
                                "kept": r in kept} for r in results]
            ef0.setdefault(d.name, {})[q] = best.e_f
            rows.append({"defect": name, "kind": d.kind, "charge": q, "multiplicity": d.multiplicity,
                         "formation_energy_eV": best.e_f, "plain_relaxation_eV": plain.e_f,
                         "unrelaxed_eV": e_unrelaxed, "spread_of_minima_eV": kept[-1].e_f - best.e_f,
                         "best_start": best.label, "correction_eV": corr, "starts": len(results),
                         "converged": all(r.converged for r in results), "untrusted_starts": len(results) - len(kept)})
            log(f"defects: {name}: E_f {best.e_f:.3f} eV{' at the VBM' if charged else ''} (start {best.label}); "
                f"plain relaxation {plain.e_f:.3f} eV, unrelaxed {e_unrelaxed:.3f} eV, {len(results)} starts spread "
                f"{rows[-1]['spread_of_minima_eV']:.3f} eV")
            if plain.e_f - best.e_f > 0.05:
                log(f"defects: {name}: the relaxation from the ideal site stayed {plain.e_f - best.e_f:.2f} eV above "
                    "the lowest minimum (a symmetry-protected stationary point); the distortion search found the "
                    "lower one")
    with open(out / "defects.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    summary = {"engine": engine.name, "supercell": list(s.supercell), "atoms_bulk_supercell": len(sc),
               "e_bulk_eV": e_bulk, "mu_eV": mu, "defects": rows, "starts": landscape}
    if charged:
        levels = {name: [{"from": a, "to": b, "level_eV": lv} for a, b, lv in transition_levels(e)]
                  for name, e in ef0.items()}
        summary.update(vbm_eV=s.vbm, gap_eV=s.gap, dielectric=s.dielectric, correction=s.correction,
                       transition_levels=levels)
        with open(out / "transition_levels.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["defect", "q", "q_prime", "level_above_vbm_eV"])
            for name, lv in levels.items():
                for t in lv:
                    w.writerow([name, t["from"], t["to"], t["level_eV"]])
        plot_fermi(ef0, s.gap, out / "formation_vs_fermi.png")
    if s.phonons:
        summary["vibrational"] = defect_free_energies(sc, relaxed_cells, ef0, engine, out, s, log)
    (out / "defects.json").write_text(json.dumps(summary, indent=2))
    plot_landscape(landscape, out / "distortions.png")
    return summary


def defect_free_energies(sc, relaxed_cells: dict, ef0: dict, engine, out: Path, s: DefectSettings, log=print) -> dict:
    """Vibrational free energy of formation against temperature:
    F_f(q, T) = E_f(q) + F_vib(defect cell, T) − F_vib(bulk cell, T) − Σ_e Δn_e F_vib(bulk cell, T)/N_bulk
    (the atoms taken from or given to the reservoirs vibrate as an average atom of the bulk: exact for an elemental
    solid, an approximation for compounds), and the transition levels from F_f at each temperature."""
    T = np.asarray(s.temperatures, float)
    bulk_ph = vibrational_free_energy(sc, engine, s, what="bulk supercell", log=log)
    f_bulk = bulk_ph["free_energy_eV"]
    n_bulk = len(sc)
    rows, ff, info = [], {}, {"bulk": {k: bulk_ph[k] for k in ("imaginary_modes", "displacements")}}
    for (name, q), (atoms, d) in relaxed_cells.items():
        label = name if len(s.charges) == 1 and q == 0 else f"{name}_q{q:+d}"
        ph = vibrational_free_energy(atoms, engine, s, charge=q, what=label, log=log)
        dn = sum(d.delta.values())
        dF = ph["free_energy_eV"] - f_bulk - dn * f_bulk / n_bulk
        ff.setdefault(name, {})[q] = ef0[name][q] + dF
        info[label] = {"imaginary_modes": ph["imaginary_modes"], "displacements": ph["displacements"]}
        for t, x, f in zip(T, dF, ff[name][q]):
            rows.append({"defect": name, "charge": q, "T_K": t, "vibrational_eV": x, "formation_free_energy_eV": f})
        log(f"defects: {label}: vibrational free energy of formation {dF[0]:+.3f} eV at {T[0]:g} K (zero point), "
            f"{dF[-1]:+.3f} eV at {T[-1]:g} K")
    with open(out / "free_energies.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    levels_T = {}
    for name, byq in ff.items():
        if len(byq) > 1:
            for k, t in enumerate(T):
                for a, b, lv in transition_levels({q: float(v[k]) for q, v in byq.items()}):
                    levels_T.setdefault(name, {}).setdefault(f"({a:+d}/{b:+d})", []).append((float(t), lv))
    if levels_T:
        with open(out / "transition_levels_vs_T.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["defect", "transition", "T_K", "level_above_vbm_eV"])
            for name, tr in levels_T.items():
                for key, pts in tr.items():
                    w.writerows([name, key, t, lv] for t, lv in pts)
    plot_free_energies(T, ff, ef0, levels_T, out / "free_energies.png")
    return {"temperatures_K": T.tolist(), "phonons": info,
            "formation_free_energy_eV": {n: {str(q): v.tolist() for q, v in byq.items()} for n, byq in ff.items()},
            "transition_levels_vs_T": levels_T}


def plot_free_energies(T, ff: dict, ef0: dict, levels_T: dict, png) -> None:
    """Left: F_f(q, T) − E_f(q) per defect and charge; right (charged defects): the transition levels against T."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2 if levels_T else 1, figsize=(10 if levels_T else 5.5, 4), squeeze=False)
    ax = axes[0, 0]
    for name, byq in ff.items():
        for q, v in sorted(byq.items()):
            ax.plot(T, v - ef0[name][q], label=name if len(byq) == 1 else f"{name} q={q:+d}")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("T (K)")
    ax.set_ylabel("vibrational free energy of formation (eV)")
    ax.legend(fontsize=8)
    if levels_T:
        ax = axes[0, 1]
        for name, tr in levels_T.items():
            for key, pts in tr.items():
                t, lv = zip(*pts)
                ax.plot(t, lv, marker=".", label=f"{name} {key}")
        ax.set_xlabel("T (K)")
        ax.set_ylabel("transition level above the VBM (eV)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def plot_fermi(ef0: dict, gap, png) -> None:
    """Formation energy against the Fermi level (from the VBM): per defect the lowest charge state at each E_F,
    with its slope q, the transition levels marked, and the bands shaded."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hi = gap if gap else 1.0
    x = np.linspace(-0.15 * hi, 1.15 * hi, 600)
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    for k, (name, e) in enumerate(ef0.items()):
        lines = np.array([e[q] + q * x for q in sorted(e)])
        env = lines.min(0)
        ax.plot(x, env, color=f"C{k}", lw=2, label=name)
        for q, ln in zip(sorted(e), lines):
            ax.plot(x, ln, color=f"C{k}", lw=0.5, alpha=0.35)
            ax.text(x[-1], ln[-1], f" {q:+d}", color=f"C{k}", fontsize=7, va="center", clip_on=True)
        for q, qp, lv in transition_levels(e):
            if x[0] <= lv <= x[-1]:
                ax.plot([lv], [e[qp] + qp * lv], "o", color=f"C{k}", ms=5)
                ax.annotate(f"({q:+d}/{qp:+d})", (lv, e[qp] + qp * lv), textcoords="offset points", xytext=(3, 5),
                            fontsize=7, color=f"C{k}")
    ax.axvspan(x[0], 0.0, color="0.85", zorder=0)
    if gap:
        ax.axvspan(gap, x[-1], color="0.85", zorder=0)
        ax.text(gap, ax.get_ylim()[1], " CBM", va="top", fontsize=8)
    ax.text(0.0, ax.get_ylim()[1], "VBM ", va="top", ha="right", fontsize=8)
    ax.set_xlim(x[0], x[-1])
    ax.set_xlabel("Fermi level above the VBM (eV)")
    ax.set_ylabel("formation energy (eV)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def plot_landscape(landscape: dict, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for k, (name, pts) in enumerate(landscape.items()):
        pts = sorted((p for p in pts if p["start"] != "ideal"), key=lambda p: p["distortion"])
        ideal = [p for p in landscape[name] if p["start"] == "ideal"]
        good = [p for p in pts if p["kept"]]
        if good:
            ax.plot([p["distortion"] * 100 for p in good], [p["formation_energy_eV"] for p in good], "o-",
                    color=f"C{k}", label=name)
        bad = [p for p in pts if not p["kept"]]
        if bad:
            ax.plot([p["distortion"] * 100 for p in bad], [p["formation_energy_eV"] for p in bad], "x", color=f"C{k}",
                    ms=9, label=f"{name}: not converged or outside the training range")
        if ideal:
            ax.plot([0], [ideal[0]["formation_energy_eV"]], "s", color=f"C{k}", mfc="none", ms=9)
    ax.set_xlabel("bond distortion of the defect's neighbours (%)  (□: relaxed from the ideal site)")
    ax.set_ylabel("formation energy after relaxation (eV)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
