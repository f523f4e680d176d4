"""The result of an audit: a tidy table per (grouping, group, metric), a summary per grouping,
the counts behind both, and writers for CSV, JSON and Markdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit import frame
from audit.counts import CountTable
from audit.report import markdown_report
from audit.tables import frame_records, json_text, jsonable, withhold_suppressed, write_csv

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TABLE_COLUMNS: tuple[str, ...] = (
    "grouping", "group", "metric", "value", "ci_low", "ci_high", "numerator", "denominator",
    "reference", "difference", "diff_ci_low", "diff_ci_high", "ratio", "ratio_ci_low",
    "ratio_ci_high", "sim_diff_ci_low", "sim_diff_ci_high", "sim_ratio_ci_low",
    "sim_ratio_ci_high", "detectable_difference", "detectable_ratio", "design_effect",
    "p_value", "p_holm", "p_bh", "flags",
)

#: Columns of the adjusted table (see :mod:`audit.adjusted` and :mod:`audit.glossary`).
ADJUSTED_COLUMNS: tuple[str, ...] = (
    "grouping", "group", "reference", "metric", "view", "adjust_for", "strata_used",
    "strata_left_out", "n_group", "n_reference", "group_rate", "reference_rate", "crude_ratio",
    "adjusted_ratio", "adjusted_ratio_ci_low", "adjusted_ratio_ci_high", "adjusted_odds_ratio",
    "crude_diff", "adjusted_diff", "adjusted_diff_ci_low", "adjusted_diff_ci_high",
    "standardised_rate", "standardised_ci_low", "standardised_ci_high", "composition_part",
    "composition_ci_low", "composition_ci_high", "within_part", "within_ci_low",
    "within_ci_high", "one_sided_part", "composition_share", "homogeneity_p", "design_effect",
    "strata_left_out_names", "flags",
)
#: Integer and text columns of the adjusted table; the others are floats.
ADJUSTED_COUNT_COLUMNS = ("strata_used", "strata_left_out")
ADJUSTED_TEXT_COLUMNS = ("grouping", "group", "reference", "metric", "view", "adjust_for",
                         "strata_left_out_names", "flags")


def empty_adjusted() -> pd.DataFrame:
    """The adjusted table with no rows, its columns typed as in a filled one."""
    # A copy of one built once: every audit without adjustment starts from it.
    return _EMPTY_ADJUSTED.copy()


_EMPTY_ADJUSTED = pd.DataFrame({
    name: pd.Series(dtype=object if name in ADJUSTED_TEXT_COLUMNS else
                    np.int64 if name in ADJUSTED_COUNT_COLUMNS else np.float64)
    for name in ADJUSTED_COLUMNS})


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
    adjusted : DataFrame
        Comparisons adjusted for the strata of ``adjust_for`` (see :mod:`audit.adjusted`),
        one row per (grouping, group, rate) with the columns :data:`ADJUSTED_COLUMNS`; no
        rows when no adjustment was asked.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    counts: tuple[CountTable, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    adjusted: pd.DataFrame = field(default_factory=empty_adjusted)

    @property
    def adjustment_asked(self) -> bool:
        """Whether the audit was asked to adjust for strata (``adjust_for``)."""
        return bool(self.settings.get("adjust_for"))

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

    # -- fairlearn-style views (see audit.frame for what each means) --------------------------

    @property
    def by_group(self) -> pd.DataFrame:
        """Every metric per group, one row per group and one column per metric (``n`` first),
        as fairlearn's ``MetricFrame.by_group``: for the grouping over the most columns (the
        intersection of all features, when they were crossed). :meth:`rates_by_group` picks
        another grouping, metrics or the interval ends."""
        return frame.by_group(self)

    def rates_by_group(self, grouping: str | None = None,
                       metrics: str | Sequence[str] | None = None, *, what: str = "value"
                       ) -> pd.DataFrame:
        """:attr:`by_group` for ``grouping`` (a name of :attr:`groupings`), the ``metrics``
        asked, and the table column ``what`` (``"ci_low"``, ``"ci_high"``, ``"ratio"``...)."""
        return frame.by_group(self, grouping, metrics, what=what)

    @property
    def overall(self) -> pd.DataFrame:
        """Every rate over all rows, with its Wilson interval: one row per metric."""
        return frame.overall(self)

    def difference(self, method: str = "between_groups", *, grouping: str | None = None,
                   metrics: str | Sequence[str] | None = None) -> pd.DataFrame:
        """The gap per metric with its interval, one row per metric.

        Parameters
        ----------
        method : {"between_groups", "to_reference"}
            ``"between_groups"``: largest minus smallest rate across the groups with at
            least ``min_count`` people behind it (fairlearn's default), with a conservative
            simultaneous interval. ``"to_reference"``: the group farthest from the reference
            group, named, with its simultaneous interval (it was picked after looking).
        grouping : str, optional
            Default: the grouping of :attr:`by_group`.
        metrics : str or sequence of str, optional
            Default: every rate.
        """
        return frame.difference(self, method, grouping=grouping, metrics=metrics)

    def ratio(self, method: str = "between_groups", *, grouping: str | None = None,
              metrics: str | Sequence[str] | None = None) -> pd.DataFrame:
        """The ratio per metric with its interval, one row per metric.

        ``"between_groups"``: smallest over largest rate (at most 1, as fairlearn's);
        ``"to_reference"``: the group's rate over the reference's for the group farthest
        from 1 on a log scale, with its simultaneous interval. Parameters as for
        :meth:`difference`.
        """
        return frame.ratio(self, method, grouping=grouping, metrics=metrics)

    def plot(self, metrics: Sequence[str] = frame.PLOTTED_METRICS, *,
             grouping: str | None = None, labels: Mapping[str, str] | None = None
             ) -> Figure:
        """A matplotlib Figure: each group's rates with 95% intervals, one panel per metric,
        country codes shown by name (``labels`` maps groups to other text)."""
        return frame.plot(self, metrics, grouping=grouping, labels=labels)

    def focus_table(self, metric: str = "fpr", limit: int = 12) -> pd.DataFrame:
        """A short table of one rate per grouping: value, ratio to the reference, interval.

        Suppressed cells are withheld, as in the written tables; at most ``limit`` groups per
        grouping, the largest first.
        """
        shown = withhold_suppressed(self.table[self.table["metric"].isin(["n", metric])])
        sizes = shown[shown["metric"] == "n"].set_index(["grouping", "group"])["value"]
        rows = shown[shown["metric"] == metric].copy()
        rows["n"] = [sizes.get((g, k), np.nan) for g, k in zip(rows["grouping"], rows["group"],
                                                                strict=True)]
        rows["order"] = rows["grouping"].map({g: i for i, g in enumerate(self.groupings)})
        rows = rows.sort_values(["order", "n"], ascending=[True, False], kind="stable")
        rows = rows.groupby("grouping", sort=False).head(limit)
        return rows[["grouping", "group", "n", "value", "ci_low", "ci_high", "ratio",
                     "ratio_ci_low", "ratio_ci_high", "flags"]].reset_index(drop=True)

    def __repr__(self) -> str:
        settings = self.settings
        lines = [f"AuditResult: {settings.get('n_rows', 0):,} rows; groupings: "
                 f"{', '.join(self.groupings)}; true outcome {settings.get('y_true')!r}, "
                 f"decision {settings.get('y_pred')!r}",
                 "False positive rate by group (largest groups; every metric in .table):"]
        table = self.focus_table(limit=8).round(4)
        lines += table.to_string(index=False, max_colwidth=24).splitlines()[:30]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The focus table in a notebook; data text is escaped by pandas' HTML writer."""
        return (f"<p>AuditResult: {self.settings.get('n_rows', 0):,} rows; false positive "
                "rate by group (every metric in <code>.table</code>)</p>"
                + self.focus_table().round(4).to_html(index=False, escape=True))

    def to_csv(self, path: str | Path, suppress: bool = True) -> Path:
        """Write the tidy table as CSV (see :func:`audit.tables.write_csv`) and return the path.

        With ``suppress`` (the default) the figures of suppressed cells are left blank.
        """
        return write_csv(self.table, path, suppress=suppress)

    def to_dict(self, suppress: bool = True) -> dict[str, Any]:
        """The table, summary and settings as JSON-ready data (non-finite numbers as null).

        With ``suppress`` (the default) the figures of suppressed cells are null; the
        settings record whether they were withheld (``suppressed_cells_withheld``). The
        adjusted table is included only when an adjustment was asked.
        """
        data = {
            "settings": jsonable({**self.settings, "suppressed_cells_withheld": suppress}),
            "table": frame_records(withhold_suppressed(self.table) if suppress else self.table),
            "summary": frame_records(
                withhold_suppressed(self.summary) if suppress else self.summary),
        }
        if self.adjustment_asked:
            data["adjusted"] = frame_records(
                withhold_suppressed(self.adjusted) if suppress else self.adjusted)
        return data

    def to_json(self, path: str | Path, suppress: bool = True) -> Path:
        """Write :meth:`to_dict` as JSON and return the path."""
        path = Path(path)
        path.write_text(json_text(self.to_dict(suppress)), encoding="utf-8")
        return path

    def to_markdown(self, title: str = "Audit", focus: tuple[str, str] | None = None,
                    focus_metric: str = "fpr") -> str:
        """A readable Markdown report of every grouping (suppressed cells withheld), led by
        the headline gap: ``focus`` (grouping, group) names one chosen in advance."""
        return markdown_report(self, title=title, focus=focus, focus_metric=focus_metric)

    def write(self, directory: str | Path, title: str = "Audit", suppress: bool = True,
              focus: tuple[str, str] | None = None, focus_metric: str = "fpr"
              ) -> list[Path]:
        """Write metrics.csv, summary.csv, metrics.json and report.md into ``directory``, and
        adjusted.csv when an adjustment was asked (``adjust_for``).

        Parameters
        ----------
        directory : str or Path
            Folder to write into (created if missing).
        title : str
            Title of the report.
        suppress : bool
            Leave the figures of cells flagged ``suppressed`` blank in every file (the
            default), as report.md always does; ``False`` publishes them, for analysts
            working privately, and metrics.json records that choice.
        focus, focus_metric
            The comparison the report leads with, when named in advance (see
            :func:`audit.report.headline_gap`).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        summary_path = write_csv(self.summary, directory / "summary.csv", suppress=suppress)
        report = directory / "report.md"
        report.write_text(self.to_markdown(title, focus, focus_metric), encoding="utf-8")
        written = [self.to_csv(directory / "metrics.csv", suppress=suppress), summary_path,
                   self.to_json(directory / "metrics.json", suppress=suppress), report]
        if self.adjustment_asked:
            written.append(write_csv(self.adjusted, directory / "adjusted.csv",
                                     suppress=suppress))
        return written


