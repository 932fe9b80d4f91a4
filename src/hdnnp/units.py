"""Unit constants, and the checks that warn when a potential or a structure file looks like it is in the
other unit system. Inside hdnnp everything is eV and Å; conversions happen in readers/writers only."""

import numpy as np

#: 1 Bohr in Å (CODATA 2018, as used by n2p2 examples and the mlearn conversion).
BOHR = 0.529177210903
#: 1 Hartree in eV (CODATA 2018).
HARTREE = 27.211386245988
#: 1 kcal/mol in eV.
KCAL_PER_MOL = 4184.0 / (6.02214076e23 * 1.602176634e-19)
#: 1 kbar in eV/Å^3.
KBAR = 1e8 / 1.602176634e-19 / 1e30
#: Boltzmann's constant in eV/K.
KB_EV = 8.617333262e-5
#: Planck's constant in eV per THz.
H_EV_THZ = 4.135667696e-3
#: e²/(4πε0) in eV·Å.
COULOMB = 14.399645

LENGTH_UNITS = {"angstrom": 1.0, "bohr": BOHR}
ENERGY_UNITS = {"ev": 1.0, "hartree": HARTREE}


def length_factor(name: str) -> float:
    """Å per unit of ``name`` ('angstrom' or 'bohr')."""
    try:
        return LENGTH_UNITS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown length unit {name!r}; use one of {sorted(LENGTH_UNITS)}") from None


def energy_factor(name: str) -> float:
    """eV per unit of ``name`` ('ev' or 'hartree')."""
    try:
        return ENERGY_UNITS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown energy unit {name!r}; use one of {sorted(ENERGY_UNITS)}") from None


class UnitsWarning(UserWarning):
    """The units given (or assumed) for a potential or a structure file look like the other system."""


#: the command-line flags that set the units of a potential folder and of structure files
POTENTIAL_FLAGS = ("--potential-length-unit", "--potential-energy-unit")
DATA_FLAGS = ("--data-length-unit", "--data-energy-unit")


def potential_units_hint(cutoff_angstrom: float, length_unit: str) -> str | None:
    """A warning when a potential's cutoff, read in ``length_unit``, looks like the other unit system
    (n2p2 cutoffs are 4–8 Å, i.e. 8–15 Bohr)."""
    if length_unit == "angstrom" and cutoff_angstrom > 9.0:
        return (f"the potential's cutoff is {cutoff_angstrom:.4g} Å if its files are in Å, which is unusually long: "
                f"n2p2 files carry no units, and this looks like a potential in Bohr (and often Hartree). If so, "
                f"pass {POTENTIAL_FLAGS[0]} bohr {POTENTIAL_FLAGS[1]} hartree (Python: length_unit='bohr', "
                "energy_unit='hartree'), or write the units into a UNITS file in the folder ('bohr hartree')")
    if length_unit == "bohr" and cutoff_angstrom < 3.0:
        return (f"the potential's cutoff is {cutoff_angstrom:.4g} Å with its files read in Bohr, which is unusually "
                f"short: if the files are in Å, pass {POTENTIAL_FLAGS[0]} angstrom")
    return None


def structure_units_hint(structures, max_structures: int = 20) -> str | None:
    """A warning when structures' nearest-neighbour distances look like the other length unit: the
    closest pair of each structure against the sum of the two atoms' covalent radii is about 0.8–1.3
    for real structures, about 1.9 times that for Bohr read as Å and about half for Å read as Bohr."""
    from ase.data import covalent_radii

    from .neighbours import neighbour_list

    ratios = []
    for s in list(structures)[:max_structures]:
        if s.natoms < 2:
            continue
        nl = neighbour_list(s, 8.0)
        if not len(nl.i):
            continue
        r = nl.distances / (covalent_radii[s.numbers[nl.i]] + covalent_radii[s.numbers[nl.j]])
        ratios.append(float(r.min()))
    if not ratios:
        return None
    med = float(np.median(ratios))
    if med > 1.65:
        return (f"the closest atoms are {med:.2f} times the sum of their covalent radii (typically 0.8–1.3): the "
                f"positions look like Bohr read as Å; if so, pass {DATA_FLAGS[0]} bohr (and {DATA_FLAGS[1]} "
                "hartree if the energies are in Hartree)")
    if med < 0.6:
        return (f"the closest atoms are {med:.2f} times the sum of their covalent radii (typically 0.8–1.3): the "
                f"positions look like Å read as Bohr; if so, pass {DATA_FLAGS[0]} angstrom")
    return None


def energy_units_hint(predicted_per_atom, reference_per_atom) -> str | None:
    """A warning when predicted and reference energies differ by the Hartree/eV factor."""
    p = np.asarray(predicted_per_atom, float)
    r = np.asarray(reference_per_atom, float)
    if len(p) < 3 or np.std(r) == 0 or np.std(p) == 0:
        return None
    slope = float(np.polyfit(r, p, 1)[0])
    for factor, which in ((HARTREE, "larger"), (1.0 / HARTREE, "smaller")):
        if abs(slope / factor - 1.0) < 0.15:
            return (f"the predicted energies vary {HARTREE:.1f} times {which} than the reference energies: one of "
                    f"them is in Hartree and read as eV. Pass {POTENTIAL_FLAGS[1]} hartree (potential files) or "
                    f"{DATA_FLAGS[1]} hartree (structure file), whichever is in Hartree")
    return None
