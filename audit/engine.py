"""The audit: every metric, disparity, interval and test, derived from one count array."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from audit.counts import DEFAULT_SCORE_BINS, CountTable, count_table, marginalise
from audit.errors import AuditInputError
from audit.intervals import (
    DEFAULT_CONFIDENCE,
    DEFAULT_N_BOOT,
    check_random_state,
    percentile_interval,
    resample_cells,
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
from audit.result import TABLE_COLUMNS, AuditResult
from audit.significance import benjamini_hochberg, compare_proportions, holm
from audit.validation import check_columns, missing_mask

#: Cells with fewer people than this (in a rate's denominator) are flagged ``small_n``.
DEFAULT_MIN_COUNT = 30
#: Cells with fewer people than this are flagged ``suppressed`` and withheld from reports.
DEFAULT_SUPPRESS_BELOW = 10
#: Selection-rate ratios outside [0.8, 1.25] of the reference fail the four-fifths rule.
FOUR_FIFTHS = 0.8
#: Calibration bins for the expected calibration error.
CALIBRATION_BINS = 10
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


def audit(
    frame: pd.DataFrame,
    groups: Sequence[str] | Sequence[Sequence[str]],
    y_true: str,
    y_pred: str,
    score: str | None = None,
    reference: Mapping[str, str] | None = None,
    *,
    intersections: bool | Sequence[Sequence[str]] = True,
    positive_label: object | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    min_count: int = DEFAULT_MIN_COUNT,
    suppress_below: int = DEFAULT_SUPPRESS_BELOW,
    dropna: bool = False,
    max_groups: int = 10_000,
    score_bins: int = DEFAULT_SCORE_BINS,
    random_state: None | int | np.random.Generator = 0,
) -> AuditResult:
    """Audit binary decisions for unequal rates across groups.

    Parameters
    ----------
    frame : DataFrame
        One row per person (or decision).
    groups : sequence of str, or sequence of sequences of str
        Grouping columns, for example ``["nationality", "sex"]``; or the exact groupings to
        audit, for example ``[["nationality"], ["nationality", "sex"]]`` (then
        ``intersections`` is not used).
    y_true : str
        Binary column with the outcome the decision claims to predict.
    y_pred : str
        Binary column with the decision (1 = selected, flagged, prioritised).
    score : str, optional
        Score in [0, 1] behind the decision; adds AUC and expected calibration error.
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
    random_state : None, int or Generator
        Seeds the bootstrap; the default 0 makes every run give the same intervals.

    Returns
    -------
    AuditResult

    Raises
    ------
    AuditInputError
        For every input a user can fix; the message names the column or option.

    Examples
    --------
    >>> result = audit(frame, groups=["nationality", "sex"], y_true="overstayed",
    ...                y_pred="prioritised")                                # doctest: +SKIP
    >>> result.table.query("metric == 'fpr'")                                # doctest: +SKIP
    """
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
        raise AuditInputError("give at least one group column (--group COL)")
    columns = list(dict.fromkeys(c for g in groupings for c in g))
    n_dropped = 0
    if dropna:
        used = [*columns, y_true, y_pred, *([score] if score is not None else [])]
        check_columns(frame, used, {c: "--group" for c in columns})
        mask = missing_mask(frame, used)
        n_dropped = int(mask.sum())
        if n_dropped == len(frame) and len(frame):
            raise AuditInputError(
                f"every row has a missing value in {used}; no rows are left to audit")
        frame = frame.loc[~mask] if n_dropped else frame
    rng = check_random_state(random_state)
    settings = {"y_true": y_true, "y_pred": y_pred, "score": score,
                "positive_label": None if positive_label is None else str(positive_label),
                "random_state": random_state if isinstance(random_state, int | None)
                else "Generator"}
    parts = []
    for family in grouping_families(groupings):
        table = count_table(
            frame, family, y_true, y_pred, score, positive_label=positive_label,
            score_bins=score_bins, max_groups=max_groups,
        )
        members = [g for g in groupings if set(g) <= set(family)
                   and all(g not in p[1] for p in parts)]
        parts.append((table, members, audit_counts(
            table, members, _references_for(reference, members, family), n_boot=n_boot,
            confidence=confidence, min_count=min_count, suppress_below=suppress_below,
            random_state=rng, settings=settings,
        )))
    return _combine([p[2] for p in parts], groupings, reference, n_dropped)


def _references_for(reference: Mapping[str, str] | None, groupings: list[Grouping],
                    family: Grouping) -> dict[str, str]:
    """The references that concern one family's groupings (its columns or their names)."""
    names = {grouping_name(g) for g in groupings} | set(family)
    return {k: v for k, v in (reference or {}).items() if k in names}


