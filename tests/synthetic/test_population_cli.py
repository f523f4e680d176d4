"""The ``bias-audit population`` command: listing, writing files, and one-line errors."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from experiments.cli import main
from synthetic.population import generate
from tests.synthetic.helpers import assert_same_frame


def test_list_shows_each_profile_on_one_line(capsys):
    assert main(["population", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) >= 4
    assert any(line.startswith("southern_border_asylum ") for line in lines)


def test_writes_parquet_equal_to_the_library(tmp_path):
    out = tmp_path / "people.parquet"
    assert main(["population", "uk_visa_applicants", "--size", "2500", "--seed", "8",
                 "--out", str(out), "--quiet"]) == 0
    expected = generate("uk_visa_applicants", 2500, seed=8).people
    assert_same_frame(pd.read_parquet(out), expected)


def test_writes_csv_with_mechanisms_file(tmp_path):
    mechanisms = tmp_path / "bias.toml"
    mechanisms.write_text('[label_bias]\nstrength = 1.0\ntargets = ["HTI"]\n', encoding="utf-8")
    out = tmp_path / "people.csv"
    assert main(["population", "southern_border_asylum", "--size", "300", "--out", str(out),
                 "--mechanisms", str(mechanisms), "--quiet"]) == 0
    assert len(pd.read_csv(out)) == 300


def test_refuses_to_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "people.csv"
    out.write_text("keep me", encoding="utf-8")
    assert main(["population", "us_visa_holders", "--size", "10", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "keep me"
    assert main(["population", "us_visa_holders", "--size", "10", "--out", str(out),
                 "--force", "--quiet"]) == 0
    assert len(pd.read_csv(out)) == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--size", "5"], "unknown profile 'nope'; available profiles:"),
        (["us_visa_holders", "--size", "0"], "--size must be a positive whole number"),
        (["us_visa_holders", "--size", "-3"], "--size must be a positive whole number"),
        (["us_visa_holders", "--size", "5", "--mechanisms", "{bias}"],
         "unknown mechanism 'label_bais'"),
        (["us_visa_holders", "--size", "5", "--mechanisms", "{range}"],
         r"strength 7.0 is out of range; allowed range is \[0, 5\]"),
        (["us_visa_holders", "--size", "5", "--out", "{dir}/people.xlsx"], ".parquet or .csv"),
        (["us_visa_holders", "--out", "{dir}/p.csv"], "--size"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, args, message):
    bias = tmp_path / "bias.toml"
    bias.write_text("[label_bais]\nstrength = 1.0\n", encoding="utf-8")
    out_of_range = tmp_path / "range.toml"
    out_of_range.write_text('[label_bias]\nstrength = 7.0\ntargets = ["MEX"]\n', encoding="utf-8")
    args = [a.format(bias=bias, range=out_of_range, dir=tmp_path) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "people.csv")]
    assert main(["population", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.search(message, err)
    assert not (tmp_path / "people.csv").exists()
