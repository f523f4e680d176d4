"""Shared fixtures for the population tests: populations generated once per session."""

from __future__ import annotations

import pytest

from synthetic.population import generate

N_LARGE = 200_000


@pytest.fixture(scope="session")
def visa_population():
    """200,000 US visa holders, mechanisms off, fixed seed."""
    return generate("us_visa_holders", N_LARGE, seed=20240501)
