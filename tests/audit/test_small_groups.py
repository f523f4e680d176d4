"""Small groups are flagged and suppressed, undefined rates say so, four-fifths is flagged."""

from __future__ import annotations

import numpy as np
import pytest

from audit import audit
from tests.audit.tables import frame_from_counts


def _flags(text: str) -> set[str]:
    return set(filter(None, text.split(";")))


@pytest.fixture
def sized_result():
    # (TN, FP, FN, TP): "big" 200 people; "mid" 20 (small); "tiny" 6 (suppressed);
    # "no_positives" 40 people none truly positive.
    groups = {
        "big": (100, 20, 30, 50),
        "mid": (8, 4, 3, 5),
        "tiny": (2, 1, 1, 2),
        "no_positives": (25, 15, 0, 0),
    }
    return audit(frame_from_counts(groups), groups=["group"], y_true="y", y_pred="d", n_boot=50)


def test_rates_over_fewer_than_30_are_small_n_and_fewer_than_10_suppressed(sized_result):
    table = sized_result.table
    for _, row in table.iterrows():
        flags = _flags(row["flags"])
        denominator = row["denominator"] if row["metric"] != "n" else row["value"]
        assert ("small_n" in flags) == (0 < denominator < 30), (row["group"], row["metric"])
        # A cell is suppressed for its own size, or beside one to protect it (complementary).
        own = 0 < denominator < 10
        assert ("suppressed" in flags) == (own or "complementary" in flags), (
            row["group"], row["metric"])
        assert not (own and "complementary" in flags)
    # "tiny" (6) alone would be the total minus the others: the next-smallest, "mid" (20),
    # is withheld beside it.
    sizes = table[table["metric"] == "n"].set_index("group")["flags"].map(_flags)
    assert "complementary" in sizes["mid"] and "suppressed" not in sizes["big"]


def test_rates_with_an_empty_denominator_are_nan_and_undefined(sized_result):
    rates = sized_result.table[sized_result.table["metric"] != "n"]
    empty = rates["denominator"] == 0
    assert set(rates.loc[empty, "group"]) == {"no_positives"}
    assert set(rates.loc[empty, "metric"]) == {"tpr", "fnr"}
    assert rates.loc[empty, "value"].isna().all()
    assert all("undefined" in _flags(f) for f in rates.loc[empty, "flags"])
    assert not any("undefined" in _flags(f) for f in rates.loc[~empty, "flags"])
    assert rates.loc[~empty, "value"].notna().all()


def _report_row(report: str, group: str) -> list[str]:
    (line,) = [line for line in report.splitlines() if line.startswith(f"| {group} |")]
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_report_withholds_suppressed_values(sized_result):
    report = sized_result.to_markdown()
    tiny = _report_row(report, "tiny")
    # group, n, then (rate, ratio) for selection rate, FPR, FNR and PPV, then notes.
    assert tiny[1] == "<10"
    assert tiny[2:10:2] == ["suppressed"] * 4
    assert tiny[3:10:2] == ["—"] * 4
    assert not any("%" in cell for cell in tiny)
    # 'mid' has 20 people, withheld beside 'tiny' so that the total minus the others does
    # not give 'tiny' back: its size reads "withheld", not "<10".
    mid = _report_row(report, "mid")
    assert mid[1] == "withheld"
    assert mid[2:10:2] == ["suppressed"] * 4
    assert not any("%" in cell for cell in mid)
    # An empty denominator has nothing to withhold: the report says the rate is undefined.
    assert _report_row(report, "no_positives")[6] == "undefined"


def test_report_says_undefined_for_an_empty_denominator_when_nothing_is_suppressed():
    frame = frame_from_counts({"big": (100, 20, 30, 50), "no_positives": (25, 15, 0, 0)})
    result = audit(frame, groups=["group"], y_true="y", y_pred="d", suppress_below=0, n_boot=20)
    row = _report_row(result.to_markdown(), "no_positives")
    assert row[6] == "undefined"
    assert row[2].startswith("37.5% (")


def test_four_fifths_flags_selection_rate_ratios_outside_0_8_to_1_25():
    # Selection rates against the reference's 0.5: 0.35 (0.7), 0.4 (exactly 0.8), 0.45 (0.9),
    # 0.6 (1.2), 0.625 (exactly 1.25), 0.65 (1.3).
    selected = {"ref": 500, "r070": 35, "r080": 40, "r090": 45, "r120": 60, "r125": 625,
                "r130": 65}
    sizes = {"ref": 1000, "r125": 1000}
    groups = {}
    for group, chosen in selected.items():
        n = sizes.get(group, 100)
        groups[group] = (n // 2 - chosen // 2, chosen // 2, n // 2 - (chosen - chosen // 2),
                         chosen - chosen // 2)
    groups["ref"] = (300, 200, 200, 300)
    groups["r125"] = (200, 300, 175, 325)  # 1000 people, 625 selected; "ref" stays the largest
    frame = frame_from_counts(groups)
    result = audit(frame, groups=["group"], y_true="y", y_pred="d", reference={"group": "ref"},
                   n_boot=20)
    selection = result.metric("selection_rate")
    expected_ratio = {g: selected[g] / sizes.get(g, 100) / 0.5 for g in selected}
    for group, ratio in expected_ratio.items():
        assert selection.loc[group, "ratio"] == pytest.approx(ratio)
    flagged = {g for g in selection.index if "four_fifths" in _flags(selection.loc[g, "flags"])}
    assert flagged == {"r070", "r130"}
    others = result.table[result.table["metric"] != "selection_rate"]
    assert not any("four_fifths" in _flags(f) for f in others["flags"])
    assert np.isnan(selection.loc["ref", "p_value"])


def test_gaps_to_a_rate_of_zero_get_closed_form_intervals_that_can_move():
    # 'zero' selects nobody. A resample of its counts could never move its rate, but a score
    # interval of the gap still says how large a gap the data allow, and it is not zero-width.
    frame = frame_from_counts({"big": (300, 60, 40, 100), "zero": (80, 0, 20, 0)})
    result = audit(frame, groups=["group"], y_true="y", y_pred="d", n_boot=100)
    rows = result.table[(result.table["group"] == "zero")
                        & result.table["metric"].isin(["selection_rate", "fpr", "tpr"])]
    assert (rows["value"] == 0).all()
    assert (rows["ratio_ci_low"] == 0).all()
    assert (rows["ratio_ci_high"] > 0).all() & np.isfinite(rows["ratio_ci_high"]).all()
    assert (rows["diff_ci_low"] < rows["difference"]).all()
    assert (rows["diff_ci_high"] > rows["difference"]).all()
    assert (rows["diff_ci_high"] > rows["diff_ci_low"]).all()
    assert (rows["ci_high"] > 0).all()


def test_a_reference_rate_of_zero_leaves_the_ratio_unbounded_and_flagged():
    frame = frame_from_counts({"big": (400, 0, 100, 0), "some": (70, 10, 15, 5)})
    result = audit(frame, groups=["group"], y_true="y", y_pred="d", n_boot=20,
                   reference={"group": "big"})
    row = result.metric("selection_rate").loc["some"]
    assert np.isinf(row["ratio_ci_high"]) and row["ratio_ci_low"] > 0
    assert "unbounded" in _flags(row["flags"])
    flagged = result.table[np.isinf(result.table["ratio_ci_high"].astype(float))]
    assert all("unbounded" in _flags(f) for f in flagged["flags"])
