"""Finished runs as the sandbox shows them: found by opaque id, read from their own files.

A page never names a file. Runs already under the results folder get an id derived from a
secret of this server; runs made here are known by their run's random id. Both resolve to a
folder that holds a manifest of this tool, and only files that manifest lists are read or
sent. Numbers come from the run's metrics.csv and attribution.csv, formatted as the reports
format them (:func:`audit.report.points`).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import math
import secrets
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from audit.report import percent, points
from experiments.errors import UsageError
from experiments.reports.compare import METRIC_NAMES, VIEW_NAMES, compare_runs, list_runs


@dataclass
class RunFolder:
    """A finished run read back: its folder, manifest and tables (as the comparison wants)."""

    directory: Path
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def listed_files(directory: Path, manifest: dict[str, Any]) -> list[str]:
    """Names of the files a run's manifest lists that are regular files inside its folder."""
    root = directory.resolve()
    names = []
    for name in manifest.get("files", {}):
        if not isinstance(name, str) or name.startswith("/") or ".." in Path(name).parts:
            continue
        path = directory / name
        if path.is_symlink() or not path.is_file() or root not in path.resolve().parents:
            continue
        names.append(name)
    return names


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """A run folder's manifest, or None if it holds none of this tool's."""
    from experiments.version import TOOL

    path = directory / "manifest.json"
    if path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == TOOL else None


def read_run(directory: Path, verify: bool = True) -> RunFolder:
    """Read a run's manifest and tables, checking each file against its manifest hash.

    Raises
    ------
    UsageError
        When the folder holds no manifest of this tool, or a file does not match its hash.
    """
    manifest = read_manifest(directory)
    if manifest is None:
        raise UsageError("this run's folder holds no manifest; it may have been removed")
    tables = {}
    for name in listed_files(directory, manifest):
        path = directory / name
        if verify:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != manifest["files"][name]:
                raise UsageError(f"{name} of this run does not match the hash in its manifest; "
                                 "it was changed after the run")
        if "/" not in name and name.endswith(".csv"):
            tables[name.removesuffix(".csv")] = pd.read_csv(path, keep_default_na=False,
                                                            na_values=[""])
    return RunFolder(directory, manifest, tables)


def zip_run(directory: Path) -> bytes:
    """The run's folder as a zip: its manifest and every file the manifest lists."""
    manifest = read_manifest(directory)
    if manifest is None:
        raise UsageError("this run's folder holds no manifest")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(directory / "manifest.json", "manifest.json")
        for name in listed_files(directory, manifest):
            archive.write(directory / name, name)
    return buffer.getvalue()


class RunIndex:
    """The runs a page may open, by opaque id.

    Parameters
    ----------
    results_dir : Path
        The server's results folder.
    """

    def __init__(self, results_dir: Path) -> None:
        self.results_dir = Path(results_dir)
        self._secret = secrets.token_bytes(32)

    def public_id(self, directory: Path) -> str:
        """The id of a run folder that was not made by a page of this server."""
        text = str(directory.resolve()).encode("utf-8")
        return hmac.new(self._secret, text, hashlib.sha256).hexdigest()[:32]

    def existing(self, exclude: set[Path] = frozenset()) -> list[dict[str, Any]]:
        """Runs under the results folder, newest first, except folders in ``exclude``."""
        found = []
        for info in list_runs(self.results_dir):
            if info.directory.resolve() in exclude:
                continue
            found.append({"id": self.public_id(info.directory), "experiment": info.experiment,
                          "run_id": info.run_id, "seed": info.seed, "size": info.size,
                          "created": info.created.replace("T", " ").rstrip("Z"),
                          "headline": info.headline, "directory": info.directory})
        return found[::-1]

    def find_existing(self, run_id: str, exclude: set[Path] = frozenset()) -> Path | None:
        """The folder of an existing run's id, if there is one."""
        for run in self.existing(exclude):
            if hmac.compare_digest(run["id"], run_id):
                return run["directory"]
        return None


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _rate(row: pd.Series) -> str:
    if not _finite(row.get("value")):
        return "withheld"
    low, high = row.get("ci_low"), row.get("ci_high")
    if _finite(low) and _finite(high):
        return f"{percent(row['value'])} ({percent(low)} to {percent(high)})"
    return percent(row["value"])


def _ratio(row: pd.Series) -> str:
    if not _finite(row.get("ratio")):
        return "—"
    low, high = row.get("ratio_ci_low"), row.get("ratio_ci_high")
    shown = f"{float(row['ratio']):.2f}"
    if _finite(low) and _finite(high):
        shown += f" ({float(low):.2f} to {float(high):.2f})"
    return shown


