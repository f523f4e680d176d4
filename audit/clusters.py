"""Design effects for clustered rows: posts by one author, verification attempts by one person.

Rows of one cluster are not independent: ten posts by one author flagged together carry less
evidence than ten authors flagged once each. For each group and rate, the design effect is the
variance of the rate under resampling of whole clusters (the ratio estimator's linearised
variance) over the variance the rows would have if independent. Intervals and tests then work
on effective counts (counts divided by the design effect), and the bootstrap deviations of a
clustered audit are widened by its square root.

The sufficient statistics are per (cluster, group) confusion counts, so the cost is one
``bincount`` over the rows and sums over the (cluster, group) pairs: no loop per cluster. A
design effect is never below 1: with one row per cluster it is exactly 1, and the clustered
audit equals the unclustered one.
"""

from __future__ import annotations

import numpy as np

from audit.metrics import rate_parts


def design_effects(
    group: np.ndarray, cluster: np.ndarray, outcome: np.ndarray, n_groups: int
) -> np.ndarray:
    """Design effect of every rate in every group, from per-row codes.

    Parameters
    ----------
    group : ndarray of int, shape ``(n_rows,)``
        Group index of each row, in ``[0, n_groups)``.
    cluster : ndarray of int, shape ``(n_rows,)``
        Cluster index of each row (an author, a person), ``>= 0``.
    outcome : ndarray of int, shape ``(n_rows,)``
        ``2 * true label + decision`` of each row.
    n_groups : int
        Number of groups.

    Returns
    -------
    ndarray of float64, shape ``(n_groups, n_rates)``
        At least 1; exactly 1 where a rate is 0, 1 or undefined (clustering cannot be
        estimated from a rate with no variation).
    """
    n_clusters = int(cluster.max()) + 1 if len(cluster) else 1
    pair_key = group.astype(np.int64) * n_clusters + cluster
    pairs, pair_index = np.unique(pair_key, return_inverse=True)
    pair_counts = np.bincount(pair_index * 4 + outcome, minlength=len(pairs) * 4)
    numerator, denominator = rate_parts(pair_counts.reshape(-1, 2, 2))
    pair_group = pairs // n_clusters
    n_rates = numerator.shape[1]

    def per_group(values: np.ndarray) -> np.ndarray:
        return np.stack([np.bincount(pair_group, weights=values[:, k], minlength=n_groups)
                         for k in range(n_rates)], axis=1)

    total_num, total_den = per_group(numerator), per_group(denominator)
    sum_nn = per_group(numerator * numerator)
    sum_nd = per_group(numerator * denominator)
    sum_dd = per_group(denominator * denominator)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = total_num / total_den
        clustered = sum_nn - 2 * rate * sum_nd + rate**2 * sum_dd
        independent = total_den * rate * (1 - rate)
        effect = clustered / independent
    # One row per cluster gives exactly 1 up to rounding; keep it exactly 1 so that such an
    # audit equals the unclustered one bit for bit.
    exceeds = np.isfinite(effect) & (independent > 0) & (effect > 1 + 1e-9)
    return np.where(exceeds, effect, 1.0)
