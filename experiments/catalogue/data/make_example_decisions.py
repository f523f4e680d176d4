"""Make ``example_decisions.csv``: a small, fictional table of decisions to audit.

Four thousand fictional applicants from six nationalities, a true outcome that is equally
common in every group, and a screening decision that selects applicants of two nationalities
in error more often. Run ``python experiments/catalogue/data/make_example_decisions.py`` to
remake it; the seed fixes every row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

N_ROWS = 4000
SEED = 20261125
NATIONALITIES = {"IND": 0.30, "CHN": 0.25, "MEX": 0.15, "NGA": 0.12, "IRN": 0.10, "GBR": 0.08}
#: Extra chance of being selected in error, by nationality: the disparity the audit should find.
EXTRA_FALSE_SELECTION = {"NGA": 0.10, "IRN": 0.12}


def make_example(n_rows: int = N_ROWS, seed: int = SEED) -> pd.DataFrame:
    """Build the example table."""
    rng = np.random.default_rng(seed)
    nationality = rng.choice(list(NATIONALITIES), size=n_rows, p=list(NATIONALITIES.values()))
    sex = rng.choice(["F", "M"], size=n_rows)
    overstayed = rng.random(n_rows) < 0.12
    risk_score = np.clip(0.25 + 0.35 * overstayed + rng.normal(0, 0.15, n_rows), 0, 1)
    extra = pd.Series(nationality).map(EXTRA_FALSE_SELECTION).fillna(0).to_numpy()
    risk_score = np.where(~overstayed, np.clip(risk_score + extra, 0, 1), risk_score)
    flagged = risk_score > 0.5
    return pd.DataFrame({
        "applicant_id": np.arange(1, n_rows + 1),
        "nationality": nationality,
        "sex": sex,
        "overstayed": overstayed.astype(int),
        "risk_score": risk_score.round(4),
        "flagged": flagged.astype(int),
    })


if __name__ == "__main__":
    path = Path(__file__).with_name("example_decisions.csv")
    make_example().to_csv(path, index=False, lineterminator="\n")
    print(f"wrote {path}")
