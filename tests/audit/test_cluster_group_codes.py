"""Clustered audits match each row's group to the count table by its value's label, each
distinct value's once: the codes of every row's label, for every kind of column, the empty
text included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit import audit
from audit.engine import _text_codes
from audit.validation import group_labels


def _columns() -> dict[str, pd.Series]:
    rng = np.random.default_rng(8)
    values = rng.choice(["MENA", "South Asia", "Europe", ""], size=3_000)
    return {
        "object": pd.Series(values, dtype=object),
        "text": pd.Series(values, dtype="str"),
        "categorical": pd.Series(pd.Categorical(values, categories=["Europe", "MENA", "",
                                                                     "South Asia", "unused"])),
        "integer": pd.Series(rng.integers(0, 5, size=3_000)),
    }


@pytest.mark.parametrize("kind", ["object", "text", "categorical", "integer"])
def test_text_codes_are_every_rows_label_matched(kind):
    column = _columns()[kind]
    categories = ["absent", *group_labels(sorted({str(v) for v in column}), "g")]
    every_row = np.array([categories.index(group_labels([v], "g")[0]) for v in column])
    assert np.array_equal(_text_codes(column, "g", categories), every_row)
    with_missing = column.astype(object).where(np.arange(len(column)) % 7 != 0)
    codes = _text_codes(with_missing, "g", categories)
    assert (codes[::7] == -1).all() and np.array_equal(codes[1::7], every_row[1::7])


def test_a_clustered_audit_is_the_same_for_every_kind_of_group_column_and_the_empty_text():
    person = np.random.default_rng(9).integers(0, 600, size=3_000)
    tables = []
    for kind, column in _columns().items():
        if kind == "integer":
            continue
        frame = pd.DataFrame({"g": column, "person": person, "y": person % 5 == 0,
                              "pred": (person % 3 == 0) | (column.astype(str) == "MENA")})
        tables.append(audit(frame, "g", "y", "pred", cluster="person", n_boot=50,
                            random_state=0).table)
    assert "(empty)" in set(tables[0]["group"])
    for table in tables[1:]:
        pd.testing.assert_frame_equal(
            table.sort_values(["group", "metric"]).reset_index(drop=True),
            tables[0].sort_values(["group", "metric"]).reset_index(drop=True),
            check_dtype=False)
