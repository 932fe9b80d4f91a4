"""Export an n2p2 potential for the ``hdnnp/fast`` LAMMPS pair style.

The file is plain text, whitespace-separated tokens, ``#`` starts a comment; numbers are written with
17 significant digits (exact round trip). Lengths and energies stay in the potential's own units; the
two conversion factors to Å and eV are in the header, and the pair style applies them exactly as the
Python evaluator does (positions Å → file units before the symmetry functions; energies
``(E_i/conv_energy + mean_energy + atom_energy) · energy_unit_ev``; forces ``· energy_unit_ev /
(conv_energy · length_unit_angstrom)``; virial ``· energy_unit_ev / conv_energy``)::

    hdnnp_lammps_potential 1
    length_unit_angstrom <Å per potential length unit>
    energy_unit_ev <eV per potential energy unit>
    conv_energy <c>            # n2p2 normalisation (1 when the potential is not normalised)
    mean_energy <m>            # per atom, potential energy unit (0 when not normalised)
    normalize_nodes <0|1>
    scaling <mode> <smin> <smax>     # mode 0 none, 1 scale, 2 center, 3 scale+center, 4 scale+sigma
    elements <n>
      <symbol> <Z> <atom_energy>     # n elements in n2p2 order (by Z); element index = position
    charge_input <Q>                 # optional (charge-aware potentials, hdnnp.model.charge): the default total
      <symbol> <n_1> <s_1 ... s_n1>  # charge Q (e) and per element the slopes of the first-layer biases; the
                                     # weights below are the Q = 0 state, the pair style adds s·Q (pair_style
                                     # keyword 'charge Q' overrides the default)
    element <symbol>                 # one block per element, same order
      symmetry_functions <nsf>       # nsf rows of 14 numbers, n2p2's sorted order:
        type subtype e1 e2 eta rs lambda zeta rc rl angle_left angle_right cutoff_type cutoff_alpha
      scaling_data <nsf>             # nsf rows: gmin gmax gmean gsigma
      network <n_layers> <size_0 ... size_last> <activation letters, one per non-input layer>
      weights <n>                    # flat, weights.ZZZ.data order
    end_element
    end

A committee (a folder with ``committee.json``) is written as member 1 in the layout above followed by
the other members, which share member 1's symmetry functions::

    committee <M>
    member <m>                       # m = 2 .. M
      conv_energy <c>  mean_energy <m>  normalize_nodes <0|1>  scaling <mode> <smin> <smax>
      atom_energies <one per element>
      element <symbol> scaling_data ... network ... weights ... end_element   # per element
    end_member
    end_committee

(``e1``/``e2`` are element indices or -1; ``subtype`` is the compact-SF code of
``SymmetryFunctionSet.param_table``; radii and η in the potential's length unit.)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from ase.data import atomic_numbers

from ..units import energy_factor, length_factor

FORMAT_VERSION = 1


def _g(x) -> str:
    return repr(float(x)) if np.isfinite(x) else ("inf" if x > 0 else "-inf")


def export_text(potential, length_unit: str = "angstrom", energy_unit: str = "ev", charge=None) -> str:
    """The exported file's text for a :class:`hdnnp.model.n2p2.Potential`; ``charge``: (slopes, default Q) of a
    charge-aware potential (its weights the Q = 0 state)."""
    p = potential
    L, U = length_factor(length_unit), energy_factor(energy_unit)
    sfset = p.symmetry_functions
    out = ["# hdnnp potential for the LAMMPS pair style hdnnp/fast (units metal)",
           f"# source: {p.source or '?'}  length unit: {length_unit}  energy unit: {energy_unit}",
           f"hdnnp_lammps_potential {FORMAT_VERSION}",
           f"length_unit_angstrom {_g(L)}", f"energy_unit_ev {_g(U)}",
           f"conv_energy {_g(p.conv_energy)}", f"mean_energy {_g(p.mean_energy)}",
           f"normalize_nodes {int(bool(p.normalize_nodes))}",
           f"scaling {int(p.scaling_mode)} {_g(p.scale_min)} {_g(p.scale_max)}",
           f"elements {len(p.elements)}"]
    for el in p.elements:
        out.append(f"  {el} {atomic_numbers[el]} {_g(p.atom_energy.get(el, 0.0))}")
    if charge is not None:
        slopes, q = charge
        out.append(f"charge_input {_g(q)}")
        for el in p.elements:
            out.append(f"  {el} {len(slopes[el])} " + " ".join(_g(v) for v in slopes[el]))
    for el in p.elements:
        out += _element_block(p, el, sfset.param_table(el))
    out.append("end")
    return "\n".join(out) + "\n"


def _element_block(p, el: str, table=None) -> list[str]:
    """``element EL`` … ``end_element``: the symmetry functions (when ``table`` is given: member 1 only), scaling
    data, network and weights of one element."""
    sc, net = p.scaling[el], p.networks[el]
    out = [f"element {el}"]
    if table is not None:
        out.append(f"symmetry_functions {len(table)}")
        for row in table:
            ints = [int(v) for v in row[:4]]
            out.append(" ".join(str(v) for v in ints) + " " + " ".join(_g(v) for v in row[4:12])
                       + f" {int(row[12])} {_g(row[13])}")
    out.append(f"scaling_data {len(sc.gmin)}")
    for a, b, c, d in zip(sc.gmin, sc.gmax, sc.gmean, sc.gsigma):
        out.append(f"{_g(a)} {_g(b)} {_g(c)} {_g(d)}")
    out.append(f"network {len(net.layer_sizes)} {' '.join(str(int(s)) for s in net.layer_sizes)} {net.activations}")
    w = np.asarray(net.weights, dtype=np.float64)
    out.append(f"weights {len(w)}")
    for k in range(0, len(w), 4):
        out.append(" ".join(_g(v) for v in w[k:k + 4]))
    out.append("end_element")
    return out


def _member_block(m: int, p) -> list[str]:
    out = [f"member {m}", f"conv_energy {_g(p.conv_energy)}", f"mean_energy {_g(p.mean_energy)}",
           f"normalize_nodes {int(bool(p.normalize_nodes))}",
           f"scaling {int(p.scaling_mode)} {_g(p.scale_min)} {_g(p.scale_max)}",
           "atom_energies " + " ".join(_g(p.atom_energy.get(el, 0.0)) for el in p.elements)]
    for el in p.elements:
        out += _element_block(p, el)
    out.append("end_member")
    return out


def committee_text(members, length_unit: str = "angstrom", energy_unit: str = "ev") -> str:
    """The exported text of a committee: member 1 as a plain potential, then the others."""
    from ..model.committee import check_members
    check_members(members, normalisation=False)
    lines = [export_text(members[0], length_unit, energy_unit).rstrip("\n"), f"committee {len(members)}"]
    for m, p in enumerate(members[1:], start=2):
        lines += _member_block(m, p)
    lines.append("end_committee")
    return "\n".join(lines) + "\n"


def export_potential(potential_dir, output, length_unit: str | None = None,
                     energy_unit: str | None = None, charge: float | None = None) -> Path:
    """Read an n2p2 potential folder and write ``output`` for ``pair_coeff * * output <elements>``.
    Units default to the folder's UNITS file, else Å and eV. A committee folder exports every member.
    A charge-aware potential (``charge.json``) is exported with its charge slopes and ``charge`` (e) as the
    default total charge (without ``charge``: 0, with a warning); ``pair_style hdnnp/fast charge Q`` overrides it."""
    import json

    from ..model.evaluator import COMMITTEE_FILE
    from ..model.n2p2 import read_potential
    folder = Path(potential_dir)
    output = Path(output)
    if (folder / COMMITTEE_FILE).is_file():
        names = json.loads((folder / COMMITTEE_FILE).read_text())["members"]
        members = [read_potential(folder / n) for n in names]
        lu = length_unit or members[0].length_unit or "angstrom"
        eu = energy_unit or members[0].energy_unit or "ev"
        output.write_text(committee_text(members, lu, eu))
        return output
    pot = read_potential(potential_dir)
    from ..model.charge import read_charge_file
    ch = read_charge_file(folder)
    if ch is None and charge:
        from ..errors import InputError
        raise InputError("a charge was given but the potential does not take the charge as an input "
                         "(no charge.json: it was trained without model.charge_input)", file=str(folder))
    if ch is not None and charge is None:
        import warnings
        warnings.warn(f"{folder} is charge-aware (charge.json): exported with default total charge 0; give the "
                      "system's charge (hdnnp lammps export --charge Q, or pair_style hdnnp/fast charge Q)",
                      UserWarning, stacklevel=2)
    if ch is not None and ch.get("energy_per_charge_eV") and charge:
        import warnings
        warnings.warn(f"{folder}: LAMMPS energies of this charge-aware potential leave out the energy of the charge, "
                      f"a constant {ch['energy_per_charge_eV'] * float(charge):.4f} eV for Q = {float(charge):g} "
                      "(energy_per_charge_eV × Q in charge.json; forces, stress and dynamics are unaffected; hdnnp's "
                      "calculator and predict include it)", UserWarning, stacklevel=2)
    lu = length_unit or pot.length_unit or "angstrom"
    eu = energy_unit or pot.energy_unit or "ev"
    output.write_text(export_text(pot, lu, eu, charge=None if ch is None else (ch["slopes"], float(charge or 0.0))))
    return output


def read_exported(path) -> dict:
    """Header fields of an exported file (for checks and the CLI): units, elements, cutoff."""
    fields: dict = {}
    toks = []
    for line in Path(path).read_text().splitlines():
        toks += line.split("#", 1)[0].split()
    it = iter(toks)
    for t in it:
        if t in ("length_unit_angstrom", "energy_unit_ev", "conv_energy", "mean_energy"):
            fields[t] = float(next(it))
        elif t == "elements":
            n = int(next(it))
            fields["elements"] = []
            for _ in range(n):
                fields["elements"].append(next(it)); next(it); next(it)
            break
    return fields
