"""``hdnnp data info`` and ``hdnnp data convert``."""
from __future__ import annotations

import pytest

from conftest import require_shared
from hdnnp import io as hio
from hdnnp.cli.main import main
from test_io_errors import GOOD
from test_io_roundtrip import assert_identical


def test_info_n2p2(tmp_path, capsys):
    p = tmp_path / "input.data"
    p.write_text(GOOD)
    assert main(["data", "info", str(p)]) == 0
    out = capsys.readouterr().out
    assert "format        n2p2" in out
    assert "structures    2 (1 periodic, 1 non-periodic)" in out
    assert "H (4 atoms), O (2 atoms)" in out
    assert "min 3, median 3, max 3" in out
    assert "energy 2/2, forces 2/2" in out and "charges" in out
    assert "-4.73333 … -4.7 eV/atom" in out
    assert "-0.3 … 0.3 eV/Å" in out


def test_info_shared_sets(capsys):
    files = [require_shared("data", "mlearn", "Si", "test.json"), require_shared("data", "rmd17"),
             require_shared("data", "water-deepmd", "data")]
    rmd = files[1] / "rmd17_ethanol_test_01.npz"
    assert main(["data", "info", str(files[0]), str(rmd), str(files[2])]) == 0
    out = capsys.readouterr().out
    assert "format        mlearn" in out and "stress 25/25" in out
    assert "format        npz" in out and "structures    1000 (0 periodic, 1000 non-periodic)" in out
    assert "format        deepmd" in out and "structures    400" in out


def test_convert_n2p2_bohr_to_extxyz_and_back(tmp_path, capsys):
    src = require_shared("data", "water-n2p2", "input.data")
    xyz = tmp_path / "water.xyz"
    back = tmp_path / "back.data"
    assert main(["data", "convert", str(src), str(xyz), "--in-length-unit", "bohr",
                 "--in-energy-unit", "hartree"]) == 0
    assert main(["data", "convert", str(xyz), str(back), "--out-length-unit", "bohr",
                 "--out-energy-unit", "hartree"]) == 0
    assert "wrote 20 structures" in capsys.readouterr().err
    a = hio.read(src, length_unit="bohr", energy_unit="hartree")
    assert_identical(a, hio.read(xyz))
    assert_identical(a, hio.read(back, length_unit="bohr", energy_unit="hartree"))


def test_convert_xsf_archive_explicit_format(tmp_path):
    src = require_shared("data", "tio2-aenet", "dir_xsf.tar.gz")
    out = tmp_path / "tio2.out"
    assert main(["data", "convert", str(src), str(out), "--out-format", "extxyz"]) == 0
    s = hio.read(out, "extxyz")
    assert len(s) == 1000 and s[0].energy == hio.read(src)[0].energy


def test_cli_errors_are_clean(tmp_path, capsys):
    p = tmp_path / "input.data"
    p.write_text(GOOD.replace("atom 0.96 0.0 0.0 H 0.4", "atom 0.96 zz 0.0 H 0.4", 1))
    assert main(["data", "info", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hdnnp: error: ") and f"{p}:7" in err and "Traceback" not in err
    assert main(["data", "convert", str(tmp_path / "nope.xyz"), str(tmp_path / "x.xyz")]) == 2
    assert "no such file" in capsys.readouterr().err
    q = tmp_path / "ok.data"
    q.write_text(GOOD)
    assert main(["data", "convert", str(q), str(tmp_path / "x.cif")]) == 2
    assert "cannot tell the output format" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["data", "--help"], ["data", "info", "--help"], ["data", "convert", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "n2p2" in out and "deepmd" in out and "bohr" in out


def test_data_without_action_prints_help(capsys):
    assert main(["data"]) == 1
    assert "info" in capsys.readouterr().out


def test_info_on_embedded_example(capsys):
    from hdnnp.cli.main import main
    assert main(["data", "info", "--example", "si"]) == 0
    out = capsys.readouterr().out
    assert "mlearn" in out and "214" in out and "Si" in out


def test_info_without_files_is_a_clear_error(capsys):
    from hdnnp.cli.main import main
    assert main(["data", "info"]) == 2
    assert "--example" in capsys.readouterr().err