def focus_rows(run: RunFolder) -> list[dict[str, Any]]:
    """Each focus comparison by the true and by the recorded outcome, from metrics.csv."""
    metrics = run.tables.get("metrics")
    config = run.manifest.get("config", {})
    out = []
    if metrics is None:
        return out
    for focus in config.get("audit", {}).get("focus", []) or []:
        label = focus.get("label") or f"{focus['group']} against the reference"
        for metric in focus.get("metrics", ["fpr"]):
            views = ("true",) if metric == "selection_rate" else ("true", "recorded")
            for view in views:
                rows = metrics[(metrics["view"] == view) & (metrics["grouping"] ==
                               focus["grouping"]) & (metrics["metric"] == metric)]
                if rows.empty:
                    continue
                by_group = rows.set_index(rows["group"].astype(str))
                reference = focus.get("reference") or str(rows["reference"].iloc[0])
                if focus["group"] not in by_group.index or reference not in by_group.index:
                    continue
                group, ref = by_group.loc[focus["group"]], by_group.loc[reference]
                out.append({
                    "label": label, "grouping": focus["grouping"], "group": focus["group"],
                    "reference": reference, "metric": METRIC_NAMES.get(metric, metric),
                    "view": VIEW_NAMES.get("any" if metric == "selection_rate" else view, view),
                    "group_rate": _rate(group), "reference_rate": _rate(ref),
                    "difference": points(group.get("difference"), group.get("diff_ci_low"),
                                         group.get("diff_ci_high")),
                    "ratio": _ratio(group),
                })
    return out


def waterfalls(run: RunFolder) -> list[dict[str, Any]]:
    """The attribution of each focus gap, from "all knobs off" to "as configured".

    Each step has its contribution in points with its interval, and where its bar starts and
    ends on the scale of the chart (the running total), for the page to draw.
    """
    table = run.tables.get("attribution")
    if table is None or table.empty:
        return []
    charts = []
    keys = ["grouping", "group", "reference", "metric"]
    for (grouping, group, reference, metric), rows in table.groupby(keys, sort=False):
        steps, running = [], 0.0
        for _, row in rows.iterrows():
            value = float(row["contribution"]) if _finite(row["contribution"]) else 0.0
            if row["kind"] == "total":
                start, end = 0.0, value
            else:
                start, end = running, running + value
                running = end
            steps.append({"source": str(row["source"]), "kind": str(row["kind"]),
                          "value": value, "start": start, "end": end,
                          "text": points(row["contribution"], row["ci_low"], row["ci_high"])})
        label = str(rows["label"].iloc[0]) if "label" in rows.columns else ""
        charts.append({"grouping": grouping, "group": str(group), "reference": str(reference),
                       "metric": METRIC_NAMES.get(metric, metric), "label": label,
                       "steps": steps})
    return charts


def run_summary(run: RunFolder) -> dict[str, Any]:
    """What the page shows of a finished run (text and numbers only, no paths)."""
    manifest = run.manifest
    details = manifest.get("details", {}) or {}
    return {
        "experiment": manifest.get("experiment"), "run_id": manifest.get("run_id"),
        "seed": manifest.get("seed"), "size": manifest.get("population_size"),
        "created": str(manifest.get("created_utc", "")), "seconds": details.get("seconds"),
        "headlines": list(manifest.get("headlines", [])), "focus": focus_rows(run),
        "attribution": waterfalls(run),
        "has_report": "report.html" in manifest.get("files", {}),
    }


def preview_summary(staging: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a run whose tables are written and whose report is not yet.

    Parameters
    ----------
    staging : Path
        The run's own staging folder, holding its tables (see the ``on_tables`` of
        :func:`experiments.engine.runner.run_experiment`).
    fields : dict
        The manifest's fields known so far.

    Returns
    -------
    dict
        As :func:`run_summary`, read from the same tables the run then publishes, with
        ``preview`` true and no report yet.
    """
    tables = {name: pd.read_csv(staging / f"{name}.csv", keep_default_na=False,
                                na_values=[""])
              for name in ("metrics", "attribution") if (staging / f"{name}.csv").is_file()}
    summary = run_summary(RunFolder(staging, fields, tables))
    summary.update(has_report=False, preview=True)
    return summary


def comparison_summary(first: Path, second: Path) -> dict[str, Any]:
    """Two runs side by side, as :func:`experiments.reports.compare.compare_runs` judges them."""
    comparison = compare_runs(read_run(first), read_run(second))
    rows = []
    for _, row in comparison.disparities.iterrows():
        rows.append({
            "label": row["label"], "metric": METRIC_NAMES.get(row["metric"], row["metric"]),
            "view": VIEW_NAMES.get(row["view"], row["view"]),
            "gap_a": points(row["gap_a"], row["gap_a_low"], row["gap_a_high"],
                            undefined="undefined"),
            "gap_b": points(row["gap_b"], row["gap_b_low"], row["gap_b_high"],
                            undefined="undefined"),
            "change": points(row["change"], row["change_low"], row["change_high"],
                             undefined="undefined"),
            "verdict": row["verdict"]})
    return {
        "shared_people": comparison.shared_people,
        "method": comparison.method_sentence(), "notes": comparison.notes, "rows": rows,
        "differences": comparison.config_differences.values.tolist(),
        "run_a": comparison.run_a.manifest.get("run_id"),
        "run_b": comparison.run_b.manifest.get("run_id"),
    }
