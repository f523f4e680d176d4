"""Complementary suppression: no withheld count can be computed from the published ones.

Every published count and rate is a linear equation in the people's confusion cells
(true label × decision for each cell of the groups' cross-classification). A withheld count
is recoverable by subtraction exactly when its linear form lies in the span of those
equations; the property test draws group tables with groups under the threshold and checks
that none does: no small group's size or confusion cells. What the rule does not yet protect
(a rate over a few people inside a published group; two groupings, or an intersection and its
columns, against each other) is shown by tests expected to fail.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from audit import audit
from audit.tables import has_flag, withhold_suppressed

#: Confusion cells in the order (true label, decision): TN, FP, FN, TP.
CELLS = ("tn", "fp", "fn", "tp")
#: Each rate's numerator and denominator as sets of confusion cells.
RATES = {
    "prevalence": ({"fn", "tp"}, set(CELLS)),
    "selection_rate": ({"fp", "tp"}, set(CELLS)),
    "tpr": ({"tp"}, {"tp", "fn"}), "fpr": ({"fp"}, {"fp", "tn"}),
    "fnr": ({"fn"}, {"tp", "fn"}), "tnr": ({"tn"}, {"fp", "tn"}),
    "ppv": ({"tp"}, {"tp", "fp"}), "npv": ({"tn"}, {"tn", "fn"}),
    "fdr": ({"fp"}, {"tp", "fp"}), "for": ({"fn"}, {"tn", "fn"}),
    "accuracy": ({"tp", "tn"}, set(CELLS)),
}


def _frame(counts: dict[tuple[str, str], tuple[int, int, int, int]]) -> pd.DataFrame:
    rows = []
    for (g, h), cells in counts.items():
        for (y, d), k in zip(itertools.product((0, 1), (0, 1)), cells, strict=True):
            rows += [(g, h, y, d)] * k
    return pd.DataFrame(rows, columns=["g", "h", "y", "d"])


def _form(cells_of_group: list[tuple[str, str]], parts: set[str],
          index: dict[tuple[str, str, str], int]) -> np.ndarray:
    vector = np.zeros(len(index))
    for key in cells_of_group:
        for part in parts:
            vector[index[(*key, part)]] = 1
    return vector


def _members(grouping: str, group: str, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if grouping == "g":
        return [k for k in keys if k[0] == group]
    if grouping == "h":
        return [k for k in keys if k[1] == group]
    return [k for k in keys if f"{k[0]} × {k[1]}" == group]


def _recoverable(result, keys, rates: bool = False) -> list[str]:
    """Withheld counts whose linear form lies in the span of the published equations.

    The withheld counts are a small group's size and its four confusion cells; with
    ``rates``, also the numerator of each rate withheld for its few people in a published
    group.
    """
    index = {(*k, c): i for i, (k, c) in enumerate(itertools.product(keys, CELLS))}
    table = withhold_suppressed(result.table)
    summary = withhold_suppressed(result.summary)
    equations, withheld = [], []
    for row in table.itertuples(index=False):
        members = _members(row.grouping, row.group, keys)
        if row.metric == "n":
            form = _form(members, set(CELLS), index)
            if not np.isnan(row.numerator):
                equations.append(("fixed", form))
            elif not has_flag(row.flags, "complementary"):
                withheld.append((f"{row.grouping}={row.group} n", form))
                withheld += [(f"{row.grouping}={row.group} {cell}",
                              _form(members, {cell}, index)) for cell in CELLS]
            continue
        numerator, denominator = RATES[row.metric]
        if np.isnan(row.numerator):
            # A rate withheld for its own few people protects what happened to them, its
            # numerator; one withheld beside another (complementary) protects nothing itself.
            if rates and not has_flag(row.flags, "complementary"):
                withheld.append((f"{row.grouping}={row.group} {row.metric}",
                                 _form(members, numerator, index)))
            continue
        kind = "fixed" if row.denominator == 0 else ""
        equations.append((kind, _form(members, numerator, index)))
        equations.append((kind, _form(members, denominator, index)))
    everyone = list(keys)
    for row in summary[summary["measure"] == "overall"].itertuples(index=False):
        if np.isnan(row.value):
            continue
        numerator, denominator = RATES[row.metric]
        # A published overall rate is the equation numerator = value × denominator.
        equations.append(("", _form(everyone, numerator, index)
                          - row.value * _form(everyone, denominator, index)))
    if not equations:
        return []
    # A count that the empty (undefined) rates and the sizes already fix, such as the true
    # negatives among the unselected of a group with no true negatives, has nothing to hide.
    fixed = [form for name, form in equations if name == "fixed"]
    if fixed:
        _, fixed_singular, fixed_rows = np.linalg.svd(np.array(fixed), full_matrices=False)
        fixed_basis = fixed_rows[fixed_singular > fixed_singular.max() * 1e-10]
        withheld = [(name, form) for name, form in withheld
                    if np.linalg.norm(form - fixed_basis.T @ (fixed_basis @ form)) >= 1e-6]
    matrix = np.array([form for _, form in equations])
    # An orthonormal basis of the equations' span: a form lies in it when projecting onto
    # the basis leaves nothing over.
    _, singular, rows = np.linalg.svd(matrix, full_matrices=False)
    basis = rows[singular > singular.max() * 1e-10]
    found = []
    for name, form in withheld:
        if form.any() and np.linalg.norm(form - basis.T @ (basis @ form)) < 1e-6:
            found.append(name)
    return found


cell_counts = st.tuples(*[st.integers(0, 9)] * 4)


@st.composite
def group_tables(draw):
    gs = draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=4, unique=True))
    hs = draw(st.lists(st.sampled_from("xyz"), min_size=1, max_size=3, unique=True))
    counts = {(g, h): draw(cell_counts) for g in sorted(gs) for h in sorted(hs)}
    # Large groups beside small ones: scale some cells up so both sides of the threshold
    # appear in one table.
    big = draw(st.lists(st.sampled_from(sorted(counts)), max_size=len(counts), unique=True))
    scale = draw(st.integers(2, 8))
    for key in big:
        counts[key] = tuple(k * scale for k in counts[key])
    if sum(map(sum, counts.values())) == 0:
        counts[next(iter(counts))] = (1, 0, 0, 0)
    return counts


def _recovered_counts(counts, groups: list[str], rates: bool = False, **options) -> list[str]:
    result = audit(_frame(counts), groups=groups, y_true="y", y_pred="d", n_boot=5, **options)
    return _recoverable(result, [k for k, cells in counts.items() if sum(cells)], rates)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counts=group_tables(), by=st.sampled_from(["g", "h"]))
def test_no_withheld_count_is_recoverable_by_subtraction(counts, by):
    assert _recovered_counts(counts, [by]) == []


#: A known gap is shown without shrinking the example that shows it.
KNOWN_GAP = settings(max_examples=40, deadline=None, phases=[Phase.generate],
                     suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.xfail(reason="two groupings of the same people are protected each against the "
                          "shared overall row, not against each other: in a two-way layout a "
                          "count can follow from both margins together", strict=False)
@KNOWN_GAP
@given(counts=group_tables())
def test_no_withheld_count_is_recoverable_from_two_groupings_together(counts):
    assert _recovered_counts(counts, ["g", "h"]) == []


@pytest.mark.xfail(reason="an intersection is not protected against its columns' groups, "
                          "which it adds up to", strict=False)
@KNOWN_GAP
@given(counts=group_tables())
def test_no_withheld_count_is_recoverable_from_an_intersection_and_its_margins(counts):
    assert _recovered_counts(counts, ["g", "h"], intersections=True) == []


@pytest.mark.xfail(reason="a rate withheld for its few people inside a published group is "
                          "not yet protected against the group's other rates and the totals",
                   strict=False)
@KNOWN_GAP
@given(counts=group_tables(), by=st.sampled_from(["g", "h"]))
def test_no_rate_withheld_for_its_few_people_is_recoverable(counts, by):
    assert _recovered_counts(counts, [by], rates=True) == []


def test_a_small_group_beside_one_large_one_withholds_both_and_says_why():
    counts = {("a", "x"): (30, 20, 25, 25), ("b", "x"): (1, 0, 0, 0)}
    result = audit(_frame(counts), groups=["g"], y_true="y", y_pred="d", n_boot=5)
    sizes = result.table[result.table["metric"] == "n"].set_index("group")["flags"]
    assert has_flag(sizes["b"], "suppressed")
    assert has_flag(sizes["a"], "suppressed") and has_flag(sizes["a"], "complementary")


def test_a_one_row_file_publishes_no_overall_figure(tmp_path, monkeypatch):
    from experiments.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "one.csv").write_text("g,y,d\na,1,0\n", encoding="utf-8")
    assert main(["audit", "one.csv", "--group", "g", "--y-true", "y", "--y-pred", "d",
                 "--n-boot", "5", "--out", "out", "--quiet"]) == 0
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    overall = summary[summary["measure"] == "overall"]
    assert overall["value"].isna().all()
    metrics = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert metrics[["value", "numerator", "denominator"]].isna().all().all()
