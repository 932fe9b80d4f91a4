"""n2p2 atom-centred symmetry functions: definitions, input.nn parsing, n2p2's sorted order, and
computation (compiled kernels in ``csrc/hdnnp/symmetry_functions.hpp``).

Element indices: ``SymmetryFunctionSet.elements`` is n2p2's element map, i.e. the elements of the
``elements`` keyword sorted by atomic number. Neighbour element indices passed to the C++ kernels
(``SymFuncParams.e1/e2``, ``neigh_elem``) are indices into that list.

Units: parameters are used as written in input.nn, positions must be in the same length unit
(n2p2's ``conv_length`` normalisation rescales both consistently, leaving G unchanged).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from ase.data import atomic_numbers as _ase_atomic_numbers

from ..errors import InputError, UnsupportedFeatureError

__all__ = ["SymmetryFunction", "SymmetryFunctionSet", "Descriptors", "compute_descriptors",
           "ATOMIC_NUMBERS", "SUPPORTED_TYPES"]

#: element symbol -> atomic number (ASE's table, without the dummy "X")
ATOMIC_NUMBERS = {s: z for s, z in _ase_atomic_numbers.items() if z > 0}

SUPPORTED_TYPES = (2, 3, 9, 12, 13, 20, 21, 22, 23, 24, 25)
_GAUSSIAN = (2, 3, 9, 12, 13)
_COMPACT = (20, 21, 22, 23, 24, 25)
_WEIGHTED = (12, 13, 23, 24, 25)
_RADIAL = (2, 12, 20, 23)

# Subtype codes of the C++ kernels (SymFuncSubtype).
_SUBTYPE_ASYM = 8


def _subtype_code(subtype: str) -> int | None:
    """n2p2's accepted compact subtypes: p1..p4, p1a..p4a, and e (exponential core)."""
    if not 1 <= len(subtype) <= 3:
        return None
    if subtype[0] == "p":
        if len(subtype) < 2 or subtype[1] not in "1234":
            return None
        code = int(subtype[1])
        if len(subtype) == 3:
            if subtype[2] != "a":
                return None
            code |= _SUBTYPE_ASYM
        return code
    if subtype[0] == "e":
        return 5
    return None


@dataclass(frozen=True)
class SymmetryFunction:
    """One ``symfunction_short`` line. Unused parameters are 0 (numbers) or None/"" (elements, subtype).

    ``e1``/``e2`` are the neighbour elements as written in input.nn (for the angular types n2p2
    treats the pair as unordered). ``angle_left``/``angle_right`` are in degrees.
    """

    type: int
    element: str
    e1: str | None = None
    e2: str | None = None
    eta: float = 0.0
    rs: float = 0.0
    lambda_: float = 0.0
    zeta: float = 0.0
    rc: float = 0.0
    rl: float = 0.0
    angle_left: float = 0.0
    angle_right: float = 0.0
    subtype: str = ""
    cutoff_type: int = 2
    cutoff_alpha: float = 0.0
    line: int | None = None
    tokens: tuple[str, ...] = field(default=(), compare=False)

    @property
    def neighbours(self) -> tuple[str, ...]:
        return tuple(e for e in (self.e1, self.e2) if e is not None)

    @property
    def is_angular(self) -> bool:
        return self.type not in _RADIAL

    @property
    def cutoff(self) -> float:
        return self.rc

    def to_n2p2_line(self) -> str:
        """The input.nn line (original tokens when parsed from a file)."""
        if self.tokens:
            return "symfunction_short " + " ".join(self.tokens)
        t, el = self.type, self.element
        g = repr
        if t == 2:
            parts = [el, 2, self.e1, g(self.eta), g(self.rs), g(self.rc)]
        elif t in (3, 9):
            parts = [el, t, self.e1, self.e2, g(self.eta), g(self.lambda_), g(self.zeta), g(self.rc), g(self.rs)]
        elif t == 12:
            parts = [el, 12, g(self.eta), g(self.rs), g(self.rc)]
        elif t == 13:
            parts = [el, 13, g(self.eta), g(self.rs), g(self.lambda_), g(self.zeta), g(self.rc)]
        elif t == 20:
            parts = [el, 20, self.e1, g(self.rl), g(self.rc), self.subtype]
        elif t in (21, 22):
            parts = [el, t, self.e1, self.e2, g(self.rl), g(self.rc), g(self.angle_left), g(self.angle_right),
                     self.subtype]
        elif t == 23:
            parts = [el, 23, g(self.rl), g(self.rc), self.subtype]
        else:
            parts = [el, t, g(self.rl), g(self.rc), g(self.angle_left), g(self.angle_right), self.subtype]
        return "symfunction_short " + " ".join(str(p) for p in parts)


