"""The run report: card, caveat, headlines, both views side by side, twins, how to cite."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from audit import AuditResult
from audit.engine import grouping_name
from audit.metrics import EXPLANATIONS
from audit.report import (
    interval_explanation,
    number,
    p_value,
    percent,
    points,
    rate_with_interval,
    ratio_with_interval,
    spread_cells,
    spread_header,
)
from audit.tables import has_flag
from experiments.reports.composition import composition_blocks
from experiments.reports.headlines import twin_sentences
from experiments.reports.interactions import alone_differs, interaction_phrase
from experiments.reports.remedies import remedies_blocks
from experiments.reports.replicates import (
    coverage_sentence,
    replicates_blocks,
    sign_differs_cell,
)
from experiments.version import __version__, git_commit
from experiments.writing.claims import Ledger
from experiments.writing.document import (
    Bullets,
    Card,
    Caveat,
    Code,
    Details,
    Document,
    Figure,
    Heading,
    Paragraph,
    Table,
)
from experiments.writing.names import group_names, name_text

if TYPE_CHECKING:
    from audit.figure_process import FigureHelper, PendingFigures
    from experiments.config import ExperimentConfig
    from experiments.systems.contract import SystemRun

CAVEAT = (
    "These numbers come from a simulation of a toy mimic, not from a measurement of the real "
    "system. Nobody outside has the real system, its code or its data. The people are "
    "synthetic, the bias mechanisms and their strengths are assumptions set in the experiment "
    "file, and the toy system only imitates what public reporting says the real one does. "
    "What the numbers show is how a design like this one can produce unequal errors, and "
    "through which mechanism; not how often the real system errs."
)

SHOWN_METRICS = ("fpr", "fnr", "selection_rate", "ppv")
#: How each view is named in figures and tables.
VIEW_TITLES = {"true": "true outcome", "recorded": "recorded outcome"}
#: Key of the focus comparison's figure in the figures :meth:`RunFigures.result` returns.
FOCUS_FIGURE = "(focus comparison)"


def names_of(views: dict[str, AuditResult]) -> dict[str, str]:
    """Country names for every code among a run's groups and reference groups."""
    table = views["true"].table
    return group_names(pd.concat([table["group"], table["reference"]]).dropna().unique())


def same_views(views: dict[str, AuditResult]) -> bool:
    """Whether the recorded outcome counts exactly as the true one (no recorded world)."""
    truth, recorded = views["true"].table, views["recorded"].table
    return truth["numerator"].equals(recorded["numerator"]) and \
        truth["denominator"].equals(recorded["denominator"])


def undefined_everywhere(result: AuditResult, grouping: str, metric: str) -> bool:
    """Whether ``metric`` is undefined or suppressed for every group of ``grouping``."""
    rows = _rows(result, grouping, metric)
    # Whole flags only: "ratio_undefined" says nothing about the rate itself.
    return rows.empty or bool(rows["flags"].fillna("").astype(str).str.contains(
        r"(?:^|;)(?:undefined|suppressed)(?:;|$)").all())


def defined_somewhere(result: AuditResult, grouping: str, metric: str) -> bool:
    """Whether ``metric`` has a denominator for some group of ``grouping``: it is withheld
    (suppressed, a small cell) rather than undefined where it is not shown."""
    rows = _rows(result, grouping, metric)
    flags = rows["flags"].fillna("").astype(str)
    return bool((~flags.str.contains(r"(?:^|;)undefined(?:;|$)")).any())


def _rows(result: AuditResult, grouping: str, metric: str) -> pd.DataFrame:
    table = result.table
    return table[(table["grouping"] == grouping) & (table["metric"] == metric)].set_index("group")


def views_table(views: dict[str, AuditResult], grouping: str, *, recorded: bool = True,
                fnr: bool = True, recorded_fnr: bool = False) -> Table:
    """Per group: size, selection rate, FPR and its ratio by each view, FNR by the truth.

    ``recorded=False`` leaves out the recorded view's columns (for a run whose records equal
    the truth), ``fnr=False`` the false negative rate by the truth (undefined or withheld for
    every group), ``recorded_fnr=True`` adds the false negative rate by the records.
    """
    truth, recorded_view = views["true"], views["recorded"]
    sizes = _rows(truth, grouping, "n")
    below = truth.settings.get("suppress_below", 10)  # a withheld size reads "<below"
    true_fpr, recorded_fpr = _rows(truth, grouping, "fpr"), _rows(recorded_view, grouping, "fpr")
    fnr_rows, selection = _rows(truth, grouping, "fnr"), _rows(truth, grouping, "selection_rate")
    header = ["group", "people", "selection rate", "FPR (true outcome)",
              "FPR ratio, true outcome; p (Holm)"]
    if recorded:
        header += ["FPR (recorded outcome)", "FPR ratio, recorded outcome; p (Holm)"]
    if fnr:
        header.append("FNR (true outcome)")
    recorded_fnr_rows = _rows(recorded_view, grouping, "fnr")
    if recorded_fnr:
        header.append("FNR (recorded outcome)")
    header.append("notes")
    rows = []
    for group, size in sizes.iterrows():
        suppressed = "suppressed" in str(size["flags"])
        notes = sorted({f for f in str(size["flags"]).split(";") if f}
                       | {f for f in str(true_fpr.loc[group, "flags"]).split(";")
                          if f in ("small_n", "undefined")})
        row = [
            group,
            f"<{below}" if suppressed else f"{int(size['value']):,}",
            rate_with_interval(selection.loc[group]),
            rate_with_interval(true_fpr.loc[group]),
            _ratio_p(true_fpr.loc[group]),
        ]
        if recorded:
            row += [rate_with_interval(recorded_fpr.loc[group]),
                    _ratio_p(recorded_fpr.loc[group])]
        if fnr:
            row.append(rate_with_interval(fnr_rows.loc[group]))
        if recorded_fnr:
            row.append(rate_with_interval(recorded_fnr_rows.loc[group]))
        row.append(", ".join(notes))
        rows.append(row)
    return Table(header, rows)