def _combine(results: list[AuditResult], groupings: list[Grouping],
             reference: Mapping[str, str] | None, n_dropped: int) -> AuditResult:
    """One result from the results of several families, groupings in the order asked."""
    known = {grouping_name(g) for g in groupings} | {c for g in groupings for c in g}
    unknown = [k for k in (reference or {}) if k not in known]
    if unknown:
        raise AuditInputError(
            f"reference given for {unknown[0]!r}, which is not a grouping; groupings: "
            f"{sorted(known)}"
        )
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
) -> AuditResult:
    """Audit from a :class:`~audit.counts.CountTable` (for example, a sum of chunk counts).

    Parameters are as for :func:`audit`; ``groupings`` defaults to each column alone and the
    intersection of all of them.
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
    boot = resample_cells(table.counts, n_boot, rng)
    calibration = boot_calibration = None
    if table.score_counts is not None:
        calibration = _coarse_calibration(table)
        boot_calibration = resample_cells(calibration[0], n_boot, rng)

    tables, summaries = [], []
    for columns in groupings:
        part = _audit_grouping(
            table, tuple(columns), references, boot, calibration, boot_calibration,
            confidence=confidence, min_count=min_count, suppress_below=suppress_below,
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
        table=pd.concat(tables, ignore_index=True)[list(TABLE_COLUMNS)],
        summary=pd.concat(summaries, ignore_index=True),
        counts=(table,),
        settings=result_settings,
    )


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
    boot: np.ndarray,
    calibration: tuple[np.ndarray, np.ndarray] | None,
    boot_calibration: np.ndarray | None,
    *,
    confidence: float,
    min_count: int,
    suppress_below: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    name = grouping_name(columns)
    counts = marginalise(table.counts, table.columns, columns).reshape(-1, 2, 2)
    boot_counts = marginalise(boot, table.columns, columns, leading=1).reshape(len(boot), -1, 2, 2)
    labels = _group_labels(table, columns)
    sizes = counts.sum(axis=(1, 2))
    present = np.flatnonzero(sizes)  # categories nobody belongs to are not groups
    counts, boot_counts, sizes = counts[present], boot_counts[:, present], sizes[present]
    labels = [labels[i] for i in present]
    ref = _reference_index(columns, labels, sizes, references)

    numerator, denominator = rate_parts(counts)
    values = safe_divide(numerator, denominator)
    low, high = wilson_interval(numerator, denominator, confidence)
    boot_values = rates(boot_counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = values - values[ref]
        ratio = safe_divide(values, np.broadcast_to(values[ref], values.shape))
        boot_difference = boot_values - boot_values[:, ref : ref + 1]
        boot_ratio = boot_values / boot_values[:, ref : ref + 1]
    diff_low, diff_high = percentile_interval(boot_difference, confidence)
    ratio_low, ratio_high = percentile_interval(boot_ratio, confidence)
    p_values = compare_proportions(numerator, denominator, numerator[ref], denominator[ref])
    p_values[ref] = np.nan
    p_holm = holm(p_values.T).T
    p_bh = benjamini_hochberg(p_values.T).T
    # A rate of exactly 0 or 1 never varies under a multinomial resample of its own counts,
    # so a percentile interval of a gap involving it would claim a certainty it lacks.
    extreme = (denominator > 0) & ((numerator == 0) | (numerator == denominator))
    not_estimable = (extreme | extreme[ref]) & (np.arange(len(values)) != ref)[:, None]
    for array in (diff_low, diff_high, ratio_low, ratio_high):
        array[ref] = np.nan
        array[not_estimable] = np.nan

    n_groups, n_rates = values.shape
    flags = _flags(denominator, values, ratio, ref, min_count, suppress_below, not_estimable)
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
    summary = _summary(name, counts, values, boot_values, confidence)
    return _stack_blocks(blocks), summary


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
    not_estimable: np.ndarray,
) -> np.ndarray:
    selection = RATE_NAMES.index("selection_rate")
    parts = [
        np.where(denominator == 0, "undefined", ""),
        np.where((denominator > 0) & (denominator < min_count), "small_n", ""),
        # An empty denominator has nothing to withhold: it is undefined, not suppressed.
        np.where((denominator > 0) & (denominator < suppress_below), "suppressed", ""),
        np.where(~np.isnan(values) & np.isnan(ratio), "ratio_undefined", ""),
        np.where(not_estimable & (denominator > 0), "no_gap_interval", ""),
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


def _summary(
    name: str, counts: np.ndarray, values: np.ndarray, boot_values: np.ndarray, confidence: float
) -> pd.DataFrame:
    """Per-grouping measures: overall rates, spreads across groups, and fairlearn's summaries."""
    overall_num, overall_den = rate_parts(counts.sum(axis=0))
    overall_low, overall_high = wilson_interval(overall_num, overall_den, confidence)
    difference, ratio, defined = _spread(values, axis=0)
    boot_difference, boot_ratio, _ = _spread(boot_values, axis=1)
    diff_low, diff_high = percentile_interval(boot_difference, confidence)
    ratio_low, ratio_high = percentile_interval(boot_ratio, confidence)
    rows = []
    for i, metric in enumerate(RATE_NAMES):
        rows.append(("overall", metric, safe_divide(overall_num[i], overall_den[i]).item(),
                     overall_low[i], overall_high[i], int(len(values))))
        rows.append(("max_min_difference", metric, difference[i], diff_low[i], diff_high[i],
                     int(defined[i])))
        rows.append(("min_max_ratio", metric, ratio[i], ratio_low[i], ratio_high[i],
                     int(defined[i])))
    tpr, fpr, sel = (RATE_NAMES.index(m) for m in ("tpr", "fpr", "selection_rate"))
    eo_difference = np.fmax(boot_difference[:, tpr], boot_difference[:, fpr])
    eo_ratio = np.fmin(boot_ratio[:, tpr], boot_ratio[:, fpr])
    eo_difference_low, eo_difference_high = percentile_interval(eo_difference, confidence)
    eo_ratio_low, eo_ratio_high = percentile_interval(eo_ratio, confidence)
    compared = int(min(defined[tpr], defined[fpr]))
    rows += [
        ("equalized_odds_difference", "tpr,fpr", np.fmax(difference[tpr], difference[fpr]),
         eo_difference_low, eo_difference_high, compared),
        ("equalized_odds_ratio", "tpr,fpr", np.fmin(ratio[tpr], ratio[fpr]),
         eo_ratio_low, eo_ratio_high, compared),
        ("demographic_parity_difference", "selection_rate", difference[sel], diff_low[sel],
         diff_high[sel], int(defined[sel])),
        ("demographic_parity_ratio", "selection_rate", ratio[sel], ratio_low[sel],
         ratio_high[sel], int(defined[sel])),
    ]
    summary = pd.DataFrame(
        rows, columns=["measure", "metric", "value", "ci_low", "ci_high", "groups_compared"]
    )
    summary.insert(0, "grouping", name)
    for column in ("value", "ci_low", "ci_high"):
        summary[column] = summary[column].astype(np.float64)
    return summary


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
