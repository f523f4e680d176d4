"""Builders of audit test tables: random decisions, and tables with given counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

NATIONALITIES = ("AFG", "BRA", "CHN", "DEU", "ERI", "FRA")
SEXES = ("F", "M")


def random_decisions(seed: int, n_rows: int = 1200) -> pd.DataFrame:
    """Random decisions by nationality and sex, with groups that lack a class on purpose.

    Nationality ``ERI`` has no truly positive people (TPR, FNR undefined), ``FRA`` no truly
    negative ones (FPR, TNR undefined); women of ``CHN`` are never selected (PPV, FDR
    undefined) and men of ``DEU`` always are (NPV, FOR undefined).
    """
    rng = np.random.default_rng(seed)
    nationality = rng.choice(NATIONALITIES, size=n_rows, p=[0.3, 0.25, 0.2, 0.15, 0.06, 0.04])
    sex = rng.choice(SEXES, size=n_rows)
    prevalence = rng.uniform(0.1, 0.6)
    y_true = rng.random(n_rows) < prevalence
    y_true[nationality == "ERI"] = False
    y_true[nationality == "FRA"] = True
    y_pred = rng.random(n_rows) < np.where(y_true, rng.uniform(0.4, 0.9), rng.uniform(0.05, 0.4))
    y_pred[(nationality == "CHN") & (sex == "F")] = False
    y_pred[(nationality == "DEU") & (sex == "M")] = True
    return pd.DataFrame({
        "nationality": nationality,
        "sex": sex,
        "y": y_true.astype(np.int64),
        "d": y_pred.astype(np.int64),
    })


def frame_from_counts(groups: dict[str, tuple[int, int, int, int]]) -> pd.DataFrame:
    """A table with the given (TN, FP, FN, TP) counts per group of a column ``group``."""
    parts = []
    for group, (tn, fp, fn, tp) in groups.items():
        y = [0] * tn + [0] * fp + [1] * fn + [1] * tp
        d = [0] * tn + [1] * fp + [0] * fn + [1] * tp
        parts.append(pd.DataFrame({"group": group, "y": y, "d": d}))
    return pd.concat(parts, ignore_index=True)
