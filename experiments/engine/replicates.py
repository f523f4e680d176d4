"""Replicates of a system's own randomness on the same people, and their pooling.

A run's intervals cover the draw of its people. A system that learns or calibrates from a
sample (a 30-person pilot, annotated posts, a calibration split) has a draw of its own, and
another draw can move a finding by more than that interval. With ``experiment.replicates =
R`` the runner redraws the system's randomness R times (``experiment.system_seed``, derived
from the experiment seed; replicate 0 is the run of one replicate, byte for byte) on the same
people and the same training split, and this module pools every estimate:

- the pooled estimate is the mean over replicates (ratios on the log scale), so attribution
  contributions, averaged the same way, still add up exactly to the pooled gap;
- its variance is the mean within-run variance (read back from each replicate's interval:
  the draw of these people, which every replicate shares, so averaging does not shrink it)
  plus the between-replicate variance over R (the system's draw); each side of an interval
  keeps its own within-run half-width, so asymmetric intervals keep their shape;
- the interval is Student t on Welch-Satterthwaite degrees of freedom (the between-replicate
  variance is estimated from R - 1 degrees of freedom; the within-run one is taken as known).

Inverse-variance random-effects pooling, as sweeps use over seeds, would treat the replicates
as independent samples of people and shrink the people's variance by R; here they share the
people, so it would be too narrow. With ``replicate_population = true`` the replicates are
independent runs, and the variance of the mean is the between-replicate variance over R (never
below the mean within-run variance over R).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from audit.significance import benjamini_hochberg, holm
from experiments.config import ExperimentConfig

#: Stream of SeedSequence(seed) that derives the replicates' seeds.
REPLICATE_STREAM = 29
#: How a report names the pooling.
POOLING_METHOD = (
    "pooled over replicates: the mean estimate (ratios on the log scale), with a variance "
    "that adds the between-replicate variance over the number of replicates to the mean "
    "within-run variance (the people are shared, so theirs does not shrink), and a Student t "
    "interval on Welch-Satterthwaite degrees of freedom")

#: (estimate, low, high, log scale) column triples of metrics.csv that are pooled.
METRIC_TRIPLES = (
    ("value", "ci_low", "ci_high", False),
    ("difference", "diff_ci_low", "diff_ci_high", False),
    ("ratio", "ratio_ci_low", "ratio_ci_high", True),
    ("difference", "sim_diff_ci_low", "sim_diff_ci_high", False),
    ("ratio", "sim_ratio_ci_low", "sim_ratio_ci_high", True),
)
SUMMARY_TRIPLES = (("value", "ci_low", "ci_high", False),)
ADJUSTED_TRIPLES = (
    ("adjusted_ratio", "adjusted_ratio_ci_low", "adjusted_ratio_ci_high", True),
    ("adjusted_diff", "adjusted_diff_ci_low", "adjusted_diff_ci_high", False),
    ("standardised_rate", "standardised_ci_low", "standardised_ci_high", False),
    ("composition_part", "composition_ci_low", "composition_ci_high", False),
    ("within_part", "within_ci_low", "within_ci_high", False),
)
ATTRIBUTION_TRIPLES = (
    ("contribution", "ci_low", "ci_high", False),
    ("one_at_a_time_change", "one_at_a_time_ci_low", "one_at_a_time_ci_high", False),
)


def replicate_configs(config: ExperimentConfig) -> list[ExperimentConfig]:
    """The configs of a run's replicates: the run itself, then one per further replicate
    with its own system seed (and, with ``replicate_population``, its own seed)."""
    count = config.experiment.replicates
    seeds = np.random.SeedSequence([config.experiment.seed, REPLICATE_STREAM]).generate_state(
        max(count - 1, 1))
    configs = [config]
    for seed in seeds[:count - 1]:
        update: dict[str, object] = {"system_seed": int(seed)}
        if config.experiment.replicate_population:
            update["seed"] = int(seed)
        configs.append(config.model_copy(
            update={"experiment": config.experiment.model_copy(update=update)}))
    return configs


def _aligned(tables: Sequence[pd.DataFrame], keys: Sequence[str]) -> list[pd.DataFrame]:
    """Every table's rows in the first table's order of ``keys`` (missing rows NaN)."""
    def index(table: pd.DataFrame) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(table[list(keys)].astype(str))

    first = index(tables[0])
    return [t.set_index(index(t)).reindex(first) for t in tables]


def pool_columns(estimates: np.ndarray, lows: np.ndarray, highs: np.ndarray, *, log: bool,
                 confidence: float, shared_people: bool
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pool one estimate over replicates (rows of the arrays).

    Returns the pooled estimate, its interval, the between-replicate standard deviation (on
    the estimate's own scale; for ratios, of the log) and the degrees of freedom.
    """
    count = len(estimates)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if log:
            estimates, lows, highs = np.log(estimates), np.log(lows), np.log(highs)
        centre = estimates.mean(axis=0)
        spread = estimates.std(axis=0, ddof=1)
        between = spread**2 / count
        below = ((estimates - lows) ** 2).mean(axis=0) / z**2
        above = ((highs - estimates) ** 2).mean(axis=0) / z**2
        if not shared_people:  # independent runs: each half-width belongs to one run
            below = np.maximum(between, below / count) - between
            above = np.maximum(between, above / count) - between
        within = (below + above) / 2
        df = np.where(between > 0, (within + between) ** 2 / (between**2 / (count - 1)),
                      np.inf)
        q = stats.t.ppf(0.5 + confidence / 2, df)
        low = centre - q * np.sqrt(below + between)
        high = centre + q * np.sqrt(above + between)
        if log:
            centre, low, high = np.exp(centre), np.exp(low), np.exp(high)
    return centre, low, high, spread, df


