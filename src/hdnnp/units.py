"""Unit constants. Inside hdnnp everything is eV and Å; conversions happen in readers/writers only."""

#: 1 Bohr in Å (CODATA 2018, as used by n2p2 examples and the mlearn conversion).
BOHR = 0.529177210903
#: 1 Hartree in eV (CODATA 2018).
HARTREE = 27.211386245988
#: 1 kcal/mol in eV.
KCAL_PER_MOL = 4184.0 / (6.02214076e23 * 1.602176634e-19)
#: 1 kbar in eV/Å^3.
KBAR = 1e8 / 1.602176634e-19 / 1e30

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
