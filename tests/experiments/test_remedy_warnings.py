"""A remedy that closes a gap by acting on far fewer people says so, in every system's report."""

from __future__ import annotations

import pandas as pd

from experiments.cli import main
from experiments.reports.remedies import acts_on_far_fewer, far_fewer_warning


def _overall(base: float, remedied: float) -> pd.DataFrame:
    return pd.DataFrame({"kind": ["overall"], "view": ["true"], "metric": ["selection_rate"],
                         "base": [base], "remedied": [remedied]})


def test_a_selection_rate_cut_by_more_than_half_is_warned_of():
    assert acts_on_far_fewer(0.05, 0.005)
    assert not acts_on_far_fewer(0.05, 0.03)
    assert not acts_on_far_fewer(0.0, 0.0)
    warning = far_fewer_warning(_overall(0.05, 0.005), "flagged for investigation")
    assert "5.0% to 0.5%" in warning and "far fewer people" in warning
    assert far_fewer_warning(_overall(0.05, 0.04), "flagged") == ""


def test_the_terminal_says_remedies_ran(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "immigration-os", "--size", "4000", "--remedy", "raise_capacity",
                 "--no-attribution", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Remedies run: raise_capacity" in printed
    # ImmigrationOS's recorded label is read off its own features; the report says so.
    from experiments.systems.immigration_os import LABEL_NOTE

    report = " ".join((out / "report.md").read_text(encoding="utf-8").split())
    assert " ".join(LABEL_NOTE.split()) in report


def test_immigration_os_label_is_a_function_of_three_features():
    from synthetic.population.generate import generate
    from synthetic.systems.immigration_os import NUMERIC_FEATURES, recorded_priority

    people = generate("us_visa_holders", 5_000, seed=3,
                      mechanisms={"label_bias": {"strength": 1.0, "targets": ["MEX"]}}).people
    assert {"recorded_gang_affiliation", "recorded_overstay"} <= set(NUMERIC_FEATURES)
    serious = people["recorded_criminal_record"].cat.codes.to_numpy() == 2
    implied = (serious | people["recorded_gang_affiliation"].to_numpy(bool)
               | people["recorded_overstay"].to_numpy(bool))
    assert (recorded_priority(people) == implied).all()
