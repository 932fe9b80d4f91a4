"""``symmetry_functions: auto`` in the training config: generate + select on the training split,
recorded in the run folder; clear errors for too little data or a missing element."""
import pytest
import yaml

from hdnnp.errors import InputError
from hdnnp.training import config_from_dict, load_config, train
from test_train import cfg_dict, quiet, tiny  # noqa: F401 (fixture)


def test_auto_symmetry_functions_are_chosen_and_recorded(tiny, tmp_path):  # noqa: F811
    d = cfg_dict(tiny, tmp_path / "run", "adam", epochs=1)
    d["model"]["symmetry_functions"] = "auto"
    cfg = config_from_dict(d)
    assert cfg.model.symmetry_functions.auto is not None
    res = train(cfg, log=quiet)
    run = tmp_path / "run"
    report = yaml.safe_load((run / "sf_selection.yaml").read_text())
    assert report["requested"]["budget"] == 32
    resolved = load_config(run / "config.yaml")
    sf = resolved.model.symmetry_functions
    assert sf.auto is None and 0 < len(sf.lines) <= 32      # the chosen set, ready to repeat the run
    assert sf.lines == list(report["lines"])
    assert res["errors"]["test"]["force_rmse"] > 0
    text = (run / "potential" / "input.nn").read_text()
    assert text.count("symfunction_short") == len(sf.lines)


def test_auto_budget_and_errors(tiny, tmp_path):  # noqa: F811
    d = cfg_dict(tiny, tmp_path / "run", "adam", epochs=0)
    d["model"]["symmetry_functions"] = {"auto": {"budget": 0}}
    with pytest.raises(InputError, match="symmetry_functions.auto.budget"):
        config_from_dict(d)
    d["model"]["symmetry_functions"] = {"auto": {"zetas": [1, 4]}}
    assert config_from_dict(d).model.symmetry_functions.auto.zetas == [1.0, 4.0]
    d["model"]["symmetry_functions"] = {"auto": {}, "lines": ["Si 2 Si 0.1 0 5"]}
    with pytest.raises(InputError, match="exactly one of"):
        config_from_dict(d)
    # an element the data lacks
    d = cfg_dict(tiny, tmp_path / "run2", "adam", epochs=0)
    d["model"]["symmetry_functions"] = "auto"
    d["model"]["elements"] = ["Si", "O"]
    with pytest.raises(InputError, match="O"):
        train(config_from_dict(d), log=quiet)
    # too little data for the requested budget
    d = cfg_dict(tiny, tmp_path / "run3", "adam", epochs=0)
    d["model"]["symmetry_functions"] = {"auto": {"budget": 100000}}
    with pytest.raises(InputError):
        train(config_from_dict(d), log=quiet)


def test_auto_grid_and_scaling_keys(tiny, tmp_path):  # noqa: F811
    d = cfg_dict(tiny, tmp_path / "run", "adam", epochs=0)
    d["model"]["symmetry_functions"] = {"auto": {"grid": "systematic", "scaling": "std", "budget": 6}}
    a = config_from_dict(d).model.symmetry_functions.auto
    assert (a.grid, a.scaling) == ("systematic", "std")
    assert config_from_dict({**d, "model": {**d["model"], "symmetry_functions": "auto"}}
                            ).model.symmetry_functions.auto.grid == "adaptive"
    assert a.min_radial == 0.5
    for key, bad in (("grid", "random"), ("scaling", "minmax"), ("min_radial", 1.5)):
        d["model"]["symmetry_functions"] = {"auto": {key: bad}}
        with pytest.raises(InputError, match=f"symmetry_functions.auto.{key}"):
            config_from_dict(d)