def _ratio_p(row: pd.Series) -> str:
    text = ratio_with_interval(row)
    if text in ("reference", "—") or text.startswith("— ") or "cannot tell" in text:
        return text
    # The interval is not adjusted for the groups compared, the p-value is (Holm): where the
    # interval excludes 1 but the adjusted p does not reach significance, the cell says so.
    low, high, p_holm = row.get("ratio_ci_low"), row.get("ratio_ci_high"), row.get("p_holm")
    excludes = (pd.notna(low) and pd.notna(high) and (low > 1 or high < 1))
    disagree = excludes and pd.notna(p_holm) and p_holm >= SIGNIFICANCE
    return (f"{text}; p {p_value(p_holm)}"
            + (" (interval unadjusted; not significant after Holm adjustment)"
               if disagree else ""))


#: The level the Holm-adjusted p-values of the tables are read at.
SIGNIFICANCE = 0.05


def summary_rows(views: dict[str, AuditResult], grouping: str, *, recorded: bool = True
                 ) -> tuple[Table, list[str]]:
    """Across-group measures, both views (or the truth alone with ``recorded=False``).

    Returns the table and the measures left out of it: those undefined, or resting on fewer
    than two groups large enough to compare, which say nothing about a spread.
    """
    rows, left_out = [], []
    for view, result in views.items():
        if view == "recorded" and not recorded:
            continue
        summary = result.summary[result.summary["grouping"] == grouping]
        picked = summary[
            (summary["measure"].isin(["max_min_difference", "min_max_ratio"])
             & summary["metric"].isin(["fpr", "fnr"]))
            | summary["measure"].isin(["equalized_odds_difference", "demographic_parity_ratio"])
        ]
        for _, row in picked.iterrows():
            measure = row["measure"].replace("_", " ")
            compared = pd.to_numeric(row.get("groups_compared"), errors="coerce")
            if not pd.notna(row["value"]) or not (pd.notna(compared) and compared >= 2):
                what = [VIEW_TITLES[view]] if recorded else []
                if row["measure"] in ("max_min_difference", "min_max_ratio"):
                    what.insert(0, GAP_NAMES.get(row["metric"], row["metric"]))
                what = f"{measure} ({', '.join(what)})" if what else measure
                if what not in left_out:
                    left_out.append(what)
                continue
            rows.append([view, measure, row["metric"], *spread_cells(row)])
    confidence = next(iter(views.values())).settings.get("confidence", 0.95)
    return Table(["view", "measure", "metric", *spread_header(confidence)], rows), left_out


def flips_table(flips: pd.DataFrame, decision_label: str, confidence: float = 0.95,
                suppress_below: int = 10) -> Table:
    """Counterfactual flip rates per intervention and group, with intervals at
    ``confidence``; a group under ``suppress_below`` people shows only that it is."""
    rows = []
    for _, row in flips.iterrows():
        suppressed = "suppressed" in str(row["flags"])
        rows.append([
            row["intervention"], row["effect"], row["grouping"], row["group"],
            f"<{suppress_below}" if suppressed else f"{int(row['n']):,}",
            "suppressed" if suppressed else
            f"{percent(row['flip_rate'], 2)} ({percent(row['ci_low'], 2)}–"
            f"{percent(row['ci_high'], 2)})",
            changed_cell(row, suppressed),
            "—" if suppressed else f"{int(row['flips_to_selected']):,}",
            "—" if suppressed else f"{int(row['flips_to_not_selected']):,}",
            row["flags"],
        ])
    level = f"{100 * confidence:g}%"
    return Table(["twin's value", "effect", "grouping", "group", "people",
                  f"flip rate ({level} CI)",
                  f"flip rate where the twin changes them ({level} CI; n)",
                  f"became {decision_label}", f"ceased to be {decision_label}", "notes"], rows)


