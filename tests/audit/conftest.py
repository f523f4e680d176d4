"""Fixtures of the audit tests."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.audit.tables import random_decisions


@pytest.fixture
def decisions() -> pd.DataFrame:
    """A valid table of 400 decisions by nationality and sex."""
    return random_decisions(seed=7, n_rows=400)
