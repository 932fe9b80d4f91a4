"""Rejection-free kinetic Monte Carlo of hops on a lattice of sites: ``hdnnp kmc``.

Sites are the positions of one element in a periodic cell (e.g. the Li sites of bcc Li). Pairs of sites closer than
the largest shell of the barrier table are hop paths; each path belongs to the shell whose distance is nearest
(within ``tolerance`` Å). Carriers occupy all sites but ``vacancies`` of them (vacancy mechanism), or exactly
``carriers`` of them. A carrier hops into an empty neighbouring site with the rate ν exp(-Ea / kT) of the path's
shell (harmonic transition-state theory; ν from ``hdnnp neb --prefactor`` (Vineyard), else 1e13 Hz; Ea from ``hdnnp neb``, or a table the user edits).

Each step picks one hop among all possible ones with probability proportional to its rate and advances the clock
by -ln(u) / (sum of rates) (Bortz–Kalos–Lebowitz, residence-time algorithm). Displacements are accumulated
unwrapped. The tracer diffusion coefficient of the carriers is D = <|Δr|²> / (6 t) at the end of each run; the
mean and standard error over ``runs`` independent runs are reported, and the Arrhenius fit of D(T) gives Ea.

Units: Å, eV, Hz; D in cm²/s.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..units import KB_EV as K_B

__all__ = ["KMCSettings", "Lattice", "read_barriers", "run_kmc_temperature", "run_kmc"]


@dataclass
class KMCSettings:
    temperatures: list = field(default_factory=list)
    steps: int = 20000          # hops per run
    runs: int = 8               # independent runs per temperature
    vacancies: int | None = 1   # empty sites (vacancy mechanism) ...
    carriers: int | None = None  # ... or this many carriers
    seed: int = 1
    tolerance: float = 0.1      # Å, shell assignment


def read_barriers(path) -> list[dict]:
    """A barrier table: CSV with columns ``distance_A,barrier_eV[,prefactor_Hz]`` (one row per hop shell, comment
    lines with #), or a ``neb.json`` of ``hdnnp neb`` (its hop distance and forward barrier)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such barrier table")
    if path.suffix == ".json":
        d = json.loads(path.read_text())
        if "hop" not in d:
            raise InputError(f"{path}: a neb.json of a vacancy hop (hdnnp neb --vacancy) gives the hop distance; "
                             "for other paths write a CSV table distance_A,barrier_eV,prefactor_Hz")
        return [{"distance_A": d["hop"]["hop_A"], "barrier_eV": d["barrier_forward_eV"],
                 "prefactor_Hz": float(d.get("prefactor_Hz", 1e13))}]
    rows = []
    for k, line in enumerate(path.read_text().splitlines(), 1):
        t = line.split("#")[0].strip()
        if not t or t.lower().startswith("distance"):
            continue
        parts = [x.strip() for x in t.split(",")]
        try:
            vals = [float(x) for x in parts]
        except ValueError:
            raise InputError(f"{path}, line {k}: expected distance_A,barrier_eV[,prefactor_Hz], got {t!r}") from None
        if len(vals) not in (2, 3) or vals[0] <= 0:
            raise InputError(f"{path}, line {k}: expected distance_A,barrier_eV[,prefactor_Hz] with a positive "
                             f"distance, got {t!r}")
        rows.append({"distance_A": vals[0], "barrier_eV": vals[1], "prefactor_Hz": vals[2] if len(vals) == 3 else 1e13})
    if not rows:
        raise InputError(f"{path}: no rows")
    return rows


class Lattice:
    """Sites (positions of ``element`` in ``atoms``) and their hop paths by shell."""

    def __init__(self, atoms, element: str, barriers: list[dict], tolerance: float = 0.1):
        from ase.neighborlist import neighbor_list
        sel = [k for k, s in enumerate(atoms.get_chemical_symbols()) if s == element]
        if not sel:
            raise InputError(f"--element {element}: not in the structure")
        if not atoms.pbc.all():
            raise InputError("kmc needs a periodic cell")
        sites = atoms[sel]
        self.n = len(sites)
        rmax = max(b["distance_A"] for b in barriers) + tolerance
        i, j, D, d = neighbor_list("ijDd", sites, rmax)
        shell = np.full(len(d), -1)
        for s, b in enumerate(barriers):
            shell[np.abs(d - b["distance_A"]) <= tolerance] = s
        keep = shell >= 0
        if not keep.any():
            raise InputError(f"no pair of {element} sites at the barrier table's distances "
                             f"{[b['distance_A'] for b in barriers]} (± {tolerance} Å)")
        self.i, self.j, self.vec, self.shell = i[keep], j[keep], D[keep], shell[keep]
        order = np.argsort(self.i, kind="stable")
        self.i, self.j, self.vec, self.shell = self.i[order], self.j[order], self.vec[order], self.shell[order]
        self.start = np.searchsorted(self.i, np.arange(self.n + 1))
        self.barriers = barriers
        self.paths_per_shell = [int((self.shell == s).sum()) // self.n for s in range(len(barriers))]


def run_kmc_temperature(lat: Lattice, T: float, s: KMCSettings, rng) -> dict:
    """``s.runs`` runs of ``s.steps`` hops at temperature T: D (cm²/s) with its standard error."""
    rates = np.array([b["prefactor_Hz"] * math.exp(-b["barrier_eV"] / (K_B * T)) for b in lat.barriers])
    n = lat.n
    if s.carriers is not None:
        n_car = int(s.carriers)
    else:
        n_car = n - int(s.vacancies if s.vacancies is not None else 1)
    if not 0 < n_car < n:
        raise InputError(f"{n_car} carriers on {n} sites: need at least one carrier and one empty site")
    Ds, times = [], []
    for _ in range(s.runs):
        occ = np.zeros(n, dtype=bool)
        occ[rng.choice(n, n_car, replace=False)] = True
        who = -np.ones(n, dtype=np.int64)          # carrier index at each site
        who[np.nonzero(occ)[0]] = np.arange(n_car)
        disp = np.zeros((n_car, 3))
        t = 0.0
        few_empty = (n - n_car) <= n_car
        for _step in range(s.steps):
            # possible hops: from an occupied site to an empty neighbour
            if few_empty:
                empt = np.nonzero(~occ)[0]
                cand = np.concatenate([np.arange(lat.start[e], lat.start[e + 1]) for e in empt])
                # pair (e -> k) listed from the empty site: the hop is k -> e along -vec
                src, dst, vec = lat.j[cand], lat.i[cand], -lat.vec[cand]
                sh = lat.shell[cand]
            else:
                full = np.nonzero(occ)[0]
                cand = np.concatenate([np.arange(lat.start[c], lat.start[c + 1]) for c in full])
                src, dst, vec, sh = lat.i[cand], lat.j[cand], lat.vec[cand], lat.shell[cand]
            ok = occ[src] & ~occ[dst]
            if not ok.any():
                break
            src, dst, vec, sh = src[ok], dst[ok], vec[ok], sh[ok]
            r = rates[sh]
            R = r.sum()
            k = int(np.searchsorted(np.cumsum(r), rng.random() * R))
            k = min(k, len(r) - 1)
            c = who[src[k]]
            disp[c] += vec[k]
            who[dst[k]], who[src[k]] = c, -1
            occ[dst[k]], occ[src[k]] = True, False
            t -= math.log(1.0 - rng.random()) / R
        msd = float(np.mean(np.sum(disp ** 2, axis=1)))
        Ds.append(msd / (6.0 * t) * 1e-16 if t > 0 else 0.0)
        times.append(t)
    Ds = np.array(Ds)
    return {"temperature_K": T, "D_cm2_s": float(Ds.mean()),
            "D_std_cm2_s": float(Ds.std(ddof=1) / math.sqrt(len(Ds))) if len(Ds) > 1 else float("nan"),
            "runs": len(Ds), "steps": s.steps, "carriers": n_car, "sites": n, "time_s": float(np.mean(times))}


def run_kmc(atoms, element: str, barriers: list[dict], out, s: KMCSettings, *, compare=None, log=print) -> dict:
    from .diffusion import arrhenius_fit, plot_arrhenius

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not s.temperatures:
        raise InputError("give the temperatures (-T 300 400 500)")
    lat = Lattice(atoms, element, barriers, s.tolerance)
    log(f"kmc: {lat.n} {element} sites; hop paths per site by shell: "
        + ", ".join(f"{b['distance_A']:.3f} Å: {p} (Ea {b['barrier_eV']:.3f} eV)"
                    for b, p in zip(barriers, lat.paths_per_shell)))
    rng = np.random.default_rng(s.seed)
    from tqdm import tqdm
    import sys
    rows = [run_kmc_temperature(lat, T, s, rng) for T in tqdm(sorted(s.temperatures), desc="kmc", unit="T",
                                                                file=sys.stderr, leave=False)]
    with open(out / "kmc.csv", "w") as fh:
        fh.write("temperature_K,D_cm2_s,D_stderr_cm2_s,runs,steps,carriers,sites,time_s\n")
        for r in rows:
            fh.write(f"{r['temperature_K']:g},{r['D_cm2_s']:.6e},{r['D_std_cm2_s']:.6e},{r['runs']},{r['steps']},"
                     f"{r['carriers']},{r['sites']},{r['time_s']:.6e}\n")
    fit = None
    if len(rows) >= 2 and all(r["D_cm2_s"] > 0 for r in rows):
        fit = arrhenius_fit([r["temperature_K"] for r in rows], [r["D_cm2_s"] for r in rows],
                            [r["D_std_cm2_s"] for r in rows], seed=s.seed)
    summary = {"elements": [element], "element": element, "barriers": barriers, "paths_per_site": lat.paths_per_shell,
               "D": {element: [{"T_K": r["temperature_K"], "D_cm2_s": r["D_cm2_s"],
                                "D_std_cm2_s": r["D_std_cm2_s"],
                                "D_lo_cm2_s": r["D_cm2_s"] - 1.96 * r["D_std_cm2_s"],
                                "D_hi_cm2_s": r["D_cm2_s"] + 1.96 * r["D_std_cm2_s"]} for r in rows]},
               "arrhenius": {element: fit} if fit else {}, "rows": rows}
    (out / "kmc.json").write_text(json.dumps(summary, indent=1))
    runs = [(summary, "kMC")]
    for d, label in compare or []:
        md = json.loads((Path(d) / "arrhenius.json").read_text())
        if element not in md.get("elements", []):
            raise InputError(f"{d}/arrhenius.json has no {element} (elements {md.get('elements')})")
        runs.append(({**md, "elements": [element]}, label or f"MD {Path(d).name}"))
    plot_arrhenius(runs, out / "kmc.png")
    return summary
