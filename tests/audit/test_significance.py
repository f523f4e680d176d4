"""Raw p-values against scipy and statsmodels, adjusted ones against multipletests, and no
false alarms in a fair world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from audit import CountTable, audit, audit_counts
from audit.metrics import RATE_NAMES
from tests.audit.tables import frame_from_counts, random_decisions


def _comparisons(result) -> pd.DataFrame:
    """Rate rows of non-reference groups, with the reference's numerator and denominator."""
    rates = result.table[result.table["metric"].isin(RATE_NAMES)]
    reference = rates[rates["group"] == rates["reference"]].set_index(["grouping", "metric"])
    rows = rates[rates["group"] != rates["reference"]].copy()
    keys = pd.MultiIndex.from_frame(rows[["grouping", "metric"]])
    rows["ref_numerator"] = reference["numerator"].reindex(keys).to_numpy()
    rows["ref_denominator"] = reference["denominator"].reindex(keys).to_numpy()
    return rows


def test_p_values_of_small_groups_equal_fishers_exact_test():
    rng = np.random.default_rng(5)
    groups = {"reference": (80, 40, 30, 50)}
    for i in range(8):  # at most 9 people each: some expected count is below 5 in every test
        groups[f"small{i}"] = tuple(rng.multinomial(rng.integers(1, 10), [0.3, 0.2, 0.2, 0.3]))
    result = audit(frame_from_counts(groups), groups=["group"], y_true="y", y_pred="d", n_boot=20)
    rows = _comparisons(result)
    rows = rows[(rows["denominator"] > 0) & (rows["ref_denominator"] > 0)]
    assert len(rows) > 50
    for _, row in rows.iterrows():
        x1, n1 = int(row["numerator"]), int(row["denominator"])
        x2, n2 = int(row["ref_numerator"]), int(row["ref_denominator"])
        expected = fisher_exact([[x1, n1 - x1], [x2, n2 - x2]])[1]
        assert row["p_value"] == pytest.approx(expected, rel=1e-9, abs=1e-15), row["metric"]


def test_p_values_of_large_groups_equal_the_pooled_two_proportion_z_test():
    rng = np.random.default_rng(6)
    groups = {}
    for i in range(6):
        probabilities = rng.dirichlet([8, 8, 8, 8])
        groups[f"g{i}"] = tuple(rng.multinomial(rng.integers(1000, 3000), probabilities))
    result = audit(frame_from_counts(groups), groups=["group"], y_true="y", y_pred="d", n_boot=20)
    rows = _comparisons(result)
    n1, n2 = rows["denominator"], rows["ref_denominator"]
    pooled = (rows["numerator"] + rows["ref_numerator"]) / (n1 + n2)
    smallest_expected = np.minimum.reduce(
        [n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled)])
    assert (smallest_expected >= 5).all()  # the z-test's regime throughout
    for _, row in rows.iterrows():
        _, expected = proportions_ztest(
            [row["numerator"], row["ref_numerator"]], [row["denominator"], row["ref_denominator"]])
        assert row["p_value"] == pytest.approx(expected, rel=1e-9, abs=1e-300), row["metric"]


@pytest.mark.parametrize("seed", range(3))
def test_holm_and_bh_equal_multipletests_per_grouping_and_metric(seed):
    frame = random_decisions(seed, n_rows=3000)
    frame["score"] = np.random.default_rng(seed).random(len(frame))
    result = audit(frame, groups=["nationality", "sex"], y_true="y", y_pred="d", score="score",
                   n_boot=20)
    families = 0
    for (_, metric), rows in result.table.groupby(["grouping", "metric"]):
        tested = rows.dropna(subset=["p_value"])
        assert rows.loc[rows["p_value"].isna(), ["p_holm", "p_bh"]].isna().all().all()
        if tested.empty:
            continue
        families += 1
        holm = multipletests(tested["p_value"], method="holm")[1]
        bh = multipletests(tested["p_value"], method="fdr_bh")[1]
        np.testing.assert_allclose(tested["p_holm"], holm, rtol=1e-12, atol=0, err_msg=metric)
        np.testing.assert_allclose(tested["p_bh"], bh, rtol=1e-12, atol=0, err_msg=metric)
    assert families >= 3 * 12