def changed_cell(row: pd.Series, suppressed: bool) -> str:
    """The flip rate among the people whose attribute the twin changes (people already at the
    twin's value are their own twin), or why it is not shown."""
    n = row.get("changed_n")
    if suppressed or n is None or pd.isna(n):
        return "—"
    if int(n) == 0:
        return "none changed (all are their own twin)"
    if pd.isna(row.get("changed_flip_rate")):
        return f"withheld (fewer than 10; n = {int(n):,})"
    return (f"{percent(row['changed_flip_rate'], 2)} ({percent(row['changed_ci_low'], 2)}–"
            f"{percent(row['changed_ci_high'], 2)}; n = {int(n):,})")


#: How a metric's gap is named in the attribution section.
GAP_NAMES = {"fpr": "false positive rate", "selection_rate": "selection rate",
             "fnr": "false negative rate", "tpr": "true positive rate"}


def attribution_blocks(system_run: SystemRun) -> list[object]:
    """"Where the disparity comes from": the knobs-off baseline and each knob's contribution."""
    from experiments.systems.contract import ALL_OFF, AS_CONFIGURED

    attribution = system_run.findings.attribution
    blocks: list[object] = [Heading("Where the disparity comes from")]
    if attribution is None:
        return blocks + [Paragraph(
            "This run computed no knobs-off world (the experiment lists no [attribution] knobs, "
            "or attribution was skipped), so nothing here separates what the bias mechanisms "
            "do from what the population's composition does.")]
    knobs = attribution.knobs
    level = f"{100 * attribution.confidence:g}%"
    method = ("every one of the " if attribution.method == "exact" else "a sample of ") + (
        f"{attribution.n_worlds} worlds")
    blocks.append(Paragraph((
        f"The system was run again in {method} in which each of the {len(knobs)} bias knobs "
        "below is on (as configured) or off, on the same people: the same truth, the same "
        "random noise, only the knobs changed. 'All knobs off' is the gap that remains without "
        "any of them: it comes from the simulated population itself"
        + (f" ({attribution.baseline_cause})" if attribution.baseline_cause else "")
        + ", not from a mechanism. Each knob's contribution is its Shapley value: the change "
        "it makes to the gap, averaged over every order of switching the knobs on, so 'all "
        "knobs off' plus the contributions equals the gap as configured exactly. 'Alone' is "
        "the knob's effect alone: the gap as configured minus the gap with only that knob "
        "switched off, every other knob left as configured. Where the two differ by more than "
        "the interval, the knobs interact, and a sentence under the table says how. Gaps are "
        "in percentage points (the "
        f"group's rate minus the reference's) with {level} intervals from resampling people "
        "within the groups; an interval that includes 0 cannot tell the contribution from "
        "none. " + " ".join(attribution.notes)).strip()))
    blocks.append(Bullets([f"{k.name} ({k.key}, off = {json.dumps(k.off)})"
                           + (f": {k.explains}" if k.explains else "") for k in knobs]))
    table = attribution.table
    # The first rate of each comparison stays on the first page; the same comparison in its
    # other rates (a selection rate beside a false positive rate) folds away below it.
    shown: set[tuple[str, str, str]] = set()
    more: list[object] = []
    for (grouping, group, reference, metric), part in table.groupby(
            ["grouping", "group", "reference", "metric"], sort=False):
        label = part["label"].iloc[0]
        if metric in GAP_NAMES:
            caption = (f"{label or f'{group} against {reference}'} ({grouping}): gap in "
                       f"{GAP_NAMES[metric]}, n = {int(part['n_group'].iloc[0]):,} and "
                       f"{int(part['n_reference'].iloc[0]):,}")
        else:  # a system's own contrast, over several groups' rates
            caption = (f"{label or metric.replace('_', ' ')} ({grouping}), n = "
                       f"{int(part['n_group'].iloc[0]):,} in the rates compared")
        rows = []
        for _, r in part.iterrows():
            if r["source"] == ALL_OFF:
                what = attribution.baseline_cause or "the population's composition"
            elif r["source"] == AS_CONFIGURED:
                what = "the run as configured"
            else:
                what = r["knob_key"]
            rows.append([r["source"], what,
                         sign_differs_cell(r, points(r["contribution"], r["ci_low"],
                                                     r["ci_high"])),
                         points(r["one_at_a_time_change"], r["one_at_a_time_ci_low"],
                                 r["one_at_a_time_ci_high"])])
        block = Table(
            ["source", "what it is", f"gap or contribution (points, {level} CI)",
             f"its effect alone: as configured minus only it off (points, {level} CI)"],
            rows, caption=caption)
        key = (grouping, group, reference)
        place = more if key in shown else blocks
        place.append(block)
        interaction = interaction_paragraph(part)
        if interaction is not None:
            place.append(interaction)
        shown.add(key)
    if more:
        blocks.append(Details("The same comparisons in other rates", more, level=3))
    return blocks


