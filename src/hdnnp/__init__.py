"""hdnnp — high-dimensional neural network potentials (Behler–Parrinello / n2p2-compatible).

Pipeline: readers → Structure/Batch → neighbour list → symmetry functions (compiled) →
per-element networks → energy → forces/stress. Units inside: eV and Å.
"""
from .errors import HDNNPError, InputError, UnsupportedFeatureError
from .structures import Batch, Structure

__version__ = "0.1.0"
__all__ = ["Structure", "Batch", "HDNNPError", "InputError", "UnsupportedFeatureError", "__version__"]
