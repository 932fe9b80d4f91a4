"""Atom-centred descriptors (n2p2 symmetry functions)."""
from .symmetry_functions import (ATOMIC_NUMBERS, SUPPORTED_TYPES, Descriptors, SymmetryFunction,
                                 SymmetryFunctionSet, compute_descriptors)

__all__ = ["ATOMIC_NUMBERS", "SUPPORTED_TYPES", "Descriptors", "SymmetryFunction", "SymmetryFunctionSet",
           "compute_descriptors"]

# Generation and selection live in .generate and .selection (imported on use: they pull in scipy).