def headline_bullets(headlines: list[str], claims: Ledger | None) -> Bullets:
    """The headlines, each number linked (on hover, in HTML) to the row its claim cites."""
    if claims is None:
        return Bullets(headlines)
    links = []
    for headline in headlines:
        links.append([(text, claim.tooltip()) for claim in claims.of(headline)
                      for text in claim.printed()])
    return Bullets(headlines, links)


def claims_table(claims: Ledger) -> Table:
    """Every claim of the headlines: id, number as printed, interval, n, kind and source."""
    rows = [[c.id, c.text(), c.interval() if c.has_interval else "—",
             c.text("n") if c.n is not None else "—", c.interval_kind, c.source,
             ", ".join(f"{k} = {v}" for k, v in c.source_row.items())]
            for c in claims.claims]
    return Table(["claim", "value", "interval", "n", "interval kind", "source", "row"], rows)


def interaction_paragraph(part: pd.DataFrame) -> Paragraph | None:
    """Under a comparison's attribution table: each knob whose effect alone lies apart from
    its Shapley share, the two side by side, and the interaction named; None where every
    share matches its knob's effect alone."""
    from experiments.systems.contract import AS_CONFIGURED

    knobs = part[part["kind"] == "knob"]
    total = part[part["source"] == AS_CONFIGURED]
    if total.empty:
        return None
    phrase = interaction_phrase(knobs, total.iloc[0])
    if not phrase:
        return None
    alone = ("one_at_a_time_change", "one_at_a_time_ci_low", "one_at_a_time_ci_high")
    sides = [f"{r['source']} has a Shapley share of "
             f"{points(r['contribution'], r['ci_low'], r['ci_high'])} but an effect alone of "
             f"{points(*(r[c] for c in alone))}"
             for _, r in knobs.iterrows() if alone_differs(r)]
    return Paragraph(f"Interaction: {'; '.join(sides)} (points; the effect alone is the gap "
                     f"as configured minus the gap with only that knob off). So {phrase}.")


@dataclass
class ReportContext:
    """What an optional report section may read (see :data:`OPTIONAL_SECTIONS`)."""

    config: ExperimentConfig
    views: dict[str, AuditResult]
    system_run: SystemRun
    #: The run's folder while it is written (figures go under ``figures/``).
    directory: Path
    #: Country names of the run's group codes (:func:`names_of`).
    names: dict[str, str] = field(default_factory=dict)


#: Optional sections of the first page, rendered in order after "Where the disparity comes
#: from": each is a name and a function of the :class:`ReportContext` that returns the
#: section's blocks, or an empty list when the run has nothing for it (its table was not
#: computed). Add one with :func:`register_section`.
OPTIONAL_SECTIONS: list[tuple[str, Callable[[ReportContext], list[object]]]] = []


def register_section(name: str, build: Callable[[ReportContext], list[object]]) -> None:
    """Add (or replace, by ``name``) an optional first-page section of every run report.

    Parameters
    ----------
    name : str
        The section's name, unique among optional sections.
    build : callable
        Takes a :class:`ReportContext` and returns the section's blocks (starting with its
        :class:`~experiments.writing.document.Heading`), or ``[]`` when the run has nothing to show,
        typically because the table it reads is not in ``system_run.decided.extra_tables``.
    """
    OPTIONAL_SECTIONS[:] = [(n, b) for n, b in OPTIONAL_SECTIONS if n != name]
    OPTIONAL_SECTIONS.append((name, build))


def focus_rows(config: ExperimentConfig, views: dict[str, AuditResult]
               ) -> tuple[object, str, str, pd.DataFrame] | None:
    """The first focus comparison's rates, group and reference, under each view.

    Returns the focus, its reference, its metric and one row per (view, group) with
    ``series``, ``group``, ``value``, ``ci_low``, ``ci_high``; None when the run names no
    focus or its groups were not audited.
    """
    if not config.audit.focus:
        return None
    focus = config.audit.focus[0]
    metric = focus.metrics[0] if focus.metrics[0] in ("fpr", "fnr", "selection_rate") else "fpr"
    truth = _rows(views["true"], focus.grouping, metric)
    if truth.empty:
        return None
    reference = focus.reference or str(truth["reference"].iloc[0])
    if reference == focus.group:  # the group is its grouping's reference: nothing to compare
        return None
    shown = {"true": views["true"]} if same_views(views) else views
    records = []
    for view, result in shown.items():
        rows = _rows(result, focus.grouping, metric)
        for group in (focus.group, reference):
            if group not in rows.index:
                return None
            row = rows.loc[group]
            defined = not any(has_flag(row["flags"], f) for f in ("undefined", "suppressed"))
            records.append({"series": f"by the {VIEW_TITLES[view]}", "group": group,
                            "value": row["value"] if defined else float("nan"),
                            "ci_low": row["ci_low"], "ci_high": row["ci_high"]})
    return focus, reference, metric, pd.DataFrame(records)


