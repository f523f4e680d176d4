"""fairlearn-style access to an audit: arrays in; ``by_group``, ``overall``, ``difference()``
and ``ratio()`` out, each figure with its interval.

:func:`frame_from_arrays` turns ``y_true``, ``y_pred`` and ``sensitive_features`` (arrays,
Series or a DataFrame of features, as fairlearn's ``MetricFrame`` takes them) into the table
the engine audits, checking each argument at the boundary. The views read an
:class:`~audit.result.AuditResult`'s tidy table; they compute nothing new, so every number in
them is also a row of ``result.table`` or ``result.summary``.

Semantics of the two summaries, per metric:

``method="between_groups"``
    The spread across groups, as fairlearn's: ``difference`` is the largest rate minus the
    smallest, ``ratio`` the smallest over the largest. Only groups with at least
    ``min_count`` people behind the rate take part (a group of two would otherwise decide
    the spread alone); ``groups_left_out`` says how many did not. The interval is a
    conservative projection of simultaneous intervals of the groups compared, and ``bias``
    is how much chance alone inflates a max-min gap (see :mod:`audit.glossary`).
``method="to_reference"``
    The group farthest from the reference group (by absolute difference, or by ratio on a
    log scale), among the groups with at least ``min_count`` people behind the rate. The
    group is named, and since it was picked as the most extreme its interval is the
    simultaneous one (``sim_diff_ci_*`` / ``sim_ratio_ci_*``), which holds for a group chosen
    after looking. The ratio is the group's rate over the reference's, so it may exceed 1.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from audit.errors import AuditInputError
from audit.metrics import EXPLANATIONS, RATE_NAMES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from audit.counts import CountTable

#: How the audit joins the columns of an intersection and the labels of its groups.
INTERSECTION = " × "
#: Methods of :func:`difference` and :func:`ratio`.
METHODS = ("between_groups", "to_reference")
#: Rates drawn by :func:`plot` unless others are asked.
PLOTTED_METRICS = ("selection_rate", "fpr", "fnr")


class Audited(Protocol):
    """What the views read of an :class:`audit.result.AuditResult`."""

    table: pd.DataFrame
    summary: pd.DataFrame
    counts: tuple[CountTable, ...]
    settings: dict[str, Any]

    @property
    def groupings(self) -> list[str]: ...


# -- arrays in ---------------------------------------------------------------------------------

def is_array_like(value: object) -> bool:
    """Whether ``value`` holds one entry per row (an array, Series, list...), not a name."""
    if value is None or isinstance(value, str | bytes):
        return False
    return isinstance(value, np.ndarray | pd.Series | pd.Index | pd.DataFrame | list | tuple
                      | Mapping) or hasattr(value, "__array__")


def _one_dimensional(values: object, argument: str) -> pd.Series:
    """``values`` as a Series with a fresh 0..n-1 index (positions, as fairlearn uses them)."""
    if isinstance(values, pd.DataFrame):
        raise AuditInputError(
            f"{argument} must be one-dimensional (one entry per row); got a DataFrame with "
            f"{values.shape[1]} columns; pass one column, such as frame[{str(values.columns[0])!r}]"
        )
    if isinstance(values, pd.Series | pd.Index):
        return pd.Series(values).reset_index(drop=True)
    array = np.asarray(values)
    if array.ndim != 1:
        hint = ("; pass y.ravel() for a column vector" if array.ndim == 2 and array.shape[1] == 1
                else "")
        raise AuditInputError(
            f"{argument} must be one-dimensional (one entry per row); got an array of shape "
            f"{array.shape}{hint}"
        )
    return pd.Series(array)


def _features(sensitive_features: object) -> pd.DataFrame:
    """The sensitive features as a DataFrame of named columns, in the order given.

    Unnamed features are called ``sensitive_feature_0``, ``sensitive_feature_1``..., as
    fairlearn calls them.
    """
    if isinstance(sensitive_features, pd.DataFrame):
        frame = sensitive_features.reset_index(drop=True)
        if frame.shape[1] == 0:
            raise AuditInputError("sensitive_features is a DataFrame with no columns; give at "
                                  "least one feature")
        frame.columns = [c if isinstance(c, str) else f"sensitive_feature_{i}"
                         for i, c in enumerate(frame.columns)]
        return frame
    if isinstance(sensitive_features, Mapping):
        columns = {str(name): _one_dimensional(values, f"sensitive_features[{name!r}]")
                   for name, values in sensitive_features.items()}
        if not columns:
            raise AuditInputError("sensitive_features is empty; give at least one feature")
        return _aligned(columns, "sensitive_features")
    if isinstance(sensitive_features, pd.Series):
        name = sensitive_features.name
        return pd.DataFrame({name if isinstance(name, str) else "sensitive_feature_0":
                             sensitive_features.reset_index(drop=True)})
    array = np.asarray(sensitive_features)
    if array.ndim == 1:
        return pd.DataFrame({"sensitive_feature_0": array})
    if array.ndim == 2:
        return pd.DataFrame({f"sensitive_feature_{i}": array[:, i]
                             for i in range(array.shape[1])})
    raise AuditInputError(
        f"sensitive_features must be one feature (1-D) or several (2-D, a DataFrame or a dict "
        f"of arrays); got an array of shape {array.shape}"
    )


def _aligned(columns: Mapping[str, pd.Series], argument: str) -> pd.DataFrame:
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise AuditInputError(
            f"the features of {argument} differ in length: "
            + ", ".join(f"{name!r} has {n:,}" for name, n in lengths.items())
        )
    return pd.DataFrame(dict(columns))


def _unique_name(wanted: str, taken: set[str]) -> str:
    name = wanted
    while name in taken:
        name += "_"
    return name


def frame_from_arrays(
    y_true: object,
    y_pred: object,
    sensitive_features: object,
    *,
    score: object | None = None,
    cluster: object | None = None,
    dropna: bool = False,
) -> tuple[pd.DataFrame, list[str], dict[str, str | None]]:
    """The table the engine audits, from fairlearn-style arguments, each checked here.

    Parameters
    ----------
    y_true, y_pred : array-like, 1-D
        True outcomes and decisions, one per row (arrays, lists or Series; a Series' index
        is ignored, as fairlearn ignores it: rows match by position).
    sensitive_features : array-like, Series, DataFrame or dict of arrays
        One feature (1-D) or several (2-D array, DataFrame, dict); several are audited each
        alone and crossed.
    score, cluster : array-like, optional
        Scores in [0, 1], and the cluster each row belongs to.
    dropna : bool
        Drop rows with a missing value in any argument instead of refusing them.

    Returns
    -------
    frame : DataFrame
        One column per feature, then the outcome, the decision, and score and cluster if
        given; named after the features and the Series given (``y_true``, ``y_pred``...
        otherwise).
    groups : list of str
        The feature columns.
    columns : dict
        Which column holds each argument: keys ``y_true``, ``y_pred``, ``score``,
        ``cluster``.

    Raises
    ------
    AuditInputError
        When an argument is not one-dimensional, lengths differ, or an outcome or decision
        is missing (without ``dropna``); the message names the argument.
    """
    features = _features(sensitive_features)
    arrays = {"y_true": y_true, "y_pred": y_pred, "score": score, "cluster": cluster}
    given = {argument: _one_dimensional(values, argument)
             for argument, values in arrays.items() if values is not None}
    n_rows = len(given["y_true"])
    for argument, values in [*given.items(), ("sensitive_features", features)]:
        if len(values) != n_rows:
            raise AuditInputError(
                f"{argument} has {len(values):,} rows but y_true has {n_rows:,}; every "
                "argument needs one entry per row, in the same order"
            )
    if not dropna:
        for argument in ("y_true", "y_pred", "score"):
            if argument in given:
                _refuse_missing(given[argument], argument)
    taken = set(map(str, features.columns))
    columns: dict[str, str | None] = {"y_true": None, "y_pred": None, "score": None,
                                      "cluster": None}
    frame = features.copy()
    for argument, values in given.items():
        wanted = values.name if isinstance(values.name, str) and values.name else argument
        name = _unique_name(wanted, taken)
        taken.add(name)
        columns[argument] = name
        frame[name] = values  # both carry the index 0..n-1: rows match by position
    return frame, [str(c) for c in features.columns], columns


def _refuse_missing(values: pd.Series, argument: str) -> None:
    missing = values.isna().to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise AuditInputError(
            f"{argument} has {int(missing.sum()):,} missing value"
            f"{'s' if missing.sum() > 1 else ''} (the first at position {first:,}); every row "
            "needs one, so drop those rows or pass dropna=True"
        )


# -- views out ---------------------------------------------------------------------------------

def grouping_columns(result: Audited, grouping: str) -> tuple[str, ...]:
    """The columns of the grouping named ``grouping``, read from the result's count tables."""
    for table in result.counts:
        for size in range(1, len(table.columns) + 1):
            for columns in itertools.permutations(table.columns, size):
                if INTERSECTION.join(columns) == grouping:
                    return tuple(columns)
    return (grouping,)