def _sort_key(sf: SymmetryFunction, eindex: dict[str, int]):
    """n2p2's SymFnc ordering (per central element): type first, then the type's own criteria.

    Element comparisons use n2p2's element index (element list sorted by atomic number); for the
    angular types the neighbour pair is ordered so that e1 <= e2 first.
    """
    t = sf.type
    e1 = eindex[sf.e1] if sf.e1 is not None else -1
    e2 = eindex[sf.e2] if sf.e2 is not None else -1
    if sf.is_angular and e1 > e2:
        e1, e2 = e2, e1
    ct = (sf.cutoff_type, sf.cutoff_alpha, sf.rc)
    if t == 2:
        k = ct + (sf.eta, sf.rs, e1)
    elif t in (3, 9):
        k = ct + (sf.eta, sf.rs, sf.zeta, sf.lambda_, e1, e2)
    elif t == 12:
        k = ct + (sf.eta, sf.rs)
    elif t == 13:
        k = ct + (sf.eta, sf.rs, sf.zeta, sf.lambda_)
    elif t == 20:
        k = (sf.subtype, e1, sf.rc, sf.rl)
    elif t in (21, 22):
        k = (sf.subtype, e1, e2, sf.rc, sf.rl, sf.angle_left, sf.angle_right)
    elif t == 23:
        k = (sf.subtype, sf.rc, sf.rl)
    else:  # 24, 25
        k = (sf.subtype, sf.rc, sf.rl, sf.angle_left, sf.angle_right)
    return (t,) + k


def _strip_comment(tokens: Sequence[str]) -> list[str]:
    out = []
    for tok in tokens:
        if tok.startswith("#"):
            break
        if "#" in tok:
            out.append(tok.split("#", 1)[0])
            break
        out.append(tok)
    return [t for t in out if t]


