"""The audit: every metric, disparity, interval and test, derived from one count array."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from audit import clusters
from audit.adjusted_table import adjusted_rows
from audit.counts import DEFAULT_SCORE_BINS, MAX_CELLS, CountTable, count_table, marginalise
from audit.disclosure import (
    COMPLEMENTARY,
    add_flags,
    flag_withheld,
    protect_across,
    protect_groups,
    without_reference_gaps,
)
from audit.disclosure_check import family_layout, find_withheld, withhold_figures
from audit.errors import AuditInputError
from audit.intervals import (
    DEFAULT_CONFIDENCE,
    DEFAULT_N_BOOT,
    check_random_state,
    mover_ratio_from_limits,
    nan_mean,
    newcombe_from_limits,
    percentile_interval,
    resample_cells,
    score_limits,
    wilson_interval,
)
from audit.metrics import (
    RATE_NAMES,
    auc_from_bins,
    expected_calibration_error,
    rate_parts,
    rates,
    safe_divide,
)
from audit.power import detectable_gap
from audit.result import TABLE_COLUMNS, AuditResult, empty_adjusted
from audit.significance import benjamini_hochberg, compare_proportions, holm
from audit.validation import (
    binary_indicator,
    check_adjust_for,
    check_columns,
    check_memory,
    check_strata_columns,
    group_codes,
    group_labels,
    memory_estimate,
    missing_mask,
)

#: Cells with fewer people than this (in a rate's denominator) are flagged ``small_n``.
DEFAULT_MIN_COUNT = 30
#: Cells with fewer people than this are flagged ``suppressed`` and withheld from reports.
DEFAULT_SUPPRESS_BELOW = 10
#: Selection-rate ratios outside [0.8, 1.25] of the reference fail the four-fifths rule.
FOUR_FIFTHS = 0.8
#: Calibration bins for the expected calibration error.
CALIBRATION_BINS = 10
#: Resamples behind the bias estimate of a spread across groups (a mean, not a quantile).
BIAS_RESAMPLES = 200
#: Joins the columns of an intersectional grouping, and the labels of its groups.
INTERSECTION = " × "

Grouping = tuple[str, ...]


def grouping_name(columns: Sequence[str]) -> str:
    """Name of a grouping: its columns joined by ``" × "``."""
    return INTERSECTION.join(columns)


def resolve_groupings(
    groups: Sequence[str], intersections: bool | Sequence[Sequence[str]]
) -> list[Grouping]:
    """Each group column alone, then the intersections asked for.

    ``intersections=True`` adds the intersection of all group columns (when there are two or
    more); a sequence of column tuples adds exactly those.
    """
    groupings: list[Grouping] = [(g,) for g in groups]
    if intersections is True:
        if len(groups) > 1:
            groupings.append(tuple(groups))
    elif intersections:
        for combination in intersections:
            combination = tuple(combination)
            unknown = [c for c in combination if c not in groups]
            if unknown:
                raise AuditInputError(
                    f"intersection {combination} names {unknown}, which are not group columns; "
                    f"group columns: {list(groups)}"
                )
            if len(combination) > 1 and combination not in groupings:
                groupings.append(combination)
    return groupings


def grouping_families(groupings: Sequence[Grouping]) -> list[Grouping]:
    """Sets of columns to count jointly: each grouping is counted inside one family.

    Intersections are families of their own (the largest first); a grouping whose columns all
    lie in an existing family joins it, as its counts are a sum over that family's array.
    Unrelated groupings are counted apart, so nationality, language and topic never become a
    three-way cross product nobody asked for.
    """
    families: list[Grouping] = []
    for grouping in sorted(groupings, key=len, reverse=True):
        if not any(set(grouping) <= set(family) for family in families):
            families.append(tuple(grouping))
    return families


#: Most cells of the table counted over every group column together (see :func:`count_joint`).
JOINT_CELLS = 200_000


def joint_columns(groupings: Sequence[Grouping]) -> Grouping | None:
    """Every group column, when the groupings are counted in two or more families.

    Groupings counted apart (country and region of origin, with no intersection asked for)
    describe the same people, so a withheld group of one can follow from the other's groups:
    the exact check of :mod:`audit.disclosure_check` needs which combinations occur.
    """
    families = grouping_families(groupings)
    if len(families) < 2:
        return None
    return tuple(dict.fromkeys(c for family in families for c in family))


def count_joint(frame: pd.DataFrame, columns: Grouping | None, y_true: str, y_pred: str, *,
                positive_label: object | None, max_groups: int) -> CountTable | None:
    """The counts over ``columns`` together, for the exact check only; None when there are
    no such columns or the table would exceed :data:`JOINT_CELLS` cells."""
    if columns is None or len(frame) == 0:
        return None
    cells = np.prod([_known_values(frame[c]) or frame[c].nunique(dropna=False)
                     for c in columns], dtype=np.float64)
    if cells > JOINT_CELLS:
        return None
    return count_table(frame, columns, y_true, y_pred, positive_label=positive_label,
                       max_groups=max_groups)


def audit(
    frame: pd.DataFrame | None = None,
    groups: Sequence[str] | Sequence[Sequence[str]] | None = None,
    y_true: object = None,
    y_pred: object = None,
    score: object | None = None,
    reference: Mapping[str, str] | None = None,
    *,
    sensitive_features: object | None = None,
    intersections: bool | Sequence[Sequence[str]] = True,
    positive_label: object | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    min_count: int = DEFAULT_MIN_COUNT,
    suppress_below: int = DEFAULT_SUPPRESS_BELOW,
    dropna: bool = False,
    max_groups: int = 10_000,
    score_bins: int = DEFAULT_SCORE_BINS,
    cluster: str | None = None,
    random_state: None | int | np.random.Generator = 0,
    adjust_for: str | Sequence[str] | None = None,
    adjust_view: str | None = None,
) -> AuditResult:
    """Audit binary decisions for unequal rates across groups.

    Two forms. With a table, ``audit(frame, groups, y_true, y_pred)`` names its columns.
    Without one, as fairlearn's ``MetricFrame`` is called,
    ``audit(y_true=..., y_pred=..., sensitive_features=...)`` takes the values themselves:
    arrays, lists or Series, and for ``sensitive_features`` also a 2-D array, a DataFrame or
    a dict of features (several features are audited each alone and crossed, unless
    ``intersections=False``). The result is the same either way; see
    :mod:`audit.frame` for its ``by_group``, ``overall``, ``difference()``, ``ratio()`` and
    ``plot()``.

    Parameters
    ----------
    frame : DataFrame, optional
        One row per person (or decision). Leave it out to pass arrays.
    groups : sequence of str, or sequence of sequences of str
        Grouping columns, for example ``["nationality", "sex"]``; or the exact groupings to
        audit, for example ``[["nationality"], ["nationality", "sex"]]`` (then
        ``intersections`` is not used). Only with ``frame``.
    y_true : str, or array-like without ``frame``
        Binary outcome the decision claims to predict: a column name, or one value per row.
    y_pred : str, or array-like without ``frame``
        Binary decision (1 = selected, flagged, prioritised): a column name, or the values.
    score : str, or array-like without ``frame``, optional
        Score in [0, 1] behind the decision; adds AUC and expected calibration error.
    sensitive_features : array-like, Series, DataFrame or dict of arrays, optional
        The groups, one entry per row, when ``frame`` is left out. Features are named after
        the Series' or DataFrame's column names, else ``sensitive_feature_0``, ``_1``...
        (as fairlearn names them); those names key ``reference`` and the groupings.
    reference : mapping, optional
        Reference group per grouping, ``{"nationality": "GBR"}``; an intersection's reference
        defaults to the combination of its columns' references. Default: the largest group.
    intersections : bool or sequence of sequences of str
        ``True`` also audits the intersection of all group columns; a sequence names the
        intersections to audit; ``False`` audits each column alone.
    positive_label : object, optional
        The value of ``y_true`` and ``y_pred`` that counts as positive, if not boolean or 0/1.
    n_boot : int
        Bootstrap resamples of the counts for intervals of differences and ratios.
    confidence : float
        Confidence level of every interval.
    min_count, suppress_below : int
        Rates over fewer people than these are flagged ``small_n`` and ``suppressed``.
    dropna : bool
        Drop rows with missing values in the used columns instead of refusing them.
    max_groups : int
        Refuse a group column with more distinct values (probably an identifier).
    score_bins : int
        Equal-width score bins for AUC and calibration.
    cluster : str, or array-like without ``frame``, optional
        Column naming the cluster of each row (``"author_id"`` for posts, a person for
        attempts). Rows of one cluster are not independent: intervals and tests then use
        effective counts (see :mod:`audit.clusters`), and ``design_effect`` says by how much
        each rate's variance grew.
    random_state : None, int or Generator
        Seeds the bootstrap; the default 0 makes every run give the same intervals.
    adjust_for : str or sequence of str, optional
        Columns to stratify by (several are crossed into one stratum variable). Every group
        of each single-column grouping is then also compared with that grouping's reference
        within strata, for every rate: see :mod:`audit.adjusted` and the result's
        ``adjusted`` table. With ``dropna=True``, rows missing a stratum are dropped from the
        whole audit, so the crude rates of both tables rest on the same rows.
    adjust_view : str, optional
        Label written in the ``view`` column of the adjusted table; default: the name of the
        ``y_true`` column (the outcome the rates are measured against).

    Returns
    -------
    AuditResult
        Its ``table`` holds, per group and rate: the rate with a Wilson interval; the
        difference to the reference with Newcombe's hybrid score interval and the ratio with
        a MOVER-R interval (both closed-form, given at zero events too); the same two
        intervals made simultaneous over the grouping's groups (Bonferroni; ``sim_*``), for a
        group picked afterwards as the most extreme; the smallest difference and ratio the
        audit could detect with 80% power (``detectable_*``); p-values with Holm and BH
        adjustment; and flags. Its ``summary`` holds spreads across groups with bootstrap
        intervals. Every column and flag is described in :mod:`audit.glossary`.

    Raises
    ------
    AuditInputError
        For every input a user can fix; the message names the column or option.

    Examples
    --------
    >>> result = audit(frame, groups=["nationality", "sex"], y_true="overstayed",
    ...                y_pred="prioritised")                                # doctest: +SKIP
    >>> result.table.query("metric == 'fpr'")                                # doctest: +SKIP
    >>> result = audit(y_true=y, y_pred=decisions, sensitive_features=people[["nat", "sex"]])
    ...                                                                      # doctest: +SKIP
    >>> result.by_group, result.ratio(method="to_reference")                 # doctest: +SKIP
    """
    counted = _counted(frame, groups, y_true, y_pred, score, sensitive_features=sensitive_features,
                       intersections=intersections, positive_label=positive_label,
                       dropna=dropna, max_groups=max_groups, score_bins=score_bins,
                       cluster=cluster, adjust_for=adjust_for)
    joint = count_joint(counted.frame, joint_columns(counted.groupings), counted.y_true,
                        counted.y_pred, positive_label=positive_label, max_groups=max_groups)
    return audit_families(
        counted.tables, counted.groupings, reference, n_boot=n_boot, confidence=confidence,
        min_count=min_count, suppress_below=suppress_below, random_state=random_state,
        settings={"y_true": counted.y_true, "y_pred": counted.y_pred, "score": counted.score,
                  "cluster": counted.cluster,
                  "positive_label": None if positive_label is None else str(positive_label)},
        design_effects=counted.effects, n_dropped=counted.n_dropped,
        stratified=counted.stratified, adjust_for=counted.strata, adjust_view=adjust_view,
        joint=joint,
    )


def audit_adjusted(
    frame: pd.DataFrame,
    groups: Sequence[str] | Sequence[Sequence[str]],
    y_true: str,
    y_pred: str,
    adjust_for: str | Sequence[str],
    reference: Mapping[str, str] | None = None,
    *,
    intersections: bool | Sequence[Sequence[str]] = True,
    positive_label: object | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    min_count: int = DEFAULT_MIN_COUNT,
    suppress_below: int = DEFAULT_SUPPRESS_BELOW,
    dropna: bool = False,
    max_groups: int = 10_000,
    cluster: str | None = None,
    adjust_view: str | None = None,
) -> pd.DataFrame:
    """The ``adjusted`` table of :func:`audit` alone: crude and stratum-adjusted comparisons.

    Equal, row for row, to ``audit(frame, groups, y_true, y_pred, reference,
    adjust_for=adjust_for, ...).adjusted`` with the same arguments: those comparisons are
    closed forms over the stratified counts and the groupings' references, so the plain
    audit's bootstrap, spreads and disclosure check, which they do not read, are skipped.
    For a caller that needs only the adjusted comparisons, many times over.

    Parameters
    ----------
    frame, groups, y_true, y_pred, reference
        As for :func:`audit` (column names of ``frame``).
    adjust_for : str or sequence of str
        The strata, as for :func:`audit`; required here.
    intersections, positive_label, confidence, min_count, suppress_below, dropna, \