def main_grouping(result: Audited) -> str:
    """The grouping fairlearn's ``MetricFrame`` would show: the one over the most columns
    (the intersection of every feature, when the audit crossed them), the first on a tie."""
    groupings = result.groupings
    sizes = [len(grouping_columns(result, g)) for g in groupings]
    return groupings[int(np.argmax(sizes))]


def _grouping(result: Audited, grouping: str | None) -> str:
    if grouping is None:
        return main_grouping(result)
    if grouping not in result.groupings:
        raise AuditInputError(
            f"grouping {grouping!r} was not audited; groupings: {result.groupings}")
    return grouping


def _metrics(result: Audited, metrics: str | Sequence[str] | None, grouping: str
             ) -> list[str]:
    present = list(dict.fromkeys(
        result.table.loc[result.table["grouping"] == grouping, "metric"]))
    if metrics is None:
        return [m for m in present if m != "n"]
    wanted = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in wanted if m not in present]
    if unknown:
        raise AuditInputError(f"metric {unknown[0]!r} is not in this audit; metrics: "
                              f"{[m for m in present if m != 'n']}")
    return wanted


def _index(result: Audited, grouping: str, labels: Sequence[str]) -> pd.Index:
    """Group labels as an index named by the grouping's columns (a MultiIndex when crossed,
    as fairlearn's ``by_group``); each part is the value's text, as in ``result.table``."""
    columns = grouping_columns(result, grouping)
    if len(columns) == 1:
        return pd.Index(list(labels), name=columns[0], dtype=object)
    family = next(t for t in result.counts if set(columns) <= set(t.columns))
    parts = {INTERSECTION.join(combo): combo for combo in itertools.product(
        *(family.categories[family.columns.index(c)] for c in columns))}
    return pd.MultiIndex.from_tuples([parts[label] for label in labels], names=list(columns))


