"""Headline findings: three to five sentences a policy team could quote, each with its
interval and the number of people behind it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from audit import AuditResult
from audit.engine import grouping_name
from audit.report import WITHHELD, bounds
from experiments.systems.composition import composition_sentence, focus_row
from experiments.writing.names import group_names, name_text
from synthetic.population import describe_twin

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig
    from experiments.systems.contract import SystemRun

SIGNIFICANCE = 0.05


def share(value: float) -> str:
    """A share as a percentage with sensible precision (more digits for small shares)."""
    if value is None or not math.isfinite(value):
        return "—"
    percent = 100 * value
    digits = 2 if percent < 1 else 1
    return f"{percent:.{digits}f}%"


def _has_flag(rows: pd.DataFrame, *names: str) -> pd.Series:
    """Whether each row's ``;``-joined flags include any of ``names`` (whole tokens)."""
    tokens = rows["flags"].fillna("").astype(str).str.split(";")
    return tokens.map(lambda flags: any(name in flags for name in names))


def _usable(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows a headline may quote: defined, large enough, and not the reference itself."""
    return rows[~_has_flag(rows, "small_n", "suppressed", "undefined", "reference")]


def disparity_headline(
    result: AuditResult, grouping: str, metric: str, harm: str, population_word: str
) -> tuple[str, str] | None:
    """The most significant, largest gap in ``metric`` from the reference group, in words.

    The gap is a ratio when the reference group's rate is above zero, else a difference in
    percentage points. Returns the sentence and the group it names, or None when the grouping
    is not audited.
    """
    rows = result.table[(result.table["grouping"] == grouping) & (result.table["metric"] == metric)]
    if rows.empty:
        return None
    reference = rows["reference"].iloc[0]
    reference_row = rows[rows["group"] == reference].iloc[0]
    candidates = _usable(rows)
    # A headline names a group harmed more than the reference, never one harmed less.
    significant = candidates[(candidates["p_holm"] < SIGNIFICANCE)
                             & (candidates["difference"] > 0)]
    if significant.empty:
        return (
            f"By {grouping}, no group was {harm} significantly more often than "
            f"{population_word} {reference} (Holm-adjusted p ≥ {SIGNIFICANCE} or a lower rate "
            f"for all {len(candidates)} groups compared; n = "
            f"{int(reference_row['denominator']):,} in the reference group).",
            reference,
        )
    compared = len(candidates)
    selected = ("the only group compared with the reference" if compared == 1 else
                f"the highest of the {compared} groups compared, selected by that ranking")

    def interval(row: pd.Series, kind: str, scale: float = 1.0) -> str:
        # The group was chosen for being the most extreme, so only an interval made
        # simultaneous over every group compared covers it at the stated level.
        low, high = row.get(f"sim_{kind}_ci_low"), row.get(f"sim_{kind}_ci_high")
        if low is None or high is None:
            return "no interval adjusted for that selection is available"
        if not (math.isfinite(low) and math.isfinite(high)):
            return "the selection-adjusted interval has no finite bound"
        adjusted = (f"adjusted for selection among {compared} groups " if compared > 1
                    else "")
        return f"95% CI {adjusted}{scale * low:.1f}–{scale * high:.1f}"

    if reference_row["value"] > 0:
        top = significant.loc[significant["ratio"].idxmax()]
        gap = (f"at {top['ratio']:.1f} times the rate of {population_word} {reference} "
               f"({share(top['value'])} against {share(reference_row['value'])}; "
               f"{selected}; ratio {interval(top, 'ratio')}")
    else:
        top = significant.loc[significant["difference"].idxmax()]
        gap = (f"at a rate of {share(top['value'])}, against none of {population_word} "
               f"{reference} ({selected}; difference {100 * top['difference']:.1f} percentage "
               f"points, {interval(top, 'diff', 100)}")
    return (
        f"{population_word.capitalize()} {top['group']} were {harm} {gap}; n = "
        f"{int(top['denominator']):,} and {int(reference_row['denominator']):,}).",
        str(top["group"]),
    )


def headlines(
    config: ExperimentConfig,
    views: dict[str, AuditResult],
    flips: pd.DataFrame,
    decisions: pd.DataFrame,
    system_run: SystemRun,
    adjusted: pd.DataFrame | None = None,
) -> list[str]:
    """Three to five quotable findings of a run, in a fixed order.

    The first focus comparison's sentence is followed by its adjusted comparison (from
    ``adjusted``, the run's adjusted.csv) when the experiment declares strata for it.
    """
    found: list[str] = list(system_run.wording.headlines)
    for contrast in system_run.hooks.world_contrasts:
        sentence = contrast_headline(system_run, contrast)
        if sentence:
            found.append(sentence)
    truth, recorded = views["true"], views["recorded"]
    harm = system_run.wording.error_phrase
    named_group = named_grouping = named_reference = None
    selected_among = None
    if config.audit.focus:
        # Pre-specified comparisons: the headline follows the experiment file, not a ranking.
        focus = config.audit.focus[0]
        sentence = focus_headline(truth, focus, system_run)
        if sentence is not None:
            row = focus_row(adjusted, focus)
            found.append(sentence[0] + (" " + composition_sentence(row) if row is not None
                                        else ""))
            named_group, named_grouping, named_reference = focus.group, focus.grouping, \
                sentence[1]
    else:
        for grouping in config.audit.groupings[:2]:
            if len(grouping) != 1:
                continue
            name = grouping_name(grouping)
            word = "people from" if grouping[0] in ("nationality", "region_of_origin") else (
                f"people with {name}")
            sentence = disparity_headline(truth, name, "fpr", harm, word)
            if sentence is None:
                continue
            found.append(sentence[0])
            rows = truth.table[(truth.table["grouping"] == name)
                               & (truth.table["metric"] == "fpr")]
            if named_group is None and sentence[1] != rows["reference"].iloc[0]:
                named_group, named_grouping = sentence[1], name
                named_reference = str(rows["reference"].iloc[0])
                selected_among = len(_usable(rows))
    same_views = truth.table["numerator"].equals(recorded.table["numerator"]) and \
        truth.table["denominator"].equals(recorded.table["denominator"])
    if named_group is not None and not same_views:  # no recorded world: nothing to compare
        sentence = recorded_view_headline(config, decisions, named_grouping, named_group,
                                          named_reference, selected_among,
                                          views={"y_true": truth, "y_recorded": recorded})
        if sentence:
            found.append(sentence)
    overall = truth.summary[(truth.summary["grouping"] == truth.groupings[0])
                            & (truth.summary["measure"] == "overall")
                            & (truth.summary["metric"] == "fdr")]
    if not overall.empty:
        row = overall.iloc[0]
        n_selected = int(decisions["decision"].sum())
        found.append(
            f"Of the {n_selected:,} held-out {system_run.decided.unit} "
            f"{system_run.wording.decision_label}, "
            f"{share(row['value'])} "
            f"{'were' if system_run.decided.unit == 'people' else 'involved'} people "
            f"{system_run.wording.negative_phrase} "
            f"(95% CI {share(row['ci_low'])}–{share(row['ci_high'])}; n = {n_selected:,})."
        )
    if not flips.empty:
        found.append(twin_sentences(flips, flips["intervention"].iloc[0]))
    # Country codes read as names in every sentence ("people from Saudi Arabia").
    table = truth.table
    names = group_names(pd.concat([table["group"], table["reference"]]).dropna().unique())
    return [name_text(sentence, names) for sentence in found[:5]]


#: How a twin sentence names the effect it reports.
EFFECT_NAMES = {"total": "the total effect", "direct": "the direct effect"}


def twin_sentences(flips: pd.DataFrame, intervention: str) -> str:
    """One sentence per effect computed for ``intervention`` (``"nationality=IND"``).

    A total-effect twin changes the attribute and what follows from it in the simulated world
    (language, visa type, ..., the true outcome); only a direct-effect twin, in which the
    attribute and the proxies a system sees change and everything else keeps the person's own
    values, is described as holding everything else fixed. Each sentence quotes the flip rate
    of all held-out people with its Wilson interval and n.
    """
    rows = flips[flips["intervention"] == intervention]
    attribute, value = intervention.split("=", 1)
    sentences = []
    for effect in dict.fromkeys(rows["effect"]):
        part = rows[rows["effect"] == effect]
        everyone = part[(part["grouping"] == attribute) & (part["group"] == "(all)")]
        if everyone.empty:
            everyone = part[part["group"] == "(all)"]
        row = everyone.iloc[0]
        sentences.append(
            f"For held-out people, changing {describe_twin(attribute, effect, value)}"
            f"{',' if effect == 'direct' else ''} changed "
            f"the decision for {share(row['flip_rate'])} of them (95% CI "
            f"{share(row['ci_low'])}–{share(row['ci_high'])}; n = {int(row['n']):,}): "
            f"{EFFECT_NAMES[effect]}."
        )
    return " ".join(sentences)


def who(grouping: str, group: str) -> str:
    """``people from MEX``, or ``people with sex F`` for other groupings (codes are named
    when the headlines are returned: ``people from Mexico``)."""
    if grouping in ("nationality", "region_of_origin"):
        return f"people from {group}"
    return f"people with {grouping} {group}"


def points(value: float, low: float, high: float) -> str:
    """A difference of rates in percentage points with its interval: ``1.3 (0.6 to 2.0)``."""
    if not math.isfinite(value):
        return "undefined"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{100 * value:.2f} ({bounds(low, high, lambda v: f'{100 * v:.2f}', ' to ')})"
    return f"{100 * value:.2f} (95% CI {100 * low:.2f} to {100 * high:.2f})"


def attribution_clause(system_run: SystemRun, grouping: str, group: str, metric: str) -> str:
    """Where a focus gap comes from, in one clause: what remains with every knob off (and its
    cause, as the experiment names it), then the knobs whose contribution the interval
    separates from zero. A knob is never credited with what remains at baseline, nor with a
    contribution its interval cannot tell from zero."""
    from experiments.systems.contract import ALL_OFF, AS_CONFIGURED

    attribution = system_run.findings.attribution
    if attribution is None:
        return ""
    rows = attribution.rows(grouping, group, metric)
    if rows.empty:
        return ""
    off = rows[rows["source"] == ALL_OFF].iloc[0]
    total = rows[rows["source"] == AS_CONFIGURED].iloc[0]
    knobs = rows[rows["kind"] == "knob"]
    cause = f", from {attribution.baseline_cause}" if attribution.baseline_cause else ""
    separated = off["ci_low"] > 0 or off["ci_high"] < 0
    text = (f"Of the gap of {points(total['contribution'], total['ci_low'], total['ci_high'])} "
            f"percentage points, {points(off['contribution'], off['ci_low'], off['ci_high'])} "
            "remain with every bias knob off"
            + (cause if separated else ", which the data cannot tell from no gap"))
    credited = knobs[(knobs["ci_low"] > 0) | (knobs["ci_high"] < 0)]
    others = [str(n) for n in knobs.loc[~knobs.index.isin(credited.index), "source"]]
    parts = []
    for _, r in credited.iterrows():
        part = (f"{r['source']} {'adds' if r['contribution'] > 0 else 'removes'} "
                f"{points(abs(r['contribution']), *sorted((abs(r['ci_low']), abs(r['ci_high']))))}")
        if _alone_differs(r):
            part += (" as its Shapley share, but switching it off alone changes the gap by "
                     + points(-r["one_at_a_time_change"], -r["one_at_a_time_ci_high"],
                              -r["one_at_a_time_ci_low"]))
        parts.append(part)
    if parts:
        text += "; " + "; ".join(parts)
    text += _interaction_words(credited, total)
    if others:
        text += ("; the contribution of " + ", ".join(others)
                 + " cannot be told from zero")
    plural = "s" if len(knobs) != 1 else ""
    return text + (f" (Shapley contributions over {len(knobs)} knob{plural}, same people in "
                   "every world).")


def _alone_differs(row: pd.Series) -> bool:
    """Whether a knob's effect switched off alone lies apart from its Shapley share: the
    share falls outside the one-at-a-time change's interval."""
    low, high = row.get("one_at_a_time_ci_low"), row.get("one_at_a_time_ci_high")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return False
    return not low <= row["contribution"] <= high


def _interaction_words(credited: pd.DataFrame, total: pd.Series) -> str:
    """Names an interaction where two or more knobs each remove (nearly) the whole gap when
    switched off alone: then neither produces the gap without the other, and the Shapley
    shares split an interaction rather than add up separate parts."""
    if len(credited) < 2 or "one_at_a_time_ci_high" not in credited:
        return ""
    whole = [r for _, r in credited.iterrows()
             if math.isfinite(r["one_at_a_time_ci_high"])
             and r["one_at_a_time_ci_low"] <= total["contribution"]
             <= r["one_at_a_time_ci_high"]]
    if len(whole) < 2:
        return ""
    names = " and ".join(str(r["source"]) for r in whole)
    return (f"; switching off {names} alone each removes the whole gap: neither produces a "
            "gap without the other, so their Shapley shares split one interaction, not two "
            "additive parts")


def focus_headline(truth: AuditResult, focus: object, system_run: SystemRun
                   ) -> tuple[str, str] | None:
    """The first pre-specified comparison's false positive rates, then where its gap comes
    from. Returns the sentence and the reference group, or None when it was not audited."""
    table = truth.table
    rows = table[(table["grouping"] == focus.grouping) & (table["metric"] == "fpr")]
    if rows.empty:
        return None
    reference = focus.reference or str(rows["reference"].iloc[0])
    by_group = rows.set_index("group")
    if focus.group not in by_group.index or reference not in by_group.index:
        return None
    g, r = by_group.loc[focus.group], by_group.loc[reference]

    def rate(row: pd.Series) -> str:
        return f"{share(row['value'])} (95% CI {share(row['ci_low'])}–{share(row['ci_high'])})"

    ratio = ""
    if reference == str(rows["reference"].iloc[0]) and math.isfinite(g["ratio"]):
        ends = bounds(g["ratio_ci_low"], g["ratio_ci_high"], lambda v: f"{v:.2f}")
        ratio = f", {g['ratio']:.2f} times the rate (95% CI {ends})"
    sentence = (f"In a comparison the experiment names in advance, "
                f"{who(focus.grouping, focus.group)} "
                f"were {system_run.wording.error_phrase} at a rate of {rate(g)}, against "
                f"{rate(r)} for "
                f"{who(focus.grouping, reference)}{ratio}; n = {int(g['denominator']):,} and "
                f"{int(r['denominator']):,}.")
    clause = attribution_clause(system_run, focus.grouping, focus.group, "fpr")
    return (sentence + (" " + clause if clause else ""), reference)


#: A paired ratio of disparities inside this band counts as "the same disparity".
SAME_RATIO = (0.8, 1.25)
#: A paired difference of disparities (points) inside this band counts as the same.
SAME_DIFFERENCE = 0.01


def recorded_view_headline(config: ExperimentConfig, decisions: pd.DataFrame, grouping: str,
                           group: str, reference: str, selected_among: int | None,
                           views: dict[str, object] | None = None) -> str:
    """What an auditor who sees only the records would conclude, against the truth.

    Both views' disparities come from the same decisions, so they are compared in pairs
    (:func:`audit.paired.compare_views`): the interval of the recorded disparity over (or
    minus) the true one. One adjustment throughout: none for a pre-specified comparison,
    Bonferroni over the groups compared when the group was selected by rank. Each view's own
    disparity is quoted with the interval its audit table holds (``views``), so a number
    printed twice in a report has one interval.
    """
    from audit.paired import compare_views, paired_counts
    from experiments.systems.contract import group_labels

    labels = group_labels(decisions, grouping)
    paired = paired_counts(labels, decisions["decision"].to_numpy(bool), {
        "y_true": decisions["y_true"].to_numpy(bool),
        "y_recorded": decisions["y_recorded"].to_numpy(bool)}, group_order=[group, reference])
    alpha = 1 - config.audit.confidence
    confidence = 1 - alpha / selected_among if selected_among else config.audit.confidence
    # A ratio needs the reference to have wrongful decisions in both views; else a difference.
    reference_errors = [paired.counts[1] @ (~paired.labels[:, i] & paired.decisions[:, 0])
                        for i in range(len(paired.label_names))]
    measure = "ratio" if all(e > 0 for e in reference_errors) else "difference"
    result = compare_views(paired, group, reference, ("y_recorded", "y_true"), metric="fpr",
                           measure=measure, n_boot=config.audit.n_boot, confidence=confidence,
                           random_state=config.experiment.seed)
    level = f"{100 * confidence:.{1 if selected_among else 0}f}%"
    adjustment = (f"adjusted for choosing {group} among {selected_among} groups"
                  if selected_among else "a pre-specified comparison, so unadjusted")
    recorded, true = result.disparity["y_recorded"], result.disparity["y_true"]
    if views is not None:
        recorded = _table_disparity(views["y_recorded"], grouping, group, reference, measure,
                                    selected_among) or recorded
        true = _table_disparity(views["y_true"], grouping, group, reference, measure,
                                selected_among) or true
    value, low, high = result.comparison
    bounded = math.isfinite(low) and math.isfinite(high)
    frozen = bounded and low == high  # every resample gives the same comparison

    def disparity(triple: tuple[float, float, float]) -> str:
        v, lo, hi = triple
        if measure == "ratio":
            body = f"{v:.2f} times" if math.isfinite(v) else "an undefined multiple of"
            ends = bounds(lo, hi, lambda x: f"{x:.2f}")
            return f"{body} {reference}'s ({level} CI {ends})"
        ends = bounds(lo, hi, lambda x: f"{100 * x:+.2f}", " to ")
        return f"{100 * v:+.2f} percentage points from {reference}'s ({level} CI {ends})"

    if not bounded:
        verdict = "the data cannot tell how the two views compare: the interval has no bound"
    elif frozen:
        verdict = "so the records show the same disparity as the truth in every resample"
    elif measure == "ratio":
        # Agreement within the stated band is checked first: an interval such as 1.001-1.004
        # lies above 1 but says the views agree, not that the records exaggerate.
        if SAME_RATIO[0] <= low and high <= SAME_RATIO[1]:
            verdict = ("so the records show the same disparity to within a factor of "
                       f"{SAME_RATIO[1]:g} either way")
        elif high < 1:
            verdict = "so the records understate the disparity"
        elif low > 1:
            verdict = "so the records exaggerate the disparity"
        else:
            verdict = ("so the data cannot tell whether the records show more or less of the "
                       "disparity than the truth")
    else:
        if -SAME_DIFFERENCE <= low and high <= SAME_DIFFERENCE:
            verdict = (f"so the records show the same disparity to within "
                       f"{100 * SAME_DIFFERENCE:g} percentage point either way")
        elif high < 0:
            verdict = "so the records understate the disparity"
        elif low > 0:
            verdict = "so the records exaggerate the disparity"
        else:
            verdict = ("so the data cannot tell whether the records show more or less of the "
                       "disparity than the truth")
    compared = (f"the recorded disparity is {value:.2f} times the true one" if measure == "ratio"
                else f"the recorded disparity differs from the true one by "
                     f"{100 * value:+.2f} points")
    interval = f"{level} CI " + (bounds(low, high, lambda x: f"{x:.2f}") if measure == "ratio"
                                 else bounds(low, high, lambda x: f"{100 * x:+.2f}", " to "))
    if frozen:
        interval = f"interval {WITHHELD}: every resample gives this value"
    n = result.denominators
    return (f"An audit that sees only the recorded outcomes, as a real auditor would, puts the "
            f"false positive rate of {who(grouping, group)} at {disparity(recorded)}, against "
            f"{disparity(true)} by the true outcome; compared in pairs on the same decisions, "
            f"{compared} ({interval}, {adjustment}; n = {n['y_true'][group]:,} and "
            f"{n['y_true'][reference]:,} by the truth, {n['y_recorded'][group]:,} and "
            f"{n['y_recorded'][reference]:,} by the records), {verdict}.")


def _table_disparity(result: object, grouping: str, group: str, reference: str, measure: str,
                     selected_among: int | None) -> tuple[float, float, float] | None:
    """A group's FPR gap to its reference as its audit table holds it, with the table's
    closed-form interval (simultaneous when the group was selected by rank); None when the
    table's reference is another group."""
    rows = result.table[(result.table["grouping"] == grouping)
                        & (result.table["metric"] == "fpr")]
    row = rows[rows["group"] == group]
    if row.empty or str(row["reference"].iloc[0]) != str(reference):
        return None
    row = row.iloc[0]
    prefix = "sim_" if selected_among else ""
    if measure == "ratio":
        return (float(row["ratio"]), float(row[f"{prefix}ratio_ci_low"]),
                float(row[f"{prefix}ratio_ci_high"]))
    return (float(row["difference"]), float(row[f"{prefix}diff_ci_low"]),
            float(row[f"{prefix}diff_ci_high"]))


def contrast_headline(system_run: SystemRun, contrast: object) -> str:
    """A system's own attributed comparison (its label, e.g. the growth of a gap over rounds),
    split between what remains with every knob off and each knob, with intervals."""
    from experiments.systems.contract import ALL_OFF, AS_CONFIGURED

    attribution = system_run.findings.attribution
    if attribution is None:
        return ""
    rows = attribution.rows(contrast.grouping, contrast.group, contrast.metric)
    if rows.empty:
        return ""
    total = rows[rows["source"] == AS_CONFIGURED].iloc[0]
    off = rows[rows["source"] == ALL_OFF].iloc[0]
    knobs = rows[rows["kind"] == "knob"]
    parts = [f"{r['source']} {points(r['contribution'], r['ci_low'], r['ci_high'])}"
             + ("" if (r["ci_low"] > 0 or r["ci_high"] < 0) else ", which the data cannot "
                "tell from zero") for _, r in knobs.iterrows()]
    separated = off["ci_low"] > 0 or off["ci_high"] < 0
    return (f"The {contrast.label} was "
            f"{points(total['contribution'], total['ci_low'], total['ci_high'])} "
            f"percentage points; with every bias knob off it is "
            f"{points(off['contribution'], off['ci_low'], off['ci_high'])}"
            + ("" if separated else ", which the data cannot tell from none")
            + "; the knobs contribute: " + "; ".join(parts)
            + " (Shapley contributions, same applicants in every world).")