max_groups, cluster, adjust_view
        As for :func:`audit`.

    Returns
    -------
    DataFrame
        The columns of :data:`audit.result.ADJUSTED_COLUMNS`, one row per (group, rate) of
        each single-column grouping.

    Raises
    ------
    AuditInputError
        As :func:`audit` does for the same input, and when ``adjust_for`` is empty.
    """
    if not adjust_for:
        raise AuditInputError("audit_adjusted needs adjust_for: the columns to stratify by")
    counted = _counted(frame, groups, y_true, y_pred, None, sensitive_features=None,
                       intersections=intersections, positive_label=positive_label,
                       dropna=dropna, max_groups=max_groups, score_bins=DEFAULT_SCORE_BINS,
                       cluster=cluster, adjust_for=adjust_for)
    groupings = counted.groupings
    _check_reference_keys(reference, groupings)
    references = {}
    for table in counted.tables:
        members = groupings_in(table, groupings)
        own = _references_for(reference, members, table.columns)
        for columns in members:
            # Resolved as the plain audit resolves it (the largest group by default).
            counts, labels, _ = _present_groups(table, columns)
            references[grouping_name(columns)] = labels[
                _reference_index(columns, labels, counts.sum(axis=(1, 2)), own)]
    view = adjust_view if adjust_view is not None else str(counted.y_true)
    return _adjusted(references, counted.stratified, tuple(counted.strata), view,
                     confidence=confidence, min_count=min_count,
                     suppress_below=suppress_below, design_effects=counted.effects)


@dataclass
class _Counted:
    """What :func:`_counted` returns: the validated input and its count tables."""

    frame: pd.DataFrame
    groupings: list[Grouping]
    strata: list[str]
    y_true: str
    y_pred: str
    score: str | None
    cluster: str | None
    tables: list[CountTable]
    stratified: list[CountTable]
    effects: dict[str, np.ndarray] | None
    n_dropped: int


def _counted(frame: pd.DataFrame | None, groups: object, y_true: object, y_pred: object,
             score: object, *, sensitive_features: object, intersections: object,
             positive_label: object | None, dropna: bool, max_groups: int, score_bins: int,
             cluster: object, adjust_for: object) -> _Counted:
    """An audit's input validated, its rows with missing values dropped (``dropna``), and
    counted: every family's table, each stratified grouping's and the design effects."""
    if frame is None or sensitive_features is not None:
        frame, groups, y_true, y_pred, score, cluster = _from_arrays(
            frame, groups, y_true, y_pred, score, cluster, sensitive_features,
            adjust_for=adjust_for, dropna=dropna)
    else:
        _refuse_arrays_with_frame(y_true=y_true, y_pred=y_pred, score=score, cluster=cluster,
                                  groups=groups)
    groupings = groupings_of(groups, intersections)
    columns = list(dict.fromkeys(c for g in groupings for c in g))
    strata = check_adjust_for(adjust_for, columns)
    if strata:
        check_strata_columns(frame, strata, max_groups)
    n_dropped = 0
    if cluster is not None:
        check_columns(frame, [cluster], {cluster: "cluster"})
    if dropna:
        used = [*columns, y_true, y_pred, *([score] if score is not None else []),
                *([cluster] if cluster is not None else []), *strata]
        check_columns(frame, used, {c: "groups" for c in columns})
        mask = missing_mask(frame, used)
        n_dropped = int(mask.sum())
        if n_dropped == len(frame) and len(frame):
            raise AuditInputError(
                f"every row has a missing value in {used}; no rows are left to audit")
        frame = frame.loc[~mask] if n_dropped else frame
    tables, stratified = _count(frame, groupings, strata, y_true, y_pred, score,
                                positive_label=positive_label, score_bins=score_bins,
                                max_groups=max_groups)
    effects = None
    if cluster is not None:
        effects = {}
        for table in tables:
            effects.update(_design_effects(frame, table, groupings_in(table, groupings),
                                           cluster, y_true, y_pred, positive_label))
    return _Counted(frame, groupings, strata, y_true, y_pred, score, cluster, tables,
                    stratified, effects, n_dropped)


def _from_arrays(frame: object, groups: object, y_true: object, y_pred: object,
                 score: object, cluster: object, sensitive_features: object, *,
                 adjust_for: object, dropna: bool) -> tuple:
    """The fairlearn-style call turned into the table call: a frame and its column names."""
    from audit.frame import frame_from_arrays

    if frame is not None:
        raise AuditInputError(
            "give either a frame with column names, audit(frame, groups, y_true, y_pred), or "
            "the values themselves, audit(y_true=..., y_pred=..., sensitive_features=...), "
            "not both")
    if sensitive_features is None:
        raise AuditInputError(
            "no groups to audit: give a frame and its group columns, audit(frame, groups, "
            "y_true, y_pred), or the values with sensitive_features=...")
    if groups is not None:
        raise AuditInputError(
            "groups names columns of a frame; with sensitive_features the groups are the "
            "features themselves, so leave groups out")
    for argument, value in (("y_true", y_true), ("y_pred", y_pred)):
        if value is None:
            raise AuditInputError(f"{argument} is missing: give one value per row")
        if isinstance(value, str):
            raise AuditInputError(
                f"{argument}={value!r} names a column, but no frame was given; pass the "
                f"values (an array or Series), or the frame as the first argument")
    if adjust_for is not None:
        raise AuditInputError(
            "adjust_for names columns of a frame; put the strata in a DataFrame with the "
            "other columns and call audit(frame, groups, y_true, y_pred, adjust_for=...)")
    table, features, names = frame_from_arrays(y_true, y_pred, sensitive_features,
                                               score=score, cluster=cluster, dropna=dropna)
    return (table, features, names["y_true"], names["y_pred"], names["score"],
            names["cluster"])


def _refuse_arrays_with_frame(**arguments: object) -> None:
    """With a frame, every argument names columns; say so when one holds values instead."""
    from audit.frame import is_array_like

    for argument, value in arguments.items():
        if argument != "groups" and is_array_like(value):
            raise AuditInputError(
                f"{argument} is given as {type(value).__name__} with a frame, where it names a "
                f"column; name the column (say {argument}='overstayed'), or leave the frame "
                f"out and call audit(y_true=..., y_pred=..., sensitive_features=...)")
    if arguments["groups"] is None:
        raise AuditInputError("give the group columns (groups=[COL, ...])")
    for argument in ("y_true", "y_pred"):
        if arguments[argument] is None:
            raise AuditInputError(f"give the {argument} column ({argument}=COL)")


def _count(frame: pd.DataFrame, groupings: Sequence[Grouping], strata: Sequence[str],
           y_true: str, y_pred: str, score: str | None, *, positive_label: object | None,
           score_bins: int, max_groups: int) -> tuple[list[CountTable], list[CountTable]]:
    """Count tables of every family, and of each stratified grouping (none without strata).

    With strata, a family serving single-column groupings is counted crossed with the strata
    in one pass, when its columns' numbers of values are known up front (categorical or
    boolean columns) and the crossed array fits; its stratified groupings and, without a
    score column, the family itself are sums over that array (counts add, so they equal the
    separate counts exactly). Otherwise each stratified grouping is counted on its own.
    """
    families = grouping_families(groupings)
    singles = adjusted_groupings(groupings, strata)
    counted: dict[Grouping, CountTable] = {}
    if singles:
        for family in families:
            crossed = [*family, *strata]
            cells = np.prod([_known_values(frame[c]) or MAX_CELLS + 1 for c in crossed],
                            dtype=np.float64)
            if any(g[0] in family for g in singles) and cells <= MAX_CELLS:
                counted[family] = count_table(frame, crossed, y_true, y_pred,
                                              positive_label=positive_label,
                                              max_groups=max_groups)
    tables = [counted[family].marginal(family) if family in counted and score is None
              else count_table(frame, family, y_true, y_pred, score,
                               positive_label=positive_label, score_bins=score_bins,
                               max_groups=max_groups)
              for family in families]
    stratified = []
    for grouping in singles:
        family = next((f for f in counted if grouping[0] in f), None)
        stratified.append(
            counted[family].marginal([*grouping, *strata]) if family is not None
            else count_table(frame, [*grouping, *strata], y_true, y_pred,
                             positive_label=positive_label, max_groups=max_groups))
    return tables, stratified


def _known_values(column: pd.Series) -> int | None:
    """Number of labels a column's axis will have, when known without a pass over rows."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return max(len(column.cat.categories), 1)
    if pd.api.types.is_bool_dtype(column) and isinstance(column.dtype, np.dtype):
        return 2
    return None