class RunFigures:
    """A run's figures being drawn (from :func:`start_figures`)."""

    def __init__(self, pending: PendingFigures, planned: list[tuple[str, str]],
                 figures: dict[str, list[tuple[Path, str]]]) -> None:
        self._pending = pending
        self._planned = planned
        self._figures = figures

    def result(self) -> dict[str, list[tuple[Path, str]]]:
        """Draw what is left; the figures by grouping, each as (path, caption)."""
        from audit.figures import NothingToDraw

        figures = {key: list(drawn) for key, drawn in self._figures.items()}
        for (key, caption), outcome in zip(self._planned, self._pending.result(), strict=True):
            if isinstance(outcome, NothingToDraw):
                # Every value withheld for its few people, or no ratio published in both
                # views: nothing to draw, and the figure is left out.
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            figures.setdefault(key, []).append((outcome, caption))
        return figures

    def stop(self) -> None:
        """Stop the helper's drawing (the run failed and its folder is removed)."""
        self._pending.stop()


def start_figures(directory: Path, config: ExperimentConfig, views: dict[str, AuditResult],
                  helper: FigureHelper | None = None) -> RunFigures:
    """Start drawing a run's figures under ``directory/figures``.

    Per grouping: the error rates that are defined for some group, with their intervals, and
    (when the records differ from the truth) the false positive rate ratio by each view.
    Under :data:`FOCUS_FIGURE`: the first focus comparison's two rates by each view. Groups
    are labelled by country name where they are codes.

    ``helper`` (a :class:`~audit.figure_process.FigureHelper`) starts on them at once, while
    this process goes on; :meth:`RunFigures.result` draws the rest here and returns them.
    Without a helper, every figure is drawn by that call. The figures are the same bytes
    either way.
    """
    from audit.figure_process import FigureCall, start_drawing
    from audit.figures import plot_comparison, plot_rates_by_group, plot_views

    names = names_of(views)
    labels = {g: name_text(str(g), names) for g in views["true"].table["group"].unique()}
    distinct = not same_views(views)
    level = f"{100 * config.audit.confidence:g}%"
    # Every figure is listed first (what to draw, under which key, with which caption), then
    # all are drawn, so that two processes can share them.
    planned: list[tuple[str, FigureCall, str]] = []
    figures: dict[str, list[tuple[Path, str]]] = {}
    for grouping in config.audit.groupings:
        name = grouping_name(grouping)
        slug = "_".join(grouping)
        drawn = [m for m in ("fpr", "fnr") if not undefined_everywhere(views["true"], name, m)]
        figures[name] = []
        if drawn:
            words = " and ".join(GAP_NAMES[m] for m in drawn)
            planned.append((name, FigureCall(plot_rates_by_group, (
                views["true"].table, name, drawn, directory / "figures" / f"rates_{slug}.png"),
                {"title": f"Errors against the true outcome, by {name.replace('_', ' ')}",
                 "labels": labels, "confidence": config.audit.confidence}),
                f"{words.capitalize()} by {name}, against the true outcome, with "
                f"{level} Wilson intervals (suppressed cells left out); the dashed line is "
                "the reference group."))
        if distinct and not undefined_everywhere(views["true"], name, "fpr"):
            planned.append((name, FigureCall(plot_views, (
                {VIEW_TITLES[k]: v.table for k, v in views.items()}, name, "fpr",
                directory / "figures" / f"views_fpr_{slug}.png"),
                {"title": (f"False positive rate ratio by {name.replace('_', ' ')}: true "
                           "against recorded outcome"),
                 "labels": labels, "confidence": config.audit.confidence}),
                f"False positive rate of each {name} group relative to the reference "
                "group, judged by the true outcome and by the recorded outcome, with "
                f"{level} bootstrap intervals."))
    focused = focus_rows(config, views)
    if focused is not None:
        focus, reference, metric, rows = focused
        if rows["value"].notna().any():
            rows = rows.assign(label=rows["group"].map(lambda g: name_text(str(g), names)))
            title = name_text(focus.label or f"{focus.group} against {reference}", names)
            views_word = ("by the true outcome" if same_views(views) else
                          "by the true outcome and by the recorded outcome")
            planned.append((FOCUS_FIGURE, FigureCall(
                plot_comparison, (rows, directory / "figures" / "focus.png"),
                {"title": title[:1].upper() + title[1:],
                 "xlabel": f"{GAP_NAMES[metric]}, % ({level} Wilson interval)"}),
                name_text(f"{GAP_NAMES[metric].capitalize()} of {focus.group} and of "
                          f"{reference} ({focus.grouping}), {views_word}, with {level} "
                          "Wilson intervals.", names)))
    return RunFigures(start_drawing([call for _, call, _ in planned], helper),
                      [(key, caption) for key, _, caption in planned], figures)


def biases_on(config: ExperimentConfig) -> list[str]:
    """Every bias switched on in a run: the population's mechanisms with a strength, and the
    experiment's ``[attribution]`` knobs of the system that are not at their off value."""
    switched = [name for name, m in config.mechanisms.items() if m.strength]
    # The system's table with its defaults filled in: a knob left at its default is still on.
    data = {**config.model_dump(mode="json"),
            "system": config.system_settings().model_dump(mode="json")}
    knobs = config.attribution.knobs if config.attribution is not None else []
    for knob in knobs:
        if knob.key.startswith("mechanisms."):
            continue  # counted above, by the mechanism's own name
        value: object = data
        for part in knob.key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None and value != knob.off:
            switched.append(knob.name)
    return switched


