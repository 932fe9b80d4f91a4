"""The label store: every reference calculation, the moment it finishes, as one row of an ASE database
(SQLite, ``ase.db``) — readable with ``ase db labels.db`` and ``ase.db.connect``.

A row is keyed by ``label_key`` = (reference settings hash)-(structure hash): asking again for a label
that exists returns it without recomputing. A failed or unconverged calculation is a row too
(``status='failed'`` and the ``error`` message), so a rerun neither repeats it (unless asked) nor
loses it. Columns (key-value pairs): ``label_key``, ``status``, ``reference`` (preset or file name),
``reference_key``, ``code``, ``structure_key``, ``error``, ``elapsed`` (s), ``total_charge`` (e),
``source``/``source_index`` (where the structure came from) and ``group``. Row data: the complete
reference ``settings``, per-atom properties (``atom_properties``) and ``info``. Energies, forces
and stress are ASE's own columns (eV, eV/Å, eV/Å³).

One process writes (the one that hands out the work); each write is committed on its own, so an
interrupted run keeps everything written before it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError
from ..references import Reference, Result, structure_key
from ..structures import Structure, stress_matrix

__all__ = ["LabelStore", "label_key"]


def label_key(reference: Reference, structure: Structure) -> str:
    return f"{reference.key}-{structure_key(structure)}"


class LabelStore:
    """An ``ase.db`` SQLite file of labels. ``path`` is created when missing."""

    def __init__(self, path):
        import ase.db

        self.path = Path(path)
        if self.path.suffix != ".db":
            raise InputError("a label store is an ASE SQLite database and its name must end in .db", file=str(path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        import time
        for attempt in range(20):
            try:
                self.db = ase.db.connect(str(self.path), type="db", append=True)
                self._index = {row.label_key: row.id for row in self.db.select(include_data=False)
                               if "label_key" in row}
                break
            except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file, or one another process is creating
                if attempt == 19:
                    raise InputError(f"cannot open the label store: {exc}", file=str(path)) from None
                time.sleep(0.1)      # another process may be writing the new database's tables right now

    # -- reading -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def keys(self) -> list[str]:
        return list(self._index)

    def get(self, key: str) -> Result | None:
        """The stored result for ``key`` (ok or failed), or None."""
        rid = self._index.get(key)
        if rid is None:
            return None
        return _result(self.db.get(id=rid))

    def rows(self, *, reference: Reference | None = None, status: str | None = None):
        sel = {}
        if reference is not None:
            sel["reference_key"] = reference.key
        if status is not None:
            sel["status"] = status
        return self.db.select(**sel)

    def structures(self, *, reference: Reference | None = None) -> Iterator[Structure]:
        """Every successful label (of ``reference``, if given) as a labelled Structure."""
        for row in self.rows(reference=reference, status="ok"):
            yield row_structure(row, str(self.path))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.db.select(include_data=False):
            out[row.get("status", "?")] = out.get(row.get("status", "?"), 0) + 1
        return out

    # -- writing -------------------------------------------------------------------------------
    def put(self, key: str, structure: Structure, reference: Reference, result: Result) -> None:
        """Write one label now (replacing an earlier row with the same key)."""
        from ase.calculators.singlepoint import SinglePointCalculator

        atoms = structure.to_ase()
        atoms.calc = None
        for name in list(atoms.arrays):
            if name not in ("numbers", "positions"):
                del atoms.arrays[name]
        atoms.info = {}
        if result.ok:
            kw = {"energy": result.energy}
            if result.forces is not None:
                kw["forces"] = result.forces
            if result.stress is not None:
                s = result.stress
                kw["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
            atoms.calc = SinglePointCalculator(atoms, **kw)
        kvp = {"label_key": key, "status": result.status, "reference": reference.name or reference.code,
               "reference_key": reference.key, "code": reference.code,
               "structure_key": key.split("-", 1)[1], "elapsed": float(result.elapsed),
               "total_charge": float(structure.charge)}
        if result.error:
            kvp["error"] = result.error[:2000]
        if structure.source:
            kvp["source"] = str(structure.source)
        if structure.index is not None:
            kvp["source_index"] = int(structure.index)
        group = structure.info.get("group", structure.info.get("config_type"))
        if isinstance(group, str) and group:
            kvp["group"] = group
        data = {"settings": reference.settings,
                "atom_properties": {k: np.asarray(v) for k, v in result.atom_properties.items()},
                "info": json.loads(json.dumps(result.info, default=str))}
        old = self._index.get(key)
        if old is not None:
            self.db.delete([old])
        self._index[key] = self.db.write(atoms, key_value_pairs=kvp, data=data)


def _result(row) -> Result:
    if row.get("status") != "ok":
        return Result(status="failed", error=row.get("error", "failed"), elapsed=row.get("elapsed", 0.0))
    stress = row.get("stress")
    data = row.data or {}
    return Result(energy=float(row.energy), forces=row.get("forces"),
                  stress=None if stress is None else stress_matrix(stress),
                  atom_properties={k: np.asarray(v) for k, v in data.get("atom_properties", {}).items()},
                  info=dict(data.get("info", {})), elapsed=row.get("elapsed", 0.0))


def row_structure(row, path: str = "<store>") -> Structure:
    """A labelled Structure from a store row (provenance kept in ``info``)."""
    atoms = row.toatoms()
    res = _result(row)
    s = Structure(numbers=atoms.numbers, positions=atoms.positions, cell=np.array(atoms.cell[:]),
                  pbc=atoms.pbc, charge=row.get("total_charge", 0.0), source=path, index=row.id - 1)
    s = res.apply(s)
    s.info["label_key"] = row.label_key
    s.info["reference"] = row.get("reference", "")
    if "group" in row:
        s.info["group"] = row.group
    return s
