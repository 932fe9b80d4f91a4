"""Training data: structures -> cached symmetry functions and derivatives -> collated torch batches.

Descriptors are computed once per structure with the compiled kernels (``compute_descriptors``)
and kept in memory (optionally the derivatives in float32). When the estimated cache size exceeds
``max_cache_gb`` they are recomputed on the fly each time a structure is used instead.

Per structure and per central element ``e`` we keep
  ``G[e]``      (n_e, nsf_e)        raw SFs of the element-e atoms (n2p2 sorted order)
  ``atoms[e]``  (n_e,)              their atom indices
  ``pc[e]``     (P_e,)              row in ``G[e]`` of each pair's centre atom
  ``pi[e]``, ``pj[e]`` (P_e,)       centre and neighbour atom index of each pair
  ``vec[e]``    (P_e, 3)            r_j - r_i (Å)
  ``dG[e]``     (P_e, nsf_e, 3)     dG_centre/dr_neighbour
so that ``dE/dr = index_add(pj, v) - index_add(pi, v)`` with ``v_p = dE/dG[pc_p] · dG_p``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from ..descriptors import SymmetryFunctionSet, compute_descriptors
from ..errors import InputError
from ..structures import Structure


def convert_sf_units(sfset: SymmetryFunctionSet, length_factor: float) -> SymmetryFunctionSet:
    """The same SFs with lengths multiplied by ``length_factor`` (e.g. Bohr -> Å: 0.529...):
    r_c, r_s, r_l scale with L, the Gaussian exponent eta with 1/L²."""
    if length_factor == 1.0:
        return sfset
    L = float(length_factor)
    funcs = [dataclasses.replace(sf, eta=sf.eta / (L * L), rs=sf.rs * L, rc=sf.rc * L, rl=sf.rl * L,
                                 tokens=()) for sf in sfset.functions]
    return SymmetryFunctionSet(sfset.elements, funcs)


@dataclass
class CachedStructure:
    natoms: int
    elem: np.ndarray                # (N,) element index
    energy: float                   # eV (nan if absent)
    forces: np.ndarray | None       # (N, 3)
    stress: np.ndarray | None       # (3, 3)
    volume: float
    G: list                         # per element
    atoms: list
    pc: list
    pi: list
    pj: list
    vec: list
    dG: list

    def nbytes(self) -> int:
        return sum(a.nbytes for lst in (self.G, self.dG, self.vec) for a in lst)


def describe(s: Structure, sfset: SymmetryFunctionSet, elements: list[str], dtype=np.float64,
             derivatives: bool = True, charge_input: bool = False, charge_energy: float = 0.0) -> CachedStructure:
    """Symmetry functions and derivatives of one structure, regrouped per element and per pair.
    ``derivatives=False`` (per-atom property training alone) leaves every ``dG[e]`` empty, (0, nsf, 3).
    ``charge_input``: one more column, the structure's total charge, with zero derivatives; ``charge_energy``
    (eV per e): the energy kept is E − charge_energy · Q, the part of a charge-aware potential's energy its networks
    learn (:mod:`hdnnp.model.charge`)."""
    d = compute_descriptors(s.positions, s.numbers, s.cell, s.pbc, sfset, derivatives=derivatives)
    nl = d.neighbours
    elem = d.atom_elements.astype(np.int64)
    noff = np.asarray(nl.offsets, dtype=np.int64)
    nn = np.diff(noff)
    centre_elem = np.repeat(elem, nn)                   # element of each pair's centre atom, CSR order
    nj = np.asarray(nl.j, dtype=np.int64)
    nvec = np.asarray(nl.vectors, dtype=np.float64)
    G, atoms, pc, pi, pj, vec, dG = [], [], [], [], [], [], []
    for e, el in enumerate(elements):
        nsf = len(sfset.for_element(el))
        idx = np.nonzero(elem == e)[0]
        atoms.append(idx)
        if len(idx):
            rows = d.G_offsets[idx][:, None] + np.arange(nsf)[None, :]
            G.append(np.ascontiguousarray(d.G_flat[rows], dtype=np.float64))
        else:
            G.append(np.zeros((0, nsf)))
        counts = nn[idx]
        P = int(counts.sum())
        pc.append(np.repeat(np.arange(len(idx)), counts))
        pi.append(np.repeat(idx, counts))
        pair_ids = np.nonzero(centre_elem == e)[0]          # the pairs of these atoms, in atom order
        pj.append(nj[pair_ids])
        vec.append(nvec[pair_ids])
        blocks = np.empty((P if derivatives else 0, nsf, 3), dtype=dtype)
        if derivatives:
            q = 0
            for a, c in zip(idx.tolist(), counts.tolist()):
                if c:
                    blocks[q:q + c] = d.dG(a).transpose(1, 0, 2)
                    q += c
        if charge_input:
            G[-1] = np.hstack([G[-1], np.full((len(idx), 1), float(s.charge))])
            blocks = np.concatenate([blocks, np.zeros((blocks.shape[0], 1, 3), dtype)], axis=1)
        dG.append(blocks)
    vol = abs(float(np.linalg.det(s.cell))) if np.all(s.pbc) else 0.0
    energy = np.nan if s.energy is None else float(s.energy) - charge_energy * float(s.charge)
    return CachedStructure(len(elem), elem, energy,
                           None if s.forces is None else np.asarray(s.forces, np.float64),
                           None if s.stress is None else np.asarray(s.stress, np.float64),
                           vol, G, atoms, pc, pi, pj, vec, dG)


class DescriptorData:
    """A list of structures with their descriptors, cached (or computed on the fly)."""

    def __init__(self, structures: list[Structure], sfset: SymmetryFunctionSet, elements: list[str],
                 *, float32: bool = False, max_cache_gb: float = 8.0, progress=None, derivatives: bool = True,
                 charge_input: bool = False, charge_energy: float = 0.0):
        self.structures = structures
        self.derivatives = derivatives
        self.charge_input = charge_input
        self.charge_energy = float(charge_energy)
        self.sfset = sfset
        self.elements = list(elements)
        self.dtype = np.float32 if float32 else np.float64
        allowed = set(elements)
        for s in structures:
            bad = set(s.symbols) - allowed
            if bad:
                raise InputError(f"{s.where()}: element(s) {sorted(bad)} not in the model's "
                                 f"elements {self.elements}")
        self.cached = True
        self._cache: list[CachedStructure | None] = [None] * len(structures)
        if not structures:
            return
        # estimate from the first structure (bytes per atom) whether the cache fits
        first = describe(structures[0], sfset, self.elements, self.dtype, derivatives, charge_input,
                         self.charge_energy)
        per_atom = first.nbytes() / max(first.natoms, 1)
        total = per_atom * sum(s.natoms for s in structures)
        if total > max_cache_gb * 1e9:
            self.cached = False
            return
        self._cache[0] = first
        it = range(1, len(structures))
        if progress is not None:
            it = progress(it)
        for k in it:
            self._cache[k] = describe(structures[k], sfset, self.elements, self.dtype, derivatives, charge_input,
                                     self.charge_energy)

    def __len__(self) -> int:
        return len(self.structures)

    def __getitem__(self, k: int) -> CachedStructure:
        c = self._cache[k]
        if c is None:
            c = describe(self.structures[k], self.sfset, self.elements, self.dtype, self.derivatives,
                         self.charge_input, self.charge_energy)
        return c

    def nbytes(self) -> int:
        return sum(c.nbytes() for c in self._cache if c is not None)


@dataclass
class TorchBatch:
    """Collated structures as torch tensors (see the module docstring)."""
    n_structures: int
    natoms: torch.Tensor            # (S,)
    atom_struct: torch.Tensor       # (A,)
    G: list
    atoms: list
    pc: list
    pi: list
    pj: list
    vec: list
    dG: list
    pair_struct: list
    energy: torch.Tensor            # (S,) nan where absent
    forces: torch.Tensor            # (A, 3) nan where absent
    stress: torch.Tensor            # (S, 3, 3) nan where absent
    volume: torch.Tensor            # (S,)
    elem: torch.Tensor              # (A,)

    @property
    def n_atoms(self) -> int:
        return int(self.atom_struct.shape[0])


def collate(items: list[CachedStructure], n_elements: int, device="cpu",
            dtype=torch.float64) -> TorchBatch:
    offs = np.concatenate([[0], np.cumsum([c.natoms for c in items])]).astype(np.int64)

    def cat(lists, shift=None, dt=None):
        arrs = [(x + offs[k] if shift else x) for k, x in enumerate(lists)]
        a = np.concatenate(arrs) if arrs else np.zeros(0)
        t = torch.from_numpy(np.ascontiguousarray(a))
        return t.to(device=device, dtype=dt) if dt is not None else t.to(device)

    G, atoms, pc, pi, pj, vec, dG, ps = [], [], [], [], [], [], [], []
    for e in range(n_elements):
        G.append(cat([c.G[e] for c in items], dt=dtype))
        atoms.append(cat([c.atoms[e] for c in items], shift=True))
        # rows of the centre atoms in the concatenated G[e]
        rowoff = np.concatenate([[0], np.cumsum([len(c.atoms[e]) for c in items])])
        pc.append(cat([c.pc[e] + rowoff[k] for k, c in enumerate(items)]))
        pi.append(cat([c.pi[e] for c in items], shift=True))
        pj.append(cat([c.pj[e] for c in items], shift=True))
        vec.append(cat([c.vec[e] for c in items], dt=dtype))
        dG.append(cat([c.dG[e] for c in items], dt=dtype))
        ps.append(torch.from_numpy(np.concatenate(
            [np.full(len(c.pi[e]), k, np.int64) for k, c in enumerate(items)])).to(device))
    natoms = np.array([c.natoms for c in items], np.int64)
    forces = np.concatenate([c.forces if c.forces is not None else np.full((c.natoms, 3), np.nan)
                             for c in items])
    stress = np.array([c.stress if c.stress is not None else np.full((3, 3), np.nan)
                       for c in items]).reshape(-1, 3, 3)
    tt = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=dtype)  # noqa
    return TorchBatch(len(items), torch.from_numpy(natoms).to(device),
                      torch.from_numpy(np.repeat(np.arange(len(items)), natoms)).to(device),
                      G, atoms, pc, pi, pj, vec, dG, ps,
                      tt(np.array([c.energy for c in items])), tt(forces), tt(stress),
                      tt(np.array([c.volume for c in items])),
                      torch.from_numpy(np.concatenate([c.elem for c in items])).to(device))
