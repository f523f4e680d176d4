"""The fairlearn-style call: arrays in, ``by_group``/``overall``/``difference()``/``ratio()``/
``plot()`` out, agreeing with the table call and with fairlearn's MetricFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from audit import AuditInputError, audit
from tests.audit.tables import random_decisions

FAIRLEARN_METRICS = {"selection_rate": selection_rate, "fpr": false_positive_rate,
                     "fnr": false_negative_rate, "tpr": true_positive_rate,
                     "accuracy": accuracy_score}


def assert_same_rates(ours: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal to 1e-12 wherever a rate is defined; where nobody is in its denominator ours is
    NaN (undefined) and fairlearn's is 0 (its convention, with a warning)."""
    ours, expected = ours.to_numpy(float), expected.to_numpy(float)
    defined = ~np.isnan(ours)
    np.testing.assert_allclose(ours[defined], expected[defined], rtol=0, atol=1e-12)
    assert (~defined).any() and (expected[~defined] == 0).all()


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return random_decisions(seed=11, n_rows=3000)


@pytest.mark.parametrize("form", ["series", "arrays", "lists"])
def test_the_array_call_equals_the_frame_call(table, form):
    by_frame = audit(table, ["nationality", "sex"], "y", "d")
    if form == "series":
        by_arrays = audit(y_true=table["y"], y_pred=table["d"],
                          sensitive_features=table[["nationality", "sex"]])
    else:
        convert = np.asarray if form == "arrays" else list
        by_arrays = audit(y_true=convert(table["y"]), y_pred=convert(table["d"]),
                          sensitive_features={"nationality": convert(table["nationality"]),
                                              "sex": convert(table["sex"])})
    pd.testing.assert_frame_equal(by_arrays.table, by_frame.table)
    pd.testing.assert_frame_equal(by_arrays.summary, by_frame.summary)


def test_the_positional_frame_call_is_unchanged(table):
    positional = audit(table, "nationality", "y", "d", None, {"nationality": "BRA"})
    keyword = audit(frame=table, groups=["nationality"], y_true="y", y_pred="d",
                    reference={"nationality": "BRA"})
    pd.testing.assert_frame_equal(positional.table, keyword.table)
    assert set(positional.table["reference"]) == {"BRA"}


def test_a_shuffled_series_index_is_ignored_as_fairlearn_ignores_it(table):
    shuffled = table.set_index(np.random.default_rng(0).permutation(len(table)))
    by_position = audit(y_true=shuffled["y"], y_pred=shuffled["d"].to_numpy(),
                        sensitive_features=shuffled["nationality"])
    pd.testing.assert_frame_equal(by_position.table,
                                  audit(table, ["nationality"], "y", "d").table)


def test_by_group_equals_metricframe_for_one_feature(table):
    result = audit(y_true=table["y"], y_pred=table["d"], sensitive_features=table["nationality"])
    expected = MetricFrame(metrics=FAIRLEARN_METRICS, y_true=table["y"], y_pred=table["d"],
                           sensitive_features=table["nationality"]).by_group
    ours = result.by_group[list(FAIRLEARN_METRICS)]
    assert ours.index.name == expected.index.name == "nationality"
    assert list(ours.index) == [str(g) for g in expected.index]
    assert_same_rates(ours, expected)


def test_by_group_of_two_features_is_their_intersection_as_in_metricframe(table):
    features = table[["nationality", "sex"]]
    result = audit(y_true=table["y"].to_numpy(), y_pred=table["d"].to_numpy(),
                   sensitive_features=features)
    expected = MetricFrame(metrics=FAIRLEARN_METRICS, y_true=table["y"], y_pred=table["d"],
                           sensitive_features=features).by_group
    ours = result.by_group[list(FAIRLEARN_METRICS)]
    assert list(ours.index.names) == ["nationality", "sex"]
    assert list(ours.index) == list(expected.index)
    assert_same_rates(ours, expected)
    assert result.rates_by_group("sex", "fpr").index.name == "sex"
    assert (result.by_group["n"].sum() == len(table)) and result.by_group["n"].dtype == np.int64


def test_unnamed_features_are_named_as_fairlearn_names_them(table):
    result = audit(y_true=table["y"].to_numpy(), y_pred=table["d"].to_numpy(),
                   sensitive_features=table[["nationality", "sex"]].to_numpy())
    assert result.groupings == ["sensitive_feature_0", "sensitive_feature_1",
                                "sensitive_feature_0 × sensitive_feature_1"]
    assert result.settings["y_true"] == "y_true" and result.settings["y_pred"] == "y_pred"


def test_overall_is_every_rate_over_all_rows(table):
    overall = audit(y_true=table["y"], y_pred=table["d"],
                    sensitive_features=table["sex"]).overall
    assert overall.loc["selection_rate", "value"] == pytest.approx(table["d"].mean(), abs=1e-12)
    assert (overall["ci_low"] <= overall["value"]).all()
    assert (overall["value"] <= overall["ci_high"]).all()


