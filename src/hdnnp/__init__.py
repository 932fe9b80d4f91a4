"""hdnnp — high-dimensional neural network potentials (Behler–Parrinello / n2p2-compatible).

Pipeline: readers → Structure/Batch → neighbour list → symmetry functions (compiled) →
per-element networks → energy → forces/stress. Units inside: eV and Å.
"""
import os as _os

# idle OpenMP threads sleep instead of spinning (they fight other work for the cores otherwise; see
# hdnnp.threads); set before torch or any OpenMP runtime is loaded, unless the user chose a policy
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .errors import HDNNPError, InputError, UnsupportedFeatureError  # noqa: E402
from .structures import Batch, Structure  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Structure", "Batch", "HDNNPError", "InputError", "UnsupportedFeatureError", "__version__"]
