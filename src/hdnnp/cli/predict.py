"""``hdnnp predict POTENTIAL_DIR STRUCTURES... -o OUT.xyz``: evaluate a potential (and its per-atom property
networks, when the folder has them) on structures."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ._units import add_data_units, add_potential_units, read_structures


def register(sub):
    p = sub.add_parser(
        "predict",
        help="evaluate a potential on structures (energies, forces, stress) and write extxyz",
        description="Evaluate an n2p2-format potential folder (input.nn, scaling.data, weights.ZZZ.data) "
                    "on structures in any format hdnnp reads. Writes extxyz with each structure's energy (eV), "
                    "forces (eV/Å), per-atom energies and, for periodic cells, stress (eV/Å³, ASE sign). "
                    "Prints a summary, errors against reference labels when the input has them, and "
                    "extrapolation warnings (symmetry functions outside the scaling.data range). A committee "
                    "folder (committee.json, from 'hdnnp train' with run.committee) gives the members' mean and "
                    "their spread: info energy_std (eV), energy_std_per_atom, max_forces_std (eV/Å) and per-atom "
                    "forces_std (eV/Å) and uncertainty (forces_std over the validation-set spread, plus the "
                    "fraction of symmetry functions outside the training range). A folder with per-atom "
                    "property networks (properties.json, from 'hdnnp train' with properties:) also writes every "
                    "per-atom target (e.g. charges, shielding tensors as 9 columns) and, for a property committee, "
                    "<name>_std, with errors per element against the input's values of the same name.",
    )
    p.add_argument("potential", metavar="POTENTIAL_DIR", help="n2p2 potential folder")
    p.add_argument("structures", metavar="STRUCTURES", nargs="+", help="structure files (any readable format)")
    p.add_argument("-o", "--output", metavar="OUT.xyz", help="extxyz file to write (default: none)")
    p.add_argument("--format", help="input format (default: detected from content/extension)")
    add_potential_units(p)
    add_data_units(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from ..io import write
    from ..model.evaluator import load_potential

    from ..properties.predict import PropertyPredictor, has_properties

    pp = PropertyPredictor(args.potential) if has_properties(args.potential) else None
    ev = None if pp is not None and not (Path(args.potential) / "input.nn").is_file() else \
        load_potential(args.potential, length_unit=args.potential_length_unit,
                       energy_unit=args.potential_energy_unit)
    structures = read_structures(args.structures, args.format, args)
    out = []
    de, df, ds, e_pair = [], [], [], []
    n_extra_structs = 0
    n_extra_total = 0
    spreads, fmax = [], []
    bar = tqdm(structures, desc="predict", unit="struct", disable=args.no_progress or len(structures) < 20,
               file=sys.stderr, leave=False)
    for s in bar:
        r = s.copy()
        if ev is None:
            out.append(r)
            continue
        pred = ev.evaluate(s)
        if s.energy is not None:
            de.append((pred.energy - s.energy) / s.natoms)
            e_pair.append((pred.energy / s.natoms, s.energy / s.natoms, s.natoms))
        if s.forces is not None:
            df.append((pred.forces - s.forces).ravel())
        if s.stress is not None and pred.stress is not None:
            ds.append((pred.stress - s.stress).ravel())
        r.energy, r.forces, r.stress = pred.energy, pred.forces, pred.stress
        r.atom_properties["energies"] = pred.energies
        r.atom_properties["extrapolations"] = pred.extrapolations.astype(np.int64)
        if pred.member_energies is not None:          # a committee: its spread
            r.info["energy_std"] = pred.energy_std
            r.info["energy_std_per_atom"] = pred.energy_std_per_atom
            spreads.append(pred.energy_std_per_atom)
            if pred.forces_std is not None:
                r.atom_properties["forces_std"] = pred.forces_std
                r.info["max_forces_std"] = pred.max_forces_std
                fmax.append(pred.max_forces_std)
            if pred.uncertainty is not None:
                r.atom_properties["uncertainty"] = pred.uncertainty
        if pred.n_extrapolations:
            n_extra_structs += 1
            n_extra_total += pred.n_extrapolations
            r.info["extrapolations"] = pred.n_extrapolations
        out.append(r)
    bar.close()
    prop_lines = _properties(pp, structures, out, args) if pp is not None else []
    if args.output:
        write(args.output, out, format="extxyz")
    natoms = sum(s.natoms for s in out)
    if ev is not None:
        print(f"potential   {args.potential} (elements {' '.join(ev.elements)}, cutoff {ev.cutoff:.4g} Å, "
              f"files in {ev.length_unit}/{ev.energy_unit})")
    else:
        print(f"properties  {args.potential} (elements {' '.join(pp.elements)}; no potential in the folder)")
    print(f"structures  {len(out)} ({natoms} atoms)")
    for line in prop_lines:
        print(line)
    if de:
        de = np.array(de)
        dm = np.array([d * n for d, (_, _, n) in zip(de, e_pair)])
        print(f"energy      RMSE {np.sqrt(np.mean(de**2)) * 1e3:.4g} meV/atom, "
              f"MAE {np.mean(np.abs(de)) * 1e3:.4g} meV/atom; per structure RMSE {np.sqrt(np.mean(dm**2)) * 1e3:.4g} "
              f"meV, MAE {np.mean(np.abs(dm)) * 1e3:.4g} meV  ({len(de)} structures with reference energy)")
        from ..units import energy_units_hint
        hint = energy_units_hint([p for p, _, _ in e_pair], [r for _, r, _ in e_pair])
        if hint:
            print(f"WARNING: {hint}")
    if df:
        df = np.concatenate(df)
        print(f"forces      RMSE {np.sqrt(np.mean(df**2)) * 1e3:.4g} meV/Å, "
              f"MAE {np.mean(np.abs(df)) * 1e3:.4g} meV/Å")
    if ds:
        ds = np.concatenate(ds)
        print(f"stress      RMSE {np.sqrt(np.mean(ds**2)) * 1e3:.4g} meV/Å³, MAE {np.mean(np.abs(ds)) * 1e3:.4g} "
              "meV/Å³")
    if spreads:
        print(f"committee   {ev.n_members} members: energy spread (std) median {np.median(spreads) * 1e3:.3g}, "
              f"max {np.max(spreads) * 1e3:.3g} meV/atom" + (
                  f"; largest per-atom force spread median {np.median(fmax) * 1e3:.3g}, max {np.max(fmax) * 1e3:.3g} "
                  f"meV/Å" if fmax else "") + (
                  f" (validation-set spread {ev.calibration * 1e3:.3g} meV/Å)" if ev.calibration else ""))
    if n_extra_structs:
        print(f"WARNING: extrapolation in {n_extra_structs} of {len(out)} structures "
              f"({n_extra_total} symmetry-function values outside the scaling.data range; per-atom counts are "
              f"in the 'extrapolations' array of the output)")
    if args.output:
        print(f"written     {args.output}")
    return 0


def _properties(pp, structures, out, args) -> list[str]:
    """Per-atom property predictions into ``out`` (name, and name_std for the committee spread); error
    lines per target and element where the input carries the reference values."""
    from tqdm import tqdm

    from ..properties.model import isotropic, target_array

    preds = pp.predict(structures, progress=lambda it: tqdm(it, desc="properties", unit="batch", file=sys.stderr,
                                                           leave=False, disable=args.no_progress or len(it) < 5))
    errs = {}
    for s, r, res in zip(structures, out, preds):
        for t in pp.targets:
            mean, std = res[t.name]
            ref = target_array(s, t)
            if ref is not None:
                for el in set(s.symbols):
                    m = np.array([x == el for x in s.symbols]) & ~np.isnan(mean.reshape(len(mean), -1)[:, 0])
                    if m.any():
                        iso = isotropic if t.kind == "tensor" else (lambda a: a)
                        errs.setdefault((t.name, el), []).append((iso(mean[m]), iso(ref[m])))
            r.atom_properties[t.name] = mean
            if pp.model.committee > 1:
                r.atom_properties[t.name + "_std"] = std
    lines = []
    for (name, el), parts in sorted(errs.items()):
        p = np.concatenate([a for a, _ in parts])
        q = np.concatenate([b for _, b in parts])
        d = p - q
        t = pp.target(name)
        rmse = float(np.sqrt(np.mean(d ** 2)))
        sd = float(np.std(q))
        lines.append(f"{name:<11} {el:<3} RMSE {rmse:.4g} {t.unit}, MAE {np.mean(np.abs(d)):.4g} {t.unit}, "
                     f"RMSE/std {rmse / sd if sd > 0 else float('nan'):.3f}"
                     + (" (isotropic part)" if t.kind == "tensor" else "") + f"  ({len(d)} atoms)")
    return lines
