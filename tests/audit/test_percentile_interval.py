"""The vectorised percentile interval equals numpy's nanquantile, NaN resamples left out."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from audit.intervals import percentile_interval


@pytest.mark.parametrize("n_boot", [1, 2, 7, 50, 400, 1000])
@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.99])
def test_matches_nanquantile_with_missing_resamples(n_boot, confidence):
    rng = np.random.default_rng(n_boot)
    draws = rng.normal(size=(n_boot, 30, 5))
    draws[rng.random(draws.shape) < 0.02] = np.nan
    draws[:, 0, 0] = np.nan  # never defined
    draws[: int(0.7 * n_boot), 1, 1] = np.nan  # mostly undefined: interval withheld
    draws[:, 2, 2] = 0.25  # constant
    low, high = percentile_interval(draws, confidence)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected_low, expected_high = np.nanquantile(
            draws, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
    withheld = (~np.isnan(draws)).mean(axis=0) < 0.5
    expected_low[withheld] = expected_high[withheld] = np.nan
    np.testing.assert_allclose(low, expected_low, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(high, expected_high, rtol=1e-12, atol=1e-15)
    assert np.isnan(low[0, 0])
    assert np.isnan(high[1, 1]) == withheld[1, 1]
    assert low[2, 2] == high[2, 2] == 0.25


def test_infinite_resamples_give_an_unbounded_interval():
    draws = np.full((100, 1), np.inf)
    draws[:50, 0] = 1.0
    low, high = percentile_interval(draws, 0.95)
    assert low[0] == 1.0 and high[0] == np.inf
