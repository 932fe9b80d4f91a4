"""Minimum-energy paths and barriers by the nudged elastic band: ``hdnnp neb``.

ASE's NEB with the improved tangent (Henkelman and Jónsson 2000; ASE's default ``aseneb`` tangent is known to
converge worse) and a climbing image (the highest image climbs to the saddle point), images interpolated by IDPP,
optimised with FIRE to ``fmax``. The end points are relaxed first (positions, same ``fmax``). A vacancy hop can be
built from a bulk cell: atom ``site`` is removed and its nearest neighbour of the same element (or ``neighbour``)
moves into the empty site.

Outputs: ``neb.extxyz`` (the converged band), ``neb.csv`` (image, reaction coordinate in Å, energy relative to the
initial state in eV), ``neb.json`` (forward and backward barriers, reaction energy, converged or not, force calls)
and ``neb.png`` (the energy along the path with the climbing image marked). ``prefactor``: the harmonic
transition-state-theory attempt frequency (Vineyard) from partial Hessians of the initial state and the climbing
image around the moving atom, written to ``neb.json`` as ``prefactor_Hz``, which ``hdnnp kmc`` then uses.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["NEBSettings", "vacancy_hop", "run_neb"]


@dataclass
class NEBSettings:
    images: int = 7              # intermediate images
    fmax: float = 0.03           # eV/Å (end points and band)
    steps: int = 1000            # optimiser steps (band)
    climb: bool = True
    spring: float = 0.1          # eV/Å²
    relax_ends: bool = True
    prefactor: bool = False      # harmonic TST attempt frequency (Vineyard) from partial Hessians
    prefactor_radius: float = 4.0   # Å around the moving atom: the atoms whose vibrations enter it


def vacancy_hop(atoms, element: str | None = None, site: int | None = None, neighbour: int | None = None):
    """(initial, final, info): ``atoms`` without atom ``site`` (default: the first atom of ``element``), and the
    same with the nearest atom of that element (or ``neighbour``) moved into the vacant site."""
    syms = atoms.get_chemical_symbols()
    if site is None:
        if element is None:
            element = syms[0]
        if element not in syms:
            raise InputError(f"--element {element}: not in the structure")
        site = syms.index(element)
    if not 0 <= site < len(atoms):
        raise InputError(f"--site {site}: the structure has {len(atoms)} atoms")
    element = syms[site]
    d = atoms.get_distances(site, range(len(atoms)), mic=True)
    if neighbour is None:
        cand = [k for k in range(len(atoms)) if k != site and syms[k] == element]
        if not cand:
            raise InputError(f"no other {element} atom to hop into the vacancy")
        neighbour = min(cand, key=lambda k: d[k])
    if neighbour == site or not 0 <= neighbour < len(atoms):
        raise InputError(f"--neighbour {neighbour}: another atom of the structure")
    vec = atoms.get_distance(neighbour, site, mic=True, vector=True)
    initial = atoms.copy()
    final = atoms.copy()
    final.positions[neighbour] = final.positions[neighbour] + vec
    del initial[site]
    del final[site]
    info = {"element": element, "site": int(site), "neighbour": int(neighbour), "hop_A": float(np.linalg.norm(vec))}
    return initial, final, info


#: sqrt(eV / (amu Å²)) in rad/s
_OMEGA = 9.82269474e13


def partial_hessian(atoms, calc, active, delta: float = 0.01) -> np.ndarray:
    """Mass-weighted Hessian (eV/(amu Å²)) of the ``active`` atoms by central differences of the forces, the other
    atoms fixed; symmetrised."""
    a = atoms.copy()
    a.calc = calc
    idx = [3 * i + c for i in active for c in range(3)]
    H = np.zeros((len(idx), len(idx)))
    x0 = a.positions.copy()
    for col, (i, c) in enumerate((i, c) for i in active for c in range(3)):
        f = []
        for sgn in (1, -1):
            a.positions = x0
            a.positions[i, c] += sgn * delta
            f.append(a.get_forces().reshape(-1)[idx])
        H[:, col] = -(f[0] - f[1]) / (2 * delta)
    a.positions = x0
    H = 0.5 * (H + H.T)
    m = np.repeat(a.get_masses()[list(active)], 3)
    return H / np.sqrt(np.outer(m, m))


def vineyard_prefactor(initial, saddle, calc, moving: int, radius: float = 4.0) -> dict:
    """Harmonic transition-state theory (Vineyard 1957): ν* = Π_i ν_i(initial) / Π_i' ν_i'(saddle), the 3n real
    frequencies of the initial state over the 3n − 1 real ones of the saddle, for the n atoms within ``radius`` of
    the moving atom (the rest held fixed). The saddle must have exactly one imaginary mode."""
    d = saddle.get_distances(moving, range(len(saddle)), mic=True)
    active = [int(k) for k in np.nonzero(d <= radius)[0]]
    lam0 = np.linalg.eigvalsh(partial_hessian(initial, calc, active))
    lams = np.linalg.eigvalsh(partial_hessian(saddle, calc, active))
    tol = 1e-6 * max(np.abs(lam0).max(), 1e-12)
    if np.any(lam0 <= tol):
        raise InputError(f"the initial state has {int(np.sum(lam0 <= tol))} non-positive Hessian eigenvalue(s) "
                         "among the active atoms: it is not a minimum (relax it further)")
    neg = int(np.sum(lams < -tol))
    nu = lambda lam: np.sqrt(lam) * _OMEGA / (2 * np.pi)      # noqa: E731
    log_nu = float(np.sum(np.log(nu(lam0))) - np.sum(np.log(nu(lams[1:][lams[1:] > tol]))))
    return {"prefactor_Hz": float(np.exp(log_nu)), "active_atoms": len(active), "imaginary_modes_saddle": neg,
            "imaginary_frequency_THz": float(np.sqrt(-lams[0]) * _OMEGA / (2 * np.pi) / 1e12) if lams[0] < 0 else 0.0,
            "radius_A": radius}


def _relax(atoms, calc, fmax, log):
    from ase.optimize import BFGS
    a = atoms.copy()
    a.calc = calc
    opt = BFGS(a, logfile=None)
    opt.run(fmax=fmax, steps=2000)
    f = float(np.abs(a.get_forces()).max())
    if f > fmax * 1.01:
        log(f"neb: an end point stopped at max force {f:.3g} eV/Å (> {fmax})")
    return a


def run_neb(initial, final, out, s: NEBSettings, calculator_factory, *, log=print) -> dict:
    """NEB from ``initial`` to ``final`` (same atoms in the same order) with calculators from
    ``calculator_factory()`` (one per image)."""
    from ase.mep import NEB
    from ase.optimize import FIRE

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if len(initial) != len(final) or initial.get_chemical_symbols() != final.get_chemical_symbols():
        raise InputError("the initial and final states must hold the same atoms in the same order")
    if s.images < 1:
        raise InputError("--images must be at least 1")
    if s.relax_ends:
        log(f"neb: relaxing the end points to {s.fmax} eV/Å")
        initial = _relax(initial, calculator_factory(), s.fmax, log)
        final = _relax(final, calculator_factory(), s.fmax, log)
    images = [initial] + [initial.copy() for _ in range(s.images)] + [final]
    for im in images:
        im.calc = calculator_factory()
    band = NEB(images, k=s.spring, climb=s.climb, method="improvedtangent")
    band.interpolate("idpp", mic=True)
    calls = {"n": 0}

    def count():
        calls["n"] += 1

    opt = FIRE(band, logfile=str(out / "neb.log"))
    opt.attach(count)
    from tqdm import tqdm
    import sys
    bar = tqdm(total=s.steps, desc="NEB", unit="step", file=sys.stderr, leave=False)
    opt.attach(lambda: bar.update(1))
    converged = bool(opt.run(fmax=s.fmax, steps=s.steps))
    bar.close()
    e = np.array([im.get_potential_energy() for im in images])
    e0 = e[0]
    from ase.geometry import find_mic
    rc = [0.0]
    for a, b in zip(images[:-1], images[1:]):
        d, _ = find_mic(b.positions - a.positions, a.cell, a.pbc)
        rc.append(rc[-1] + float(np.linalg.norm(d)))
    top = int(np.argmax(e))
    res = {"barrier_forward_eV": float(e[top] - e[0]), "barrier_backward_eV": float(e[top] - e[-1]),
           "reaction_energy_eV": float(e[-1] - e[0]), "climbing_image": top, "converged": converged,
           "fmax": s.fmax, "steps": int(opt.nsteps), "images": s.images, "method": "improvedtangent",
           "climb": s.climb, "max_force_eV_A": float(np.abs(band.get_forces()).max())}
    from ase.io import write
    write(out / "neb.extxyz", images, format="extxyz")
    with open(out / "neb.csv", "w") as fh:
        fh.write("image,reaction_coordinate_A,energy_eV\n")
        for k, (x, y) in enumerate(zip(rc, e - e0)):
            fh.write(f"{k},{x:.6f},{y:.8f}\n")
    if s.prefactor:
        disp, _ = find_mic(images[-1].positions - images[0].positions, images[0].cell, images[0].pbc)
        moving = int(np.argmax(np.linalg.norm(disp, axis=1)))
        v = vineyard_prefactor(images[0], images[top], calculator_factory(), moving, s.prefactor_radius)
        res.update(v)
        log(f"neb: harmonic TST attempt frequency {v['prefactor_Hz']:.3g} Hz ({v['active_atoms']} atoms within "
            f"{s.prefactor_radius} Å of the moving atom; saddle imaginary modes: {v['imaginary_modes_saddle']})")
        if v["imaginary_modes_saddle"] != 1:
            log("neb: the saddle has not exactly one imaginary mode: the prefactor is unreliable (converge the band "
                "further, lower --fmax)")
    (out / "neb.json").write_text(json.dumps(res, indent=2))
    plot_neb(rc, e - e0, top, out / "neb.png", res)
    if not converged:
        log(f"neb: not converged in {s.steps} steps (max force {res['max_force_eV_A']:.3g} eV/Å); raise --steps")
    return res


def plot_neb(rc, e, top, png, res):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.interpolate import CubicSpline

    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    x = np.asarray(rc)
    if len(x) > 2 and np.all(np.diff(x) > 0):
        xx = np.linspace(x[0], x[-1], 200)
        ax.plot(xx, CubicSpline(x, e)(xx), color="0.6", lw=1)
    ax.plot(x, e, "o", color="C0")
    ax.plot([x[top]], [e[top]], "*", color="C3", ms=14, label="climbing image" if res["climb"] else "highest image")
    ax.set_xlabel("reaction coordinate (Å)")
    ax.set_ylabel("energy (eV)")
    ax.set_title(f"barrier {res['barrier_forward_eV']:.3f} eV forward, {res['barrier_backward_eV']:.3f} eV back"
                 + ("" if res["converged"] else " (not converged)"), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