def adjusted_groupings(groupings: Sequence[Grouping], adjust_for: Sequence[str]
                       ) -> list[Grouping]:
    """The groupings compared within strata: each single-column one, when strata are asked."""
    return [g for g in groupings if len(g) == 1] if adjust_for else []


def groupings_of(groups: str | Sequence[str] | Sequence[Sequence[str]],
                 intersections: bool | Sequence[Sequence[str]] = True) -> list[Grouping]:
    """The groupings an audit's ``groups`` and ``intersections`` ask for, validated."""
    if isinstance(groups, str):  # one column, not its letters
        groups = [groups]
    explicit = [g for g in groups if not isinstance(g, str)]
    if explicit and len(explicit) != len(groups):
        raise AuditInputError(
            "give groups either as column names or as groupings (lists of column names), "
            f"not a mix: {list(groups)}"
        )
    if explicit:
        groupings = [tuple(g) for g in groups]
        if any(not g for g in groupings):
            raise AuditInputError("a grouping names no column; give at least one column each")
    else:
        groupings = resolve_groupings(list(groups), intersections)
    if not groupings:
        raise AuditInputError("give at least one group column (groups=[COL, ...])")
    return groupings


def groupings_in(table: CountTable, groupings: Sequence[Grouping]) -> list[Grouping]:
    """The groupings a family's count table serves (those not served by a larger family)."""
    families = grouping_families(groupings)
    own = families.index(table.columns)
    return [g for g in groupings
            if set(g) <= set(table.columns)
            and not any(set(g) <= set(f) for f in families[:own])]