def by_group(result: Audited, grouping: str | None = None,
             metrics: str | Sequence[str] | None = None, *, what: str = "value"
             ) -> pd.DataFrame:
    """One row per group, one column per metric (``n`` first), like ``MetricFrame.by_group``.

    Parameters
    ----------
    grouping : str, optional
        Default: :func:`main_grouping`.
    metrics : str or sequence of str, optional
        Default: every metric of the audit.
    what : str
        Column of ``result.table`` to spread: ``"value"`` (default), ``"ci_low"``,
        ``"ci_high"``, ``"ratio"``, ``"p_holm"``...

    Figures are as computed, suppressed cells included (as in ``result.table``); the written
    files and reports withhold them.
    """
    grouping = _grouping(result, grouping)
    metrics = ["n", *(m for m in _metrics(result, metrics, grouping) if m != "n")]
    rows = result.table[(result.table["grouping"] == grouping)
                        & result.table["metric"].isin(metrics)]
    if what not in rows.columns:
        raise AuditInputError(f"what={what!r} is not a column of the audit table; columns: "
                              f"{list(rows.columns)}")
    wide = rows.pivot(index="group", columns="metric", values=what)
    labels = list(dict.fromkeys(rows["group"]))
    wide = wide.reindex(index=labels, columns=metrics)
    wide.index = _index(result, grouping, labels)
    wide.columns.name = None
    if what == "value":
        wide["n"] = wide["n"].astype(np.int64)  # a group's size is a count, never missing
    return wide