class SymmetryFunctionSet:
    """All symmetry functions of a potential, per central element in n2p2's sorted order."""

    def __init__(self, elements: Sequence[str], functions: Iterable[SymmetryFunction]):
        for el in elements:
            if el not in ATOMIC_NUMBERS:
                raise InputError(f"unknown element symbol {el!r}")
        # n2p2's element map: sorted by atomic number.
        self.elements: tuple[str, ...] = tuple(sorted(dict.fromkeys(elements), key=ATOMIC_NUMBERS.__getitem__))
        self.atomic_numbers: tuple[int, ...] = tuple(ATOMIC_NUMBERS[e] for e in self.elements)
        self._eindex = {e: i for i, e in enumerate(self.elements)}
        self.functions: tuple[SymmetryFunction, ...] = tuple(functions)  # input order
        per: dict[str, list[SymmetryFunction]] = {e: [] for e in self.elements}
        for sf in self.functions:
            per[sf.element].append(sf)
        self._sorted = {
            e: tuple(sorted(v, key=lambda s: (_sort_key(s, self._eindex), s.line if s.line is not None else 0)))
            for e, v in per.items()}
        self._cpp: dict[str, object] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_n2p2_lines(cls, elements: Sequence[str], lines: Sequence[tuple[int, Sequence[str]]],
                        cutoff_type: int, cutoff_alpha: float = 0.0, file: str | None = None
                        ) -> "SymmetryFunctionSet":
        """Build from ``symfunction_short`` lines: ``lines`` = [(line_number, tokens after the keyword)]."""
        elements = list(elements)
        try:
            cutoff_type = int(cutoff_type)
            cutoff_alpha = float(cutoff_alpha)
        except (TypeError, ValueError) as exc:
            raise InputError(f"invalid cutoff_type/alpha: {exc}", file=file) from None
        if not 0 <= cutoff_type <= 8:
            raise InputError(f"cutoff_type {cutoff_type} is not one of n2p2's types 0-8", file=file)
        if not 0.0 <= cutoff_alpha < 1.0:
            raise InputError(f"cutoff alpha {cutoff_alpha} must satisfy 0 <= alpha < 1", file=file)
        for el in elements:
            if el not in ATOMIC_NUMBERS:
                raise InputError(f"unknown element symbol {el!r} in 'elements'", file=file)
        funcs = [_parse_line(ln, toks, set(elements), cutoff_type, cutoff_alpha, file) for ln, toks in lines]
        return cls(elements, funcs)

    @classmethod
    def from_input_nn(cls, path: str | Path) -> "SymmetryFunctionSet":
        """Minimal scan of an input.nn for ``elements``, ``cutoff_type`` and ``symfunction_short``."""
        path = Path(path)
        elements = None
        ct, alpha = None, 0.0
        lines = []
        ct_line = None
        for ln, raw in enumerate(path.read_text().splitlines(), start=1):
            toks = _strip_comment(raw.split())
            if not toks:
                continue
            key = toks[0]
            if key == "elements":
                elements = toks[1:]
            elif key == "cutoff_type":
                ct_line = ln
                if len(toks) < 2:
                    raise InputError("cutoff_type needs a value", file=str(path), line=ln)
                try:
                    ct = int(toks[1])
                    alpha = float(toks[2]) if len(toks) > 2 else 0.0
                except ValueError:
                    raise InputError(f"invalid cutoff_type line: {' '.join(toks[1:])}", file=str(path),
                                     line=ln) from None
            elif key in ("symfunction_short", "symfunction"):  # n2p2 accepts both spellings
                lines.append((ln, toks[1:]))
        if elements is None:
            raise InputError("no 'elements' keyword", file=str(path))
        if ct is None:
            raise InputError("no 'cutoff_type' keyword", file=str(path))
        if not 0 <= ct <= 8 or not 0.0 <= alpha < 1.0:
            raise InputError(f"invalid cutoff_type {ct} / alpha {alpha}", file=str(path), line=ct_line)
        return cls.from_n2p2_lines(elements, lines, ct, alpha, file=str(path))

    # ------------------------------------------------------------------ access
    def for_element(self, element: str) -> tuple[SymmetryFunction, ...]:
        """The SFs of a central element in n2p2's sorted order (= NN input order)."""
        return self._sorted[element]

    def __len__(self) -> int:
        return len(self.functions)

    @property
    def max_cutoff(self) -> float:
        return max((sf.rc for sf in self.functions), default=0.0)

    def cutoff_for_element(self, element: str) -> float:
        return max((sf.rc for sf in self._sorted[element]), default=0.0)

    def to_n2p2_lines(self) -> list[str]:
        """``symfunction_short`` lines in the original input order (original tokens kept)."""
        return [sf.to_n2p2_line() for sf in self.functions]

    def element_index(self, element: str) -> int:
        return self._eindex[element]

    # ------------------------------------------------------------------ compiled kernels
    def param_table(self, element: str) -> np.ndarray:
        """(nsf, 14) table for the C++ ``ElementDescriptor`` (columns: type, subtype, e1, e2, eta, rs,
        lambda, zeta, rc, rl, angle_left, angle_right, cutoff_type, cutoff_alpha)."""
        rows = []
        for sf in self._sorted[element]:
            e1 = self._eindex[sf.e1] if sf.e1 is not None else -1
            e2 = self._eindex[sf.e2] if sf.e2 is not None else -1
            sub = _subtype_code(sf.subtype) if sf.type in _COMPACT else 0
            rows.append([sf.type, sub, e1, e2, sf.eta, sf.rs, sf.lambda_, sf.zeta, sf.rc, sf.rl,
                         sf.angle_left, sf.angle_right, sf.cutoff_type, sf.cutoff_alpha])
        return np.asarray(rows, dtype=np.float64).reshape(-1, 14)

    def cpp_descriptor(self, element: str):
        """The compiled ``hdnnp._core.ElementDescriptor`` of one central element (cached)."""
        d = self._cpp.get(element)
        if d is None:
            from .. import _core
            d = _core.ElementDescriptor(self.param_table(element), len(self.elements), list(self.atomic_numbers))
            self._cpp[element] = d
        return d

    def __repr__(self) -> str:
        counts = ", ".join(f"{e}: {len(self._sorted[e])}" for e in self.elements)
        return f"SymmetryFunctionSet({counts}; max_cutoff={self.max_cutoff})"