def audit_families(
    tables: Sequence[CountTable],
    groupings: Sequence[Grouping],
    reference: Mapping[str, str] | None = None,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    min_count: int = DEFAULT_MIN_COUNT,
    suppress_below: int = DEFAULT_SUPPRESS_BELOW,
    random_state: None | int | np.random.Generator = 0,
    settings: Mapping[str, object] | None = None,
    design_effects: Mapping[str, np.ndarray] | None = None,
    n_dropped: int = 0,
    stratified: Sequence[CountTable] = (),
    adjust_for: Sequence[str] = (),
    adjust_view: str | None = None,
    joint: CountTable | None = None,
) -> AuditResult:
    """Audit the count tables of every family of groupings (see :func:`grouping_families`).

    The in-memory audit, the streaming audit of a file and the audit on a cluster all end
    here, with the same tables, so they give the same result. With ``adjust_for``,
    ``stratified`` holds one table per grouping of :func:`adjusted_groupings`, over the
    grouping's column and then the ``adjust_for`` columns; those comparisons are closed
    forms that draw no random numbers, so the plain figures are the same with or without
    them. ``joint`` counts every group column together (:func:`count_joint`): with it, the
    groupings of different families are checked against each other too.
    """
    rng = check_random_state(random_state)
    settings = {**(settings or {}),
                "random_state": random_state if isinstance(random_state, int | None)
                else "Generator"}
    # Every path (in memory, in batches, on a cluster) ends here with its counts: the one
    # place where the bootstrap's memory is known before any of it is allocated.
    check_memory(bootstrap_memory(tables, groupings, n_boot))
    results = []
    for table in tables:
        members = groupings_in(table, groupings)
        results.append(audit_counts(
            table, members, _references_for(reference, members, table.columns),
            n_boot=n_boot, confidence=confidence, min_count=min_count,
            suppress_below=suppress_below, random_state=rng, settings=settings,
            design_effects=design_effects,
        ))
    result = _combine(results, list(groupings), reference, n_dropped)
    # Each grouping protected its own withheld groups; every grouping shares one overall row.
    result.summary = protect_across(result.summary)
    result.table, result.summary, unchecked = _check_disclosure(
        result.table, result.summary, tables, groupings, max(min_count, suppress_below),
        joint)
    if unchecked:
        result.settings["disclosure_unchecked"] = unchecked
    if adjust_for:
        view = adjust_view if adjust_view is not None else str(result.settings.get("y_true"))
        result.settings["adjust_for"] = list(adjust_for)
        result.settings["adjust_view"] = view
        references = result.table.drop_duplicates("grouping").set_index("grouping")[
            "reference"]
        result.adjusted = _adjusted(references, stratified, tuple(adjust_for), view,
                                    confidence=confidence, min_count=min_count,
                                    suppress_below=suppress_below,
                                    design_effects=design_effects)
    return result


def _check_disclosure(table: pd.DataFrame, summary: pd.DataFrame,
                      counts: Sequence[CountTable], groupings: Sequence[Grouping],
                      eligible_from: int, joint: CountTable | None = None
                      ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The exact check of :mod:`audit.disclosure_check`: over every grouping at once with the
    ``joint`` counts, else family by family.

    Returns the tables with the further figures withheld, and the names of the groupings
    that were not checked against the others (their count table too large, or counted apart
    with no joint counts).
    """
    if joint is not None:
        table, summary, checked = _check_family(table, summary, joint, list(groupings),
                                                eligible_from)
        if checked:
            return table, summary, []
    unchecked: list[str] = []
    for family in counts:
        members = groupings_in(family, groupings)
        table, summary, checked = _check_family(table, summary, family, members,
                                                eligible_from)
        if not checked:
            unchecked += [grouping_name(c) for c in members]
    if len(counts) > 1:  # families counted apart were not checked against each other
        unchecked = [grouping_name(g) for g in groupings]
    return table, summary, unchecked


def _check_family(table: pd.DataFrame, summary: pd.DataFrame, family: CountTable,
                  members: Sequence[Grouping], eligible_from: int
                  ) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """One count table's groupings checked together; False when it is too large to check."""
    if not members:
        return table, summary, True
    cells = family.counts.sum(axis=(-2, -1))
    grid = np.indices(cells.shape)
    index = []
    for columns in members:
        axes = [family.columns.index(c) for c in columns]
        positions = np.ravel_multi_index(tuple(grid[a] for a in axes),
                                         tuple(cells.shape[a] for a in axes))
        index.append((grouping_name(columns), positions, _group_labels(family, columns)))
    figures, checked = find_withheld(table, summary, family_layout(cells, index))
    if checked:
        table, summary = withhold_figures(table, summary, figures, eligible_from)
    return table, summary, checked


def bootstrap_memory(tables: Sequence[CountTable], groupings: Sequence[Grouping],
                     n_boot: int) -> int:
    """Bytes the bootstrap of an audit of these count tables needs (an estimate).

    Parameters
    ----------
    tables : sequence of CountTable
        The counts of each family of groupings, as :func:`audit_families` takes them.
    groupings : sequence of tuple of str
        The groupings audited.
    n_boot : int
        Bootstrap resamples.

    Returns
    -------
    int
        The estimate of :func:`audit.validation.memory_estimate`, from the numbers of
        groups the counts hold (a grouping has only the groups someone belongs to).
    """
    families, sizes = [], []
    for table in tables:
        families.append([len(c) for c in table.categories])
        present = table.counts.reshape(*[len(c) for c in table.categories], -1).sum(axis=-1)
        for grouping in groupings_in(table, groupings):
            axes = tuple(i for i, c in enumerate(table.columns) if c not in grouping)
            sizes.append([int(np.count_nonzero(present.sum(axis=axes) if axes else present))])
    return memory_estimate(families=families, groupings=sizes, n_boot=n_boot,
                           scored=any(t.score_counts is not None for t in tables))


def _adjusted(references: Mapping[str, str], stratified: Sequence[CountTable],
              adjust_for: Grouping, view: str, *, confidence: float, min_count: int,
              suppress_below: int, design_effects: Mapping[str, np.ndarray] | None
              ) -> pd.DataFrame:
    """The adjusted table: each stratified grouping against its reference (by grouping
    name, as the plain audit resolved it)."""
    frames = []
    for table in stratified:
        grouping = table.columns[: len(table.columns) - len(adjust_for)]
        name = grouping_name(grouping)
        n_groups = int(np.prod([len(table.categories[i]) for i in range(len(grouping))]))
        counts = table.counts.reshape(n_groups, -1, 2, 2)
        frames.append(adjusted_rows(
            counts, _group_labels(table, grouping), _group_labels(table, adjust_for),
            grouping=name, reference=str(references[name]), view=view,
            adjust_for=grouping_name(adjust_for), confidence=confidence,
            min_count=min_count, suppress_below=suppress_below,
            design_effects=(design_effects or {}).get(name)))
    if not frames:
        return empty_adjusted()
    return pd.concat(frames, ignore_index=True)


def _design_effects(frame: pd.DataFrame, table: CountTable, groupings: list[Grouping],
                    cluster: str, y_true: str, y_pred: str,
                    positive_label: object | None) -> dict[str, np.ndarray]:
    """Design effects of each grouping's rates, keyed by grouping name."""
    if frame[cluster].isna().any():
        raise AuditInputError(
            f"cluster column {cluster!r} has missing values; every row needs its cluster "
            "(pass dropna=True to drop those rows)")
    cluster_codes, _ = pd.factorize(frame[cluster], sort=False)
    truth = binary_indicator(frame[y_true], y_true, "y_true", positive_label)
    decision = binary_indicator(frame[y_pred], y_pred, "y_pred", positive_label)
    outcome = truth.astype(np.int64) * 2 + decision
    # The table's labels are the values' text, as group_labels writes it (the empty text as
    # its label), so match on that: each distinct value's, once, rather than every row's.
    codes = {c: _text_codes(frame[c], c, cats)
             for c, cats in zip(table.columns, table.categories, strict=True)}
    effects = {}
    for grouping in groupings:
        index = np.zeros(len(frame), dtype=np.int64)
        n_groups = 1
        for column in grouping:
            size = len(table.categories[table.columns.index(column)])
            index = index * size + codes[column]
            n_groups *= size
        effects[grouping_name(grouping)] = clusters.design_effects(
            index, cluster_codes, outcome, n_groups)
    return effects


def _text_codes(column: pd.Series, name: str, categories: Sequence[str]) -> np.ndarray:
    """Each row's code into ``categories`` (labels made by :func:`group_labels`) by its
    value's label; -1 where the value is missing."""
    value_codes, values = pd.factorize(column, use_na_sentinel=False)
    missing = pd.isna(values)
    labels = pd.Series([None if gone else group_labels([value], name)[0]
                        for value, gone in zip(values, missing, strict=True)], dtype=object)
    codes = group_codes(labels, name, len(categories), categories)[0]
    return codes[value_codes]


def _references_for(reference: Mapping[str, str] | None, groupings: list[Grouping],
                    family: Grouping) -> dict[str, str]:
    """The references that concern one family's groupings (its columns or their names)."""
    names = {grouping_name(g) for g in groupings} | set(family)
    return {k: v for k, v in (reference or {}).items() if k in names}


def _check_reference_keys(reference: Mapping[str, str] | None,
                          groupings: Sequence[Grouping]) -> None:
    """Refuse a reference keyed by something that is neither a grouping nor its column."""
    known = {grouping_name(g) for g in groupings} | {c for g in groupings for c in g}
    unknown = [k for k in (reference or {}) if k not in known]
    if unknown:
        raise AuditInputError(
            f"reference given for {unknown[0]!r}, which is not a grouping; groupings: "
            f"{sorted(known)}"
        )


def _combine(results: list[AuditResult], groupings: list[Grouping],
             reference: Mapping[str, str] | None, n_dropped: int) -> AuditResult:
    """One result from the results of several families, groupings in the order asked."""
    _check_reference_keys(reference, groupings)
    order = {grouping_name(g): i for i, g in enumerate(groupings)}

    def ordered(frames: list[pd.DataFrame]) -> pd.DataFrame:
        joined = pd.concat(frames, ignore_index=True)
        rank = joined["grouping"].map(order)
        return joined.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)

    settings = dict(results[0].settings)
    settings["groupings"] = [grouping_name(g) for g in groupings]
    settings["n_dropped"] = n_dropped
    return AuditResult(
        table=ordered([r.table for r in results]),
        summary=ordered([r.summary for r in results]),
        counts=tuple(table for r in results for table in r.counts),
        settings=settings,
    )


