"""The model layer: n2p2 potential folders, per-element networks, scaling and normalisation."""
from .n2p2 import (ElementNetwork, ElementScaling, Keyword, Potential, read_potential,
                   write_potential)

__all__ = ["ElementNetwork", "ElementScaling", "Keyword", "Potential", "read_potential",
           "write_potential"]