def _num(tok: str, what: str, ln, file) -> float:
    try:
        v = float(tok.replace("D", "E").replace("d", "e")) if re.fullmatch(r"[-+0-9.eEdD]+", tok) else float(tok)
    except ValueError:
        raise InputError(f"symfunction_short: {what} must be a number, got {tok!r}", file=file, line=ln) from None
    if not math.isfinite(v):
        raise InputError(f"symfunction_short: {what} must be finite, got {tok!r}", file=file, line=ln)
    return v


_NTOK = {2: 6, 3: 8, 9: 8, 12: 5, 13: 7, 20: 6, 21: 9, 22: 9, 23: 5, 24: 7, 25: 7}
_FORMS = {
    2: "<el> 2 <e1> <eta> <rs> <rc>",
    3: "<el> 3 <e1> <e2> <eta> <lambda> <zeta> <rc> [<rs>]",
    9: "<el> 9 <e1> <e2> <eta> <lambda> <zeta> <rc> [<rs>]",
    12: "<el> 12 <eta> <rs> <rc>",
    13: "<el> 13 <eta> <rs> <lambda> <zeta> <rc>",
    20: "<el> 20 <e1> <rl> <rc> <subtype>",
    21: "<el> 21 <e1> <e2> <rl> <rc> <angle_left> <angle_right> <subtype>",
    22: "<el> 22 <e1> <e2> <rl> <rc> <angle_left> <angle_right> <subtype>",
    23: "<el> 23 <rl> <rc> <subtype>",
    24: "<el> 24 <rl> <rc> <angle_left> <angle_right> <subtype>",
    25: "<el> 25 <rl> <rc> <angle_left> <angle_right> <subtype>",
}


