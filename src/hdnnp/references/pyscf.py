"""PySCF (PyPI ``pyscf``; NMR with ``pyscf-properties``): Hartree–Fock and DFT for molecules.

``{code: pyscf, method: rhf, basis: 6-31g*}`` or ``{method: rks, xc: b3lyp}``. Energy and analytic
forces; ``nmr: true`` adds GIAO NMR shielding tensors (ppm, per atom, as the per-atom property
``shielding``, shape (N, 3, 3)) — RHF only: with pyscf 2.14 and pyscf-properties 0.1.0 the RKS (DFT)
NMR path fails on an assertion inside ``pyscf/dft/numint.py``, so asking for DFT NMR is refused at
the edge. The RHF path also breaks with pyscf 2.14 as shipped (its CPHF solver hands the response
function one field direction at a time, while pyscf-properties reshapes to three); hdnnp works
around it by giving the NMR object its own response function (``_giao_response``), which accepts
any number of directions. A closed-shell molecule is assumed unless ``spin`` (2S) is set (then UHF/UKS).
``charges: mulliken`` adds Mulliken charges (e) as ``charges``.

Units: PySCF works in Hartree and Bohr; results are converted to eV, eV/Å. Energy convention: total
electronic + nuclear-repulsion energy (not relative to isolated atoms). Molecules only.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..units import BOHR, HARTREE
from ._base import Code, Result

METHODS = ("rhf", "rks")


def check(settings: dict) -> None:
    if settings["method"] not in METHODS:
        raise InputError(f"method {settings['method']!r} is not one of {', '.join(METHODS)}", key="reference.method")
    if settings["nmr"] and (settings["method"] != "rhf" or settings["spin"]):
        raise InputError("NMR shieldings work with method rhf and spin 0 only (the DFT NMR path of "
                         "pyscf-properties 0.1.0 fails inside pyscf 2.14)", key="reference.nmr")
    if settings["charges"] not in ("", "mulliken"):
        raise InputError("charges must be '' or 'mulliken'", key="reference.charges")


def _giao_response(mf):
    """The first-order response for GIAO CPHF, for any number of field directions at once."""
    from pyscf import lib

    vresp = mf.gen_response(singlet=True, hermi=2)
    c = mf.mo_coeff
    orbo = c[:, mf.mo_occ > 0]
    nmo, nocc = c.shape[1], orbo.shape[1]

    def vind(mo1):
        mo1 = np.asarray(mo1)
        x = mo1.reshape(-1, nmo, nocc)
        dm1 = np.einsum("pi,xij,qj->xpq", c, 2.0 * x, orbo.conj())
        dm1 = dm1 - dm1.conj().transpose(0, 2, 1)
        v1 = lib.einsum("xpq,pi,qj->xij", vresp(dm1), c.conj(), orbo)
        return v1.reshape(mo1.shape)
    return vind


def compute(settings: dict, structure) -> Result:
    if structure.is_periodic:
        raise ValueError("the pyscf reference labels molecules only (the structure is periodic)")
    from pyscf import dft, gto, scf

    atom = [(s, tuple(p)) for s, p in zip(structure.symbols, structure.positions)]
    mol = gto.M(atom=atom, basis=settings["basis"], charge=int(round(structure.charge)),
                spin=int(settings["spin"]), unit="Angstrom", verbose=0)
    if settings["method"] == "rhf":
        mf = scf.RHF(mol) if not settings["spin"] else scf.UHF(mol)
    else:
        mf = dft.RKS(mol) if not settings["spin"] else dft.UKS(mol)
        mf.xc = settings["xc"]
    mf.conv_tol = float(settings["conv_tol"])
    mf.max_cycle = int(settings["max_cycle"])
    e = mf.kernel()
    if not mf.converged:
        raise RuntimeError(f"SCF not converged in {settings['max_cycle']} cycles")
    grad = mf.nuc_grad_method().kernel()
    res = Result(energy=float(e) * HARTREE, forces=-np.asarray(grad) * HARTREE / BOHR)
    if settings["nmr"]:
        import warnings
        with warnings.catch_warnings():      # pyscf.prop announces every module it imports as "under testing"
            warnings.simplefilter("ignore", UserWarning)
            from pyscf.prop import nmr
        obj = nmr.RHF(mf)
        obj.cphf = _giao_response(mf)
        obj.verbose = 0
        res.atom_properties["shielding"] = np.asarray(obj.kernel(), dtype=float).reshape(structure.natoms, 3, 3)
    if settings["charges"] == "mulliken":
        res.atom_properties["charges"] = np.asarray(mf.mulliken_pop(verbose=0)[1], dtype=float)
    return res


CODE = Code(
    name="pyscf",
    summary="PySCF Hartree–Fock / DFT for molecules: energy, forces, GIAO NMR shieldings (RHF)",
    settings={
        "method": ("rhf", "rhf or rks"),
        "xc": ("b3lyp", "functional for rks"),
        "basis": ("6-31g*", "Gaussian basis set"),
        "spin": (0, "2S (number of unpaired electrons); non-zero uses UHF/UKS"),
        "conv_tol": (1e-9, "SCF energy tolerance in Hartree"),
        "max_cycle": (100, "SCF cycles before the calculation counts as failed"),
        "nmr": (False, "add GIAO shielding tensors (ppm) as 'shielding' (rhf only)"),
        "charges": ("", "'mulliken' to add Mulliken charges"),
    },
    compute=compute,
    check=check,
    module="pyscf",
    install="pip install 'hdnnp[references]' (or pip install pyscf pyscf-properties)",
    units="eV, eV/Å (converted from Hartree, Bohr); shielding in ppm; charges in e",
    energy_convention="total energy (electronic + nuclear repulsion), not relative to isolated atoms",
    periodic=False,
    takes_charge=True,
)