def overall(result: Audited, metrics: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Every rate over all rows, with its Wilson interval: one row per metric."""
    grouping = main_grouping(result)
    rows = result.summary[(result.summary["grouping"] == grouping)
                          & (result.summary["measure"] == "overall")].set_index("metric")
    wanted = [m for m in _metrics(result, metrics, grouping) if m in rows.index]
    out = rows.loc[wanted, ["value", "ci_low", "ci_high"]].copy()
    out.index.name = "metric"
    return out


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise AuditInputError(f"method must be one of {list(METHODS)}, got {method!r}")


def difference(result: Audited, method: str = "between_groups", *,
               grouping: str | None = None, metrics: str | Sequence[str] | None = None
               ) -> pd.DataFrame:
    """The gap per metric, with its interval; see the module's text for the two methods.

    Returns
    -------
    DataFrame
        Indexed by metric. ``between_groups``: value, ci_low, ci_high, bias, groups_compared,
        groups_left_out. ``to_reference``: group, reference, value, ci_low, ci_high (both
        simultaneous), n (people behind the group's rate), p_holm.
    """
    return _gap(result, method, grouping, metrics, ratio=False)


def ratio(result: Audited, method: str = "between_groups", *,
          grouping: str | None = None, metrics: str | Sequence[str] | None = None
          ) -> pd.DataFrame:
    """The ratio per metric, with its interval; columns as for :func:`difference`."""
    return _gap(result, method, grouping, metrics, ratio=True)


def _gap(result: Audited, method: str, grouping: str | None,
         metrics: str | Sequence[str] | None, *, ratio: bool) -> pd.DataFrame:
    _check_method(method)
    grouping = _grouping(result, grouping)
    wanted = [m for m in _metrics(result, metrics, grouping) if m in RATE_NAMES]
    if method == "between_groups":
        measure = "min_max_ratio" if ratio else "max_min_difference"
        rows = result.summary[(result.summary["grouping"] == grouping)
                              & (result.summary["measure"] == measure)].set_index("metric")
        out = rows.loc[[m for m in wanted if m in rows.index],
                       ["value", "ci_low", "ci_high", "bias", "groups_compared",
                        "groups_left_out"]].copy()
        out.index.name = "metric"
        return out
    picks = [most_extreme(result, grouping, metric, ratio=ratio) for metric in wanted]
    out = pd.DataFrame(picks, index=pd.Index(wanted, name="metric"),
                       columns=["group", "reference", "value", "ci_low", "ci_high", "n",
                                "p_holm"])
    return out


def most_extreme(result: Audited, grouping: str, metric: str, *, ratio: bool = True
                 ) -> dict[str, object]:
    """The group farthest from the reference on ``metric``, with its simultaneous interval.

    Farthest by ratio on a log scale (``ratio=True``) or by absolute difference. Groups with
    fewer than ``min_count`` people behind the rate, suppressed or undefined, and the
    reference itself are not candidates. Without a candidate every figure is NaN.
    """
    table = result.table
    rows = table[(table["grouping"] == grouping) & (table["metric"] == metric)]
    min_count = result.settings.get("min_count", 30)
    flags = rows["flags"].fillna("").astype(str).str.split(";")
    excluded = flags.map(lambda f: bool({"reference", "suppressed", "undefined"} & set(f)))
    candidates = rows[~excluded.to_numpy() & (rows["denominator"] >= min_count).to_numpy()]
    column, low, high = (("ratio", "sim_ratio_ci_low", "sim_ratio_ci_high") if ratio else
                         ("difference", "sim_diff_ci_low", "sim_diff_ci_high"))
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = (np.abs(np.log(candidates[column].to_numpy(dtype=float))) if ratio
                    else np.abs(candidates[column].to_numpy(dtype=float)))
    reference = rows["reference"].iloc[0] if len(rows) else None
    if not np.isfinite(distance).any():
        return {"group": None, "reference": reference, "value": math.nan,
                "ci_low": math.nan, "ci_high": math.nan, "n": math.nan, "p_holm": math.nan}
    pick = candidates.iloc[int(np.nanargmax(np.where(np.isfinite(distance), distance,
                                                     -np.inf)))]
    return {"group": pick["group"], "reference": pick["reference"], "value": pick[column],
            "ci_low": pick[low], "ci_high": pick[high], "n": pick["denominator"],
            "p_holm": pick["p_holm"]}


def plot(result: Audited, metrics: Sequence[str] = PLOTTED_METRICS, *,
         grouping: str | None = None, labels: Mapping[str, str] | None = None,
         max_groups: int = 40) -> Figure:
    """Rates per group with their intervals, one panel per metric (see
    :func:`audit.figures.rates_figure`); ISO 3166 country codes among the groups are shown
    by name unless ``labels`` maps groups to other text. Suppressed cells are left out."""
    from audit.figures import rates_figure
    from audit.names import named_groups

    grouping = _grouping(result, grouping)
    metrics = _metrics(result, list(metrics), grouping)
    if labels is None:
        groups = result.table.loc[result.table["grouping"] == grouping, "group"].unique()
        labels = named_groups(groups)
    confidence = result.settings.get("confidence", 0.95)
    return rates_figure(result.table, grouping, metrics, labels=labels, max_groups=max_groups,
                        title=f"Rates by {grouping} ({100 * confidence:g}% intervals)",
                        confidence=confidence)


def metric_title(metric: str) -> str:
    """A metric's plain name (``fpr`` is "False positive rate")."""
    return EXPLANATIONS.get(metric, (metric,))[0]
