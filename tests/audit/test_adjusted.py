"""Comparisons adjusted for composition: Mantel-Haenszel estimates equal statsmodels', the
Kitagawa parts add up to the crude gap, intervals hold their coverage, and the audit's
adjusted table says which strata it left out and why a figure is missing."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import StratifiedTable

from audit import audit, audit_adjusted
from audit.adjusted import kitagawa, kitagawa_variances, stratified_gap
from audit.errors import AuditInputError
from audit.glossary import ADJUSTED_HELP, FLAG_HELP
from audit.intervals import mover_ratio_interval, resample_cells
from audit.metrics import RATES
from audit.result import ADJUSTED_COLUMNS
from audit.stream import audit_pieces


def _random_strata(rng: np.random.Generator, n_strata: int, sparse: bool = False
                   ) -> tuple[np.ndarray, ...]:
    high = 6 if sparse else 80
    totals = rng.integers(1, high, n_strata)
    ref_totals = rng.integers(1, high * 10, n_strata)
    events = rng.binomial(totals, rng.uniform(0.0, 0.6))
    ref_events = rng.binomial(ref_totals, rng.uniform(0.0, 0.6))
    return events, totals, ref_events, ref_totals


@pytest.mark.parametrize("seed", range(20))
def test_mantel_haenszel_equals_statsmodels(seed):
    rng = np.random.default_rng(seed)
    events, totals, ref_events, ref_totals = _random_strata(rng, int(rng.integers(2, 21)),
                                                            sparse=seed % 2 == 0)
    gap = stratified_gap(events, totals, ref_events, ref_totals)
    tables = np.stack([np.stack([events, totals - events]),
                       np.stack([ref_events, ref_totals - ref_events])]).astype(float)
    pooled = StratifiedTable(tables)
    if np.isfinite(gap.ratio) and gap.ratio > 0:
        assert gap.ratio == pytest.approx(pooled.riskratio_pooled, rel=1e-10, abs=1e-10)
    if np.isfinite(gap.odds_ratio) and gap.odds_ratio > 0:
        assert gap.odds_ratio == pytest.approx(pooled.oddsratio_pooled, rel=1e-10, abs=1e-10)


def test_batched_estimates_equal_one_at_a_time():
    rng = np.random.default_rng(3)
    stacks = [np.stack(x) for x in zip(*(_random_strata(rng, 6) for _ in range(8)),
                                       strict=True)]
    batched = stratified_gap(*stacks)
    for i in range(8):
        single = stratified_gap(*(s[i] for s in stacks))
        assert batched.ratio[i] == pytest.approx(single.ratio, rel=1e-12)
        assert batched.diff_low[i] == pytest.approx(single.diff_low, rel=1e-12)


@pytest.mark.parametrize("seed", range(30))
def test_kitagawa_parts_sum_to_the_crude_difference(seed):
    rng = np.random.default_rng(seed)
    events, totals, ref_events, ref_totals = _random_strata(rng, 12, sparse=True)
    totals = np.where(rng.random(12) < 0.2, 0, totals)  # strata only the reference occupies
    ref_totals = np.where(rng.random(12) < 0.2, 0, ref_totals)
    events, ref_events = np.minimum(events, totals), np.minimum(ref_events, ref_totals)
    composition, within, one_sided = kitagawa(events, totals, ref_events, ref_totals)
    crude = events.sum() / totals.sum() - ref_events.sum() / ref_totals.sum()
    assert composition + within == pytest.approx(crude, abs=1e-15)
    # A stratum only one side occupies adds that side's share of its rate, wholly composition.
    alone = (totals == 0) != (ref_totals == 0)
    expected = (events[alone].sum() / totals.sum() - ref_events[alone].sum() / ref_totals.sum())
    assert one_sided == pytest.approx(expected, abs=1e-15)


def _rate_counts(counts: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    rate = RATES[metric]
    return (sum(counts[..., t, d] for t, d in rate.numerator),
            sum(counts[..., t, d] for t, d in rate.denominator))


@pytest.mark.parametrize("metric", ["fpr", "selection_rate", "ppv"])
def test_delta_method_matches_a_bootstrap_of_the_counts(metric):
    # Each side's counts over (stratum, true label, decision) as one multinomial; one
    # stratum only the group occupies and one only the reference does.
    rng = np.random.default_rng(4)
    group = rng.multinomial(3_000, rng.dirichlet(np.ones(6 * 4))).reshape(6, 2, 2)
    reference = rng.multinomial(20_000, rng.dirichlet(np.ones(6 * 4))).reshape(6, 2, 2)
    group[0], reference[1] = 0, 0
    composition_variance, within_variance = kitagawa_variances(
        *_rate_counts(group, metric), *_rate_counts(reference, metric))
    boot_group = resample_cells(group, 4_000, rng, category_axes=3)
    boot_reference = resample_cells(reference, 4_000, rng, category_axes=3)
    composition, within, _ = kitagawa(*_rate_counts(boot_group, metric),
                                      *_rate_counts(boot_reference, metric))
    assert np.sqrt(composition_variance) == pytest.approx(composition.std(), rel=0.06)
    assert np.sqrt(within_variance) == pytest.approx(within.std(), rel=0.06)


def test_hand_counts_of_a_tiny_table():
    # Group: 1 of 4 and 3 of 6; reference: 2 of 10 and 6 of 10.
    gap = stratified_gap([1, 3], [4, 6], [2, 6], [10, 10])
    assert gap.ratio == pytest.approx(145 / 158, rel=1e-14)
    assert gap.diff == pytest.approx(-13 / 370, rel=1e-14)
    assert gap.crude_diff == pytest.approx(0.0, abs=1e-16)
    assert gap.composition == pytest.approx(0.0325, rel=1e-12)
    assert gap.within == pytest.approx(-0.0325, rel=1e-12)
    assert gap.standardised == pytest.approx(0.375, rel=1e-14)
    assert gap.strata_used == 2
    # Greenland-Robins: sum((n1 n0 (a + b) - a b N) / N**2) / (R S).
    r, s = 145 / 56, 158 / 56
    gr = ((4 * 10 * 3 - 2 * 14) / 14**2 + (6 * 10 * 9 - 18 * 16) / 16**2) / (r * s)
    half = 1.959963984540054 * np.sqrt(gr)
    assert gap.ratio_low == pytest.approx(145 / 158 * np.exp(-half), rel=1e-9)
    assert gap.ratio_high == pytest.approx(145 / 158 * np.exp(half), rel=1e-9)


# --- coverage ---------------------------------------------------------------------------------

COVERAGE_STRATA = (2, 5, 20)
COVERAGE_GROUPS = (30, 300)
COVERAGE_REFERENCES = (1_000, 10_000)
COVERAGE_RATES = (0.003, 0.03, 0.3)
COVERAGE_EFFECTS = (1.0, 1.5)
COVERAGE_REPLICATIONS = 2_000


def coverage_table(replications: int = COVERAGE_REPLICATIONS, seed: int = 0) -> pd.DataFrame:
    """Coverage of the adjusted ratio and difference intervals over a grid of worlds.

    The group's stratum mix rises with the stratum (sizes proportional to 1..K), the
    reference's is even, so mixes differ; stratum rates spread from half to 1.5 times the
    base rate, and the group's are ``effect`` times the reference's (a common risk ratio).
    Sizes are fixed, events binomial; each cell's replications are one stacked call.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for strata, n_group, n_reference, rate, effect in itertools.product(
            COVERAGE_STRATA, COVERAGE_GROUPS, COVERAGE_REFERENCES, COVERAGE_RATES,
            COVERAGE_EFFECTS):
        rank = np.arange(1, strata + 1)
        totals = np.floor(n_group * rank / rank.sum() + 0.5).astype(np.int64)
        ref_totals = np.floor(n_reference / strata * np.ones(strata) + 0.5).astype(np.int64)
        ref_rates = rate * np.linspace(0.5, 1.5, strata)
        rates = ref_rates * effect
        events = rng.binomial(totals, rates, size=(replications, strata))
        ref_events = rng.binomial(ref_totals, ref_rates, size=(replications, strata))
        gap = stratified_gap(events, totals, ref_events, ref_totals)
        common = (totals > 0) & (ref_totals > 0)
        weight = np.where(common, totals * ref_totals / (totals + ref_totals), 0.0)
        true_diff = (weight * (rates - ref_rates)).sum() / weight.sum()
        rows.append({
            "strata": strata, "n_group": n_group, "n_reference": n_reference, "rate": rate,
            "effect": effect, "group_events": float((totals * rates).sum()),
            "reference_events": float((ref_totals * ref_rates).sum()),
            "ratio_coverage": float(np.mean((gap.ratio_low <= effect)
                                            & (effect <= gap.ratio_high))),
            "diff_coverage": float(np.mean((gap.diff_low <= true_diff)
                                           & (true_diff <= gap.diff_high))),
        })
    return pd.DataFrame(rows)


