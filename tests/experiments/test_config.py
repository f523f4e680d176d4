"""Experiment files: every problem reported by the key's full path, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.cli import main
from experiments.config import ConfigError, builtin_experiments, load_config, parse_config
from experiments.engine.checks import check_experiment
from tests.experiments.conftest import immigration_os_data


def test_shipped_experiments_are_valid():
    assert "immigration-os" in builtin_experiments()
    for name in builtin_experiments():
        config, path = load_config(name)
        check_experiment(config, path.name)


def test_unknown_key_names_path_and_suggests():
    data = immigration_os_data()
    data["system"]["capacityy"] = 0.1
    with pytest.raises(ConfigError,
                       match=r"system\.capacityy: unknown key; did you mean 'capacity'"):
        parse_config(data)


def test_unknown_top_level_key_suggests():
    data = immigration_os_data()
    data["populaton"] = {}
    with pytest.raises(ConfigError, match=r"populaton: unknown key; did you mean 'population'"):
        parse_config(data)


def test_wrong_type_names_path():
    data = immigration_os_data(**{"population.size": "lots"})
    with pytest.raises(ConfigError, match=r"population\.size: .*'lots'"):
        parse_config(data)


def test_out_of_range_capacity_names_path():
    data = immigration_os_data(**{"system.capacity": 1.5})
    with pytest.raises(ConfigError,
                       match=r"system\.capacity: input should be less than or equal to 1"):
        parse_config(data)


def test_out_of_range_strength_is_reported_before_work():
    data = immigration_os_data(**{"mechanisms.label_bias.strength": 99.0})
    with pytest.raises(ConfigError, match=r"mechanisms\.label_bias\.strength: 99 is out of "
                                          r"range; allowed range is \[0, 5\]"):
        parse_config(data)


def test_unknown_mechanism_lists_known_ones():
    data = immigration_os_data()
    data["mechanisms"]["label_biass"] = {"strength": 1.0, "targets": ["MEX"]}
    with pytest.raises(ConfigError, match=r"mechanisms\.label_biass: unknown mechanism; "
                                          r"did you mean 'label_bias'\? \(known: "):
        parse_config(data)


def test_unknown_grouping_column_is_named():
    data = immigration_os_data(**{"audit.groupings": [["nationalty"]]})
    with pytest.raises(ConfigError, match=r"audit\.groupings\.0: unknown column 'nationalty'"):
        check_experiment(parse_config(data))


def test_unknown_counterfactual_value_lists_values():
    data = immigration_os_data(**{"counterfactual.interventions": [
        {"attribute": "nationality", "value": "XXX"}]})
    with pytest.raises(ConfigError, match=r"interventions\.0\.value: 'XXX' is not a nationality"):
        check_experiment(parse_config(data))


def test_validate_command_reports_bad_file_in_one_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[experiment]\nname = "x"\ntitle = "x"\nsystem = "immigration_os"\n'
                    'seed = 1\n[population]\nprofile = "us_visa_holders"\nsize = -5\n'
                    '[audit]\ngroupings = [["nationality"]]\n')
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "population.size: input should be greater than 0" in err[0]


def test_validate_command_accepts_shipped_experiment(capsys):
    assert main(["validate", "immigration-os"]) == 0
    assert "valid" in capsys.readouterr().out


def test_run_unknown_experiment_suggests(capsys):
    assert main(["run", "immigration-oss"]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'immigration-oss'; did you mean 'immigration-os'?" in err


def test_experiments_command_lists_flagship(capsys):
    assert main(["experiments"]) == 0
    assert "immigration-os" in capsys.readouterr().out


def _sweep_file(tmp_path, **sweep: object) -> str:
    """A sweep on the shipped capacity sweep, with some [sweep] or grid keys changed."""
    import tomllib

    data = tomllib.loads((_SWEEPS / "capacity.toml").read_text())
    data.setdefault("sweep", {}).update(sweep)
    path = tmp_path / "my_sweep.toml"
    path.write_text(_toml(data))
    return str(path)


def _toml(data: dict, prefix: str = "") -> str:
    """Minimal TOML writer for plain tables of scalars, lists and nested tables."""
    import json

    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{json.dumps(key)} = {json.dumps(value)}")
    text = ""
    if prefix and lines:
        text += f"[{prefix}]\n"
    text += "".join(line + "\n" for line in lines)
    for key, value in tables:
        text += _toml(value, f"{prefix}.{json.dumps(key)}" if prefix else json.dumps(key))
    return text


_SWEEPS = Path(__file__).resolve().parents[2] / "experiments" / "catalogue" / "sweeps"


@pytest.mark.parametrize(("sweep", "message"), [
    ({"grid": {"mechanisms.label_bias.strenght": [1.0]}},
     "mechanisms.label_bias.strenght: unknown key"),
    ({"grid": {"mechanisms.label_bias.strength": [7.0]}}, "is out of range"),
    ({"focus_group": "Nigeria"}, "sweep.focus_group: 'Nigeria' is not a region_of_origin"),
    ({"focus_metric": "fnr_rate"}, "sweep.focus_metric: 'fnr_rate' is not a rate"),
])
def test_validate_refuses_a_broken_sweep_in_one_line_before_any_work(tmp_path, capsys, sweep,
                                                                     message):
    assert main(["validate", _sweep_file(tmp_path, **sweep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_validate_counts_the_points_of_a_sweep(tmp_path, capsys):
    assert main(["validate", _sweep_file(tmp_path, seeds=[1, 2])]) == 0
    out = capsys.readouterr().out
    assert "sweep: 10 points (5 grid combinations × 2 seeds), every point valid" in out


def test_validate_refuses_a_built_in_answer_without_a_comparison_named_in_advance(tmp_path,
                                                                                 capsys):
    path = tmp_path / "unfocused.toml"
    path.write_text('base = "capacity"\n[audit]\nfocus = []\n[sweep]\nfocus_group = ""\n')
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("sweep.focus_group: sweep.answer = 'capacity' follows one "
                              "comparison; name its group here (or in [[audit.focus]])") in err[0]


def test_validate_show_prints_the_merged_experiment_as_toml(tmp_path, capsys):
    import tomllib

    from experiments.config import read_experiment_data

    path = tmp_path / "child.toml"
    path.write_text('base = "capacity"\n[population]\nsize = 5000\n[sweep]\nseeds = [4, 5]\n')
    assert main(["validate", str(path), "--show"]) == 0
    out = capsys.readouterr().out
    merged = tomllib.loads(out)  # the verdict lines are TOML comments
    assert merged == read_experiment_data(path)
    assert merged["population"]["size"] == 5000 and merged["sweep"]["seeds"] == [4, 5]
    assert merged["experiment"]["system"] == "immigration_os"  # from the base's base
    assert merged["sweep"]["grid"]["system.capacity"] == [0.01, 0.02, 0.05, 0.1, 0.2]
    assert "base" not in merged and out.startswith(f"# {path}: valid")
    assert "# sweep: 10 points" in out
