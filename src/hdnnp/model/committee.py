"""Committees of HDNNPs that share descriptors, merged into one n2p2 potential.

Members trained on the same training set with the same symmetry functions share everything but
their network weights (scaling statistics, reference energies and normalisation are fitted on the
training set). Their mean atomic energy, ``(1/M) Σ_m NN_m(G)``, is then itself a feed-forward
network: the members' hidden layers side by side (the first layer stacked, deeper layers block
diagonal, zeros between members) and an output layer holding each member's output weights divided
by M. :func:`merge_committee` builds that network, so the committee mean runs anywhere an n2p2
potential does (n2p2, LAMMPS ``pair_style hdnnp``, :class:`hdnnp.calculator.HDNNPCalculator`).
Deeper layers cost M² times the members' (dense block-diagonal matrices).
"""
from __future__ import annotations

import numpy as np

from .n2p2 import ElementNetwork, Potential


def _same(a, b) -> bool:
    """Equal up to the last bits (members fitted in different processes may differ there)."""
    return bool(np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12, atol=0.0))


def check_members(members: list[Potential], *, normalisation: bool = True) -> None:
    """Raise ValueError unless ``members`` share what a committee shares: elements, symmetry
    functions and cutoff (the descriptors, computed once for all members), units, and network depth
    and activations; with ``normalisation`` (merging into one network) also the scaling statistics,
    normalisation and reference energies, which the evaluator otherwise applies per member."""
    if not members:
        raise ValueError("committee: no members")
    p0 = members[0]
    for m, p in enumerate(members[1:], start=2):
        checks = {
            "elements": p.elements == p0.elements,
            "symmetry functions": [t for _, t in p.sf_lines] == [t for _, t in p0.sf_lines],
            "cutoff": (p.cutoff_type, p.cutoff_alpha) == (p0.cutoff_type, p0.cutoff_alpha),
            "units": (p.length_unit, p.energy_unit) == (p0.length_unit, p0.energy_unit),
        }
        if normalisation:
            checks.update({
                "scaling mode": (p.scaling_mode, p.scale_min, p.scale_max)
                == (p0.scaling_mode, p0.scale_min, p0.scale_max),
                "scaling statistics": all(
                    _same(getattr(p.scaling[e], f), getattr(p0.scaling[e], f))
                    for e in p0.elements for f in ("gmin", "gmax", "gmean", "gsigma")),
                "normalisation": p.normalized == p0.normalized and _same(
                    [p.mean_energy, p.conv_energy, p.conv_length],
                    [p0.mean_energy, p0.conv_energy, p0.conv_length]),
                "reference energies": _same([p.atom_energy.get(e, 0.0) for e in p0.elements],
                                            [p0.atom_energy.get(e, 0.0) for e in p0.elements]),
                "network depth and activations": all(
                    p.networks[e].activations == p0.networks[e].activations
                    and len(p.networks[e].layer_sizes) == len(p0.networks[e].layer_sizes)
                    for e in p0.elements),
            })
        elif p.normalized and not _same(p.conv_length, p0.conv_length):
            checks["length normalisation"] = False
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            what = "only members sharing all but their weights merge" if normalisation else \
                "a committee's members must share their symmetry functions"
            raise ValueError(f"committee: member {m} differs from member 1 in {', '.join(bad)}; {what}")


def merge_committee(members: list[Potential]) -> Potential:
    """One n2p2 potential whose energies and forces are the mean of ``members``' (exactly, up to
    rounding). The members must share elements, symmetry functions, cutoff, scaling statistics
    and mode, reference energies, normalisation and activations (as members trained on one
    training set with one SF set do); they may differ in hidden-layer widths, not depth."""
    if not members:
        raise ValueError("merge_committee: no members")
    p0 = members[0]
    if len(members) == 1:
        return p0.copy()
    for m, p in enumerate(members, start=1):
        if p.normalize_nodes:
            raise ValueError(f"merge_committee: member {m} uses normalize_nodes, which divides by "
                             "the layer width that merging changes; it cannot be merged")
        for e in p.elements:
            if not p.networks[e].activations.endswith("l"):
                raise ValueError(f"merge_committee: member {m}'s {e} network has a non-linear "
                                 "output; the mean of such outputs is not one network")
    try:
        check_members(members)
    except ValueError as exc:
        raise ValueError(str(exc).replace("committee:", "merge_committee:", 1)) from None
    M = len(members)
    nets = {}
    for e in p0.elements:
        per = [p.networks[e].layers() for p in members]
        depth = len(per[0])
        merged = []
        for i in range(depth):
            if i == depth - 1 == 0:     # no hidden layers: the mean of linear maps
                W = np.mean([L[0][0] for L in per], axis=0)
                b = np.array([np.mean([float(L[0][1][0]) for L in per])])
            elif i == depth - 1:  # the output neuron: the mean of the members' outputs
                W = np.concatenate([L[i][0] for L in per], axis=1) / M
                b = np.array([sum(float(L[i][1][0]) for L in per) / M])
            elif i == 0:          # every member reads the same inputs: stack the rows
                W = np.concatenate([L[0][0] for L in per], axis=0)
                b = np.concatenate([L[0][1] for L in per])
            else:                 # each member's neurons feed only its own next layer
                shapes = [L[i][0].shape for L in per]
                W = np.zeros((sum(r for r, _ in shapes), sum(c for _, c in shapes)))
                r = c = 0
                for L in per:
                    w = L[i][0]
                    W[r:r + w.shape[0], c:c + w.shape[1]] = w
                    r, c = r + w.shape[0], c + w.shape[1]
                b = np.concatenate([L[i][1] for L in per])
            merged.append((W, b))
        sizes = [p0.networks[e].layer_sizes[0]] + [W.shape[0] for W, _ in merged]
        nets[e] = ElementNetwork(sizes, p0.networks[e].activations,
                                 ElementNetwork.flatten(merged))
    out = p0.copy()
    out.networks = nets
    out.input_nn_text = None      # the widths changed: input.nn is regenerated on writing
    out.source = None
    return out
