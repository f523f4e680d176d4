"""A sweep's answer to "when does a fix measured on the records fail in truth?".

Every point of a sweep with ``sweep.answer = "remedies"`` ran its remedies beside the system
(remedies.csv in its folder). Here the focus disparities after each remedy are pooled over the
seeds at each grid value (label bias strength, say), by the true and by the recorded outcome,
and the paragraph names the remedies whose recorded disparity cannot be told from zero while
the true one can: fixes that look fair on the records and are not. Where no such case occurs,
it says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit.pooling import POOLING_METHOD, pool_random_effects, within_se
from audit.tables import rounded_frame
from experiments.config.remedies import REMEDY_TITLES
from experiments.reports.remedies import interval, records_fix_fails
from experiments.reports.remedies import points as pp

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

#: The sweep's pooled table, beside sweep_metrics.csv.
TABLE = "sweep_remedies.csv"
POINTS_DIR = "points"


def collect_remedies(points: list[Any], directory: Path) -> pd.DataFrame:
    """Every point's remedies.csv, with its grid values and seed in front."""
    frames = []
    for point in points:
        path = directory / POINTS_DIR / point.point_id / "remedies.csv"
        if not path.exists():
            continue
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])
        front = pd.DataFrame({"point": point.point_id, **point.params, "seed": point.seed},
                             index=table.index)
        frames.append(pd.concat([front, table], axis=1))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def pool_seeds(rows: pd.DataFrame, keys: list[str], confidence: float) -> pd.DataFrame:
    """The remedied focus disparity pooled over seeds, per ``keys`` and view.

    Pooled as every sweep pools its seeds (:data:`~audit.pooling.POOLING_METHOD`):
    each seed's within-run standard error read from its own Newcombe interval, the seed-to-seed
    variance by DerSimonian-Laird, and a modified Hartung-Knapp interval, so that seeds that
    disagree widen the interval instead of being averaged away.
    """
    focus = rows[rows["kind"] == "focus_disparity"]
    group = [*keys, "remedy", "grouping", "group", "reference", "metric", "label", "view"]
    by = focus.groupby(group, sort=False, dropna=False)
    codes = by.ngroup().to_numpy()
    pooled = by.agg(seeds=("seed", "nunique"), base=("base", "mean")).reset_index()
    if pooled.empty:
        return pooled.assign(remedied=[], between_sd=[], low=[], high=[])
    estimates = pd.to_numeric(focus["remedied"], errors="coerce").to_numpy(dtype=float)
    within = within_se(pd.to_numeric(focus["remedied_ci_low"], errors="coerce").to_numpy(float),
                       pd.to_numeric(focus["remedied_ci_high"], errors="coerce").to_numpy(float),
                       False, confidence)
    result = pool_random_effects(codes, estimates, within, len(pooled), confidence)
    pooled["remedied"] = result["estimate"]
    pooled["between_sd"] = result["between_sd"]
    pooled["low"] = np.clip(result["low"], -1.0, 1.0)
    pooled["high"] = np.clip(result["high"], -1.0, 1.0)
    return pooled


def fails_in_truth(pooled: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per (grid values, remedy, comparison) with both views side by side, and
    ``records_fix_fails``: the recorded interval holds zero, the true one excludes it, and the
    two are apart; ``views_agree``: the two views' intervals overlap."""
    on = [*keys, "remedy", "grouping", "group", "reference", "metric", "label"]
    true = pooled[pooled["view"] == "true"].drop(columns="view")
    recorded = pooled[pooled["view"] == "recorded"].drop(columns="view")
    both = true.merge(recorded, on=on, suffixes=("_true", "_recorded"))
    both["records_fix_fails"] = records_fix_fails(both["low_recorded"], both["high_recorded"],
                                                  both["low_true"], both["high_true"])
    both["views_agree"] = ((both["low_true"] <= both["high_recorded"])
                           & (both["low_recorded"] <= both["high_true"]))
    return both


def remedies_answer(config: ExperimentConfig, points: list[Any], directory: Path) -> str:
    """Write sweep_remedies.csv and return the paragraph answering the sweep's question."""
    rows = collect_remedies(points, directory)
    if rows.empty:
        return ("No point ran a remedy (remedies.apply is empty or the system supports none), "
                "so the sweep cannot say when a fix fails in truth.")
    keys = [k for k in config.sweep.grid if k != "remedies.apply"]
    if "remedies.apply" in config.sweep.grid:
        rows = rows.drop(columns=["remedies.apply"])
    confidence = config.audit.confidence
    pooled = pool_seeds(rows, keys, confidence)
    both = fails_in_truth(pooled, keys)
    rounded_frame(both).to_csv(directory / TABLE, index=False, lineterminator="\n")
    level = f"{100 * confidence:g}%"
    seeds = len(config.sweep.seeds)
    sentences = [
        f"Each remedy's focus disparity after the remedy (group minus reference), pooled over "
        f"{seeds} seed{'s' if seeds != 1 else ''} ({level} intervals, {POOLING_METHOD}), by "
        "the true and by the recorded outcome. "
        "A fix measured on the records fails in truth where the recorded interval holds zero "
        "while the true one lies wholly beyond it (the records rule out the true gap)."]
    strength_key = "mechanisms.label_bias.strength"
    for values, part in (both.groupby(keys, sort=True) if keys else [((), both)]):
        values = values if isinstance(values, tuple) else (values,)
        where = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                          for k, v in zip(keys, values, strict=True)) or "every point"
        failing = part[part["records_fix_fails"]]
        agree = int(part["views_agree"].sum())
        text = (f"At {where}: the two views' intervals overlap for {agree} of {len(part)} "
                "remedy comparisons")
        if failing.empty:
            text += ("; no remedy's recorded disparity was indistinguishable from zero while "
                     "the truth's lay beyond the records' interval (the data show no such case "
                     "here).")
        else:
            cases = [f"{REMEDY_TITLES.get(r['remedy'], r['remedy'])} ({r['label'] or r['group']}"
                     f", {r['metric']}: records {pp(r['remedied_recorded'])} "
                     f"{interval(r['low_recorded'], r['high_recorded'])}, truth "
                     f"{pp(r['remedied_true'])} {interval(r['low_true'], r['high_true'])})"
                     for _, r in failing.iterrows()]
            text += ("; fixes that look fair on the records and are not: " + "; ".join(cases)
                     + ".")
        sentences.append(text)
    if strength_key in keys:
        zero = both[both[strength_key] == 0]
        if not zero.empty:
            # A withheld comparison (no interval in a view) shows no disagreement either.
            known = zero[["low_true", "high_true", "low_recorded", "high_recorded"]].notna()
            disagree = zero[~zero["views_agree"] & known.all(axis=1)]
            sentences.append(
                "With label bias off, truth and records agree about every remedy (the views' "
                "intervals overlap)." if disagree.empty else
                f"With label bias off, truth and records still disagree for {len(disagree)} "
                "remedy comparisons: another mechanism of the experiment makes the records "
                "differ from the truth.")
    sentences.append(f"Every pooled value is in {TABLE}.")
    return " ".join(sentences)
