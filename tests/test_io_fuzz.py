"""Fuzzing: random damage to valid input.data / extxyz text either still parses into valid, finite
structures or raises InputError (never another exception, never a NaN)."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from hdnnp import InputError
from hdnnp import io as hio
from test_io_errors import GOOD, XYZ

TOKENS = ["nan", "inf", "-inf", "1e400", "", "X", "Xx", "H", "begin", "end", "atom", "lattice", "energy",
          "charge", "0", "-", ".", "1.5D+00", "1_0", "0x10", '"', "=", "Lattice=", "Properties=", "pbc=",
          "-0.0", "999999", "2", "3", "\n", "  "]
CHARS = list("0123456789.-+eEnaifXH \n\t\"=:TF")

mutation = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("char"), st.floats(0, 1), st.sampled_from(CHARS)),
    st.tuples(st.just("token"), st.floats(0, 1), st.sampled_from(TOKENS)),
    st.tuples(st.just("dropline"), st.floats(0, 1)),
    st.tuples(st.just("dupline"), st.floats(0, 1)),
)


def _apply(text: str, muts) -> str:
    for m in muts:
        kind, where = m[0], m[1]
        if kind == "truncate":
            text = text[: int(where * len(text))]
        elif kind == "char" and text:
            k = min(int(where * len(text)), len(text) - 1)
            text = text[:k] + m[2] + text[k + 1:]
        elif kind == "token":
            toks = text.split(" ")
            k = min(int(where * len(toks)), len(toks) - 1)
            toks[k] = m[2]
            text = " ".join(toks)
        else:
            lines = text.split("\n")
            k = min(int(where * len(lines)), len(lines) - 1)
            if kind == "dropline":
                del lines[k]
            else:
                lines.insert(k, lines[k])
            text = "\n".join(lines)
    return text


def _check(path, fmt, **kw):
    try:
        structures = hio.read(path, fmt, **kw)
    except InputError as exc:
        assert str(path) in str(exc)
        return
    for s in structures:
        assert s.natoms > 0
        assert np.all(np.isfinite(s.positions)) and np.all(np.isfinite(s.cell))
        assert s.energy is None or np.isfinite(s.energy)
        assert s.forces is None or (s.forces.shape == (s.natoms, 3) and np.all(np.isfinite(s.forces)))
        assert s.stress is None or np.all(np.isfinite(s.stress))
        assert np.isfinite(s.charge)
        for v in s.atom_properties.values():
            assert v.shape[0] == s.natoms
            assert v.dtype.kind != "f" or np.all(np.isfinite(v))


FUZZ = settings(max_examples=int(__import__("os").environ.get("HDNNP_FUZZ", 250)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(muts=st.lists(mutation, min_size=1, max_size=4),
       units=st.sampled_from([{}, dict(length_unit="bohr", energy_unit="hartree")]))
def test_fuzz_n2p2(tmp_path, muts, units):
    p = tmp_path / "input.data"
    p.write_text(_apply(GOOD, muts))
    _check(p, "n2p2", **units)


@FUZZ
@given(muts=st.lists(mutation, min_size=1, max_size=4))
def test_fuzz_extxyz(tmp_path, muts):
    p = tmp_path / "a.xyz"
    p.write_text(_apply(XYZ, muts))
    _check(p, "extxyz")


@FUZZ
@given(muts=st.lists(mutation, min_size=1, max_size=3))
def test_fuzz_detect_and_read(tmp_path, muts):
    """Also through format detection (damaged files may look like another format)."""
    p = tmp_path / "input.data"
    p.write_text(_apply(GOOD, muts))
    try:
        fmt = hio.detect_format(p)
    except InputError:
        return
    _check(p, fmt)
