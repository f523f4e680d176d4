"""Complementary suppression: no withheld count can be computed from the published ones.

Every published count and rate is a linear equation in the people's confusion cells
(true label × decision for each cell of the groups' cross-classification). A withheld count
is recoverable by subtraction exactly when its linear form lies in the span of those
equations; the property tests draw group tables with groups under the threshold and check
that none does: no small group's size or confusion cells, in one grouping, two groupings of
the same people, or an intersection and the columns it is made of. What the rule does not
protect (a rate over a few people inside a published group, against the group's other
rates) is shown by a test expected to fail.
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
    equations, withheld, whole = [], [], []
    for row in table.itertuples(index=False):
        members = _members(row.grouping, row.group, keys)
        if row.metric == "n":
            form = _form(members, set(CELLS), index)
            if not np.isnan(row.numerator):
                equations.append(("fixed", form))
            elif not has_flag(row.flags, "complementary"):
                whole.append((f"{row.grouping}={row.group} n", form))
                whole += [(f"{row.grouping}={row.group} {cell}",
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
    # A rate's count that the empty (undefined) rates and the sizes already fix, such as the
    # true negatives among the unselected of a group with no true negatives, has nothing to
    # hide. A group withheld whole gets no such pass: its size from the other sizes is a leak.
    fixed = [form for name, form in equations if name == "fixed"]
    if fixed:
        _, fixed_singular, fixed_rows = np.linalg.svd(np.array(fixed), full_matrices=False)
        fixed_basis = fixed_rows[fixed_singular > fixed_singular.max() * 1e-10]
        withheld = [(name, form) for name, form in withheld
                    if np.linalg.norm(form - fixed_basis.T @ (fixed_basis @ form)) >= 1e-6]
    withheld += whole
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


#: Drawn tables for the checks across groupings.
CROSSED = settings(max_examples=40, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])
#: A known gap is shown without shrinking the example that shows it.
KNOWN_GAP = settings(max_examples=40, deadline=None, phases=[Phase.generate],
                     suppress_health_check=[HealthCheck.too_slow])


@CROSSED
@given(counts=group_tables())
def test_no_withheld_count_is_recoverable_from_two_groupings_together(counts):
    assert _recovered_counts(counts, ["g", "h"]) == []


@CROSSED
@given(counts=group_tables())
def test_no_withheld_count_is_recoverable_from_an_intersection_and_its_margins(counts):
    assert _recovered_counts(counts, ["g", "h"], intersections=True) == []


@pytest.mark.xfail(reason="a rate withheld for its few people inside a published group is "
                          "protected by its own threshold only: a group's false positives are "
                          "the count of its false positive rate (over its many negatives) and "
                          "of its false discovery rate (over its few selected), so hiding the "
                          "one exactly withholds the other",
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


def test_a_withheld_cell_of_a_two_way_table_is_not_its_margin_minus_the_published_cells():
    # c is small in every cell: c × x is withheld with its complement in g × h, but the group
    # x minus the published a × x and b × x gave it back until the check across groupings.
    big = (20, 20, 20, 20)
    counts = {("a", "x"): big, ("a", "y"): big, ("b", "x"): (30, 30, 30, 30),
              ("b", "y"): big, ("c", "x"): (1, 1, 0, 1), ("c", "y"): (1, 0, 1, 1)}
    result = audit(_frame(counts), groups=["g", "h"], y_true="y", y_pred="d", n_boot=5)
    sizes = result.table[result.table["metric"] == "n"].set_index(["grouping", "group"])
    published_in_x = [cell for cell in ("a × x", "b × x")
                      if not has_flag(sizes.loc[("g × h", cell), "flags"], "suppressed")]
    assert has_flag(sizes.loc[("g × h", "c × x"), "flags"], "suppressed")
    assert len(published_in_x) < 2
    assert _recoverable(result, list(counts)) == []
    assert "disclosure_unchecked" not in result.settings


def test_a_family_too_large_to_check_is_named_in_the_settings_and_the_report(monkeypatch):
    from audit import disclosure_check
    from audit.report import interval_explanation

    monkeypatch.setattr(disclosure_check, "MAX_UNKNOWNS", 0)
    counts = {("a", "x"): (20, 20, 20, 20), ("b", "y"): (1, 1, 1, 1)}
    result = audit(_frame(counts), groups=["g", "h"], y_true="y", y_pred="d", n_boot=5)
    assert result.settings["disclosure_unchecked"] == ["g", "h", "g × h"]
    assert ("The groupings g, h, g × h have too many cells for the exact check"
            in interval_explanation(result.settings))


@CROSSED
@given(counts=group_tables())
def test_no_withheld_count_is_recoverable_from_groupings_counted_apart(counts):
    assert _recovered_counts(counts, ["g", "h"], intersections=False) == []


#: Countries inside regions: country a (3 people) is withheld, and with no intersection asked
#: for, region x minus the published country b gave it back.
NESTED = {("a", "x"): (1, 1, 0, 1), ("b", "x"): (30, 30, 30, 30),
          ("c", "y"): (20, 20, 20, 20), ("d", "y"): (25, 25, 25, 25)}


def test_a_country_withheld_is_not_its_region_minus_the_published_countries():
    result = audit(_frame(NESTED), groups=["g", "h"], y_true="y", y_pred="d", n_boot=5,
                   intersections=False)
    assert _recoverable(result, list(NESTED)) == []
    sizes = result.table[result.table["metric"] == "n"].set_index(["grouping", "group"])
    assert has_flag(sizes.loc[("g", "a"), "flags"], "suppressed")
    assert "disclosure_unchecked" not in result.settings


def test_pieces_and_partitions_withhold_what_the_whole_table_does():
    from audit.stream import audit_dask, audit_pieces

    frame = _frame(NESTED).sample(frac=1.0, random_state=0).reset_index(drop=True)
    options = {"y_true": "y", "y_pred": "d", "n_boot": 5, "intersections": False}
    whole = audit(frame, groups=["g", "h"], **options)
    pieces = audit_pieces([frame.iloc[i::4] for i in range(4)], ["g", "h"], **options)
    flags = [list(r.table.sort_values(["grouping", "group", "metric"])["flags"])
             for r in (whole, pieces)]
    assert flags[0] == flags[1]
    dd = pytest.importorskip("dask.dataframe")
    on_partitions = audit_dask(dd.from_pandas(frame, npartitions=3), ["g", "h"], **options)
    assert list(on_partitions.table.sort_values(["grouping", "group", "metric"])["flags"]) \
        == flags[0]


def test_groupings_too_many_to_count_together_are_named(monkeypatch):
    from audit import engine

    monkeypatch.setattr(engine, "JOINT_CELLS", 1)
    result = audit(_frame(NESTED), groups=["g", "h"], y_true="y", y_pred="d", n_boot=5,
                   intersections=False)
    assert result.settings["disclosure_unchecked"] == ["g", "h"]