def audit_counts(
    table: CountTable,
    groupings: Sequence[Sequence[str]] | None = None,
    reference: Mapping[str, str] | None = None,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    min_count: int = DEFAULT_MIN_COUNT,
    suppress_below: int = DEFAULT_SUPPRESS_BELOW,
    random_state: None | int | np.random.Generator = 0,
    settings: Mapping[str, object] | None = None,
    design_effects: Mapping[str, np.ndarray] | None = None,
) -> AuditResult:
    """Audit from a :class:`~audit.counts.CountTable` (for example, a sum of chunk counts).

    Parameters are as for :func:`audit`; ``groupings`` defaults to each column alone and the
    intersection of all of them. ``design_effects`` maps a grouping's name to an array of
    shape ``(n_groups, n_rates)`` (see :func:`audit.clusters.design_effects`) for clustered
    rows; counts alone cannot tell clusters apart.
    """
    if n_boot < 1:
        raise AuditInputError(f"n_boot must be a positive number of resamples, got {n_boot}")
    if not 0 < confidence < 1:
        raise AuditInputError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if groupings is None:
        groupings = resolve_groupings(list(table.columns), True)
    references = dict(reference or {})
    known = {grouping_name(g) for g in groupings} | set(table.columns)
    unknown = [k for k in references if k not in known]
    if unknown:
        raise AuditInputError(
            f"reference given for {unknown[0]!r}, which is not a grouping; groupings: "
            f"{sorted(known)}"
        )
    rng = check_random_state(random_state)
    calibration = boot_calibration = None
    if table.score_counts is not None:
        calibration = _coarse_calibration(table)
        boot_calibration = resample_cells(calibration[0], n_boot, rng)

    tables, summaries = [], []
    for columns in groupings:
        part = _audit_grouping(
            table, tuple(columns), references, rng, n_boot, calibration, boot_calibration,
            confidence=confidence, min_count=min_count, suppress_below=suppress_below,
            design_effects=(design_effects or {}).get(grouping_name(columns)),
        )
        tables.append(part[0])
        summaries.append(part[1])
    result_settings = {
        "groupings": [grouping_name(g) for g in groupings],
        "n_rows": table.n_rows,
        "n_dropped": table.n_dropped,
        "n_boot": n_boot,
        "confidence": confidence,
        "min_count": min_count,
        "suppress_below": suppress_below,
        "random_state": random_state if isinstance(random_state, int | None) else "Generator",
        **(settings or {}),
    }
    return AuditResult(
        table=_flag_intervals(pd.concat(tables, ignore_index=True)[list(TABLE_COLUMNS)]),
        summary=pd.concat(summaries, ignore_index=True),
        counts=(table,),
        settings=result_settings,
    )


#: Interval columns of the table, as (low, high) pairs.
INTERVAL_PAIRS = (("ci_low", "ci_high"), ("diff_ci_low", "diff_ci_high"),
                  ("ratio_ci_low", "ratio_ci_high"), ("sim_diff_ci_low", "sim_diff_ci_high"),
                  ("sim_ratio_ci_low", "sim_ratio_ci_high"))


def _flag_intervals(table: pd.DataFrame) -> pd.DataFrame:
    """Withhold intervals that cannot move and flag those with no bound, in every row.

    An interval of zero width (a bootstrap of counts that resampling cannot change, an AUC
    of exactly 1) would claim certainty: it is blanked and flagged ``no_interval``. An
    infinite bound (a ratio to a reference rate of 0) is kept and flagged ``unbounded``.
    """
    frozen = np.zeros(len(table), dtype=bool)
    unbounded = np.zeros(len(table), dtype=bool)
    for low_name, high_name in INTERVAL_PAIRS:
        low = table[low_name].to_numpy(dtype=np.float64, copy=True)
        high = table[high_name].to_numpy(dtype=np.float64, copy=True)
        stuck = ~np.isnan(low) & (low == high)
        frozen |= stuck
        unbounded |= np.isinf(low) | np.isinf(high)
        low[stuck] = high[stuck] = np.nan
        table[low_name], table[high_name] = low, high
    flags = table["flags"].to_numpy(dtype=object, copy=True)
    for mask, flag in ((frozen, "no_interval"), (unbounded, "unbounded")):
        for index in np.flatnonzero(mask):
            if flag not in flags[index].split(";"):
                flags[index] = _join(flags[index], flag)
    table["flags"] = flags
    return table