def test_adjusted_intervals_hold_nominal_coverage():
    table = coverage_table()
    enough = (table["group_events"] >= 5) & (table["reference_events"] >= 5)
    assert enough.sum() >= 20
    for column in ("ratio_coverage", "diff_coverage"):
        assert table.loc[enough, column].between(0.93, 0.97).all(), table.loc[enough]
        # Below five expected events the intervals lean conservative, never far below.
        assert (table.loc[~enough, column] >= 0.88).all(), table.loc[~enough]


def test_composition_alone_does_not_move_the_adjusted_ratio():
    # Rates depend on the stratum only; the group sits mostly in the high-rate strata.
    rng = np.random.default_rng(11)
    replications, strata = 2_000, 6
    ref_rates = np.linspace(0.02, 0.3, strata)
    totals = np.array([5, 5, 10, 30, 100, 150])
    ref_totals = np.array([1500, 1000, 800, 400, 200, 100])
    events = rng.binomial(totals, ref_rates, size=(replications, strata))
    ref_events = rng.binomial(ref_totals, ref_rates, size=(replications, strata))
    gap = stratified_gap(events, totals, ref_events, ref_totals)
    adjusted_holds = np.mean((gap.ratio_low <= 1) & (1 <= gap.ratio_high))
    low, high = mover_ratio_interval(events.sum(axis=1), totals.sum(),
                                     ref_events.sum(axis=1), ref_totals.sum())
    crude_holds = np.mean((low <= 1) & (1 <= high))
    assert 0.93 <= adjusted_holds <= 0.97
    assert crude_holds < 0.01
    assert np.mean(gap.composition > 0) > 0.99


