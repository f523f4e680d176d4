"""Paired comparisons: the same people decided in several worlds, counted once.

When one set of people is decided ``W`` times (by a system in worlds that differ in one or more
switches, or read against two label columns), every comparison between those decisions is
paired: the people are the same, so their decisions are correlated and a comparison's interval
must keep them together. The sufficient statistics are, per group, the number of people with
each distinct *pattern*: their decision in every world, and optionally their label bits (the
true outcome, the recorded one). Every group rate in every world is a linear function of these
counts, and so is every linear contrast of them: a gap between a group and its reference, the
change of that gap between two worlds, a Shapley contribution (a weighted sum over worlds).

Intervals resample people within groups, as the audit's bootstrap does: one multinomial draw
of each group's pattern counts per resample, all resamples at once. The cost depends on the
number of distinct patterns, never on the number of people.

>>> paired = paired_counts(groups, np.column_stack([decided_off, decided_on]),
...                        labels={"y_true": truth})                      # doctest: +SKIP
>>> gap = world_contrasts(paired, {"A": 1, "B": -1}, np.eye(2), metric="fpr")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.errors import AuditInputError
from audit.intervals import (
    DEFAULT_CONFIDENCE,
    DEFAULT_N_BOOT,
    check_random_state,
    percentile_interval,
    resample_cells,
)

#: Metrics a paired contrast can be taken of: (label the rate is conditioned on, its value,
#: whether the rate counts a positive decision). ``None`` conditions on nothing.
PAIRED_METRICS: dict[str, tuple[bool | None, bool]] = {
    "selection_rate": (None, True),
    "fpr": (False, True),
    "tpr": (True, True),
    "fnr": (True, False),
}


@dataclass(frozen=True)
class PairedCounts:
    """Counts of each distinct decision pattern across worlds, per group.

    Attributes
    ----------
    groups : tuple of str
        Group labels, one row of ``counts`` each.
    decisions : ndarray of bool, shape ``(n_patterns, n_worlds)``
        The decision of a pattern in each world.
    labels : ndarray of bool, shape ``(n_patterns, n_labels)``
        The label bits of a pattern (``label_names`` order).
    label_names : tuple of str
        Names of the label bits, e.g. ``("y_true", "y_recorded")``.
    counts : ndarray of int64, shape ``(n_groups, n_patterns)``
        People of each group with each pattern.
    """

    groups: tuple[str, ...]
    decisions: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    counts: np.ndarray

    @property
    def n_worlds(self) -> int:
        """Number of worlds (decision columns)."""
        return int(self.decisions.shape[1])

    def sizes(self) -> np.ndarray:
        """People per group."""
        return self.counts.sum(axis=1)

    def __add__(self, other: PairedCounts) -> PairedCounts:
        """Counts of two chunks of people, merged (patterns are matched, counts summed)."""
        if (self.groups, self.label_names, self.n_worlds) != (
                other.groups, other.label_names, other.n_worlds):
            raise AuditInputError("paired counts with different groups, labels or numbers of "
                                  "worlds cannot be added; count every chunk with the same "
                                  "group_order and labels")
        keys = np.concatenate([np.hstack([self.decisions, self.labels]),
                               np.hstack([other.decisions, other.labels])])
        unique, inverse = np.unique(keys, axis=0, return_inverse=True)
        counts = np.zeros((len(self.groups), len(unique)), dtype=np.int64)
        inverse = inverse.reshape(-1)
        np.add.at(counts, (slice(None), inverse[: self.counts.shape[1]]), self.counts)
        np.add.at(counts, (slice(None), inverse[self.counts.shape[1]:]), other.counts)
        return PairedCounts(self.groups, unique[:, : self.n_worlds],
                            unique[:, self.n_worlds:], self.label_names, counts)


def _distinct_patterns(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(bits, axis=0, return_inverse=True)`` for a boolean matrix, by sorting each
    row packed into 64-bit words instead of comparing rows element by element.

    Packed most significant bit first, the words order rows as the rows' bits do
    (lexicographically, False before True), so the patterns come in the same order.
    """
    n, width = bits.shape
    if width == 0:
        return bits[:1], np.zeros(n, dtype=np.int64)
    packed = np.packbits(bits, axis=1, bitorder="big")
    padded = np.zeros((n, -(-packed.shape[1] // 8) * 8), dtype=np.uint8)
    padded[:, :packed.shape[1]] = packed
    words = padded.view(">u8").astype(np.uint64)  # big-endian: the first byte leads
    order = np.lexsort(words.T[::-1]) if words.shape[1] > 1 else np.argsort(
        words[:, 0], kind="stable")
    ordered = words[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    pattern = np.cumsum(new) - 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = pattern
    return bits[order[new]], inverse


def _group_codes(groups: np.ndarray | pd.Series | pd.Categorical
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Each person's code into the distinct texts of ``groups``, and those texts: as
    ``pd.factorize(np.asarray(groups).astype(str))`` gives them."""
    if isinstance(getattr(groups, "dtype", None), pd.CategoricalDtype):
        categorical = pd.Categorical(groups)
        codes = np.asarray(categorical.codes)
        if not len(codes) or codes.min() < 0:  # a missing group is the text "nan"
            return _group_codes(np.asarray(groups))
        # The categories present, renumbered by first appearance as factorize numbers them.
        raw_code, raw_present = pd.factorize(codes)
        return _text_codes(raw_code, np.asarray(categorical.categories)[raw_present])
    if groups.dtype == object:
        raw_code, raw_present = pd.factorize(groups, use_na_sentinel=False)
        if not all(isinstance(value, str) for value in raw_present):
            # Mixed values (None, 1, 1.0 and "1"), which factorize may take as one where their
            # texts differ: converted one by one.
            return pd.factorize(groups.astype(str))
        return _text_codes(raw_code, raw_present)
    # Each distinct label is converted to str, not each person's.
    raw_code, raw_present = pd.factorize(groups, use_na_sentinel=False)
    return _text_codes(raw_code, raw_present)


def _text_codes(raw_code: np.ndarray, raw_present: object) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the texts of ``raw_present`` (two values may share a text) from codes
    into ``raw_present``."""
    text_code, present = pd.factorize(np.asarray(raw_present).astype(str))
    return (text_code[raw_code] if len(raw_code) else raw_code), present


def paired_counts(
    groups: Sequence[object] | np.ndarray,
    decisions: np.ndarray,
    labels: Mapping[str, np.ndarray] | None = None,
    group_order: Sequence[str] | None = None,
) -> PairedCounts:
    """Count the people of each group with each pattern of decisions (and label bits).

    Parameters
    ----------
    groups : array_like, shape ``(n,)``
        Each person's group label (converted to str).
    decisions : array_like of bool, shape ``(n, n_worlds)``
        Each person's decision in each world; a 1-d array is one world.
    labels : mapping of str to array_like of bool, optional
        Label bits per person, e.g. ``{"y_true": truth, "y_recorded": records}``.
    group_order : sequence of str, optional
        The groups to count, in this order; people of other groups are left out. Default:
        every group present, sorted.

    Returns
    -------
    PairedCounts

    Raises
    ------
    AuditInputError
        Arrays of different lengths, or values that are not 0/1.
    """
    # A categorical column's codes are its groups already (a million texts need not be read).
    categorical = isinstance(getattr(groups, "dtype", None), pd.CategoricalDtype)
    group_array = groups if categorical else np.asarray(groups)
    matrix = np.asarray(decisions)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    labels = dict(labels or {})
    n = len(group_array)
    for name, array in {"decisions": matrix, **labels}.items():
        if len(array) != n:
            raise AuditInputError(f"{name} has {len(array)} rows but groups has {n}; give one "
                                  "row per person")
    label_matrix = np.column_stack([np.asarray(v) for v in labels.values()]) if labels else \
        np.zeros((n, 0), dtype=bool)
    bits = np.hstack([matrix, label_matrix])
    if bits.dtype != bool and bits.size and not ((bits == 0) | (bits == 1)).all():
        raise AuditInputError("decisions and labels must be 0/1 or boolean; found other values")
    bits = bits.astype(bool, copy=False)
    first_code, present = _group_codes(group_array)
    order = tuple(sorted(present)) if group_order is None else tuple(group_order)
    lookup = {g: i for i, g in enumerate(order)}
    mapped = np.array([lookup.get(g, -1) for g in present], dtype=np.int64)
    code = mapped[first_code] if n else np.zeros(0, dtype=np.int64)
    keep = code >= 0
    unique, inverse = _distinct_patterns(bits[keep]) if keep.any() else (
        np.zeros((0, bits.shape[1]), dtype=bool), np.zeros(0, dtype=np.int64))
    counts = np.bincount(code[keep] * len(unique) + inverse,
                         minlength=len(order) * len(unique)).reshape(len(order), len(unique))
    width = matrix.shape[1]
    return PairedCounts(order, unique[:, :width], unique[:, width:], tuple(labels),
                        counts.astype(np.int64))


def _metric_terms(paired: PairedCounts, metric: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Per pattern: whether it is in the rate's denominator, and its numerator in each world."""
    if metric not in PAIRED_METRICS:
        raise AuditInputError(f"metric {metric!r} cannot be compared in pairs; use one of "
                              f"{', '.join(PAIRED_METRICS)}")
    condition, positive = PAIRED_METRICS[metric]
    if condition is None:
        eligible = np.ones(len(paired.decisions), dtype=bool)
    else:
        if label not in paired.label_names:
            raise AuditInputError(f"metric {metric!r} needs the label {label!r}; the counts hold "
                                  f"{', '.join(paired.label_names) or 'no labels'}")
        eligible = paired.labels[:, paired.label_names.index(label)] == condition
    hits = paired.decisions if positive else ~paired.decisions
    return eligible, (hits & eligible[:, None]).astype(np.float64)


def _rates(counts: np.ndarray, eligible: np.ndarray, hits: np.ndarray) -> np.ndarray:
    """Rates per (..., group, world) from counts of shape (..., group, pattern)."""
    denominator = counts @ eligible.astype(np.float64)
    numerator = counts @ hits
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator / denominator[..., None]


def group_rates(paired: PairedCounts, metric: str = "selection_rate", label: str = "y_true"
                ) -> tuple[np.ndarray, np.ndarray]:
    """Each group's rate in each world, and the people behind it.

    Parameters
    ----------
    paired : PairedCounts
    metric : {"selection_rate", "fpr", "tpr", "fnr"}
    label : str
        The label bit the error rates condition on.

    Returns
    -------
    rates : ndarray, shape ``(n_groups, n_worlds)``
        NaN where a group has nobody in the denominator.
    denominators : ndarray of int64, shape ``(n_groups,)``
    """
    eligible, hits = _metric_terms(paired, metric, label)
    return _rates(paired.counts, eligible, hits), paired.counts @ eligible.astype(np.int64)


@dataclass(frozen=True)
class ContrastEstimate:
    """Linear contrasts of paired group rates, with percentile intervals.

    Attributes
    ----------
    estimate, ci_low, ci_high : ndarray, shape ``(n_contrasts,)``
    world_values : ndarray, shape ``(n_worlds,)``
        The group contrast in each world (the values the world weights combine).
    denominators : dict of str to int
        People behind each group's rate.
    resamples : ndarray, shape ``(n_boot, n_contrasts)``
        The bootstrap distribution (kept for joint statements).
    confidence : float
    """

    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    world_values: np.ndarray
    denominators: dict[str, int]
    resamples: np.ndarray
    confidence: float


def world_contrasts(
    paired: PairedCounts,
    group_weights: Mapping[str, float],
    world_weights: np.ndarray,
    *,
    metric: str = "selection_rate",
    label: str = "y_true",
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    random_state: None | int | np.random.Generator = None,
) -> ContrastEstimate:
    """Estimate ``sum_k sum_g sum_w c[g] * a[k, w] * rate[g, w]`` for each row ``k`` of ``a``.

    The group weights ``c`` form the disparity (``{"A": 1, "B": -1}`` is A's rate minus B's);
    the world weights ``a`` combine worlds (a row of the identity picks one world; a Shapley
    matrix from :func:`shapley_weights` splits the change from one world to another between
    switches). Intervals resample each group's pattern counts (a multinomial draw of the group's
    size), so the worlds stay paired.

    Parameters
    ----------
    paired : PairedCounts
    group_weights : mapping of str to float
        Weight of each group's rate; groups not named weigh 0.
    world_weights : array_like, shape ``(n_contrasts, n_worlds)``
    metric : {"selection_rate", "fpr", "tpr", "fnr"}
    label : str
        Label bit of the error rates.
    n_boot : int
        Resamples.
    confidence : float
        Nominal coverage of the percentile intervals.
    random_state : None, int or Generator

    Returns
    -------
    ContrastEstimate

    Raises
    ------
    AuditInputError
        An unknown group or metric, or world weights of the wrong width.
    """
    weights_matrix = np.atleast_2d(np.asarray(world_weights, dtype=np.float64))
    if weights_matrix.shape[1] != paired.n_worlds:
        raise AuditInputError(f"world_weights has {weights_matrix.shape[1]} columns; the counts "
                              f"hold {paired.n_worlds} worlds")
    unknown = [g for g in group_weights if g not in paired.groups]
    if unknown:
        raise AuditInputError(f"group {unknown[0]!r} is not among the counted groups "
                              f"({', '.join(paired.groups)})")
    if n_boot < 1:
        raise AuditInputError(f"n_boot must be at least 1, got {n_boot}")
    names = [g for g in group_weights if group_weights[g] != 0]
    rows = [paired.groups.index(g) for g in names]
    c = np.array([group_weights[g] for g in names], dtype=np.float64)
    counts = paired.counts[rows]
    used = counts.sum(axis=0) > 0  # patterns nobody in these groups has cost nothing to drop
    counts = counts[:, used]
    sub = PairedCounts(tuple(names), paired.decisions[used], paired.labels[used],
                       paired.label_names, counts)
    eligible, hits = _metric_terms(sub, metric, label)
    rates = _rates(counts, eligible, hits)  # (groups, worlds)
    world_values = c @ rates
    # Rows that sum to zero compare worlds: apply them to the values relative to the first
    # world, so that worlds with identical decisions give a contrast of exactly 0, not a
    # rounding residue that an interval could then call different from 0.
    comparing = np.isclose(weights_matrix.sum(axis=1), 0.0, atol=1e-12)
    estimate = np.where(comparing, weights_matrix @ (world_values - world_values[0]),
                        weights_matrix @ world_values)
    rng = check_random_state(random_state)
    draws = resample_cells(counts, n_boot, rng, category_axes=1)  # (boot, groups, patterns)
    boot_values = np.einsum("g,bgw->bw", c, _rates(draws.astype(np.float64), eligible, hits))
    resamples = np.where(comparing, (boot_values - boot_values[:, :1]) @ weights_matrix.T,
                         boot_values @ weights_matrix.T)
    low, high = percentile_interval(resamples, confidence)
    return ContrastEstimate(estimate, low, high, world_values,
                            {g: int(n) for g, n in zip(names, counts @ eligible, strict=True)},
                            resamples, confidence)


def shapley_weights(n_switches: int) -> np.ndarray:
    """Exact Shapley values as weights over the ``2**n`` worlds.

    World ``w`` has switch ``i`` on when bit ``i`` of ``w`` is set. Row ``i`` of the result,
    applied to the worlds' values, gives switch ``i``'s Shapley value: the change it makes,
    averaged over every order of switching the others on. The rows add up to
    ``value(all on) - value(all off)`` exactly.

    Parameters
    ----------
    n_switches : int

    Returns
    -------
    ndarray, shape ``(n_switches, 2**n_switches)``
    """
    worlds = np.arange(2**n_switches)
    size = np.array([bin(w).count("1") for w in worlds])
    factorial = np.array([math.factorial(s) for s in range(n_switches + 1)], dtype=np.float64)
    weights = np.zeros((n_switches, len(worlds)))
    for i in range(n_switches):
        without = worlds[(worlds >> i & 1) == 0]
        w = factorial[size[without]] * factorial[n_switches - size[without] - 1] / factorial[
            n_switches]
        weights[i, without | 1 << i] += w
        weights[i, without] -= w
    return weights


def permutation_weights(
    n_switches: int, n_permutations: int, random_state: None | int | np.random.Generator = None
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo Shapley values as weights over the worlds a sample of orders visits.

    Each random order switches the switches on one at a time; a switch's value in that order
    is the change it makes. Averaged over ``n_permutations`` orders this estimates the Shapley
    value without bias, and in every order the changes add up to
    ``value(all on) - value(all off)``, so the estimate is exactly additive too.

    Parameters
    ----------
    n_switches : int
    n_permutations : int
    random_state : None, int or Generator

    Returns
    -------
    worlds : ndarray of int64, shape ``(n_worlds,)``
        The worlds to run (bit ``i`` set: switch ``i`` on), sorted; always includes all off
        (0) and all on.
    weights : ndarray, shape ``(n_permutations, n_switches, n_worlds)``
        Per order, the weights giving each switch's change; their mean over orders gives the
        estimate, their spread its Monte Carlo error (see :func:`monte_carlo_error`).
    """
    rng = check_random_state(random_state)
    orders = np.argsort(rng.random((n_permutations, n_switches)), axis=1)
    steps = np.cumsum(1 << orders, axis=1)  # world after each step
    before = np.concatenate([np.zeros((n_permutations, 1), dtype=np.int64), steps[:, :-1]],
                            axis=1)
    worlds = np.unique(np.concatenate([[0, 2**n_switches - 1], steps.ravel()]))
    after_index = np.searchsorted(worlds, steps)
    before_index = np.searchsorted(worlds, before)
    weights = np.zeros((n_permutations, n_switches, len(worlds)))
    order_rows = np.arange(n_permutations)[:, None]
    np.add.at(weights, (order_rows, orders, after_index), 1.0)
    np.add.at(weights, (order_rows, orders, before_index), -1.0)
    return worlds.astype(np.int64), weights


def monte_carlo_error(per_order_weights: np.ndarray, world_values: np.ndarray) -> np.ndarray:
    """Standard error of a permutation Shapley estimate from the orders sampled.

    Parameters
    ----------
    per_order_weights : ndarray, shape ``(n_permutations, n_switches, n_worlds)``
    world_values : ndarray, shape ``(n_worlds,)``

    Returns
    -------
    ndarray, shape ``(n_switches,)``
    """
    values = per_order_weights @ np.asarray(world_values, dtype=np.float64)
    n = len(values)
    return values.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.full(values.shape[1],
                                                                            np.nan)


def one_at_a_time_weights(n_switches: int, worlds: np.ndarray | None = None) -> np.ndarray:
    """Weights of the change when each switch alone is turned off from all on.

    Row ``i`` gives ``value(all on) - value(all on without i)``. ``worlds`` lists the world
    numbers the columns stand for (default: all ``2**n``); each needed world must be in it.
    """
    worlds = np.arange(2**n_switches) if worlds is None else np.asarray(worlds)
    position = {int(w): j for j, w in enumerate(worlds)}
    all_on = 2**n_switches - 1
    weights = np.zeros((n_switches, len(worlds)))
    for i in range(n_switches):
        without = all_on & ~(1 << i)
        if without not in position:
            raise AuditInputError(f"world {without} (all on but switch {i}) was not run")
        weights[i, position[all_on]] += 1
        weights[i, position[without]] -= 1
    return weights


@dataclass(frozen=True)
class ViewComparison:
    """The disparity of the same decisions by two label views, and how they compare.

    Attributes
    ----------
    measure : {"ratio", "difference"}
        How each view's disparity is taken (group rate over, or minus, the reference's).
    disparity : dict of str to (float, float, float)
        Per view: estimate and interval of its disparity.
    comparison : (float, float, float)
        Estimate and interval of the first view's disparity over the second's (``measure``
        "ratio") or minus it ("difference").
    denominators : dict of str to dict of str to int
        Per view, people behind each group's rate.
    confidence : float
    """

    measure: str
    disparity: dict[str, tuple[float, float, float]]
    comparison: tuple[float, float, float]
    denominators: dict[str, dict[str, int]]
    confidence: float


def compare_views(
    paired: PairedCounts,
    group: str,
    reference: str,
    views: tuple[str, str] = ("y_recorded", "y_true"),
    *,
    metric: str = "fpr",
    measure: str = "ratio",
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    random_state: None | int | np.random.Generator = None,
    world: int = 0,
) -> ViewComparison:
    """Compare a group's disparity by two label views of the same decisions, in pairs.

    Example: by the recorded outcome, group A's false positive rate is 1.4 times the
    reference's; by the true outcome, 2.9 times. The ratio of disparities is 0.48, and its
    interval comes from resampling people (pattern counts of decision and both labels) within
    the two groups, so the views stay paired.

    Parameters
    ----------
    paired : PairedCounts
        With both ``views`` among its label names.
    group, reference : str
    views : (str, str)
        The label views compared: the first's disparity over (or minus) the second's.
    metric : {"fpr", "tpr", "fnr", "selection_rate"}
    measure : {"ratio", "difference"}
    n_boot : int
    confidence : float
    random_state : None, int or Generator
    world : int
        Which decision column to use.

    Returns
    -------
    ViewComparison
        Intervals are NaN where too few resamples define the statistic; a ratio whose
        reference rate is 0 is infinite or NaN and its interval unbounded.
    """
    if measure not in ("ratio", "difference"):
        raise AuditInputError(f"measure must be 'ratio' or 'difference', got {measure!r}")
    for name in (group, reference):
        if name not in paired.groups:
            raise AuditInputError(f"group {name!r} is not among the counted groups "
                                  f"({', '.join(paired.groups)})")
    rows = [paired.groups.index(group), paired.groups.index(reference)]
    counts = paired.counts[rows]
    rng = check_random_state(random_state)
    draws = resample_cells(counts, n_boot, rng, category_axes=1).astype(np.float64)
    column = paired.decisions[:, [world]]
    point, boot, denominators = {}, {}, {}
    for view in views:
        sub = PairedCounts((group, reference), column, paired.labels, paired.label_names, counts)
        eligible, hits = _metric_terms(sub, metric, view)
        rates = _rates(counts.astype(np.float64), eligible, hits)[:, 0]
        boot_rates = _rates(draws, eligible, hits)[..., 0]
        point[view] = _disparity(rates[0], rates[1], measure)
        boot[view] = _disparity(boot_rates[:, 0], boot_rates[:, 1], measure)
        denominators[view] = {g: int(n) for g, n in zip((group, reference), counts @ eligible,
                                                        strict=True)}
    first, second = views
    with np.errstate(invalid="ignore", divide="ignore"):
        compared = (point[first] / point[second] if measure == "ratio"
                    else point[first] - point[second])
        boot_compared = (boot[first] / boot[second] if measure == "ratio"
                         else boot[first] - boot[second])
    stacked = np.column_stack([boot[first], boot[second], boot_compared])
    stacked[~np.isfinite(stacked)] = np.nan  # an unbounded resample defines no quantile
    low, high = percentile_interval(stacked, confidence)
    return ViewComparison(
        measure,
        {first: (float(point[first]), float(low[0]), float(high[0])),
         second: (float(point[second]), float(low[1]), float(high[1]))},
        (float(compared), float(low[2]), float(high[2])), denominators, confidence)


def _disparity(rate: np.ndarray, reference: np.ndarray, measure: str) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(rate / reference if measure == "ratio" else rate - reference)