def test_a_fair_world_raises_no_alarm_in_at_least_93_5_percent_of_metric_families():
    """Twenty groups with identical rates, 150 audits: Holm and BH keep false alarms rare.

    A family is one metric of one audit (nineteen groups compared with the reference). Holm
    bounds the share of families with any adjusted p-value at or below 0.05 by 0.05 (a run of
    600 audits gives 0.046); 150 audits whose metrics are correlated leave Monte Carlo noise
    of about a point, hence the allowance to 0.065. Unadjusted, most families would alarm.
    """
    rng = np.random.default_rng(3)
    n_groups, n_audits = 20, 150
    probabilities = np.array([0.5, 0.15, 0.1, 0.25])
    sizes = np.linspace(60, 600, n_groups).astype(int)
    labels = tuple(f"g{i:02d}" for i in range(n_groups))
    alarms = {"p_value": 0, "p_holm": 0, "p_bh": 0}
    families = 0
    for i in range(n_audits):
        counts = np.stack([rng.multinomial(n, probabilities) for n in sizes]).reshape(-1, 2, 2)
        result = audit_counts(CountTable(("group",), (labels,), counts), n_boot=1,
                              random_state=i)
        rates = result.table[result.table["metric"].isin(RATE_NAMES)]
        for column in alarms:
            alarms[column] += int((rates.groupby("metric")[column].min() <= 0.05).sum())
        families += len(RATE_NAMES)
    assert alarms["p_holm"] / families <= 0.065, alarms
    assert alarms["p_bh"] / families <= 0.065, alarms
    assert alarms["p_value"] / families >= 0.4, alarms


def test_chouldechova_identity_links_fpr_to_prevalence_ppv_and_fnr_in_every_group():
    checked = 0
    for seed in range(4):
        frame = random_decisions(seed)
        result = audit(frame, groups=["nationality", "sex"], y_true="y", y_pred="d", n_boot=20)
        wide = result.table.pivot_table(index=["grouping", "group"], columns="metric",
                                        values="value", dropna=False)
        p, ppv, fnr = wide["prevalence"], wide["ppv"], wide["fnr"]
        defined = (p > 0) & (p < 1) & (ppv > 0) & fnr.notna() & wide["fpr"].notna()
        implied = p / (1 - p) * (1 - ppv) / ppv * (1 - fnr)
        np.testing.assert_allclose(wide["fpr"][defined], implied[defined], rtol=1e-12,
                                   atol=1e-15)
        checked += int(defined.sum())
    assert checked >= 40


def test_fisher_p_values_at_once_are_scipys_floats():
    # The vectorised test must give SciPy's p-value, float for float, for tables of every
    # scale: zero cells, tables at the mode, and either side of it.
    from audit.significance import fisher_exact_p_values

    rng = np.random.default_rng(20261207)
    for scale in (2, 6, 40, 2_000):
        tables = rng.integers(0, scale, size=(600, 4))
        tables[rng.random(600) < 0.15, 0] = 0
        tables[rng.random(600) < 0.05, 1:3] = 0
        got = fisher_exact_p_values(*tables.T)
        want = [fisher_exact(t.reshape(2, 2))[1] for t in tables]
        np.testing.assert_array_equal(got, want)


def test_fractional_effective_counts_are_truncated_cell_by_cell_as_one_test_would():
    # Clustered audits pass effective counts; each cell of a table is truncated on its own.
    from audit.significance import compare_proportions

    rng = np.random.default_rng(7)
    n1, n2 = rng.uniform(1, 40, 400), rng.uniform(1, 40, 400)
    x1, x2 = n1 * rng.uniform(0, 1, 400), n2 * rng.uniform(0, 1, 400)
    got = compare_proportions(x1, n1, x2, n2)
    pooled = (x1 + x2) / (n1 + n2)
    small = np.minimum.reduce([n1 * pooled, n1 * (1 - pooled), n2 * pooled,
                               n2 * (1 - pooled)]) < 5
    assert small.sum() > 100
    for i in np.flatnonzero(small):
        table = np.asarray([[x1[i], n1[i] - x1[i]], [x2[i], n2[i] - x2[i]]], dtype=np.int64)
        assert got[i] == fisher_exact(table)[1], (i, table)
