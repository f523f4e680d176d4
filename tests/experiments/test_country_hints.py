"""A country named in words where the profile has ISO codes is answered with its code."""

from __future__ import annotations

import re

import pytest

from experiments.cli import main
from experiments.config import ConfigError, parse_config
from experiments.engine.checks import check_experiment

from .conftest import shipped_data


@pytest.mark.parametrize("where, change, expected", [
    ("reference", lambda d: d["audit"]["reference"].update(
        nationality="Mexico"), "'MEX'"),
    ("audit.focus[0].group", lambda d: d["audit"]["focus"][0].update(group="Haiti"), "'HTI'"),
    ("audit.focus[0].group", lambda d: d["audit"]["focus"][0].update(group="HTX"), "'HTI'"),
])
def test_a_country_name_is_answered_with_its_code(where, change, expected):
    data = shipped_data("detention_rca", 5_000)
    change(data)
    with pytest.raises(ConfigError, match=re.escape(where) + r".*did you mean " + expected):
        check_experiment(parse_config(data, "x.toml"), "x.toml")


def test_validate_suggests_the_code_in_one_line(tmp_path, capsys):
    path = tmp_path / "mx.toml"
    path.write_text('base = "detention-rca"\n[audit.reference]\nnationality = "Mexico"\n',
                    encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "did you mean 'MEX'? (groups are ISO 3166 codes: Mexico is MEX)" in error
