"""Helpers for the population tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def assert_same_frame(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Exact equality of two people frames: columns, dtypes, categories and values (NaN == NaN).

    Much faster than ``pandas.testing.assert_frame_equal`` on large categorical frames.
    """
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    for name in left.columns:
        a, b = left[name], right[name]
        assert a.dtype == b.dtype, f"{name}: {a.dtype} != {b.dtype}"
        if isinstance(a.dtype, pd.CategoricalDtype):
            assert list(a.cat.categories) == list(b.cat.categories), name
            a_values, b_values = a.cat.codes.to_numpy(), b.cat.codes.to_numpy()
        else:
            a_values, b_values = a.to_numpy(), b.to_numpy()
        assert np.array_equal(a_values, b_values, equal_nan=a_values.dtype.kind == "f"), name


def changed_columns(left: pd.DataFrame, right: pd.DataFrame) -> set[str]:
    """Names of the columns whose values differ between two frames of the same people."""
    changed = set()
    for name in left.columns:
        a, b = left[name], right[name]
        if isinstance(a.dtype, pd.CategoricalDtype):
            equal = a.astype(str).to_numpy() == b.astype(str).to_numpy()
        else:
            a_values, b_values = a.to_numpy(), b.to_numpy()
            equal = (a_values == b_values) | (
                (a_values != a_values) & (b_values != b_values) if a_values.dtype.kind == "f"
                else False
            )
        if not np.all(equal):
            changed.add(name)
    return changed