def what_not_shown(config: ExperimentConfig, views: dict[str, AuditResult],
                   system_run: SystemRun, left_out: list[str]) -> Bullets:
    """The limits of this run's numbers, each in one sentence."""
    settings = config.audit
    switched = biases_on(config)
    items = [
        "How often the real system errs. These are synthetic "
        f"{system_run.decided.unit} run through a toy "
        "mimic; every rate depends on the bias mechanisms and strengths the experiment file "
        "assumes" + (f" ({', '.join(switched)})" if switched else " (none switched on)") + ".",
        "Whether the assumed strengths are right. The intervals cover the chance of drawing "
        f"these {config.population.size:,} people (seed {config.experiment.seed})"
        + (f" and the system's own draw over {config.experiment.replicates} replicates"
           if config.experiment.replicates > 1 else
           ", not the system's own randomness (the draw of what it learned or calibrated "
           "from): another seed can move a finding by more than its interval")
        + "; they say nothing of uncertainty about the assumptions.",
    ]
    if system_run.findings.attribution is None:
        items.append("Which mechanism produced a gap. This run computed no knobs-off world, so "
                     "nothing separates the bias mechanisms from the population's composition.")
    else:
        items.append("The effect of anything the experiment does not switch. Only the knobs "
                     "listed above are turned off; whatever else makes groups unequal stays in "
                     "the 'all knobs off' gap.")
    if not same_views(views):
        items.append("What a real audit could measure. A real auditor has only the recorded "
                     "outcome; the true-outcome columns exist only because the simulation "
                     "knows the truth.")
    items.append(
        f"Anything about small groups. Groups with fewer than {settings.min_count} people behind "
        "a rate are left out of the comparisons across groups, and rates resting on fewer than "
        f"{settings.suppress_below} are withheld: an unreported gap is unmeasured, not absent.")
    if left_out:
        items.append("Measures that cannot be computed here, left out of the tables: "
                     + "; ".join(left_out) + ".")
    return Bullets(items)


def _sections_by_heading(blocks: list[object]) -> list[object]:
    """Fold a system's own report blocks into one collapsible section per level-2 heading."""
    out: list[object] = []
    title, inner = None, []
    for block in [*blocks, Heading("", 2)]:
        if isinstance(block, Heading) and block.level == 2:
            if title is not None:
                out.append(Details(title, inner))
            elif inner:
                out.extend(inner)
            title, inner = block.text, []
        else:
            inner.append(block)
    return out


def name_blocks(blocks: list[object], names: dict[str, str]) -> list[object]:
    """Every block's text with country codes replaced by names (code blocks and the shipped
    card excepted: they quote configuration and source text as they are)."""
    if not names:
        return list(blocks)

    def text(value: object) -> str:
        return name_text(str(value), names)

    out: list[object] = []
    for block in blocks:
        match block:
            case Heading(value, level):
                out.append(Heading(text(value), level))
            case Paragraph(value):
                out.append(Paragraph(text(value)))
            case Bullets(items, links):
                out.append(Bullets([text(i) for i in items],
                                   [[(n, text(t)) for n, t in item] for item in links]))
            case Caveat(title, value):
                out.append(Caveat(text(title), text(value)))
            case Table(header, rows, caption):
                out.append(Table([text(h) for h in header],
                                 [[text(c) for c in row] for row in rows], text(caption)))
            case Figure(path, caption, relative_to):
                out.append(Figure(path, text(caption), relative_to))
            case Details(title, inner, level, is_open):
                out.append(Details(text(title), name_blocks(list(inner), names), level,
                                   is_open))
            case _:
                out.append(block)
    return out


#: What a system learned or calibrated from, by the detail its adapter records (in order).
LEARNED_FROM = (
    ("calibration_people", "the system calibrated its threshold on {:,} people"),
    ("reference_corpus_recordings", "the system learned from a reference corpus of {:,} "
                                    "recordings"),
    ("investigated_applications", "the system learned from {:,} investigated applications"),
    ("pilot_people", "the system set its threshold on a pilot of {:,} people"),
    ("seeds_from_records", "the system spread suspicion from {:,} people named in records"),
    ("list_entries", "the system matched against a watchlist of {:,} entries and learned "
                     "nothing from the people"),
)