def _parse_line(ln, tokens, elements: set[str], cutoff_type: int, cutoff_alpha: float, file) -> SymmetryFunction:
    toks = _strip_comment(list(tokens))
    if len(toks) < 2:
        raise InputError("symfunction_short needs at least an element and a type", file=file, line=ln)
    el = toks[0]
    if el not in elements:
        raise InputError(f"symfunction_short: central element {el!r} is not in 'elements'", file=file, line=ln)
    try:
        t = int(toks[1])
    except ValueError:
        raise InputError(f"symfunction_short: type must be an integer, got {toks[1]!r}", file=file, line=ln) from None
    if t not in SUPPORTED_TYPES:
        raise UnsupportedFeatureError(
            f"{file or 'input.nn'}:{ln}: symmetry function type {t} is not supported "
            f"(supported: {', '.join(map(str, SUPPORTED_TYPES))})")
    if len(toks) < _NTOK[t]:
        raise InputError(f"symfunction_short type {t} needs {_NTOK[t]} fields ({_FORMS[t]}), got {len(toks)}",
                         file=file, line=ln)

    def elem(tok, what):
        if tok not in elements:
            raise InputError(f"symfunction_short: {what} {tok!r} is not in 'elements'", file=file, line=ln)
        return tok

    def num(i, what):
        return _num(toks[i], what, ln, file)

    kw = dict(type=t, element=el, line=ln, tokens=tuple(toks), cutoff_type=cutoff_type, cutoff_alpha=cutoff_alpha)
    if t == 2:
        kw.update(e1=elem(toks[2], "neighbour element"), eta=num(3, "eta"), rs=num(4, "rs"), rc=num(5, "rc"))
    elif t in (3, 9):
        kw.update(e1=elem(toks[2], "neighbour element 1"), e2=elem(toks[3], "neighbour element 2"),
                  eta=num(4, "eta"), lambda_=num(5, "lambda"), zeta=num(6, "zeta"), rc=num(7, "rc"),
                  rs=num(8, "rs") if len(toks) > 8 else 0.0)
    elif t == 12:
        kw.update(eta=num(2, "eta"), rs=num(3, "rs"), rc=num(4, "rc"))
    elif t == 13:
        kw.update(eta=num(2, "eta"), rs=num(3, "rs"), lambda_=num(4, "lambda"), zeta=num(5, "zeta"), rc=num(6, "rc"))
    elif t == 20:
        kw.update(e1=elem(toks[2], "neighbour element"), rl=num(3, "rl"), rc=num(4, "rc"), subtype=toks[5])
    elif t in (21, 22):
        kw.update(e1=elem(toks[2], "neighbour element 1"), e2=elem(toks[3], "neighbour element 2"),
                  rl=num(4, "rl"), rc=num(5, "rc"), angle_left=num(6, "angle_left"),
                  angle_right=num(7, "angle_right"), subtype=toks[8])
    elif t == 23:
        kw.update(rl=num(2, "rl"), rc=num(3, "rc"), subtype=toks[4])
    else:
        kw.update(rl=num(2, "rl"), rc=num(3, "rc"), angle_left=num(4, "angle_left"),
                  angle_right=num(5, "angle_right"), subtype=toks[6])
    sf = SymmetryFunction(**kw)
    # Validation (n2p2's own checks, plus what the kernels need).
    if not sf.rc > 0.0:
        raise InputError(f"symfunction_short: cutoff radius must be > 0, got {sf.rc}", file=file, line=ln)
    if t in _GAUSSIAN and sf.eta < 0.0:
        raise InputError(f"symfunction_short: eta must be >= 0, got {sf.eta}", file=file, line=ln)
    if t in _COMPACT:
        if _subtype_code(sf.subtype) is None:
            raise InputError(f"symfunction_short: invalid compact subtype {sf.subtype!r} "
                             "(n2p2 accepts p1-p4, p1a-p4a, e)", file=file, line=ln)
        if not sf.rl < sf.rc:
            raise InputError(f"symfunction_short: lower radial boundary rl={sf.rl} must be < rc={sf.rc}",
                             file=file, line=ln)
        if sf.is_angular:
            al, ar = sf.angle_left, sf.angle_right
            if not al < ar:
                raise InputError("symfunction_short: left angle boundary must be < right angle boundary",
                                 file=file, line=ln)
            centre = (al + ar) / 2.0
            if (al < 0.0 and centre != 0.0) or (ar > 180.0 and centre != 180.0):
                raise InputError("symfunction_short: angle boundary outside [0,180] needs the centre at 0 or 180",
                                 file=file, line=ln)
            if ar - al > 360.0:
                raise InputError("symfunction_short: angular function wider than 360 degrees", file=file, line=ln)
    return sf


