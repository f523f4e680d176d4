"""The result of an audit: a tidy table per (grouping, group, metric), a summary per grouping,
the counts behind both, and writers for CSV, JSON and Markdown."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.counts import CountTable

TABLE_COLUMNS: tuple[str, ...] = (
    "grouping", "group", "metric", "value", "ci_low", "ci_high", "numerator", "denominator",
    "reference", "difference", "diff_ci_low", "diff_ci_high", "ratio", "ratio_ci_low",
    "ratio_ci_high", "p_value", "p_holm", "p_bh", "flags",
)

#: Digits kept in written files: far beyond any interval's width, and stable across platforms.
FLOAT_DIGITS = 12


@dataclass
class AuditResult:
    """What an audit found.

    Attributes
    ----------
    table : DataFrame
        One row per (grouping, group, metric) with the columns :data:`TABLE_COLUMNS`.
    summary : DataFrame
        One row per (grouping, measure, metric): overall rates, max-min differences and
        min/max ratios across groups, equalized odds and demographic parity, with intervals.
    counts : tuple of CountTable
        The sufficient statistics everything above was derived from: one count array per
        family of groupings counted together (see :func:`audit.engine.grouping_families`).
    settings : dict
        How the audit was run (columns, bootstrap size, confidence, thresholds, seed).
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    counts: tuple[CountTable, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def groupings(self) -> list[str]:
        """Names of the audited groupings, in order."""
        return list(dict.fromkeys(self.table["grouping"]))

    def metric(self, metric: str, grouping: str | None = None) -> pd.DataFrame:
        """Rows of one metric (and optionally one grouping), indexed by group."""
        rows = self.table[self.table["metric"] == metric]
        if grouping is not None:
            rows = rows[rows["grouping"] == grouping]
        return rows.set_index("group")

    def to_csv(self, path: str | Path) -> Path:
        """Write the tidy table as CSV and return the path."""
        path = Path(path)
        rounded_frame(self.table).to_csv(path, index=False, lineterminator="\n")
        return path

    def to_dict(self) -> dict[str, Any]:
        """The table, summary and settings as JSON-ready data (non-finite numbers as null)."""
        return {
            "settings": jsonable(self.settings),
            "table": frame_records(self.table),
            "summary": frame_records(self.summary),
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON and return the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        return path

    def to_markdown(self, title: str = "Audit") -> str:
        """A readable Markdown report of every grouping (suppressed cells withheld)."""
        from audit.report import markdown_report

        return markdown_report(self, title=title)

    def write(self, directory: str | Path, title: str = "Audit") -> list[Path]:
        """Write metrics.csv, summary.csv, metrics.json and report.md into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        summary_path = directory / "summary.csv"
        rounded_frame(self.summary).to_csv(summary_path, index=False, lineterminator="\n")
        report = directory / "report.md"
        report.write_text(self.to_markdown(title), encoding="utf-8")
        return [self.to_csv(directory / "metrics.csv"), summary_path,
                self.to_json(directory / "metrics.json"), report]


def rounded_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns rounded to :data:`FLOAT_DIGITS`, for stable written files."""
    floats = frame.select_dtypes(include="float").columns
    return frame.assign(**{c: frame[c].round(FLOAT_DIGITS) for c in floats})


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (rounded; non-finite numbers as None)."""
    return [
        {key: jsonable(value) for key, value in row.items()}
        for row in rounded_frame(frame).to_dict(orient="records")
    ]


def jsonable(value: Any) -> Any:
    """Plain Python data for JSON: numpy scalars unwrapped, NaN and infinity as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
