"""Sweep contrasts: each grid value against the first, paired by seed, and the trend per unit;
the sentences that answer with them, and country names in the sweep report."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments.sweeps.contrasts import (
    CONTRAST_COLUMNS,
    Focus,
    contrast_sentence,
    sweep_contrasts,
)
from experiments.sweeps.runner import run_sweep
from tests.experiments.conftest import immigration_os_data

KNOB = "mechanisms.label_bias.strength"


@pytest.fixture(scope="module")
def label_bias_sweep(tmp_path_factory):
    """Three seeds at label bias 0 and 3, no knob worlds, a nationality focus (MEX vs IND)."""
    data = immigration_os_data(**{"population.size": 3000, "audit.n_boot": 50,
                                  "counterfactual.interventions": []})
    data["sweep"] = {"seeds": [1, 2, 3], "grid": {KNOB: [0.0, 3.0]}, "attribution": False,
                     "focus_grouping": "nationality", "focus_group": "MEX",
                     "focus_metric": "fpr"}
    return run_sweep(data, Path("contrasts.toml"), tmp_path_factory.mktemp("c") / "s", jobs=3)


def _hand(tidy: pd.DataFrame, grouping: str, group: str, metric: str, view: str, gap: str
          ) -> tuple[float, float, float, int]:
    rows = tidy[(tidy["grouping"] == grouping) & (tidy["group"].astype(str) == group)
                & (tidy["metric"] == metric) & (tidy["view"] == view)]
    values = rows.pivot(index="seed", columns=KNOB, values=gap).astype(float)
    if gap == "ratio":
        values = np.log(values)
    change = (values[3.0] - values[0.0]).to_numpy()
    n = len(change)
    half = stats.t.ppf(0.975, n - 1) * change.std(ddof=1) / math.sqrt(n)
    return change.mean(), change.mean() - half, change.mean() + half, n


def test_contrasts_agree_with_a_hand_computation_from_sweep_metrics(label_bias_sweep):
    directory = label_bias_sweep.directory
    tidy = pd.read_csv(directory / "sweep_metrics.csv", keep_default_na=False,
                       na_values=[""], dtype={"group": str})
    table = pd.read_csv(directory / "sweep_contrasts.csv", keep_default_na=False,
                        na_values=[""], dtype={"group": str, "from_value": str,
                                               "to_value": str})
    assert list(table.columns) == list(CONTRAST_COLUMNS)
    checked = 0
    for grouping, group in (("nationality", "MEX"),
                            ("region_of_origin", "Latin America and Caribbean")):
        for view in ("true", "recorded"):
            for gap in ("difference", "ratio"):
                row = table[(table["grouping"] == grouping) & (table["group"] == group)
                            & (table["metric"] == "fpr") & (table["view"] == view)
                            & (table["gap"] == gap) & (table["kind"] == "contrast")]
                assert len(row) == 1
                row = row.iloc[0]
                change, low, high, n = _hand(tidy, grouping, group, "fpr", view, gap)
                if not math.isfinite(change):
                    assert math.isnan(row["change"]) and "undefined" in row["flags"]
                    continue
                assert (row["from_value"], row["to_value"]) == ("0", "3")
                assert row["n_seeds"] == n == 3 and row["method"] == "paired_t"
                assert row["change"] == pytest.approx(change, abs=1e-9)
                assert row["ci_low"] == pytest.approx(low, abs=1e-9)
                assert row["ci_high"] == pytest.approx(high, abs=1e-9)
                assert row["scale"] == ("log" if gap == "ratio" else "proportion")
                # With two grid values the slope per unit is the change over the step.
                trend = table[(table["grouping"] == grouping) & (table["group"] == group)
                              & (table["metric"] == "fpr") & (table["view"] == view)
                              & (table["gap"] == gap) & (table["kind"] == "trend_per_unit")]
                assert trend.iloc[0]["change"] == pytest.approx(change / 3.0, abs=1e-9)
                checked += 1
    assert checked >= 4  # a ratio of 0 in some seed is left undefined, as checked above


def test_the_answer_is_one_sentence_per_focus_comparison_with_names(label_bias_sweep):
    findings = label_bias_sweep.findings
    # the sweep's focus and the experiment's two [[audit.focus]] comparisons
    assert len(findings) == 3
    first = findings[0]
    assert first.startswith("Mexico against India (false positive rate): raising label bias "
                            "from 0 to 3 ")
    assert "points (" in first and "by the truth" in first and "by the records" in first
    report = (label_bias_sweep.directory / "sweep_report.md").read_text(encoding="utf-8")
    for sentence in findings:
        assert f"- {sentence}" in report
    assert "### Mexico against India" in report
    assert "MEX" not in report.split("## Held fixed")[0]  # codes named in the answer
    assert "MEX against" not in report and "against IND" not in report
    html = (label_bias_sweep.directory / "sweep_report.html").read_text(encoding="utf-8")
    assert "Mexico against India" in html and "MEX against" not in html
    assert (label_bias_sweep.directory / "figures" / "sweep_mechanisms_label_bias_strength.png"
            ).is_file()


def _tidy(changes: dict[int, tuple[float, float]], se: float = 0.01) -> pd.DataFrame:
    """A hand-made sweep_metrics table: one focus, view true, gaps per (seed, value)."""
    z = stats.norm.ppf(0.975)
    rows = []
    for seed, (at_zero, at_one) in changes.items():
        for value, gap in ((0.0, at_zero), (1.0, at_one)):
            rows.append({"point": f"p{value}-s{seed}", "k": value, "seed": seed, "view": "true",
                         "grouping": "nationality", "group": "MEX", "metric": "fpr",
                         "reference": "IND", "difference": gap, "diff_ci_low": gap - z * se,
                         "diff_ci_high": gap + z * se, "ratio": 1 + gap,
                         "ratio_ci_low": (1 + gap) * 0.9, "ratio_ci_high": (1 + gap) / 0.9})
    return pd.DataFrame(rows)


def test_one_seed_falls_back_to_the_runs_own_intervals_as_if_independent():
    table = sweep_contrasts(_tidy({7: (0.02, 0.05)}), {"k": [0.0, 1.0]},
                            [Focus("nationality", "MEX", ("fpr",))])
    row = table[(table["gap"] == "difference") & (table["kind"] == "contrast")].iloc[0]
    half = stats.norm.ppf(0.975) * math.sqrt(2) * 0.01
    assert row["change"] == pytest.approx(0.03)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.03 - half, 0.03 + half))
    assert row["method"] == "one_seed_independent" and "one_seed" in row["flags"]


def test_a_seed_with_an_undefined_gap_leaves_the_change_undefined():
    table = sweep_contrasts(_tidy({1: (0.02, 0.05), 2: (0.01, float("nan")), 3: (0.0, 0.04)}),
                            {"k": [0.0, 1.0]}, [Focus("nationality", "MEX", ("fpr",))])
    row = table[(table["gap"] == "difference") & (table["kind"] == "contrast")].iloc[0]
    assert math.isnan(row["change"]) and row["flags"] == "undefined"
    sentence = contrast_sentence("MEX against IND", "false positive rate",
                                 table[(table["gap"] == "difference")
                                       & (table["kind"] == "contrast")])
    assert "cannot be estimated by the truth" in sentence


def test_sentence_words_narrowing_and_no_change():
    table = sweep_contrasts(_tidy({1: (0.10, 0.06), 2: (0.11, 0.05), 3: (0.09, 0.06)}),
                            {"k": [0.0, 1.0]}, [Focus("nationality", "MEX", ("fpr",))])
    rows = table[(table["gap"] == "difference") & (table["kind"] == "contrast")]
    sentence = contrast_sentence("Mexico against India", "false positive rate", rows)
    assert sentence.startswith("Mexico against India (false positive rate): raising k from 0 "
                               "to 1 narrows the gap by 4.3 points (")
    assert "cannot be told from no change" not in sentence