# ---------------------------------------------------------------------- computation
@dataclass
class Descriptors:
    """Symmetry functions of one structure.

    ``G_flat[G_offsets[a]:G_offsets[a+1]]`` are atom a's SFs (n2p2 sorted order of its element).
    With derivatives, atom a's block ``dG(a)`` has shape (nsf_a, nneigh_a, 3):
    ``dG(a)[s, q] = dG_s / d r_{j}`` for the q-th neighbour pair of a, i.e. pair index
    ``p = neighbours.offsets[a] + q`` with neighbour atom ``neighbours.j[p]`` (an image if shifted);
    ``dG_s/dr_a = -sum_q dG(a)[s, q]``.
    """

    elements: tuple[str, ...]
    atom_elements: np.ndarray      # (N,) element index into ``elements``
    G_flat: np.ndarray
    G_offsets: np.ndarray
    neighbours: object             # hdnnp.neighbours.NeighbourList
    dG_flat: np.ndarray | None = None
    dG_offsets: np.ndarray | None = None

    def G(self, atom: int) -> np.ndarray:
        return self.G_flat[self.G_offsets[atom]:self.G_offsets[atom + 1]]

    def dG(self, atom: int) -> np.ndarray:
        if self.dG_flat is None:
            raise ValueError("descriptors were computed without derivatives")
        nsf = self.G_offsets[atom + 1] - self.G_offsets[atom]
        nn = self.neighbours.offsets[atom + 1] - self.neighbours.offsets[atom]
        return self.dG_flat[self.dG_offsets[atom]:self.dG_offsets[atom + 1]].reshape(nsf, nn, 3)

    def indices(self, element: str) -> np.ndarray:
        return np.nonzero(self.atom_elements == self.elements.index(element))[0]

    def by_element(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{element: (atom indices, G array (n_atoms_el, nsf_el))}."""
        out = {}
        for e, el in enumerate(self.elements):
            idx = np.nonzero(self.atom_elements == e)[0]
            if len(idx) == 0:
                out[el] = (idx, np.zeros((0, 0)))
                continue
            nsf = int(self.G_offsets[idx[0] + 1] - self.G_offsets[idx[0]])
            rows = self.G_offsets[idx][:, None] + np.arange(nsf)[None, :]
            out[el] = (idx, self.G_flat[rows])
        return out

    def gradient(self, dE_dG: Sequence[np.ndarray]) -> np.ndarray:
        """dE/dpositions (N, 3) for E = sum_a E_a(G_a), given dE_a/dG_a per atom (forces = -result)."""
        nl = self.neighbours
        n = len(self.atom_elements)
        grad = np.zeros((n, 3))
        for a in range(n):
            blk = self.dG(a)
            if blk.size == 0:
                continue
            v = np.einsum("s,sqc->qc", np.asarray(dE_dG[a], dtype=np.float64), blk)
            p0, p1 = nl.offsets[a], nl.offsets[a + 1]
            np.add.at(grad, nl.j[p0:p1], v)
            grad[a] -= v.sum(axis=0)
        return grad


def _element_indices(numbers, sfset: SymmetryFunctionSet) -> np.ndarray:
    arr = np.asarray(numbers)
    out = np.empty(len(arr), dtype=np.int32)
    zmap = {z: i for i, z in enumerate(sfset.atomic_numbers)}
    for a, x in enumerate(arr.tolist()):
        if isinstance(x, str):
            if x not in sfset._eindex:
                raise InputError(f"atom {a}: element {x!r} is not in the potential's elements {sfset.elements}")
            out[a] = sfset._eindex[x]
        else:
            if int(x) not in zmap:
                raise InputError(f"atom {a}: atomic number {x} is not in the potential's elements {sfset.elements}")
            out[a] = zmap[int(x)]
    return out


def compute_descriptors(positions, numbers, cell, pbc, sfset: SymmetryFunctionSet, derivatives: bool = False,
                        neighbours=None) -> Descriptors:
    """Symmetry functions (and optionally their derivatives) of every atom of one structure.

    ``numbers``: atomic numbers or element symbols. Positions/cell in the length unit of the SF
    parameters. The whole loop runs in C++ (one call per structure).
    """
    from .. import _core
    from ..neighbours import neighbour_list

    positions = np.ascontiguousarray(positions, dtype=np.float64).reshape(-1, 3)
    atom_elem = _element_indices(numbers, sfset)
    if len(atom_elem) != len(positions):
        raise InputError(f"{len(positions)} positions but {len(atom_elem)} element entries")
    if cell is None:
        cell = np.zeros((3, 3))
    if pbc is None:
        pbc = False
    if neighbours is None:
        neighbours = neighbour_list(positions, sfset.max_cutoff, cell, pbc)
    nl = neighbours
    descs = [sfset.cpp_descriptor(el) for el in sfset.elements]
    neigh_elem = np.ascontiguousarray(atom_elem[nl.j], dtype=np.int32)
    G, goff, dG, doff = _core.compute_descriptors_csr(
        descs, atom_elem, np.ascontiguousarray(nl.offsets, dtype=np.int64),
        np.ascontiguousarray(nl.vectors, dtype=np.float64).reshape(-1, 3), neigh_elem, bool(derivatives))
    return Descriptors(sfset.elements, atom_elem, G, goff, nl, dG if derivatives else None,
                       doff if derivatives else None)