def pool_tables(tables: Sequence[pd.DataFrame], keys: Sequence[str],
                triples: Sequence[tuple[str, str, str, bool]], confidence: float,
                shared_people: bool = True, means: Sequence[str] = (),
                ranges: Sequence[str] = (), log_means: Sequence[str] = ()) -> pd.DataFrame:
    """One table whose estimates and intervals are pooled over replicate tables.

    ``keys`` name a row; the first table gives the rows and every other column (flags, the
    reference, ...). ``means`` are columns replaced by their plain mean over replicates;
    ``log_means`` are ratios replaced by their mean on the log scale, as pooled ratios are,
    so that a crude ratio printed beside a pooled one is the same number.
    Each column named in ``ranges`` gains ``<name>_replicate_min`` and
    ``<name>_replicate_max``, its smallest and largest value over the replicates, so that a
    report can say where replicates disagree on a sign instead of printing one pooled value.
    Where an estimate is undefined in any replicate, its pooled estimate is undefined too.
    """
    aligned = _aligned(tables, keys)
    out = tables[0].reset_index(drop=True).copy()
    for estimate, low_name, high_name, log in triples:
        if estimate not in out or low_name not in out:
            continue
        stack = [np.stack([a[c].to_numpy(dtype=float) for a in aligned])
                 for c in (estimate, low_name, high_name)]
        centre, low, high, spread, _ = pool_columns(*stack, log=log, confidence=confidence,
                                                    shared_people=shared_people)
        # A rate's interval stays within [0, 1] where every replicate's did.
        floor = np.where((stack[1] >= 0).all(axis=0), 0.0, -np.inf)
        ceiling = np.where((stack[2] <= 1).all(axis=0) & (stack[0] <= 1).all(axis=0) & ~log,
                           1.0, np.inf)
        out[estimate] = centre
        out[low_name] = np.maximum(low, floor) if not log else low
        out[high_name] = np.minimum(high, ceiling) if not log else high
        if estimate == triples[0][0]:
            out["between_replicate_sd"] = spread
    for name in means:
        if name in out:
            out[name] = np.stack([a[name].to_numpy(dtype=float) for a in aligned]).mean(axis=0)
    for name in log_means:
        if name in out:
            stack = np.stack([a[name].to_numpy(dtype=float) for a in aligned])
            with np.errstate(divide="ignore", invalid="ignore"):
                out[name] = np.exp(np.log(stack).mean(axis=0))
    for name in ranges:
        if name in out:
            stack = np.stack([a[name].to_numpy(dtype=float) for a in aligned])
            # A replicate where the estimate is undefined leaves its range undefined, as it
            # leaves the pooled estimate.
            out[f"{name}_replicate_min"] = stack.min(axis=0)
            out[f"{name}_replicate_max"] = stack.max(axis=0)
    return out


def pool_metrics(tables: Sequence[pd.DataFrame], confidence: float,
                 shared_people: bool = True) -> pd.DataFrame:
    """A view's metrics table pooled over replicates, with p-values from the pooled gaps.

    Numerators and denominators become their means over replicates (the same people give
    the same denominators for rates over truth; a rate over decisions, such as precision,
    keeps value = numerator / denominator only approximately). The test of each group
    against its reference is Student t on the pooled difference, with Holm and
    Benjamini-Hochberg adjustment over the groups of a grouping, as in one run.
    """
    keys = ["grouping", "group", "metric"]
    out = pool_tables(tables, keys, METRIC_TRIPLES, confidence, shared_people,
                      means=("numerator", "denominator"))
    aligned = _aligned(tables, keys)
    stack = [np.stack([a[c].to_numpy(dtype=float) for a in aligned])
             for c in ("difference", "diff_ci_low", "diff_ci_high")]
    centre, low, high, _, df = pool_columns(*stack, log=False, confidence=confidence,
                                            shared_people=shared_people)
    q = stats.t.ppf(0.5 + confidence / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = (high - low) / (2 * q)
        p_value = np.where(se > 0, 2 * stats.t.sf(np.abs(centre) / se, df),
                           np.where(centre == 0, 1.0, 0.0))
    p_value = np.where(np.isnan(centre), np.nan, p_value)
    out["p_value"] = p_value
    out["p_holm"], out["p_bh"] = np.nan, np.nan
    for _, rows in out.groupby(["grouping", "metric"], sort=False):
        values = rows["p_value"].to_numpy(dtype=float)
        out.loc[rows.index, "p_holm"] = holm(values)
        out.loc[rows.index, "p_bh"] = benjamini_hochberg(values)
    return out