def learned_from(details: dict, population: int, decided: int, unit: str = "people") -> str:
    """What the system learned or calibrated from, for the run line of a report.

    ``training_people`` is read against the training split (population less the held-out
    people): when fewer were trained on, the sentence says so rather than let the figures
    seem not to add up. Other systems name their own sample (a pilot, a corpus, a
    calibration split); a system with none says it learned nothing from these people.
    """
    held_out = details.get("held_out_people")
    if "training_people" in details:
        trained = int(details["training_people"])
        split = population - int(held_out) if held_out is not None else None
        if split is not None and split != trained and unit == "people":
            return (f"the system was trained on {trained:,} of the {split:,} people of the "
                    f"training split (the others fall outside the sample it learns from)")
        return f"the system was trained on {trained:,} people of a training split"
    for key, phrase in LEARNED_FROM:
        if key in details:
            return phrase.format(int(details[key]))
    return f"the system learned nothing from these people ({decided:,} decided)"


def build_report(
    *,
    config: ExperimentConfig,
    run_id: str,
    views: dict[str, AuditResult],
    flips: pd.DataFrame,
    decisions: pd.DataFrame,
    system_run: SystemRun,
    headlines: list[str],
    figures: dict[str, list[tuple[Path, str]]],
    extra_blocks: list[object],
    directory: Path,
    cite_hashes: dict[str, str],
    config_file: Path,
    adjusted: pd.DataFrame | None = None,
    replicates: pd.DataFrame | None = None,
    claims: Ledger | None = None,
) -> Document:
    """Assemble the report of one run.

    The first page is what a reader can quote: headlines, where the disparity comes from,
    any optional sections (:data:`OPTIONAL_SECTIONS`), the focus comparison in one figure,
    and what the numbers do not show. The detail follows, one collapsible section per
    grouping and per system table. Country codes are shown as names throughout. With
    ``claims``, each headline number in the HTML report names its source file and row on
    hover, and the detail lists every claim.
    """
    experiment = config.experiment
    truth = views["true"]
    names = names_of(views)
    distinct = not same_views(views)
    document = Document(f"{experiment.title}: audit report")
    learned = learned_from(system_run.decided.details, config.population.size, len(decisions),
                           system_run.decided.unit)
    who = ("synthetic people" if system_run.decided.unit == "people"
           else f"{system_run.decided.unit} by synthetic people")
    context = ReportContext(config, views, system_run, directory, names)
    optional = [block for _, build in OPTIONAL_SECTIONS for block in build(context)]

    # Metrics that are undefined for every group of every grouping leave every table at once.
    groupings = [grouping_name(g) for g in config.audit.groupings]
    fnr_shown = not all(undefined_everywhere(truth, g, "fnr") for g in groupings)
    # By the records the false negative rate often has denominators in the hundreds where
    # the truth's cells are too small to show: it is then shown beside the truth's.
    recorded_fnr = not same_views(views) and not all(
        undefined_everywhere(views["recorded"], g, "fnr") for g in groupings)
    left_out = [] if fnr_shown else [
        f"the false negative rate by the true outcome, withheld for every group (each has "
        f"fewer than {config.audit.suppress_below} people with a true positive outcome, or none; "
        "where it has any it is withheld, not undefined)"
        + ("; by the recorded outcome it is shown" if recorded_fnr else "")
        if any(defined_somewhere(truth, g, "fnr") for g in groupings) else
        "the false negative rate, undefined for every group (no one audited had a true "
        "positive outcome, so there is no missed case to count)"]
    detail: list[object] = []
    for name in groupings:
        reference = _rows(truth, name, "n")["reference"].iloc[0]
        table = views_table(views, name, recorded=distinct,
                            fnr=fnr_shown and not undefined_everywhere(truth, name, "fnr"),
                            recorded_fnr=recorded_fnr and not undefined_everywhere(
                                views["recorded"], name, "fnr"))
        summary, dropped = summary_rows(views, name, recorded=distinct)
        blocks: list[object] = [Paragraph(f"Reference group: {reference}."), table]
        if fnr_shown and undefined_everywhere(truth, name, "fnr"):
            blocks.append(Paragraph("The false negative rate is left out of this table: it is "
                                    "undefined or withheld for every group."))
        if summary.rows:
            blocks.append(summary)
        if dropped:
            blocks.append(Paragraph(
                "Left out of the comparison across groups: " + ", ".join(dropped) + ". Each is "
                "undefined or rests on fewer than two groups large enough to compare (at least "
                f"{config.audit.min_count} people), so it measures no spread."))
        blocks += [Figure(path, caption, relative_to=directory)
                   for path, caption in figures.get(name, [])]
        detail.append(Details(f"By {name}", blocks))

    document.add(
        Paragraph(
            f"Run {run_id}. {len(decisions):,} held-out {who} from the "
            f"'{config.population.profile}' profile (population "
            f"{config.population.size:,}, seed {experiment.seed}); "
            + learned + ". " + coverage_sentence(config, len(decisions))
        ),
        Caveat("A simulation of a mimic, not a measurement of the real system", CAVEAT),
        Heading("Headline findings"),
        headline_bullets(headlines, claims),
        *attribution_blocks(system_run),
        *composition_blocks(adjusted, config.audit.confidence, config.experiment.replicates),
        *replicates_blocks(replicates, truth.settings.get("replicate_pooling", ""),
                           config.audit.confidence),
        *remedies_blocks(config, system_run, directory),
        *optional,
    )
    for path, caption in figures.get(FOCUS_FIGURE, []):
        document.add(Heading("The comparison named in advance"),
                     Figure(path, caption, relative_to=directory))
    document.add(
        Heading("What this does not show"),
        what_not_shown(config, views, system_run, left_out),
        Heading("The detail"),
        Paragraph("Each section below opens on a click; in the HTML report every table sorts "
                  "by the column whose header is clicked. Every number is also in the CSV "
                  "files beside this report, where groups keep their codes (group) beside "
                  "their names (group_name)."),
        Details("The system", [Card(system_run.wording.card)]),
        Details("The simulated world", [
            Paragraph("Bias mechanisms switched on in this run (0 = off):"),
            Table(["mechanism", "strength", "targets"],
                  [[name, number(m.strength, 2), ", ".join(m.targets) or "everyone"]
                   for name, m in config.mechanisms.items()] or [["none", "—", "—"]]),
        ]),
        Details("What the numbers mean", [
            Bullets([f"{EXPLANATIONS[m][0]}: {EXPLANATIONS[m][1]}." for m in SHOWN_METRICS
                     if fnr_shown or m != "fnr"]
                    + (["Flip rate: share of people whose decision differs from their "
                        "counterfactual twin's (a total effect when the twin's attribute and "
                        "what follows from it change, a direct effect when only the attribute "
                        "and the proxies the system sees change)."]
                       if not flips.empty else [])),
            Paragraph(interval_explanation(truth.settings)),
        ]),
        Details("Two views: the true outcome and the recorded outcome", [
            Paragraph(
                "A real auditor can judge the system's decisions only against the agency's "
                "records. This simulation also knows the truth. The 'true outcome' view counts "
                f"an error when someone {system_run.wording.negative_phrase} was "
                f"{system_run.wording.decision_label}; the 'recorded outcome' view counts an error "
                "only "
                "when the records disagree with the decision. When the records over-record "
                "some groups (label bias), the recorded view calls those errors correct: a "
                "disparity that is large by the truth can vanish in the records. "
                + ("The difference between the true and recorded columns of each grouping's "
                   "table is that blind spot." if distinct else
                   "In this run the records equal the truth, so each table shows the true "
                   "outcome alone.")
                + ("" if fnr_shown else " " + left_out[0].capitalize() + ", is left out of "
                   "every table.")),
        ]),
        *detail,
    )
    if not flips.empty:
        document.add(Details("Counterfactual twins", [
            Paragraph(
                "Each held-out person has two twins, both scored by the same fitted system with "
                "the same cut-off; the flip rate is the share whose decision differs. The "
                "total-effect twin has the attribute changed and everything that follows from "
                "it in this simulated world regenerated from the person's own randomness "
                "(language, visa type, age, neighbourhood, even the true outcome), so it "
                "measures what the attribute does through every path, the profile's "
                "composition included. The direct-effect twin changes only the attribute and "
                "the proxies the system sees; every other attribute and the true outcome keep "
                "the person's own values. In both, the recorded world is re-applied, so "
                "targeting by origin follows the twin."
            ),
            Bullets([twin_sentences(flips, intervention, confidence=config.audit.confidence)
                     for intervention in dict.fromkeys(flips["intervention"])]),
            flips_table(flips, system_run.wording.decision_label, config.audit.confidence,
                        config.audit.suppress_below),
        ]))
    document.add(*_sections_by_heading(list(extra_blocks)))
    if claims is not None and claims.claims:
        document.add(Details("Where each headline number comes from", [
            Paragraph("Every number in the headlines is one claim of claims.json and "
                      "claims.csv: its value, interval, n, what the interval covers, and the "
                      "file and row it comes from."),
            claims_table(claims)]))
    commit = git_commit() or "not a git checkout"
    document.add(
        Heading("How to cite"),
        Code(
            f"bias-audit-sandbox {__version__} (commit {commit}). Experiment "
            f"'{experiment.name}' ({config_file.name}), run {run_id}, seed {experiment.seed}, "
            f"population {config.population.size:,} ({config.population.profile}).\n"
            + "\n".join(f"sha256 {name}: {digest}" for name, digest in cite_hashes.items())
            + "\nFull configuration, package versions and file hashes: manifest.json. "
            "A simulation of a toy mimic, not a measurement of the real system."
        ),
        Paragraph("Every metric for every group and both views, with intervals, tests and "
                  "flags, is in metrics.csv (and metrics.json); across-group measures are in "
                  "summary.csv"
                  + ("; twin flip rates in flip_rates.csv" if not flips.empty else "")
                  + ("; crude and adjusted focus comparisons in adjusted.csv"
                     if adjusted is not None and not adjusted.empty else "")
                  + ("; every headline number, with its interval and the table row it "
                     "comes from, in claims.json and claims.csv"
                     if claims is not None and claims.claims else "") + "."),
    )
    document.blocks = name_blocks(document.blocks, names)
    return document