def _coarse_calibration(table: CountTable) -> tuple[np.ndarray, np.ndarray]:
    """Counts and mean scores per (cell, true label, calibration bin)."""
    n_bins = table.score_counts.shape[-1]
    bins = CALIBRATION_BINS if n_bins % CALIBRATION_BINS == 0 else n_bins
    shape = (*table.score_counts.shape[:-1], bins, n_bins // bins)
    counts = table.score_counts.reshape(shape).sum(axis=-1)
    mean_score = safe_divide(table.score_sums.reshape(shape).sum(axis=-1), counts)
    return counts, np.nan_to_num(mean_score)


def _group_labels(table: CountTable, columns: Grouping) -> list[str]:
    categories = [table.categories[table.columns.index(c)] for c in columns]
    return [INTERSECTION.join(parts) for parts in itertools.product(*categories)]


def _reference_index(
    columns: Grouping, labels: list[str], sizes: np.ndarray, references: Mapping[str, str]
) -> int:
    name = grouping_name(columns)
    wanted = references.get(name)
    if wanted is None and len(columns) > 1 and all(c in references for c in columns):
        wanted = INTERSECTION.join(str(references[c]) for c in columns)
        if wanted not in labels:
            wanted = None  # that combination does not occur: fall back to the largest group
    if wanted is None:
        return int(np.argmax(sizes))
    if str(wanted) not in labels:
        raise AuditInputError(
            f"reference group {wanted!r} does not occur in {name!r}; its groups are: "
            + ", ".join(repr(label) for label in labels[:30])
            + (f", … ({len(labels) - 30} more)" if len(labels) > 30 else "")
        )
    return labels.index(str(wanted))


def _audit_grouping(
    table: CountTable,
    columns: Grouping,
    references: Mapping[str, str],
    rng: np.random.Generator,
    n_boot: int,
    calibration: tuple[np.ndarray, np.ndarray] | None,
    boot_calibration: np.ndarray | None,
    *,
    confidence: float,
    min_count: int,
    suppress_below: int,
    design_effects: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    name = grouping_name(columns)
    counts, labels, present = _present_groups(table, columns)
    sizes = counts.sum(axis=(1, 2))
    ref = _reference_index(columns, labels, sizes, references)

    numerator, denominator = rate_parts(counts)
    values = safe_divide(numerator, denominator)
    # Clustered rows (posts by one author) carry less information than their number: every
    # closed form below works on effective counts, the counts divided by the design effect.
    deff = np.ones(values.shape) if design_effects is None else design_effects[present]
    eff_numerator, eff_denominator = numerator / deff, denominator / deff
    low, high = wilson_interval(eff_numerator, eff_denominator, confidence)
    # Resamples of the groups' own confusion tables serve only the spreads' bias estimate, a
    # mean, for which a few hundred resamples suffice; every interval here is closed-form.
    boot_values = rates(resample_cells(counts, min(n_boot, BIAS_RESAMPLES), rng))
    if design_effects is not None:
        with np.errstate(invalid="ignore"):
            boot_values = values + (boot_values - values) * np.sqrt(deff)
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = values - values[ref]
        ratio = safe_divide(values, np.broadcast_to(values[ref], values.shape))
    gaps = _gap_intervals(eff_numerator, eff_denominator, ref, confidence)
    # Simultaneous intervals: Bonferroni over the groups compared with the reference, so a
    # group picked afterwards as the most extreme still has an interval that holds.
    compared = ((denominator > 0) & (np.arange(len(values)) != ref)[:, None]).sum(axis=0)
    simultaneous = _gap_intervals(eff_numerator, eff_denominator, ref,
                                  1 - (1 - confidence) / np.maximum(compared, 1),
                                  conservative=True)
    detectable_difference, detectable_ratio = detectable_gap(
        eff_denominator, values[ref], eff_denominator[ref], confidence)
    detectable_difference[ref] = detectable_ratio[ref] = np.nan
    p_values = compare_proportions(eff_numerator, eff_denominator, eff_numerator[ref],
                                   eff_denominator[ref])
    p_values[ref] = np.nan
    p_holm = holm(p_values.T).T
    p_bh = benjamini_hochberg(p_values.T).T
    diff_low, diff_high, ratio_low, ratio_high = gaps

    n_groups, n_rates = values.shape
    flags = _flags(denominator, values, ratio, ref, min_count, suppress_below, gaps)
    rate_block = {
        "grouping": name,
        "group": np.repeat(labels, n_rates),
        "metric": np.tile(RATE_NAMES, n_groups),
        "value": values.ravel(),
        "ci_low": low.ravel(),
        "ci_high": high.ravel(),
        "numerator": numerator.ravel(),
        "denominator": denominator.ravel(),
        "reference": labels[ref],
        "difference": difference.ravel(),
        "diff_ci_low": diff_low.ravel(),
        "diff_ci_high": diff_high.ravel(),
        "ratio": ratio.ravel(),
        "ratio_ci_low": ratio_low.ravel(),
        "ratio_ci_high": ratio_high.ravel(),
        "sim_diff_ci_low": simultaneous[0].ravel(),
        "sim_diff_ci_high": simultaneous[1].ravel(),
        "sim_ratio_ci_low": simultaneous[2].ravel(),
        "sim_ratio_ci_high": simultaneous[3].ravel(),
        "detectable_difference": detectable_difference.ravel(),
        "detectable_ratio": detectable_ratio.ravel(),
        "design_effect": deff.ravel(),
        "p_value": p_values.ravel(),
        "p_holm": p_holm.ravel(),
        "p_bh": p_bh.ravel(),
        "flags": flags.ravel(),
    }
    size_flags = _size_flags(sizes, min_count, suppress_below)
    size_flags[ref] = _join(size_flags[ref], "reference")
    size_block = {
        "grouping": name, "group": labels, "metric": "n", "value": sizes.astype(np.float64),
        "numerator": sizes.astype(np.float64), "denominator": float(sizes.sum()),
        "reference": labels[ref], "flags": size_flags,
    }
    blocks = [(size_block, np.arange(n_groups)),
              (rate_block, np.repeat(np.arange(n_groups), n_rates))]
    if table.score_counts is not None:
        blocks += _score_metrics(table, columns, present, labels, ref, calibration,
                                 boot_calibration, sizes, confidence, min_count, suppress_below)
    # Complementary suppression (audit.disclosure): more groups are withheld so that no
    # small one can be recovered from the totals, and spreads leave every withheld one out.
    size_out, overall_primary, overall_complementary = protect_groups(
        sizes, rate_parts(counts.sum(axis=0))[1], suppress_below, ref)
    rate_out = np.repeat(size_out[:, None], n_rates, axis=1)
    eligible = (denominator >= max(min_count, suppress_below)) & ~rate_out
    summary = _summary(name, counts, values, boot_values, eligible, confidence, min_count,
                       eff_numerator, eff_denominator)
    for mask, extra in ((overall_primary, ("suppressed",)),
                        (overall_complementary, ("suppressed", COMPLEMENTARY))):
        withheld = ((summary["measure"] == "overall") & summary["metric"].isin(
            [RATE_NAMES[k] for k in np.flatnonzero(mask)])).to_numpy()
        summary.loc[withheld, "flags"] = [add_flags(f, *extra)
                                          for f in summary.loc[withheld, "flags"]]
    frame = _stack_blocks(blocks)
    if size_out[ref]:
        frame = without_reference_gaps(frame, set(RATE_NAMES))
    return flag_withheld(frame, name, labels, size_out, rate_out), summary


def _present_groups(table: CountTable, columns: Grouping
                    ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """A grouping's confusion counts ``(groups, 2, 2)`` and labels, of the groups someone
    belongs to (categories nobody belongs to are not groups), and their positions among the
    grouping's categories."""
    counts = marginalise(table.counts, table.columns, columns).reshape(-1, 2, 2)
    labels = _group_labels(table, columns)
    present = np.flatnonzero(counts.sum(axis=(1, 2)))
    return counts[present], [labels[i] for i in present], present


def _gap_intervals(numerator: np.ndarray, denominator: np.ndarray, ref: int,
                   confidence: float | np.ndarray, conservative: bool = False
                   ) -> list[np.ndarray]:
    """Closed-form intervals of each group's gap to the reference: difference, then ratio.

    The reference is one of the groups, so every group's score limits, computed once, serve
    both sides of both intervals.
    """
    low, high = score_limits(numerator, denominator, confidence, conservative)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = numerator / denominator
    sides = (rate, low, high, rate[ref], low[ref], high[ref])
    intervals = [*newcombe_from_limits(*sides), *mover_ratio_from_limits(*sides)]
    for interval in intervals:
        interval[ref] = np.nan
    return intervals


def _stack_blocks(blocks: list[tuple[dict, np.ndarray]]) -> pd.DataFrame:
    """One table from column blocks, rows ordered by group (each block's ``positions``).

    Columns a block lacks are NaN; scalars are repeated. Plain numpy concatenation keeps
    pandas out of the per-grouping work until the one DataFrame at the end.
    """
    positions = np.concatenate([p for _, p in blocks])
    order = np.argsort(positions, kind="stable")
    columns = {}
    for name in TABLE_COLUMNS:
        parts = []
        for block, block_positions in blocks:
            value = block.get(name, np.nan)
            if np.ndim(value) == 0:
                value = np.full(len(block_positions), value,
                                dtype=object if isinstance(value, str) else np.float64)
            parts.append(np.asarray(value, dtype=object if name in _TEXT_COLUMNS else np.float64))
        columns[name] = np.concatenate(parts)[order]
    return pd.DataFrame(columns)


_TEXT_COLUMNS = frozenset({"grouping", "group", "metric", "reference", "flags"})


def _join(*parts: str) -> str:
    return ";".join(p for p in parts if p)


def _size_flags(sizes: np.ndarray, min_count: int, suppress_below: int) -> np.ndarray:
    small = np.where(sizes < min_count, "small_n", "")
    suppressed = np.where(sizes < suppress_below, "suppressed", "")
    return np.array([_join(a, b) for a, b in zip(small, suppressed, strict=True)], dtype=object)


def _flags(
    denominator: np.ndarray,
    values: np.ndarray,
    ratio: np.ndarray,
    ref: int,
    min_count: int,
    suppress_below: int,
    gaps: list[np.ndarray],
) -> np.ndarray:
    selection = RATE_NAMES.index("selection_rate")
    ratio_low, ratio_high = gaps[2], gaps[3]
    with np.errstate(invalid="ignore"):
        # Parity and a material gap (the four-fifths boundary) both inside the interval: the
        # data cannot tell whether the group is treated alike or not.
        inconclusive = (ratio_low <= 1) & (ratio_high >= 1) & (
            (ratio_low <= FOUR_FIFTHS) | (ratio_high >= 1 / FOUR_FIFTHS))
    parts = [
        np.where(denominator == 0, "undefined", ""),
        np.where((denominator > 0) & (denominator < min_count), "small_n", ""),
        # An empty denominator has nothing to withhold: it is undefined, not suppressed.
        np.where((denominator > 0) & (denominator < suppress_below), "suppressed", ""),
        np.where(~np.isnan(values) & np.isnan(ratio), "ratio_undefined", ""),
        np.where(np.isinf(ratio_high), "unbounded", ""),
        np.where(inconclusive, "inconclusive", ""),
    ]
    four_fifths = np.zeros(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        selection_ratio = ratio[:, selection]
        four_fifths[:, selection] = (selection_ratio < FOUR_FIFTHS) | (
            selection_ratio > 1 / FOUR_FIFTHS
        )
    parts.append(np.where(four_fifths, "four_fifths", ""))
    reference = np.zeros(values.shape, dtype=bool)
    reference[ref] = True
    parts.append(np.where(reference, "reference", ""))
    stacked = np.stack(parts, axis=-1).reshape(-1, len(parts))
    joined = np.array([_join(*row) for row in stacked], dtype=object)
    return joined.reshape(values.shape)


def _spread(values: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Max-min difference, min/max ratio, and number of defined groups along ``axis``."""
    defined = (~np.isnan(values)).sum(axis=axis)
    # fmax and fmin skip NaN without the copies nanmax and nanmin make; all-NaN stays NaN.
    high = np.fmax.reduce(values, axis=axis)
    low = np.fmin.reduce(values, axis=axis)
    return high - low, safe_divide(low, high), defined


SUMMARY_COLUMNS = ("grouping", "measure", "metric", "value", "ci_low", "ci_high",
                   "bias", "groups_compared", "groups_left_out", "flags")


def _summary(
    name: str,
    counts: np.ndarray,
    values: np.ndarray,
    boot_values: np.ndarray,
    eligible: np.ndarray,
    confidence: float,
    min_count: int,
    numerator: np.ndarray,
    denominator: np.ndarray,
) -> pd.DataFrame:
    """Per-grouping measures: overall rates, spreads across groups, and fairlearn's summaries.

    Spreads are taken over the groups whose rate rests on at least ``min_count`` people (and
    is not suppressed): a group of two people with no events would otherwise decide the
    max-min gap alone. Their intervals are projections of simultaneous intervals: with
    Bonferroni score limits for every compared group (every group and both rates, for
    equalized odds), all true rates lie inside their limits with at least the nominal
    probability, and then the true spread lies between the smallest and largest spread the
    limits allow. The interval is conservative, always contains the estimate, and never has
    zero width. A max-min gap over many groups is biased upward (a min/max ratio downward),
    as chance alone spreads the extremes; ``bias`` is its bootstrap estimate (mean resample
    minus estimate), shown beside the estimate rather than subtracted from it.
    """
    overall_num, overall_den = rate_parts(counts.sum(axis=0))
    overall_low, overall_high = wilson_interval(overall_num, overall_den, confidence)
    kept = np.where(eligible, values, np.nan)
    boot_kept = np.where(eligible, boot_values, np.nan)
    left_out = (~eligible).sum(axis=0)
    difference, ratio, defined = _spread(kept, axis=0)
    boot_difference, boot_ratio, _ = _spread(boot_kept, axis=1)
    alpha = 1 - confidence
    limits = [np.where(eligible, bound, np.nan) for bound in score_limits(
        numerator, denominator, 1 - alpha / np.maximum(defined, 1), conservative=True)]
    diff_bounds, ratio_bounds = _spread_bounds(*limits)
    tpr, fpr, sel = (RATE_NAMES.index(m) for m in ("tpr", "fpr", "selection_rate"))
    odds = [tpr, fpr]
    odds_defined = np.minimum(defined[tpr], defined[fpr])
    odds_limits = [np.where(eligible[:, odds], bound, np.nan) for bound in score_limits(
        numerator[:, odds], denominator[:, odds],
        1 - alpha / np.maximum(defined[tpr] + defined[fpr], 1), conservative=True)]
    odds_diff, odds_ratio = _spread_bounds(*odds_limits)
    odds_left_out = np.maximum(left_out[tpr], left_out[fpr])
    measures = [
        ("max_min_difference", list(RATE_NAMES), difference, diff_bounds, boot_difference,
         defined, left_out),
        ("min_max_ratio", list(RATE_NAMES), ratio, ratio_bounds, boot_ratio, defined,
         left_out),
        ("equalized_odds_difference", ["tpr,fpr"],
         np.fmax(difference[tpr], difference[fpr])[None],
         (np.fmax(*odds_diff[0])[None], np.fmax(*odds_diff[1])[None]),
         np.fmax(boot_difference[:, tpr], boot_difference[:, fpr])[:, None],
         odds_defined[None], odds_left_out[None]),
        ("equalized_odds_ratio", ["tpr,fpr"], np.fmin(ratio[tpr], ratio[fpr])[None],
         (np.fmin(*odds_ratio[0])[None], np.fmin(*odds_ratio[1])[None]),
         np.fmin(boot_ratio[:, tpr], boot_ratio[:, fpr])[:, None],
         odds_defined[None], odds_left_out[None]),
        ("demographic_parity_difference", ["selection_rate"], difference[sel][None],
         (diff_bounds[0][sel][None], diff_bounds[1][sel][None]),
         boot_difference[:, sel][:, None], defined[sel][None], left_out[sel][None]),
        ("demographic_parity_ratio", ["selection_rate"], ratio[sel][None],
         (ratio_bounds[0][sel][None], ratio_bounds[1][sel][None]),
         boot_ratio[:, sel][:, None], defined[sel][None], left_out[sel][None]),
    ]
    frames = [pd.DataFrame({
        "measure": "overall", "metric": list(RATE_NAMES),
        "value": safe_divide(overall_num, overall_den), "ci_low": overall_low,
        "ci_high": overall_high, "bias": np.nan, "groups_compared": len(values),
        "groups_left_out": 0, "flags": "",
    })]
    for measure, metrics, value, bounds, boot, compared, dropped in measures:
        frames.append(_spread_rows(measure, metrics, value, bounds, boot, compared, dropped,
                                   min_count))
    summary = pd.concat(frames, ignore_index=True)
    summary.insert(0, "grouping", name)
    for column in ("value", "ci_low", "ci_high", "bias"):
        summary[column] = summary[column].astype(np.float64)
    for column in ("groups_compared", "groups_left_out"):
        summary[column] = summary[column].astype(np.int64)
    return summary[list(SUMMARY_COLUMNS)]


def _spread_bounds(low: np.ndarray, high: np.ndarray
                   ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Bounds on the max-min difference and min/max ratio of rates inside their limits.

    Groups run along axis 0. The smallest spread the limits allow is the gap between the
    highest lower limit and the lowest upper limit (0 where the limits overlap); the largest
    is the highest upper limit minus the lowest lower limit.
    """
    highest_low, lowest_low = np.fmax.reduce(low, axis=0), np.fmin.reduce(low, axis=0)
    highest_high, lowest_high = np.fmax.reduce(high, axis=0), np.fmin.reduce(high, axis=0)
    difference = (np.maximum(highest_low - lowest_high, 0.0), highest_high - lowest_low)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (np.where(highest_high > 0, lowest_low / highest_high, 0.0),
                 np.where(highest_low > 0, np.minimum(lowest_high / highest_low, 1.0), 1.0))
    return difference, ratio


def _spread_rows(measure: str, metrics: list[str], value: np.ndarray,
                 bounds: tuple[np.ndarray, np.ndarray], boot: np.ndarray,
                 compared: np.ndarray, left_out: np.ndarray, min_count: int) -> pd.DataFrame:
    """Rows of one spread measure: estimate, projected interval, bootstrap bias, flags."""
    few = compared < 2
    value = np.where(few, np.nan, value)
    low, high = (np.where(few, np.nan, bound) for bound in bounds)
    bias = nan_mean(boot, axis=0) - value
    frozen = ~np.isnan(value) & ~(high > low)
    flags = [
        _join(
            "fewer_than_two_groups" if f else "",
            "no_interval" if z else "",
            f"left_out_{int(d)}_under_{min_count}" if d else "",
        )
        for f, z, d in zip(few, frozen, left_out, strict=True)
    ]
    return pd.DataFrame({
        "measure": measure, "metric": metrics, "value": value,
        "ci_low": np.where(frozen, np.nan, low), "ci_high": np.where(frozen, np.nan, high),
        "bias": bias, "groups_compared": compared, "groups_left_out": left_out,
        "flags": flags,
    })


def _score_metrics(
    table: CountTable,
    columns: Grouping,
    present: np.ndarray,
    labels: list[str],
    ref: int,
    calibration: tuple[np.ndarray, np.ndarray],
    boot_calibration: np.ndarray,
    sizes: np.ndarray,
    confidence: float,
    min_count: int,
    suppress_below: int,
) -> list[tuple[dict, np.ndarray]]:
    """AUC (Hanley-McNeil interval) and ECE (bootstrap interval) per group, as row blocks."""
    score_counts = marginalise(table.score_counts, table.columns, columns)
    score_counts = score_counts.reshape(-1, *score_counts.shape[-2:])[present]
    auc = auc_from_bins(score_counts)
    positives = score_counts[:, 1].sum(axis=1).astype(np.float64)
    negatives = score_counts[:, 0].sum(axis=1).astype(np.float64)
    auc_se = _hanley_mcneil_se(auc, positives, negatives)
    z = stats.norm.ppf(0.5 + confidence / 2)
    auc_low, auc_high = np.clip(auc - z * auc_se, 0, 1), np.clip(auc + z * auc_se, 0, 1)
    auc_difference = auc - auc[ref]
    difference_se = np.sqrt(auc_se**2 + auc_se[ref] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc_p = 2 * stats.norm.sf(np.abs(auc_difference) / difference_se)
    auc_p = np.where(difference_se > 0, auc_p, np.nan)
    auc_p[ref] = np.nan

    calib_counts, mean_score = calibration

    grouped_counts = marginalise(calib_counts, table.columns, columns)
    grouped_sums = marginalise(calib_counts * mean_score, table.columns, columns)
    grouped_counts = grouped_counts.reshape(-1, *grouped_counts.shape[-2:])[present]
    grouped_sums = grouped_sums.reshape(-1, *grouped_sums.shape[-2:])[present]
    ece = expected_calibration_error(
        grouped_counts.sum(axis=-2), grouped_counts[:, 1], grouped_sums.sum(axis=-2)
    )
    boot_counts = marginalise(boot_calibration, table.columns, columns, leading=1)
    boot_sums = marginalise(boot_calibration * mean_score, table.columns, columns, leading=1)
    n_boot = len(boot_counts)
    boot_counts = boot_counts.reshape(n_boot, -1, *boot_counts.shape[-2:])[:, present]
    boot_sums = boot_sums.reshape(n_boot, -1, *boot_sums.shape[-2:])[:, present]
    boot_ece = expected_calibration_error(
        boot_counts.sum(axis=-2), boot_counts[:, :, 1], boot_sums.sum(axis=-2)
    )
    ece_low, ece_high = percentile_interval(boot_ece, confidence)
    boot_ece_difference = boot_ece - boot_ece[:, ref : ref + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        boot_ece_ratio = boot_ece / boot_ece[:, ref : ref + 1]
    ece_diff_low, ece_diff_high = percentile_interval(boot_ece_difference, confidence)
    ece_ratio_low, ece_ratio_high = percentile_interval(boot_ece_ratio, confidence)
    for array in (ece_diff_low, ece_diff_high, ece_ratio_low, ece_ratio_high):
        array[ref] = np.nan

    pairs = positives * negatives
    size_parts = np.stack([
        np.where(sizes < min_count, "small_n", ""),
        np.where(sizes < suppress_below, "suppressed", ""),
    ], axis=-1)
    reference = np.where(np.arange(len(labels)) == ref, "reference", "")
    auc_flags = [_join("undefined" if p == 0 else "", *s, r)
                 for p, s, r in zip(pairs, size_parts, reference, strict=True)]
    ece_flags = [_join(*s, r) for s, r in zip(size_parts, reference, strict=True)]
    auc_block = {
        "grouping": grouping_name(columns), "group": labels, "metric": "auc", "value": auc,
        "ci_low": auc_low, "ci_high": auc_high, "numerator": np.nan, "denominator": pairs,
        "reference": labels[ref], "difference": auc_difference,
        "diff_ci_low": np.where(np.arange(len(labels)) == ref, np.nan,
                                auc_difference - z * difference_se),
        "diff_ci_high": np.where(np.arange(len(labels)) == ref, np.nan,
                                 auc_difference + z * difference_se),
        "ratio": safe_divide(auc, np.full(auc.shape, auc[ref])),
        "p_value": auc_p, "p_holm": holm(auc_p), "p_bh": benjamini_hochberg(auc_p),
        "flags": auc_flags,
    }
    ece_block = {
        "grouping": grouping_name(columns), "group": labels, "metric": "ece", "value": ece,
        "ci_low": ece_low, "ci_high": ece_high, "numerator": np.nan,
        "denominator": sizes.astype(np.float64), "reference": labels[ref],
        "difference": ece - ece[ref], "diff_ci_low": ece_diff_low, "diff_ci_high": ece_diff_high,
        "ratio": safe_divide(ece, np.full(ece.shape, ece[ref])),
        "ratio_ci_low": ece_ratio_low, "ratio_ci_high": ece_ratio_high, "flags": ece_flags,
    }
    positions = np.arange(len(labels))
    return [(auc_block, positions), (ece_block, positions)]


def _hanley_mcneil_se(auc: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """Standard error of an AUC (Hanley and McNeil, 1982)."""
    q1 = auc / (2 - auc)
    q2 = 2 * auc**2 / (1 + auc)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = (
            auc * (1 - auc)
            + (positives - 1) * (q1 - auc**2)
            + (negatives - 1) * (q2 - auc**2)
        ) / (positives * negatives)
    return np.sqrt(np.where(positives * negatives > 0, np.maximum(variance, 0), np.nan))