def test_difference_between_groups_is_max_minus_min_with_interval(table):
    result = audit(y_true=table["y"], y_pred=table["d"], sensitive_features=table["nationality"])
    by_group = result.by_group
    gap = result.difference(metrics=["selection_rate"])
    spread = by_group["selection_rate"].max() - by_group["selection_rate"].min()
    assert gap.loc["selection_rate", "value"] == pytest.approx(spread, abs=1e-12)
    row = gap.loc["selection_rate"]
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
    ratio = result.ratio(metrics="selection_rate").loc["selection_rate", "value"]
    assert ratio == pytest.approx(by_group["selection_rate"].min()
                                  / by_group["selection_rate"].max(), abs=1e-12)


def test_to_reference_names_the_most_extreme_group_with_its_simultaneous_interval(table):
    result = audit(y_true=table["y"], y_pred=table["d"], sensitive_features=table["nationality"])
    pick = result.ratio(method="to_reference", metrics=["fpr"]).loc["fpr"]
    rows = result.table.query("grouping == 'nationality' and metric == 'fpr'").set_index("group")
    eligible = rows[(rows["denominator"] >= 30) & ~rows["flags"].str.contains("reference")
                    & rows["ratio"].notna()]
    assert pick["group"] == np.abs(np.log(eligible["ratio"])).idxmax()
    assert pick["reference"] == rows["reference"].iloc[0]
    assert pick["ci_low"] == rows.loc[pick["group"], "sim_ratio_ci_low"]
    assert pick["ci_high"] == rows.loc[pick["group"], "sim_ratio_ci_high"]
    assert pick["n"] == rows.loc[pick["group"], "denominator"]
    difference = result.difference(method="to_reference", metrics="fpr").loc["fpr"]
    assert difference["ci_low"] == rows.loc[difference["group"], "sim_diff_ci_low"]


def test_unknown_method_and_metric_are_named(table):
    result = audit(y_true=table["y"], y_pred=table["d"], sensitive_features=table["sex"])
    with pytest.raises(AuditInputError, match="method must be one of"):
        result.difference(method="to_overall")
    with pytest.raises(AuditInputError, match="metric 'fp_rate' is not in this audit"):
        result.ratio(metrics=["fp_rate"])


def test_plot_returns_a_figure_with_country_names_and_intervals(table):
    from matplotlib.figure import Figure

    result = audit(y_true=table["y"], y_pred=table["d"], sensitive_features=table["nationality"])
    figure = result.plot()
    assert isinstance(figure, Figure)
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert "Afghanistan" in labels and "Brazil" in labels
    assert len(figure.axes) == 3  # selection rate, FPR, FNR (FNR of ERI undefined, drawn apart)


# -- bad input names the argument -------------------------------------------------------------

def test_length_mismatch_names_the_argument(table):
    with pytest.raises(AuditInputError, match=r"y_pred has 2,999 rows but y_true has 3,000"):
        audit(y_true=table["y"], y_pred=table["d"][:-1], sensitive_features=table["sex"])
    with pytest.raises(AuditInputError, match=r"sensitive_features has 10 rows"):
        audit(y_true=table["y"], y_pred=table["d"], sensitive_features=table["sex"][:10])


def test_two_dimensional_y_is_refused(table):
    with pytest.raises(AuditInputError, match=r"y_true must be one-dimensional.*\(3000, 1\)"):
        audit(y_true=table[["y"]].to_numpy(), y_pred=table["d"],
              sensitive_features=table["sex"])
    with pytest.raises(AuditInputError, match=r"y_pred must be one-dimensional.*DataFrame"):
        audit(y_true=table["y"], y_pred=table[["d", "y"]], sensitive_features=table["sex"])


def test_missing_y_is_refused_naming_it_or_dropped_when_asked(table):
    y = table["y"].to_numpy(dtype=float, copy=True)
    y[[5, 9]] = np.nan
    with pytest.raises(AuditInputError,
                       match=r"y_true has 2 missing values \(the first at position 5\).*dropna"):
        audit(y_true=y, y_pred=table["d"], sensitive_features=table["sex"])
    dropped = audit(y_true=y, y_pred=table["d"], sensitive_features=table["sex"], dropna=True)
    assert dropped.settings["n_dropped"] == 2 and dropped.settings["n_rows"] == len(table) - 2


def test_mixing_the_two_forms_is_refused_with_the_way_out(table):
    with pytest.raises(AuditInputError, match="not both"):
        audit(table, y_true="y", y_pred="d", sensitive_features=table["sex"])
    with pytest.raises(AuditInputError, match=r"y_true is given as Series with a frame"):
        audit(table, ["sex"], table["y"], "d")
    with pytest.raises(AuditInputError, match=r"y_true='y' names a column, but no frame"):
        audit(y_true="y", y_pred="d", sensitive_features=table["sex"])
    with pytest.raises(AuditInputError, match="no groups to audit"):
        audit(y_true=table["y"], y_pred=table["d"])
