"""Reading a population's categorical columns as text, without converting every row.

A population's categorical columns hold few categories and many rows. Turning each row into
a string (``column.astype(str)``) costs a string per person, every time a system reads the
column, in every attribution world and replicate; reading the categories as text and
indexing them by each row's code gives the same values at the cost of the categories.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def text_values(column: pd.Series) -> np.ndarray:
    """Each row's value as text (missing values NaN), as ``column.astype(str).to_numpy()``.

    Parameters
    ----------
    column : pandas.Series
        Any column; a categorical one is read through its categories.

    Returns
    -------
    numpy.ndarray
        An object array of ``str`` (NaN where the value is missing).
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        labels = np.array([str(c) for c in column.cat.categories] + [np.nan], dtype=object)
        return labels[column.cat.codes.to_numpy()]  # code -1 (missing) reads the last: NaN
    return column.astype(str).to_numpy()


def in_values(column: pd.Series, values: Iterable[str]) -> np.ndarray:
    """Whether each row's value, as text, is one of ``values`` (missing values: False).

    Parameters
    ----------
    column : pandas.Series
        Any column; a categorical one is read through its categories.
    values : iterable of str
        The values looked for.

    Returns
    -------
    numpy.ndarray of bool
    """
    wanted = list(values)
    if isinstance(column.dtype, pd.CategoricalDtype):
        found = np.isin(np.array([str(c) for c in column.cat.categories], dtype=object), wanted)
        return np.append(found, False)[column.cat.codes.to_numpy()]
    return column.astype(str).isin(wanted).to_numpy()
