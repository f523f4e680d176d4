"""Finished runs side by side: which runs there are, and how two runs differ.

:func:`list_runs` reads every run folder's manifest under a results folder.
:func:`compare_runs` puts two runs side by side: two runs of one experiment, or two variants
(experiments of other names) that share a system and a population profile. It shows the
configuration keys that differ, and every pre-specified (focus) comparison of either run (the
union, in an order that does not depend on which run is A) with its gap in both runs, the
change between the runs with an interval, and whether the data separate the two.

How the change is judged depends on the runs:

- different people (another seed or profile): the two gaps are independent estimates,
  so the change has the interval of a difference of two independent estimates, each side's
  variance recovered from its own interval (MOVER, :func:`audit.intervals.mover_difference`);
- the same people (same profile, seed and size) with each run's per-person decisions in its
  folder (:data:`DECISIONS_FILE`): the change is paired, person by person, by
  :func:`audit.compare.compare` (Newcombe's paired interval for each group's change, the
  group's and the reference's combined by MOVER), for every view whose outcome is the same
  in both runs (the true outcome, and a selection rate's; the recorded one only where both
  runs' records agree);
- the same people without those files, or a view whose outcome differs between the runs:
  the independent interval is given and the report says it is conservative, wider than a
  paired interval when the two runs' gaps move together, as gaps on the same people do.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.intervals import mover_difference, newcombe_difference_interval
from audit.report import points
from experiments.errors import UsageError

#: Metrics a focus comparison can name, as the comparison calls them.
METRIC_NAMES = {"fpr": "false positive rate", "selection_rate": "selection rate",
                "fnr": "false negative rate", "tpr": "true positive rate"}
#: The views of a run's metrics.csv, as a reader calls them.
VIEW_NAMES = {"true": "true outcome", "recorded": "recorded outcome",
              "any": "no outcome needed"}
#: Config keys that describe where a file was, not what was run.
IGNORED_KEYS = ("experiment.title",)
#: A run's per-person decisions, which let two runs on the same people be compared in pairs:
#: one row per held-out person with :data:`DECISIONS_ROW_ID`, the grouping columns,
#: ``y_true``, ``y_recorded`` and ``decision`` (booleans).
DECISIONS_FILE = "decisions.parquet"
#: The column that identifies a person in :data:`DECISIONS_FILE` (the population's id).
DECISIONS_ROW_ID = "person_id"


@dataclass(frozen=True)
class RunInfo:
    """One finished run, as its manifest describes it."""

    directory: Path
    experiment: str
    run_id: str
    seed: int | None
    size: int | None
    created: str
    headline: str


def list_runs(results_dir: str | Path = "results") -> list[RunInfo]:
    """Every run folder under ``results_dir`` (``<experiment>/<run-id>/manifest.json``).

    Sweeps and comparisons are not runs and are not listed. Runs are ordered by the time
    they were made, then by folder.

    Parameters
    ----------
    results_dir : str or Path
        The folder ``bias-audit run`` writes into (``--results-dir``).

    Returns
    -------
    list of RunInfo
    """
    from experiments.version import TOOL

    root = Path(results_dir)
    runs = []
    for manifest_path in sorted(root.glob("*/*/manifest.json")):
        manifest = _read_manifest(manifest_path)
        if manifest is None or manifest.get("tool") != TOOL or "run_id" not in manifest:
            continue
        headlines = manifest.get("headlines") or [""]
        runs.append(RunInfo(
            directory=manifest_path.parent, experiment=str(manifest.get("experiment", "")),
            run_id=str(manifest["run_id"]), seed=manifest.get("seed"),
            size=manifest.get("population_size"), created=str(manifest.get("created_utc", "")),
            headline=str(headlines[0])))
    return sorted(runs, key=lambda run: (run.created, str(run.directory)))


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def find_run(run: str | Path, results_dir: str | Path = "results") -> Path:
    """The folder of ``run``: a run folder's path, or a run id found under ``results_dir``.

    Raises
    ------
    UsageError
        When no run (or more than one) matches, naming what was looked for.
    """
    path = Path(run)
    if (path / "manifest.json").is_file():
        return path
    if path.exists():
        raise UsageError(f"{str(run)!r} holds no manifest.json; give a run folder "
                         "(results/<experiment>/<run-id>) or a run id (bias-audit runs lists them)")
    matches = [info.directory for info in list_runs(results_dir) if info.run_id == str(run)
               or info.directory.name == str(run)]
    if not matches:
        raise UsageError(f"no run {str(run)!r} under {str(results_dir)!r}; give a run folder "
                         "or a run id (bias-audit runs lists them)")
    if len(matches) > 1:
        raise UsageError(f"run id {str(run)!r} matches {len(matches)} folders "
                         f"({', '.join(str(m) for m in matches)}); give the folder instead")
    return matches[0]


@dataclass
class RunComparison:
    """Two runs of one experiment side by side (see :func:`compare_runs`).

    Attributes
    ----------
    run_a, run_b : LoadedRun
        The runs, as read back by :func:`experiments.api.load`.
    config_differences : DataFrame
        ``key``, ``run_a``, ``run_b``: every configuration key whose value differs.
    disparities : DataFrame
        One row per focus comparison, metric and view: the gap (group's rate minus the
        reference's, as a proportion) in each run with its interval and people, the change
        ``gap_b - gap_a`` with its interval, and ``verdict``.
    shared_people : bool
        Whether both runs drew the same synthetic people (same profile and seed; at two sizes
        the smaller run's people are the first of the larger's).
    confidence : float
        The level of every interval.
    """

    run_a: Any
    run_b: Any
    config_differences: pd.DataFrame
    disparities: pd.DataFrame
    shared_people: bool
    confidence: float
    notes: list[str] = field(default_factory=list)
    #: Whether some change was paired person by person (both runs' decisions.parquet).
    paired: bool = False

    def method_sentence(self) -> str:
        """How the change between the runs was judged, and what that interval assumes."""
        level = f"{100 * self.confidence:g}%"
        if self.shared_people and self.paired:
            return (
                "The two runs decided on the same people (same profile, seed and size), and "
                f"both folders hold each person's decision ({DECISIONS_FILE}), so the change's "
                f"{level} interval is paired, person by person: Newcombe's paired interval of "
                "each group's change, the group's and the reference's combined (MOVER). "
                "Rows marked 'independent' (a view whose outcome differs between the runs, "
                "such as two recorded worlds) treat the two gaps as independent, which is "
                "conservative. compare.csv gives the independent interval of every row "
                "beside it.")
        if self.shared_people:
            return (
                "The two runs share people: the same profile and seed draw the same "
                "synthetic people (all of them at one population size, the first ones when "
                "the sizes differ), so their gaps are not independent. The runs keep "
                "no person-level decisions, so no paired interval could be computed; the "
                f"change's {level} interval below treats the two gaps as independent (MOVER "
                "from each gap's own interval). That makes it conservative, wider than a "
                "paired interval, when the two runs' gaps move together, as gaps measured on "
                "the same people do: an interval that excludes zero still separates the runs, "
                "and one that includes zero means this interval cannot tell, not that the "
                "runs agree.")
        return (
            "The two runs drew different people (another seed or profile), so their "
            f"gaps are independent estimates. The change's {level} interval combines the two "
            "gaps' own intervals as a difference of two independent estimates (the method of "
            "variance estimates recovery, MOVER); where it excludes zero the runs differ, "
            "where it includes zero the data cannot tell them apart.")

    def document(self) -> Any:
        """The comparison as a report :class:`~experiments.writing.document.Document`."""
        from experiments.reports.run import name_blocks
        from experiments.writing.document import Bullets, Document, Heading, Paragraph, Table
        from experiments.writing.names import group_names

        a, b = self.run_a.manifest, self.run_b.manifest
        level = f"{100 * self.confidence:g}%"
        title = (f"{a.get('experiment')}: run {a.get('run_id')} against run {b.get('run_id')}"
                 if a.get("experiment") == b.get("experiment") else
                 f"{a.get('experiment')} run {a.get('run_id')} against {b.get('experiment')} "
                 f"run {b.get('run_id')}")
        document = Document(title)
        document.add(
            Paragraph(f"Run A: {a.get('run_id')} ({self.run_a.directory}), seed {a.get('seed')}, "
                      f"{a.get('population_size', 0):,} people, made {a.get('created_utc')}. "
                      f"Run B: {b.get('run_id')} ({self.run_b.directory}), seed "
                      f"{b.get('seed')}, {b.get('population_size', 0):,} people, made "
                      f"{b.get('created_utc')}."),
            Heading("Whether they differ"),
            Bullets(self.verdicts() or ["Neither run holds a focus comparison to compare."]),
            Paragraph(self.method_sentence()),
            *[Paragraph(note) for note in self.notes],
            Heading("The focus comparisons side by side"),
        )
        if self.disparities.empty:
            document.add(Paragraph("The experiment names no focus comparison that both runs "
                                   "audited."))
        else:
            rows = []
            for _, row in self.disparities.iterrows():
                rows.append([
                    row["label"], METRIC_NAMES.get(row["metric"], row["metric"]),
                    VIEW_NAMES.get(row["view"], row["view"]),
                    _points(row["gap_a"], row["gap_a_low"], row["gap_a_high"]),
                    _people(row["n_a"], row["n_ref_a"]),
                    _points(row["gap_b"], row["gap_b_low"], row["gap_b_high"]),
                    _people(row["n_b"], row["n_ref_b"]),
                    _points(row["change"], row["change_low"], row["change_high"]),
                    row["verdict"]])
            document.add(Table(
                ["comparison", "rate", "view", f"gap in run A (points, {level} CI)",
                 "people (group, reference) in A", f"gap in run B (points, {level} CI)",
                 "people (group, reference) in B", f"change B − A (points, {level} CI)",
                 "whether they differ"], rows))
        document.add(*self.adjusted_blocks())
        document.add(Heading("Configuration differences"))
        if self.config_differences.empty:
            document.add(Paragraph("None: both runs used the same configuration."))
        else:
            document.add(Table(["key", "run A", "run B"],
                               self.config_differences.values.tolist()))
        document.add(Paragraph(
            "Gaps are the group's rate minus the reference's, in percentage points, with "
            "Newcombe's hybrid score interval from each run's counts (metrics.csv). Both runs "
            "are simulations of a toy mimic, not measurements of the real system."))
        groups = pd.concat([self.disparities.get("group", pd.Series(dtype=str)),
                            self.disparities.get("reference", pd.Series(dtype=str))])
        document.blocks = name_blocks(document.blocks, group_names(groups.dropna().unique()))
        return document

    def adjusted_blocks(self) -> list[object]:
        """Crude beside adjusted, in both runs: each focus comparison within the strata it
        declares (the runs' adjusted.csv), by the true outcome's false positive rate."""
        from audit.report import bounds
        from experiments.writing.document import Heading, Paragraph, Table

        tables = [run.tables.get("adjusted") for run in (self.run_a, self.run_b)]
        if all(t is None or t.empty for t in tables):
            return []

        def cell(table: pd.DataFrame | None, label: str) -> tuple[str, str]:
            if table is None or table.empty:
                return "—", "not computed"
            rows = table[(table["label"] == label) & (table["view"] == "true")
                         & (table["metric"] == "fpr")]
            if rows.empty:
                return "—", "not computed"
            r = rows.iloc[0]
            crude = f"{r['crude_ratio']:.2f}" if math.isfinite(r["crude_ratio"]) else "—"
            if not math.isfinite(r["adjusted_ratio"]):
                return crude, "the data cannot tell"
            ends = bounds(r["adjusted_ratio_ci_low"], r["adjusted_ratio_ci_high"],
                          lambda v: f"{v:.2f}")
            return crude, f"{r['adjusted_ratio']:.2f} ({ends})"

        labels = list(dict.fromkeys(
            str(label) for t in tables if t is not None and not t.empty for label in t["label"]))
        rows = [[label, *cell(tables[0], label), *cell(tables[1], label)]
                for label in sorted(labels)]
        return [
            Heading("Composition or mechanism in each run"),
            Paragraph("Each focus comparison within the strata it declares (adjust_for), by "
                      "the true outcome's false positive rate: the crude ratio beside the "
                      "Mantel-Haenszel ratio within strata, from each run's adjusted.csv. Where "
                      "the crude ratios differ between the runs but the adjusted ones do not, "
                      "the change is in who is in each group, not in how the system treats "
                      "people alike."),
            Table(["comparison", "crude ratio in A",
                   f"adjusted ratio in A ({_run_level(self.run_a)} CI)", "crude ratio in B",
                   f"adjusted ratio in B ({_run_level(self.run_b)} CI)"], rows),
        ]

    def verdicts(self) -> list[str]:
        """One sentence per focus comparison, metric and view: the change and the verdict."""
        from experiments.writing.names import group_names, name_text

        names = group_names(pd.concat([self.disparities.get("group", pd.Series(dtype=str)),
                                       self.disparities.get("reference", pd.Series(dtype=str))
                                       ]).dropna().unique())
        out = []
        for _, row in self.disparities.iterrows():
            out.append(name_text(
                f"{row['label']} ({METRIC_NAMES.get(row['metric'], row['metric'])}, "
                f"{VIEW_NAMES.get(row['view'], row['view'])}): gap "
                f"{_points(row['gap_a'], row['gap_a_low'], row['gap_a_high'])} points in run "
                f"A, {_points(row['gap_b'], row['gap_b_low'], row['gap_b_high'])} in run B; "
                f"change {_points(row['change'], row['change_low'], row['change_high'])}: "
                f"{row['verdict']}.", names))
        return out

    def to_markdown(self) -> str:
        """The comparison in Markdown."""
        return self.document().to_markdown()

    def to_html(self) -> str:
        """The comparison as one self-contained HTML page (sortable tables, no network)."""
        return self.document().to_html()

    def write(self, directory: str | Path) -> Path:
        """Write compare.md, compare.html, compare.csv, config_differences.csv and a
        manifest.json hashing them into ``directory`` (created; it must not exist or be
        empty)."""
        from audit.tables import csv_text
        from experiments.version import TOOL

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = {
            "compare.md": self.to_markdown().encode("utf-8"),
            "compare.html": self.to_html().encode("utf-8"),
            "compare.csv": csv_text(self.disparities, suppress=False).encode("utf-8"),
            "config_differences.csv": csv_text(self.config_differences,
                                               suppress=False).encode("utf-8"),
        }
        for name, content in files.items():
            (directory / name).write_bytes(content)
        manifest = {
            "tool": TOOL, "kind": "comparison",
            "run_a": str(self.run_a.directory), "run_b": str(self.run_b.directory),
            "run_ids": [self.run_a.manifest.get("run_id"), self.run_b.manifest.get("run_id")],
            "shared_people": self.shared_people,
            "files": {name: hashlib.sha256(content).hexdigest()
                      for name, content in files.items()},
        }
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n",
                                                 encoding="utf-8")
        return directory


def _points(value: float, low: float, high: float) -> str:
    return points(value, low, high, undefined="undefined")


def _people(n_group: float, n_reference: float) -> str:
    if not (_finite(n_group) and _finite(n_reference)):
        return "withheld"
    return f"{int(n_group):,}, {int(n_reference):,}"


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): data}


def config_differences(config_a: dict[str, Any], config_b: dict[str, Any]) -> pd.DataFrame:
    """Every dotted configuration key whose value differs between two runs (JSON text)."""
    flat_a, flat_b = _flatten(config_a), _flatten(config_b)
    rows = []
    for key in sorted(set(flat_a) | set(flat_b)):
        if key in IGNORED_KEYS:
            continue
        value_a, value_b = flat_a.get(key, "(not set)"), flat_b.get(key, "(not set)")
        if value_a != value_b:
            rows.append([key, _shown(value_a), _shown(value_b)])
    return pd.DataFrame(rows, columns=["key", "run_a", "run_b"])


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def _focus_gap(metrics: pd.DataFrame, focus: dict[str, Any], metric: str, view: str,
               confidence: float) -> dict[str, float] | None:
    """A focus comparison's gap in one run and view: rates, counts and Newcombe's interval."""
    rows = metrics[(metrics["view"] == view) & (metrics["grouping"] == focus["grouping"])
                   & (metrics["metric"] == metric)]
    if rows.empty:
        return None
    reference = focus.get("reference") or str(rows["reference"].iloc[0])
    by_group = rows.set_index(rows["group"].astype(str))
    if focus["group"] not in by_group.index or reference not in by_group.index:
        return None
    g, r = by_group.loc[focus["group"]], by_group.loc[reference]
    counts = np.array([g["numerator"], g["denominator"], r["numerator"], r["denominator"]],
                      dtype=float)
    gap = float(g["value"]) - float(r["value"])
    if not np.isfinite(counts).all() or counts[1] == 0 or counts[3] == 0:
        # A suppressed or undefined rate: no gap to compare.
        return {"reference": reference, "gap": math.nan, "low": math.nan, "high": math.nan,
                "n": math.nan, "n_ref": math.nan}
    low, high = newcombe_difference_interval(counts[0], counts[1], counts[2], counts[3],
                                             confidence)
    return {"reference": reference, "gap": gap, "low": float(low), "high": float(high),
            "n": counts[1], "n_ref": counts[3]}


def _run_level(run: Any) -> str:
    """The level a run's own tables (its adjusted.csv) give their intervals at: ``95%``."""
    audit = run.manifest.get("config", {}).get("audit", {})
    return f"{100 * float(audit.get('confidence', 0.95)):g}%"


def _comparable(run_a: Any, run_b: Any) -> None:
    """Refuse, in one line naming what differs, two runs that share no system or profile."""
    def facts(run: Any) -> tuple[str, str]:
        config = run.manifest.get("config", {})
        return (str(config.get("experiment", {}).get("system", "")),
                str(config.get("population", {}).get("profile", "")))

    (system_a, profile_a), (system_b, profile_b) = facts(run_a), facts(run_b)
    differ = []
    if system_a != system_b:
        differ.append(f"systems ({system_a!r} in {str(run_a.directory)!r}, {system_b!r} in "
                      f"{str(run_b.directory)!r})")
    if profile_a != profile_b:
        differ.append(f"population profiles ({profile_a!r} in {str(run_a.directory)!r}, "
                      f"{profile_b!r} in {str(run_b.directory)!r})")
    if differ:
        raise UsageError(f"runs of different {' and '.join(differ)}; compare two runs that "
                         "share a system and a population profile")


def union_focus(config_a: dict[str, Any], config_b: dict[str, Any]) -> list[dict[str, Any]]:
    """Every (focus comparison, metric) of either run, once, in an order of their own.

    A comparison is the same in both runs when its grouping, group, reference (as named, or
    the grouping's configured reference) and metric are. The order (grouping, group,
    reference, metric) and the label (the run's own; the first in alphabetical order when
    the runs label it differently) do not depend on which run is A, so swapping the runs
    gives the same rows with the changes' signs flipped.
    """
    found: dict[tuple[str, str, str, str], set[str]] = {}
    for config in (config_a, config_b):
        references = config.get("audit", {}).get("reference", {}) or {}
        for focus in config.get("audit", {}).get("focus", []) or []:
            reference = focus.get("reference") or references.get(focus["grouping"], "")
            for metric in focus.get("metrics", ["fpr"]):
                key = (focus["grouping"], str(focus["group"]), str(reference), metric)
                found.setdefault(key, set()).add(focus.get("label") or "")
    out = []
    for (grouping, group, reference, metric), labels in sorted(found.items()):
        named = sorted(label for label in labels if label)
        label = named[0] if named else f"{group} against {reference or 'the reference'}"
        out.append({"grouping": grouping, "group": group, "reference": reference,
                    "metric": metric, "label": label})
    return out


def compare_runs(run_a: Any, run_b: Any) -> RunComparison:
    """Compare two finished runs of one system and population profile.

    Parameters
    ----------
    run_a, run_b : LoadedRun
        Runs read by :func:`experiments.api.load`: of one experiment, or two variants
        (experiments of different names) of one system on one population profile.

    Returns
    -------
    RunComparison

    Raises
    ------
    UsageError
        When the runs are of different systems or population profiles (one line naming
        them).
    """
    a, b = run_a.manifest, run_b.manifest
    _comparable(run_a, run_b)
    config_a, config_b = a.get("config", {}), b.get("config", {})
    confidence = float(config_a.get("audit", {}).get("confidence", 0.95))
    notes = []
    if a.get("experiment") != b.get("experiment"):
        notes.append(f"The runs are variants: experiments {a.get('experiment')!r} (A) and "
                     f"{b.get('experiment')!r} (B) of one system on one population profile; "
                     "every focus comparison of either is shown.")
    if float(config_b.get("audit", {}).get("confidence", 0.95)) != confidence:
        notes.append(f"The runs were audited at different levels; every interval here is "
                     f"recomputed at run A's, {100 * confidence:.0f}%.")
    # Populations are drawn in fixed-size blocks seeded from the run's seed, so the same
    # profile and seed give the same people: all of them at one size, the first ones when the
    # sizes differ. Either way the two gaps are not independent.
    population_a = {k: v for k, v in config_a.get("population", {}).items() if k != "size"}
    population_b = {k: v for k, v in config_b.get("population", {}).items() if k != "size"}
    shared = population_a == population_b and a.get("seed") == b.get("seed")
    differences = config_differences(config_a, config_b)
    if differences.empty and shared:
        notes.append("Both runs have the same configuration and seed: the second is a re-run "
                      "of the first, and its numbers are expected to be identical.")
    same_size = a.get("population_size") == b.get("population_size")
    paired = paired_decisions(run_a, run_b) if shared and same_size else None
    if paired is not None and len(paired.people) == 0:
        notes.append("Both runs hold per-person decisions, but they share no person "
                     f"({DECISIONS_ROW_ID} and outcomes disagree), so none was paired.")
        paired = None
    metrics_a, metrics_b = run_a.tables.get("metrics"), run_b.tables.get("metrics")
    rows = []
    if metrics_a is not None and metrics_b is not None:
        for focus in union_focus(config_a, config_b):
            metric = focus["metric"]
            # A selection rate needs no outcome: both views hold the same one.
            for view in ("true",) if metric == "selection_rate" else ("true", "recorded"):
                one = _focus_gap(metrics_a, focus, metric, view, confidence)
                two = _focus_gap(metrics_b, focus, metric, view, confidence)
                if one is None or two is None:
                    continue
                pair = None
                if paired is not None and one["reference"] == two["reference"]:
                    pair = paired.change(focus, metric, view, one["reference"], confidence)
                row = _change_row(focus["label"], focus, metric, view, one, two, shared, pair)
                rows.append({**row, "view": "any" if metric == "selection_rate" else view})
    columns = ["label", "grouping", "group", "reference", "metric", "view", "gap_a",
               "gap_a_low", "gap_a_high", "n_a", "n_ref_a", "gap_b", "gap_b_low", "gap_b_high",
               "n_b", "n_ref_b", "change", "change_low", "change_high", "pairing",
               "change_low_independent", "change_high_independent", "verdict"]
    table = pd.DataFrame(rows, columns=columns)
    return RunComparison(run_a, run_b, differences, table, shared, confidence, notes,
                         paired=bool((table["pairing"] == "paired").any()))


@dataclass
class PairedDecisions:
    """Two runs' decisions on the same people, joined person by person.

    Attributes
    ----------
    people : DataFrame
        One row per person in both runs' :data:`DECISIONS_FILE`: the grouping columns,
        ``y_true``, ``y_recorded_a``, ``y_recorded_b``, ``decision_a`` and ``decision_b``.
    """

    people: pd.DataFrame

    def change(self, focus: dict[str, Any], metric: str, view: str, reference: str,
               confidence: float) -> dict[str, float] | None:
        """The paired change of a focus gap (B − A) and its interval, or None when the view's
        outcome differs between the runs (the records of two recorded worlds) or the rate
        cannot be paired."""
        from audit.compare import PAIRED_RATES, compare
        from audit.tables import has_flag

        if metric not in PAIRED_RATES:
            return None
        frame = self.people
        outcome = "y_true"
        if view == "recorded" and metric != "selection_rate":
            if not (frame["y_recorded_a"].to_numpy() == frame["y_recorded_b"].to_numpy()).all():
                return None  # each run's gap is judged by its own records: not one outcome
            outcome = "y_recorded_a"
        columns = focus["grouping"].split(" × ")
        if any(c not in frame.columns for c in columns):
            return None
        if len(columns) == 1:
            groups = frame[columns[0]].astype(str)
        else:
            groups = frame[columns[0]].astype(str)
            for column in columns[1:]:
                groups = groups + " × " + frame[column].astype(str)
        table = pd.DataFrame({"group": groups.to_numpy(), "y": frame[outcome].to_numpy(),
                              "a": frame["decision_a"].to_numpy(),
                              "b": frame["decision_b"].to_numpy()})
        if reference not in set(table["group"]) or focus["group"] not in set(table["group"]):
            return None
        result = compare(table, "group", "y", "a", "b", {"group": reference},
                         confidence=confidence, metrics=[metric]).table
        row = result[result["group"] == focus["group"]].iloc[0]
        if has_flag(row["flags"], "suppressed") or has_flag(
                result[result["group"] == reference]["flags"].iloc[0], "suppressed"):
            return None  # withheld (audit.disclosure): its change would give its counts back
        return {"change": float(row["disparity_change"]),
                "low": float(row["disparity_change_ci_low"]),
                "high": float(row["disparity_change_ci_high"])}


def paired_decisions(run_a: Any, run_b: Any) -> PairedDecisions | None:
    """Both runs' :data:`DECISIONS_FILE`, joined on :data:`DECISIONS_ROW_ID`, or None when
    either folder has none.

    A person is kept only where both runs agree on who they are (grouping columns and true
    outcome): the same population seed draws the same people, and this checks it.
    """
    paths = [Path(run.directory) / DECISIONS_FILE for run in (run_a, run_b)]
    if not all(path.is_file() for path in paths):
        return None
    a, b = (pd.read_parquet(path) for path in paths)
    needed = {DECISIONS_ROW_ID, "y_true", "y_recorded", "decision"}
    for path, frame in zip(paths, (a, b), strict=True):
        if not needed <= set(frame.columns):
            raise UsageError(f"{str(path)!r} lacks the columns "
                             f"{', '.join(sorted(needed - set(frame.columns)))}; it needs "
                             f"{', '.join(sorted(needed))} and the grouping columns")
    shared = [c for c in a.columns if c in b.columns
              and c not in (DECISIONS_ROW_ID, "y_recorded", "decision", "score")]
    joined = a.merge(b[[DECISIONS_ROW_ID, *shared, "y_recorded", "decision"]],
                     on=DECISIONS_ROW_ID, suffixes=("_a", "_b"), validate="one_to_one")
    same = np.ones(len(joined), dtype=bool)
    for column in shared:
        same &= (joined[f"{column}_a"].astype(str).to_numpy()
                 == joined[f"{column}_b"].astype(str).to_numpy())
    joined = joined[same]
    people = pd.DataFrame({column: joined[f"{column}_a"].to_numpy() for column in shared})
    people["y_recorded_a"] = joined["y_recorded_a"].to_numpy(dtype=bool)
    people["y_recorded_b"] = joined["y_recorded_b"].to_numpy(dtype=bool)
    people["decision_a"] = joined["decision_a"].to_numpy(dtype=bool)
    people["decision_b"] = joined["decision_b"].to_numpy(dtype=bool)
    people["y_true"] = people["y_true"].astype(bool)
    return PairedDecisions(people)


def _change_row(label: str, focus: dict[str, Any], metric: str, view: str,
                one: dict[str, float], two: dict[str, float], shared: bool,
                paired: dict[str, float] | None = None) -> dict[str, Any]:
    change = two["gap"] - one["gap"]
    low, high = mover_difference(two["gap"], one["gap"], (two["low"], two["high"]),
                                 (one["low"], one["high"]))
    independent = (float(low), float(high))
    low, high = independent
    pairing = "independent"
    if paired is not None and all(_finite(paired[k]) for k in ("low", "high")):
        low, high, pairing = paired["low"], paired["high"], "paired"
    if one["reference"] != two["reference"]:
        verdict = (f"no comparison: the runs compare with different reference groups "
                   f"({one['reference']}, {two['reference']})")
        change = low = high = math.nan
        independent = (math.nan, math.nan)
    elif not (_finite(change) and _finite(low) and _finite(high)):
        verdict = "no comparison: a rate is withheld or undefined in one of the runs"
        # An interval around a withheld gap would still locate it: none is shown.
        change = low = high = math.nan
        independent = (math.nan, math.nan)
    elif low > 0:
        verdict = "the gap is larger in run B"
    elif high < 0:
        verdict = "the gap is smaller in run B"
    elif shared and pairing != "paired":
        verdict = ("this interval cannot tell the runs apart (it treats runs on the same "
                   "people as independent, so a paired comparison might)")
    else:
        verdict = "the data cannot tell the runs apart"
    return {"label": label, "grouping": focus["grouping"], "group": focus["group"],
            "reference": one["reference"], "metric": metric, "view": view,
            "gap_a": one["gap"], "gap_a_low": one["low"], "gap_a_high": one["high"],
            "n_a": one["n"], "n_ref_a": one["n_ref"], "gap_b": two["gap"],
            "gap_b_low": two["low"], "gap_b_high": two["high"], "n_b": two["n"],
            "n_ref_b": two["n_ref"], "change": change, "change_low": low, "change_high": high,
            "pairing": pairing, "change_low_independent": independent[0],
            "change_high_independent": independent[1], "verdict": verdict}