# --- the audit's adjusted table -----------------------------------------------------------------


def _rows(cells: list[tuple[str, str, int, int, int]]) -> pd.DataFrame:
    """People from (group, stratum, true label, decision, count) cells."""
    parts = [pd.DataFrame({"group": [g] * k, "stratum": [s] * k, "y": [t] * k, "d": [d] * k})
             for g, s, t, d, k in cells]
    return pd.concat(parts, ignore_index=True)


def _world(n: int = 6_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stratum = rng.choice([f"S{i:02d}" for i in range(8)], n)
    code = np.array([int(s[1:]) for s in stratum])
    group = np.where(rng.random(n) < 0.6, "ref",
                     np.where(code > 4, "high", rng.choice(["low", "mid"], n)))
    truth = rng.random(n) < 0.3
    decision = rng.random(n) < 0.05 + 0.04 * code
    return pd.DataFrame({"nationality": group, "region": stratum, "sex": rng.choice(["F", "M"], n),
                         "y": truth, "d": decision, "author": rng.integers(0, n // 3, n)})


def test_adjusted_table_has_every_group_and_rate():
    frame = _world()
    result = audit(frame, ["nationality", "sex"], "y", "d", adjust_for=["region"])
    adjusted = result.adjusted
    assert list(adjusted.columns) == list(ADJUSTED_COLUMNS)
    assert set(adjusted["grouping"]) == {"nationality", "sex"}
    assert {"fpr", "fnr", "selection_rate", "tpr", "ppv"} <= set(adjusted["metric"])
    assert (adjusted["view"] == "y").all() and (adjusted["adjust_for"] == "region").all()
    parts = adjusted["composition_part"] + adjusted["within_part"]
    np.testing.assert_allclose(parts, adjusted["crude_diff"], rtol=0, atol=1e-15)


def test_crude_rates_equal_the_plain_audit():
    result = audit(_world(), ["nationality", "sex"], "y", "d", adjust_for="region")
    plain = result.table.set_index(["grouping", "group", "metric"])
    for row in result.adjusted.itertuples():
        assert row.group_rate == pytest.approx(plain.loc[(row.grouping, row.group, row.metric),
                                                         "value"], rel=1e-14, nan_ok=True)
        assert row.crude_diff == pytest.approx(
            plain.loc[(row.grouping, row.group, row.metric), "difference"], abs=1e-15,
            nan_ok=True)


def test_stratum_mix_explains_a_crude_gap():
    # Decisions depend on the region only; "high" lives in the high-rate regions.
    result = audit(_world(20_000), ["nationality"], "y", "d", adjust_for=["region"])
    row = result.adjusted.query("group == 'high' and metric == 'selection_rate'").iloc[0]
    assert row.crude_ratio > 1.3
    assert row.adjusted_ratio_ci_low <= 1 <= row.adjusted_ratio_ci_high
    assert row.composition_share > 0.8


def test_no_common_stratum_is_nan_and_flagged():
    frame = _rows([("a", "north", 0, 1, 20), ("a", "north", 1, 1, 20),
                   ("b", "south", 0, 0, 30), ("b", "south", 1, 1, 30)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = audit(frame, ["group"], "y", "d", adjust_for=["stratum"])
    for row in result.adjusted.itertuples():
        assert row.strata_used == 0
        if row.n_group == 0 or row.n_reference == 0:  # no one selected, say: undefined
            assert "undefined" in row.flags or row.n_reference == 0
            continue
        assert "no_common_stratum" in row.flags
        for name in ("adjusted_ratio", "adjusted_diff", "adjusted_ratio_ci_low",
                     "standardised_rate", "composition_part", "within_part", "homogeneity_p"):
            assert np.isnan(getattr(row, name)), name


def test_zero_event_strata_and_strata_left_out():
    frame = _rows([
        ("a", "n", 0, 0, 40), ("a", "n", 1, 0, 10),          # no one selected in "n"
        ("a", "s", 0, 0, 30), ("a", "s", 0, 1, 10), ("a", "s", 1, 1, 10),
        ("a", "e", 0, 1, 15),                                # only "a" lives in "e"
        ("b", "n", 0, 0, 200), ("b", "n", 1, 0, 50),
        ("b", "s", 0, 0, 150), ("b", "s", 0, 1, 20), ("b", "s", 1, 1, 30),
        ("b", "w", 0, 0, 40),                                # only "b" lives in "w"
    ])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = audit(frame, ["group"], "y", "d", adjust_for=["stratum"])
    rows = result.adjusted.set_index("metric")
    selection = rows.loc["selection_rate"]
    assert selection.strata_used == 2 and selection.strata_left_out == 2
    assert selection.strata_left_out_names == "e; w"
    assert np.isfinite([selection.adjusted_ratio, selection.adjusted_ratio_ci_low,
                        selection.adjusted_ratio_ci_high, selection.adjusted_diff,
                        selection.adjusted_diff_ci_low, selection.standardised_rate]).all()
    # The one-sided strata are wholly composition.
    assert selection.one_sided_part != 0
    assert selection.composition_part + selection.within_part == pytest.approx(
        selection.crude_diff, abs=1e-15)
    # The true positive rate has no positives in "e" and "w" on either side: left out too.
    assert rows.loc["tpr"].strata_left_out == 2


def test_zero_events_in_the_group_give_a_bounded_ratio_interval():
    gap = stratified_gap([0, 0, 0], [20, 30, 10], [5, 9, 2], [500, 400, 300])
    assert gap.ratio == 0 and gap.ratio_low == 0
    assert 0 < gap.ratio_high < np.inf
    assert gap.diff_low < gap.diff < gap.diff_high
    nothing = stratified_gap([0, 0], [20, 30], [0, 0], [500, 400])
    assert np.isnan(nothing.ratio) and nothing.ratio_low == 0 and nothing.ratio_high == np.inf
    assert nothing.diff == 0 and nothing.diff_low < 0 < nothing.diff_high


def test_clustered_rows_widen_the_adjusted_intervals():
    frame = _world()
    plain = audit(frame, ["nationality"], "y", "d", adjust_for=["region"]).adjusted
    clustered = audit(frame, ["nationality"], "y", "d", adjust_for=["region"],
                      cluster="author").adjusted
    assert (clustered["design_effect"] >= 1).all()
    assert (clustered["design_effect"] > 1).any()
    width = (clustered["adjusted_diff_ci_high"] - clustered["adjusted_diff_ci_low"]
             ) / (plain["adjusted_diff_ci_high"] - plain["adjusted_diff_ci_low"])
    assert (width[clustered["design_effect"] > 1.05] > 1).all()
    np.testing.assert_array_equal(plain["adjusted_ratio"], clustered["adjusted_ratio"])
    # One row per cluster is no clustering at all.
    single = audit(frame.assign(person=np.arange(len(frame))), ["nationality"], "y", "d",
                   adjust_for=["region"], cluster="person").adjusted
    pd.testing.assert_frame_equal(single, plain)


@pytest.mark.parametrize(("adjust_for", "message"), [
    (["regoin"], r"column 'regoin' \(given as adjust_for\) not found; did you mean 'region'"),
    (["nationality"], r"adjust_for column 'nationality' is also a group column"),
    (["region", "region"], r"adjust_for names column 'region' more than once"),
    (["author"], r"adjust_for column 'author' has 1,\d{3} distinct values \(limit 100\)"),
])
def test_bad_adjust_for_is_refused(adjust_for, message):
    with pytest.raises(AuditInputError, match=message):
        audit(_world(), ["nationality"], "y", "d", adjust_for=adjust_for, max_groups=100)


def test_without_adjustment_nothing_changes(tmp_path):
    frame = _world()
    plain = audit(frame, ["nationality", "sex"], "y", "d")
    assert plain.adjusted.empty and list(plain.adjusted.columns) == list(ADJUSTED_COLUMNS)
    written = plain.write(tmp_path / "plain")
    assert not (tmp_path / "plain" / "adjusted.csv").exists()
    assert "adjust_for" not in (tmp_path / "plain" / "metrics.json").read_text()
    adjusted = audit(frame, ["nationality", "sex"], "y", "d", adjust_for=["region"])
    adjusted_written = adjusted.write(tmp_path / "adjusted")
    assert len(adjusted_written) == len(written) + 1
    # The plain figures do not depend on whether an adjustment was asked.
    for name in ("metrics.csv", "summary.csv", "report.md"):
        assert (tmp_path / "plain" / name).read_bytes() == (
            tmp_path / "adjusted" / name).read_bytes()
    text = (tmp_path / "adjusted" / "adjusted.csv").read_text()
    assert text.splitlines()[0] == ",".join(ADJUSTED_COLUMNS)


def test_small_groups_are_withheld_in_the_written_table(tmp_path):
    frame = pd.concat([_world(), _rows([("tiny", "S01", 0, 1, 4), ("tiny", "S02", 1, 0, 3)])
                       .rename(columns={"group": "nationality", "stratum": "region"})],
                      ignore_index=True).assign(sex="F")
    result = audit(frame, ["nationality"], "y", "d", adjust_for=["region"])
    assert result.adjusted.query("group == 'tiny'")["flags"].str.contains("suppressed").all()
    result.write(tmp_path)
    written = pd.read_csv(tmp_path / "adjusted.csv", keep_default_na=False, na_values=[""])
    tiny = written[written["group"] == "tiny"]
    assert tiny["adjusted_ratio"].isna().all() and tiny["group_rate"].isna().all()
    assert written[written["group"] == "high"]["group_rate"].notna().all()


def test_same_seed_same_bytes(tmp_path):
    frame = _world()
    for name in ("one", "two"):
        audit(frame, ["nationality"], "y", "d", adjust_for=["region", "sex"],
              random_state=5).write(tmp_path / name)
    assert (tmp_path / "one" / "adjusted.csv").read_bytes() == (
        tmp_path / "two" / "adjusted.csv").read_bytes()


def test_streamed_adjustment_equals_the_in_memory_one():
    frame = _world().astype({"region": str})
    whole = audit(frame, ["nationality", "sex"], "y", "d", adjust_for=["region"])
    pieces = [frame.iloc[i::3] for i in range(3)]
    streamed = audit_pieces(pieces, ["nationality", "sex"], "y", "d", adjust_for=["region"])
    pd.testing.assert_frame_equal(streamed.adjusted, whole.adjusted)
    pd.testing.assert_frame_equal(streamed.table, whole.table)


def test_every_adjusted_column_and_flag_is_described():
    frame = pd.concat([_world(), _rows([("tiny", "S01", 0, 1, 4), ("tiny", "Z", 1, 0, 3)])
                       .rename(columns={"group": "nationality", "stratum": "region"})],
                      ignore_index=True).assign(sex="F")
    adjusted = audit(frame, ["nationality"], "y", "d", adjust_for=["region"]).adjusted
    assert set(adjusted.columns) <= set(ADJUSTED_HELP)
    flags = {f for text in adjusted["flags"] for f in text.split(";") if f}
    assert flags <= set(FLAG_HELP), flags - set(FLAG_HELP)


def test_one_crossed_pass_equals_separate_counts():
    # Categorical columns are counted crossed with the strata in one pass; text columns
    # are counted grouping by grouping. Both give the same tables.
    text = _world()
    categorical = text.astype({"nationality": "category", "sex": "category",
                               "region": "category"})
    plain = audit(categorical, ["nationality", "sex"], "y", "d")
    crossed = audit(categorical, ["nationality", "sex"], "y", "d", adjust_for=["region"])
    separate = audit(text, ["nationality", "sex"], "y", "d", adjust_for=["region"])
    pd.testing.assert_frame_equal(crossed.table, plain.table)
    pd.testing.assert_frame_equal(crossed.summary, plain.summary)
    pd.testing.assert_frame_equal(crossed.adjusted, separate.adjusted)


@pytest.mark.parametrize("arguments", [
    {"groups": ["nationality", "sex"]},
    {"groups": ["nationality", "sex"], "intersections": False},
    {"groups": [["nationality"]], "reference": {"nationality": "low"}},
    {"groups": ["nationality"], "reference": {"nationality": "mid"}, "cluster": "author"},
    {"groups": ["nationality", "sex"], "adjust_for": ["region", "sex2"],
     "adjust_view": "truth", "confidence": 0.9, "min_count": 50, "suppress_below": 400},
])
def test_adjusted_alone_equals_the_audit_s_adjusted_table(arguments):
    frame = _world(8_000, seed=4)
    frame["sex2"] = np.where(np.arange(len(frame)) % 3 == 0, "x", "y")
    arguments = {"adjust_for": ["region"], **arguments}
    groups = arguments.pop("groups")
    whole = audit(frame, groups, "y", "d", n_boot=50, **arguments).adjusted
    alone = audit_adjusted(frame, groups, "y", "d", **arguments)
    pd.testing.assert_frame_equal(alone, whole)
    assert len(alone) > 0


def test_adjusted_alone_drops_missing_rows_as_the_audit_does():
    frame = _world(3_000, seed=5).astype({"region": object})
    frame.loc[::7, "region"] = None
    whole = audit(frame, ["nationality"], "y", "d", adjust_for="region", dropna=True,
                  n_boot=20).adjusted
    pd.testing.assert_frame_equal(
        audit_adjusted(frame, ["nationality"], "y", "d", "region", dropna=True), whole)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"adjust_for": ["regoin"]}, r"column 'regoin' \(given as adjust_for\) not found"),
    ({"reference": {"nationalty": "low"}}, "reference given for 'nationalty', which is not"),
    ({"reference": {"nationality": "nobody"}}, "reference group 'nobody' does not occur"),
])
def test_adjusted_alone_refuses_what_the_audit_refuses(arguments, message):
    arguments = {"adjust_for": ["region"], **arguments}
    with pytest.raises(AuditInputError, match=message):
        audit(_world(), ["nationality"], "y", "d", **arguments)
    with pytest.raises(AuditInputError, match=message):
        audit_adjusted(_world(), ["nationality"], "y", "d", **arguments)


def test_adjusted_alone_needs_strata():
    with pytest.raises(AuditInputError, match="audit_adjusted needs adjust_for"):
        audit_adjusted(_world(), ["nationality"], "y", "d", [])
