"""Every column and flag the engine writes is explained in the glossary."""

from __future__ import annotations

import re

from audit import audit
from audit.glossary import COLUMN_HELP, FLAG_HELP, SUMMARY_HELP
from tests.audit.tables import frame_from_counts, random_decisions


def test_every_table_column_summary_column_and_flag_is_described():
    frame = random_decisions(0)
    frame["score"] = (frame["d"] * 0.5 + 0.25).round(2)
    tiny = frame_from_counts({"a": (400, 0, 100, 0), "b": (3, 2, 1, 1), "c": (40, 10, 5, 5)})
    results = [audit(frame, ["nationality", "sex"], "y", "d", score="score", n_boot=20),
               audit(tiny, ["group"], "y", "d", n_boot=20, reference={"group": "a"})]
    for result in results:
        assert set(result.table.columns) <= set(COLUMN_HELP)
        assert set(result.summary.columns) - {"grouping", "metric", "flags"} <= set(SUMMARY_HELP)
        flags = {f for text in [*result.table["flags"], *result.summary["flags"]]
                 for f in str(text).split(";") if f}
        generic = {re.sub(r"^left_out_\d+_under_\d+$", "left_out_N_under_M", f) for f in flags}
        assert generic <= set(FLAG_HELP), generic - set(FLAG_HELP)


def test_a_result_prints_a_short_focus_table_not_count_arrays():
    result = audit(random_decisions(1), ["nationality", "sex"], "y", "d", n_boot=20)
    text = repr(result)
    assert len(text.splitlines()) < 40
    assert "False positive rate" in text and "array(" not in text
    html = result._repr_html_()
    assert html.count("<tr") > 3 and "<script" not in html
