"""Headline findings: three to five sentences a policy team could quote, each with its
interval and the number of people behind it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from audit import AuditResult
from audit.engine import grouping_name
from audit.report import WITHHELD
from experiments.reports.interactions import alone_differs, interaction_phrase
from experiments.reports.replicates import sign_differs, sign_differs_words
from experiments.systems.composition import composition_sentence, focus_row, strata_words
from experiments.writing.claims import Claim, Ledger, derived, from_row, setting
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


#: Key columns of a metrics.csv row.
METRIC_KEYS = ("grouping", "group", "metric")


def level_claim(ledger: Ledger, id: str, confidence: float) -> Claim:
    """The confidence level an interval is stated at (``95%``), as a claim on the setting."""
    return ledger.add(setting(id, "config.audit.confidence", confidence, style="level",
                              unit="confidence level"))


def rate_claim(ledger: Ledger, id: str, row: pd.Series, view: str = "true") -> Claim:
    """A group's rate in metrics.csv with its Wilson interval and denominator."""
    return ledger.add(from_row(id, row, source="metrics.csv", keys=METRIC_KEYS,
                               extra_keys={"view": view}))


def ratio_claim(ledger: Ledger, id: str, row: pd.Series, *, simultaneous: bool = False,
                style: str = "ratio", view: str = "true") -> Claim:
    """A group's rate ratio to its reference in metrics.csv (simultaneous interval when the
    group was picked by rank among several)."""
    prefix = "sim_" if simultaneous else ""
    return ledger.add(from_row(
        id, row, source="metrics.csv", keys=METRIC_KEYS, value="ratio",
        ci=(f"{prefix}ratio_ci_low", f"{prefix}ratio_ci_high"), n=None, style=style,
        unit="ratio", interval_kind="simultaneous" if simultaneous else "unadjusted",
        extra_keys={"view": view}))


def disparity_headline(
    result: AuditResult, grouping: str, metric: str, harm: str, population_word: str,
    ledger: Ledger | None = None,
) -> tuple[str, str] | None:
    """The most significant, largest gap in ``metric`` from the reference group, in words.

    The gap is a ratio when the reference group's rate is above zero, else a difference in
    percentage points. The first sentence says who and how much; the second gives the
    selection, the interval adjusted for it and n. Every number is a claim recorded in
    ``ledger``. Returns the sentence and the group it names, or None when the grouping is not
    audited.
    """
    ledger = ledger if ledger is not None else Ledger()

    def named(group: str) -> str:
        # A caller's own words for the people ("people from"), else the grouping's.
        return f"{population_word} {group}" if population_word else who(grouping, group)

    rows = result.table[(result.table["grouping"] == grouping) & (result.table["metric"] == metric)]
    if rows.empty:
        return None
    reference = rows["reference"].iloc[0]
    reference_row = rows[rows["group"] == reference].iloc[0]
    candidates = _usable(rows)
    # A headline names a group harmed more than the reference, never one harmed less.
    significant = candidates[(candidates["p_holm"] < SIGNIFICANCE)
                             & (candidates["difference"] > 0)]
    compared = len(candidates)
    table_key = {"view": "true", "grouping": grouping, "metric": metric}
    count = ledger.add(derived(f"{grouping}.groups_compared", compared, source="metrics.csv",
                               source_row={**table_key, "flags": "defined, not small or "
                                           "suppressed, not the reference"}))
    level = settings_level(result)
    if significant.empty:
        alpha = ledger.add(setting(f"{grouping}.significance", "tool.significance",
                                   SIGNIFICANCE, unit="significance level"))
        reference_n = ledger.add(from_row(f"{grouping}.reference_n", reference_row,
                                          source="metrics.csv", keys=METRIC_KEYS, ci=None,
                                          value="denominator", n=None, style="count",
                                          unit="people", extra_keys={"view": "true"}))
        text = (f"No group of {grouping_words(grouping)} was {harm} significantly more often "
                f"than {named(reference)}. Holm-adjusted p ≥ {alpha.text()} or a lower "
                f"rate for all {count.text()} groups compared; n = {reference_n.text()} in "
                "the reference group.")
        return ledger.sentence(text, [alpha, count, reference_n]), reference
    selected = ("the only group compared with the reference" if compared == 1 else
                f"the highest of the {count.text()} groups compared, selected by that ranking")
    simultaneous = compared > 1
    level = level_claim(ledger, f"{grouping}.level", level)

    def interval(claim: Claim) -> str:
        # The group was chosen for being the most extreme, so only an interval made
        # simultaneous over every group compared covers it at the stated level.
        if not claim.has_interval:
            return "the selection-adjusted interval has no finite bound"
        adjusted = (f"adjusted for selection among {count.text()} groups "
                    if simultaneous else "")
        return f"{level.text()} CI {adjusted}{claim.interval()}"

    if reference_row["value"] > 0:
        top = significant.loc[significant["ratio"].idxmax()]
        gap = ratio_claim(ledger, f"{grouping}.ratio", top, simultaneous=simultaneous,
                          style="ratio1")
        rate, base = rate_claim(ledger, f"{grouping}.rate", top), \
            rate_claim(ledger, f"{grouping}.reference_rate", reference_row)
        first = (f"{_capital(named(str(top['group'])))} were {harm} at "
                 f"{gap.text()} times the rate of {named(reference)} "
                 f"({rate.text()} against {base.text()}).")
        second = f"They are {selected}; ratio {interval(gap)}"
    else:
        top = significant.loc[significant["difference"].idxmax()]
        gap = ledger.add(from_row(
            f"{grouping}.difference", top, source="metrics.csv", keys=METRIC_KEYS,
            value="difference", ci=("sim_diff_ci_low", "sim_diff_ci_high") if simultaneous
            else ("diff_ci_low", "diff_ci_high"), n=None, style="points1",
            unit="percentage points",
            interval_kind="simultaneous" if simultaneous else "unadjusted",
            extra_keys={"view": "true"}))
        rate, base = rate_claim(ledger, f"{grouping}.rate", top), \
            rate_claim(ledger, f"{grouping}.reference_rate", reference_row)
        first = (f"{_capital(named(str(top['group'])))} were {harm} at a rate of "
                 f"{rate.text()}, against none of {named(reference)}.")
        second = (f"They are {selected}; difference {gap.text()} percentage points, "
                  f"{interval(gap)}")
    text = f"{first} {second}; n = {rate.text('n')} and {base.text('n')}."
    return ledger.sentence(text, [count, level, gap, rate, base]), str(top["group"])


def _capital(text: str) -> str:
    """``text`` with its first letter capitalised and the rest as written (names keep case)."""
    return text[:1].upper() + text[1:]


def settings_level(result: AuditResult) -> float:
    """The confidence level of an audit's intervals (0.95 when its settings do not say)."""
    return float(result.settings.get("confidence", 0.95))


def headlines(
    config: ExperimentConfig,
    views: dict[str, AuditResult],
    flips: pd.DataFrame,
    decisions: pd.DataFrame,
    system_run: SystemRun,
    adjusted: pd.DataFrame | None = None,
    ledger: Ledger | None = None,
) -> list[str]:
    """Three to five quotable findings of a run, in a fixed order.

    The first focus comparison's sentence is followed by its adjusted comparison (from
    ``adjusted``, the run's adjusted.csv) when the experiment declares strata for it. Every
    number is printed from a claim recorded in ``ledger`` (the system's own claims first),
    tied to the final text of the sentence that prints it.
    """
    ledger = ledger if ledger is not None else Ledger()
    ledger.extend(list(system_run.wording.claims))
    found: list[str] = list(system_run.wording.headlines)
    for contrast in system_run.hooks.world_contrasts:
        sentence = contrast_headline(system_run, contrast, ledger)
        if sentence:
            found.append(sentence)
    truth, recorded = views["true"], views["recorded"]
    harm = system_run.wording.error_phrase
    named_group = named_grouping = named_reference = None
    selected_among = None
    if config.audit.focus:
        # Pre-specified comparisons: the headline follows the experiment file, not a ranking.
        focus = config.audit.focus[0]
        sentence = focus_headline(truth, focus, system_run, ledger)
        if sentence is not None:
            row = focus_row(adjusted, focus)
            text = sentence[0]
            if row is not None:
                extra = Ledger()
                adjusted_text = composition_sentence(row, extra, config.audit.confidence)
                text = (text + " " + adjusted_text).strip()
                ledger.extend(extra)
                for claim in [*ledger.of(sentence[0]), *extra.claims]:
                    claim.sentence = text
            found.append(text)
            if not text.startswith(WITHHELD_FOCUS):  # nothing published to compare views on
                named_group, named_grouping, named_reference = focus.group, focus.grouping, \
                    sentence[1]
        for later in config.audit.focus[1:]:
            # A later comparison is headlined when its crude gap vanishes or reverses within
            # the strata it is adjusted for: a reader of its crude rates alone would cite a gap
            # that is only who is in each group.
            row = focus_row(adjusted, later)
            if row is None or not vanishes_within(row) \
                    or later.grouping in system_run.wording.focus_quoted:
                continue
            sentence = focus_headline(truth, later, system_run, ledger)
            if sentence is None:
                continue
            extra = Ledger()
            text = (sentence[0] + " "
                    + composition_sentence(row, extra, config.audit.confidence)).strip()
            ledger.extend(extra)
            for claim in [*ledger.of(sentence[0]), *extra.claims]:
                claim.sentence = text
            found.append(text)
        # Remedies asked for are headlined beside the comparison they act on.
        remedy = remedies_headline(config, system_run, ledger)
        if remedy:
            found.append(remedy)
    else:
        for grouping in config.audit.groupings[:2]:
            if len(grouping) != 1:
                continue
            name = grouping_name(grouping)
            sentence = disparity_headline(truth, name, "fpr", harm, "", ledger)
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
    # Where the records hold the decision itself, no recorded outcome is wrongful: comparing
    # the records' disparity with the truth's would only restate the true one.
    records_are_decisions = bool(
        (decisions["y_recorded"].to_numpy(bool) == decisions["decision"].to_numpy(bool)).all())
    if named_group is not None and not same_views and records_are_decisions:
        found.append(RECORDS_ARE_DECISIONS)
    elif named_group is not None and not same_views:  # no recorded world: nothing to compare
        sentence = recorded_view_headline(config, decisions, named_grouping, named_group,
                                          named_reference, selected_among,
                                          views={"y_true": truth, "y_recorded": recorded},
                                          ledger=ledger)
        if sentence:
            found.append(sentence)
    overall = truth.summary[(truth.summary["grouping"] == truth.groupings[0])
                            & (truth.summary["measure"] == "overall")
                            & (truth.summary["metric"] == "fdr")]
    if not overall.empty:
        row = overall.iloc[0]
        n_selected = int(decisions["decision"].sum())
        fdr = ledger.add(from_row("overall.fdr", row, source="summary.csv",
                                  keys=("grouping", "measure", "metric"), n=None,
                                  extra_keys={"view": "true"}))
        fdr.n = n_selected
        fdr.columns["n"] = "details.held_out_selected (manifest.json)"
        level = level_claim(ledger, "overall.level", settings_level(truth))
        text = (f"Of the {fdr.text('n')} {system_run.decided.unit} the system "
                f"{system_run.wording.decision_label}, {fdr.text()} "
                f"{'were' if system_run.decided.unit == 'people' else 'involved'} people "
                f"{system_run.wording.negative_phrase} "
                f"({level.text()} CI {fdr.interval()}; n = {fdr.text('n')}).")
        found.append(ledger.sentence(text, [fdr, level,
                                            *system_run.wording.phrase_claims]))
    if not flips.empty:
        found.append(twin_sentences(flips, flips["intervention"].iloc[0], ledger,
                                    config.audit.confidence))
    # Country codes read as names in every sentence ("people from Saudi Arabia").
    table = truth.table
    names = group_names(pd.concat([table["group"], table["reference"]]).dropna().unique())
    out = []
    for sentence in found[:5]:
        withheld = [c for c in ledger.of(sentence) if c.withheld]
        if withheld:
            # The published tables blank these cells (too few people, or a figure that would
            # reveal one that is): a headline never prints what its table withholds.
            for claim in ledger.of(sentence):
                claim.sentence = ""
            sentence = ("A finding is withheld here: it rests on figures the published "
                        "tables withhold, because too few people stand behind them or they "
                        "would reveal a figure that does.")
        named = name_text(sentence, names)
        ledger.rename(sentence, named)
        out.append(named)
    # A claim whose sentence did not make the five headlines is not printed by any of them.
    ledger.claims[:] = [c for c in ledger.claims if c.sentence in out]
    return out


#: How a twin sentence names the effect it reports.
EFFECT_NAMES = {"total": "the total effect", "direct": "the direct effect"}


def twin_sentences(flips: pd.DataFrame, intervention: str,
                   ledger: Ledger | None = None, confidence: float = 0.95) -> str:
    """One sentence per effect computed for ``intervention`` (``"nationality=IND"``).

    A total-effect twin changes the attribute and what follows from it in the simulated world
    (language, visa type, ..., the true outcome); only a direct-effect twin, in which the
    attribute and the proxies a system sees change and everything else keeps the person's own
    values, is described as holding everything else fixed. Each sentence quotes the flip rate
    of all held-out people with its Wilson interval and n, each a claim on flip_rates.csv.
    """
    ledger = ledger if ledger is not None else Ledger()
    rows = flips[flips["intervention"] == intervention]
    attribute, value = intervention.split("=", 1)
    sentences, claims = [], []
    level = ledger.add(setting("twin.level", "config.audit.confidence", confidence,
                               style="level", unit="confidence level"))
    for effect in dict.fromkeys(rows["effect"]):
        part = rows[rows["effect"] == effect]
        everyone = part[(part["grouping"] == attribute) & (part["group"] == "(all)")]
        if everyone.empty:
            everyone = part[part["group"] == "(all)"]
        row = everyone.iloc[0]
        flip = ledger.add(from_row(f"twin.{effect}", row, source="flip_rates.csv",
                                   keys=("intervention", "effect", "grouping", "group"),
                                   value="flip_rate", n="n"))
        claims.append(flip)
        # The plain change first; the full list of what the twin changes follows it.
        changed = (f"only their {strata_words(attribute)} to {value} and the proxies a "
                   "system sees, with everything else held fixed," if effect == "direct" else
                   f"their {strata_words(attribute)} to {value}, and what follows from it in "
                   "this world,")
        among = ""
        if "changed_flip_rate" in row.index and pd.notna(row["changed_flip_rate"]):
            # People who already have the twin's value are their own twin and cannot flip;
            # the rate among those whose attribute changes is the one that measures the effect.
            moved = ledger.add(from_row(
                f"twin.{effect}.changed", row, source="flip_rates.csv",
                keys=("intervention", "effect", "grouping", "group"),
                value="changed_flip_rate", ci=("changed_ci_low", "changed_ci_high"),
                n="changed_n"))
            claims.append(moved)
            among = (f" Among the {moved.text('n')} whose {strata_words(attribute)} the twin "
                     f"actually changes it changed the decision for {moved.text()} (Wilson "
                     f"{level.text()} CI {moved.interval()}); the rate over everyone counts "
                     "those already at the twin's value, who are their own twin.")
        sentences.append(
            f"Changing {changed} changed the decision for {flip.text()} of the people decided "
            f"({EFFECT_NAMES[effect]}; Wilson {level.text()} CI {flip.interval()}; n = "
            f"{flip.text('n')}). The twin changes "
            f"{describe_twin(attribute, effect, value)}.{among}"
        )
    text = " ".join(sentences)
    return ledger.sentence(text, [*claims, level])


def grouping_words(grouping: str) -> str:
    """A grouping as a reader names it: ``region of origin``, ``accent``, ``home area``."""
    return " and ".join(strata_words(part) for part in grouping.split(" × "))


def who(grouping: str, group: str) -> str:
    """``people from MEX``, or ``people with accent "X"`` for other groupings (codes are named
    when the headlines are returned: ``people from Mexico``); never a raw column name."""
    if grouping in ("nationality", "region_of_origin"):
        return f"people from {group}"
    return f'people with {grouping_words(grouping)} "{group}"'


#: Key columns of an attribution.csv row.
ATTRIBUTION_KEYS = ("grouping", "group", "reference", "metric", "source")


def attribution_claim(ledger: Ledger, id: str, row: pd.Series, *, alone: bool = False,
                      sign: float = 1.0) -> Claim:
    """A world's gap or a knob's contribution in attribution.csv (``alone``: its change when
    switched off alone), in percentage points; ``sign`` -1 states it the other way round (a
    knob "removes" a negative contribution), with the interval's ends swapped."""
    columns = (("one_at_a_time_change", "one_at_a_time_ci_low", "one_at_a_time_ci_high")
               if alone else ("contribution", "ci_low", "ci_high"))
    claim = from_row(id, row, source="attribution.csv", keys=ATTRIBUTION_KEYS,
                     value=columns[0], ci=(columns[1], columns[2]), n=None, style="points",
                     unit="percentage points", interval_kind="paired")
    if sign < 0:
        claim.value, claim.ci_low, claim.ci_high = -claim.value, -claim.ci_high, -claim.ci_low
        claim.columns = {"value": f"-{columns[0]}", "ci_low": f"-{columns[2]}",
                         "ci_high": f"-{columns[1]}"}
    return ledger.add(claim)


def _worlds(ledger: Ledger, prefix: str, rows: pd.DataFrame, confidence: float
            ) -> tuple[pd.Series, pd.Series, pd.DataFrame, list[Claim]]:
    """One comparison's attribution rows: the all-off row, the as-configured row, the knobs'
    rows, and the claims every sentence on them starts from (the level, the total gap, the
    gap with every knob off), with ids under ``prefix``."""
    from experiments.systems.contract import ALL_OFF, AS_CONFIGURED

    off = rows[rows["source"] == ALL_OFF].iloc[0]
    total = rows[rows["source"] == AS_CONFIGURED].iloc[0]
    level = ledger.add(setting(f"{prefix}.level", "config.audit.confidence", confidence,
                               style="level", unit="confidence level"))
    claims = [level, attribution_claim(ledger, f"{prefix}.total", total),
              attribution_claim(ledger, f"{prefix}.all_off", off)]
    return off, total, rows[rows["kind"] == "knob"], claims


def claimed_points(claim: Claim, level: Claim) -> str:
    """A claim in percentage points with its interval: ``1.30 (95% CI 0.60 to 2.00)``; an
    interval that cannot move is withheld, not printed as certain."""
    if claim.text() == "undefined":
        return "undefined"
    if claim.frozen:
        return f"{claim.text()} (interval {WITHHELD}: every resample gives this value)"
    if not claim.has_interval:
        return f"{claim.text()} ({claim.interval(' to ')})"
    return f"{claim.text()} ({level.text()} CI {claim.interval(' to ')})"


def attribution_clause(system_run: SystemRun, grouping: str, group: str, metric: str,
                       ledger: Ledger | None = None) -> str:
    """Where a focus gap comes from, in one clause: what remains with every knob off (and its
    cause, as the experiment names it), then the knobs whose contribution the interval
    separates from zero. A knob is never credited with what remains at baseline, nor with a
    contribution its interval cannot tell from zero. Every number is a claim on
    attribution.csv recorded in ``ledger``."""

    ledger = ledger if ledger is not None else Ledger()
    attribution = system_run.findings.attribution
    if attribution is None:
        return ""
    rows = attribution.rows(grouping, group, metric)
    if rows.empty:
        return ""
    off, total, knobs, claims = _worlds(ledger, "attribution", rows, attribution.confidence)
    level, total_claim, off_claim = claims
    cause = f", from {attribution.baseline_cause}" if attribution.baseline_cause else ""
    lowers = {k.name: k.if_it_lowers for k in attribution.knobs}
    separated = off["ci_low"] > 0 or off["ci_high"] < 0
    text = (f"Of the gap of {claimed_points(total_claim, level)} "
            f"percentage points, {claimed_points(off_claim, level)} "
            "remain with every bias knob off"
            + (cause if separated else ", which the data cannot tell from no gap"))
    # A knob whose replicates disagree on the sign of its contribution is credited with
    # neither direction: the clause gives the replicates' range instead of one pooled number.
    unsettled = knobs[knobs.apply(sign_differs, axis=1)] if len(knobs) else knobs
    credited = knobs[((knobs["ci_low"] > 0) | (knobs["ci_high"] < 0))
                     & ~knobs.index.isin(unsettled.index)]
    others = [str(n) for n in knobs.loc[~knobs.index.isin(credited.index)
                                        & ~knobs.index.isin(unsettled.index), "source"]]
    parts = []
    for _, r in unsettled.iterrows():
        low, high = (ledger.add(from_row(
            f"attribution.{r['source']}.replicate_{end}", r, source="attribution.csv",
            keys=ATTRIBUTION_KEYS, value=f"contribution_replicate_{end}", ci=None, n=None,
            style="signed_points", unit="percentage points")) for end in ("min", "max"))
        claims.extend([low, high])
        parts.append(f"{r['source']}: {sign_differs_words(low.text(), high.text())}")
    for _, r in credited.iterrows():
        share = attribution_claim(ledger, f"attribution.{r['source']}", r,
                                  sign=1.0 if r["contribution"] > 0 else -1.0)
        claims.append(share)
        part = (f"{r['source']} {'adds' if r['contribution'] > 0 else 'removes'} "
                f"{claimed_points(share, level)}")
        part += _alone_words(ledger, f"attribution.{r['source']}", r, level, claims)
        # A knob that lowers a gap would read as better treatment; the experiment says why
        # it is not, where it knows.
        why = lowers.get(str(r["source"]), "") if r["contribution"] < 0 else ""
        if why:
            part += f" ({why})"
        parts.append(part)
    if parts:
        text += "; " + "; ".join(parts)
    text += _interaction_words(credited, total)
    if others:
        text += ("; the contribution of " + ", ".join(others)
                 + " cannot be told from zero")
    count = ledger.add(derived("attribution.knobs", len(knobs), source="attribution.csv",
                               source_row={"grouping": grouping, "group": group,
                                           "metric": metric, "kind": "knob"},
                               unit="knobs"))
    claims.append(count)
    plural = "s" if len(knobs) != 1 else ""
    text += (f" (Shapley contributions over {count.text()} knob{plural}, same people in "
             "every world).")
    return ledger.sentence(text, claims)


def _alone_words(ledger: Ledger, id: str, row: pd.Series, level: Claim,
                 claims: list[Claim]) -> str:
    """The effect of switching a knob off alone, where it differs from its Shapley share.

    A share beside an effect alone that it does not match would read as an additive part of
    the gap, so the effect alone is printed with it (its claim is appended to ``claims``);
    otherwise nothing is added.
    """
    if not alone_differs(row):
        return ""
    alone = attribution_claim(ledger, f"{id}.alone", row, alone=True, sign=-1.0)
    claims.append(alone)
    return (" as its Shapley share, but switching it off alone changes the gap by "
            + claimed_points(alone, level))


def _interaction_words(credited: pd.DataFrame, total: pd.Series) -> str:
    """The interaction among the knobs whose effect alone lies apart from their Shapley
    share, as a clause after a semicolon (:func:`~experiments.reports.interactions.
    interaction_phrase`); "" when there is none."""
    phrase = interaction_phrase(credited, total)
    return f"; {phrase}" if phrase else ""


def focus_headline(truth: AuditResult, focus: object, system_run: SystemRun,
                   ledger: Ledger | None = None) -> tuple[str, str] | None:
    """The first pre-specified comparison's false positive rates, then where its gap comes
    from. The first sentence says who and how much in plain words; intervals and n follow in
    the second. Returns the sentence and the reference group, or None when it was not
    audited."""
    ledger = ledger if ledger is not None else Ledger()
    table = truth.table
    rows = table[(table["grouping"] == focus.grouping) & (table["metric"] == "fpr")]
    if rows.empty:
        return None
    reference = focus.reference or str(rows["reference"].iloc[0])
    by_group = rows.set_index("group", drop=False)
    if focus.group not in by_group.index or reference not in by_group.index:
        return None
    g, r = by_group.loc[focus.group], by_group.loc[reference]
    withheld = [who(focus.grouping, str(row["group"])) for row in (g, r)
                if "suppressed" in str(row["flags"]).split(";")]
    if withheld:
        # The published tables withhold these rates (too few people, or rates that would
        # let a withheld one be worked out): the headline does not print what they withhold.
        return (f"{WITHHELD_FOCUS} {who(focus.grouping, focus.group)} against "
                f"{who(focus.grouping, reference)}, is withheld: its rates rest on too few "
                "people to publish, or would reveal a rate that does.", reference)
    rate, base = rate_claim(ledger, "focus.rate", g), rate_claim(ledger, "focus.reference_rate", r)
    level = level_claim(ledger, "focus.level", settings_level(truth))
    claims = [rate, base, level]
    group_words, reference_words = who(focus.grouping, focus.group), who(focus.grouping,
                                                                        reference)
    intervals = f"Their {level.text()} CIs: rates {rate.interval()} and {base.interval()}"
    if reference == str(rows["reference"].iloc[0]) and math.isfinite(g["ratio"]):
        ratio = ratio_claim(ledger, "focus.ratio", g)
        claims.append(ratio)
        first = (f"{group_words[0].upper()}{group_words[1:]} were "
                 f"{system_run.wording.error_phrase} at {ratio.text()} times the rate of "
                 f"{reference_words} ({rate.text()} against {base.text()}), in a comparison "
                 "named in advance.")
        ratio_words = (f"ratio {ratio.interval()}" if not ratio.frozen else
                       f"ratio interval {WITHHELD}: every resample gives this value")
        second = f"{intervals}; {ratio_words}"
    else:
        first = (f"{group_words[0].upper()}{group_words[1:]} were "
                 f"{system_run.wording.error_phrase} at a rate of {rate.text()}, against "
                 f"{base.text()} for {reference_words}, in a comparison named in advance.")
        second = intervals
    sentence = f"{first} {second}; n = {rate.text('n')} and {base.text('n')}."
    ledger.sentence(sentence, [*claims, *system_run.wording.phrase_claims])
    clause = attribution_clause(system_run, focus.grouping, focus.group, "fpr", ledger)
    if clause:
        full = sentence + " " + clause
        for claim in ledger.of(sentence) + ledger.of(clause):
            claim.sentence = full
        sentence = full
    return (sentence, reference)


#: How a headline starts whose pre-specified comparison the published tables withhold.
WITHHELD_FOCUS = "The comparison named in advance,"
#: A paired ratio of disparities inside this band counts as "the same disparity".
SAME_RATIO = (0.8, 1.25)
#: A paired difference of disparities (points) inside this band counts as the same.
SAME_DIFFERENCE = 0.01


def vanishes_within(row: pd.Series) -> bool:
    """Whether an adjusted.csv row's gap vanishes within its strata: the crude ratio lies
    outside the adjusted interval, and that interval holds 1 or the adjusted gap points the
    other way from the crude one."""
    low, high = row.get("adjusted_ratio_ci_low"), row.get("adjusted_ratio_ci_high")
    crude = row.get("crude_ratio")
    if not all(isinstance(v, float | int) and math.isfinite(v) for v in (low, high, crude)):
        return False
    if low <= crude <= high:
        return False
    return bool(low <= 1 <= high or row["adjusted_diff"] * row["crude_diff"] < 0)


#: Said instead of the records-against-truth comparison when the records are the decisions.
RECORDS_ARE_DECISIONS = (
    "The records here are the system's own decisions (every recorded violation is one it "
    "made), so by the records no decision is ever wrong and no group's false positive rate can "
    "be measured from them. The comparison of the records' disparity with the true one, which "
    "would only restate the true disparity, is withheld.")


def recorded_view_headline(config: ExperimentConfig, decisions: pd.DataFrame, grouping: str,
                           group: str, reference: str, selected_among: int | None,
                           views: dict[str, object] | None = None,
                           ledger: Ledger | None = None) -> str:
    """What an auditor who sees only the records would conclude, against the truth.

    Both views' disparities come from the same decisions, so they are compared in pairs
    (:func:`audit.paired.compare_views`): the interval of the recorded disparity over (or
    minus) the true one. One adjustment throughout: none for a pre-specified comparison,
    Bonferroni over the groups compared when the group was selected by rank. Each view's own
    disparity is quoted with the interval its audit table holds (``views``), so a number
    printed twice in a report has one interval. The paired comparison, which no other table
    holds, is written as a row of view_comparison.csv, and every number is a claim in
    ``ledger``.
    """
    from audit.paired import compare_views, paired_counts
    from experiments.systems.contract import group_labels

    ledger = ledger if ledger is not None else Ledger()
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
    recorded, true = result.disparity["y_recorded"], result.disparity["y_true"]
    kind = "simultaneous" if selected_among else "unadjusted"
    style = "ratio" if measure == "ratio" else "signed_points"
    key = {"grouping": grouping, "group": group, "reference": reference, "metric": "fpr",
           "measure": measure}
    rows = ledger.tables.setdefault(VIEW_COMPARISON, [])

    def view_claim(view: str, triple: tuple[float, float, float]) -> Claim:
        found = None
        if views is not None:
            found = _table_disparity(views[view], grouping, group, reference, measure,
                                     selected_among)
        if found is not None:
            prefix = "sim_" if selected_among else ""
            column = "ratio" if measure == "ratio" else "difference"
            ends = "ratio" if measure == "ratio" else "diff"
            row = views[view].table
            row = row[(row["grouping"] == grouping) & (row["metric"] == "fpr")
                      & (row["group"] == group)].iloc[0]
            return ledger.add(from_row(
                f"recorded_view.{view}", row, source="metrics.csv", keys=METRIC_KEYS,
                value=column, ci=(f"{prefix}{ends}_ci_low", f"{prefix}{ends}_ci_high"),
                n=None, style=style, unit=measure, interval_kind=kind,
                extra_keys={"view": {"y_true": "true", "y_recorded": "recorded"}[view]}))
        # The table's reference differs: the paired bootstrap's own estimate, written out.
        row = {**key, "quantity": view, "value": triple[0], "ci_low": triple[1],
               "ci_high": triple[2], "confidence": confidence}
        rows.append(row)
        return ledger.add(from_row(f"recorded_view.{view}", row, source=VIEW_COMPARISON,
                                   keys=(*key, "quantity"), n=None, style=style,
                                   unit=measure, interval_kind=kind))

    recorded_claim = view_claim("y_recorded", recorded)
    true_claim = view_claim("y_true", true)
    value, low, high = result.comparison
    row = {**key, "quantity": "recorded against true", "value": value, "ci_low": low,
           "ci_high": high, "confidence": confidence}
    rows.append(row)
    comparison = ledger.add(from_row("recorded_view.comparison", row, source=VIEW_COMPARISON,
                                     keys=(*key, "quantity"), n=None, style=style,
                                     unit=measure, interval_kind="paired"))
    n = result.denominators
    counts = [ledger.add(derived(f"recorded_view.n_{view}_{who_}", n[view][name],
                                 source="metrics.csv",
                                 source_row={"view": view_name, "grouping": grouping,
                                             "group": name, "metric": "fpr",
                                             "column": "denominator"},
                                 unit="people"))
              for view, view_name in (("y_true", "true"), ("y_recorded", "recorded"))
              for who_, name in (("group", group), ("reference", reference))]
    level_claim_ = ledger.add(setting("recorded_view.level", "config.audit.confidence",
                                      confidence, style="level", unit="confidence level"))
    level_claim_.source_row["adjusted"] = (f"Bonferroni over {selected_among} groups"
                                           if selected_among else "none")
    if selected_among:
        level_claim_.source = "tool"
        level_claim_.source_row["key"] = "tool.bonferroni_level"
        level_claim_.style = "percent1"
    among = (ledger.add(derived("recorded_view.groups_compared", selected_among,
                                source="metrics.csv",
                                source_row={"view": "true", "grouping": grouping,
                                            "metric": "fpr"}))
             if selected_among else None)
    adjustment = (f"adjusted for choosing {group} among {among.text()} groups"
                  if among is not None else "a pre-specified comparison, so unadjusted")
    bounded = comparison.has_interval
    # An interval whose printed ends equal the printed value cannot move at this precision:
    # it would read as certainty, so it is withheld and said in words.
    frozen = comparison.frozen

    def disparity(claim: Claim) -> str:
        if measure == "ratio":
            return (f"{claim.text()} times {reference}'s" if math.isfinite(claim.value)
                    else f"an undefined multiple of {reference}'s")
        return f"{claim.text()} percentage points from {reference}'s"

    def ends(claim: Claim) -> str:
        return (f"withheld for {'the records' if claim is recorded_claim else 'the truth'}: "
                "every resample gives this value" if claim.frozen else
                claim.interval("–" if measure == "ratio" else " to "))

    band = []
    low, high = comparison.ci_low, comparison.ci_high
    if not bounded:
        verdict = "the data cannot tell how the two views compare: the interval has no bound"
    elif frozen:
        verdict = "so the records show the same disparity as the truth in every resample"
    elif measure == "ratio":
        # Agreement within the stated band is checked first: an interval such as 1.001-1.004
        # lies above 1 but says the views agree, not that the records exaggerate.
        if SAME_RATIO[0] <= low and high <= SAME_RATIO[1]:
            band.append(ledger.add(setting("recorded_view.same_ratio", "tool.same_ratio",
                                           SAME_RATIO[1], unit="factor")))
            verdict = ("so the records show the same disparity to within a factor of "
                       f"{band[0].text()} either way")
        elif high < 1:
            verdict = "so the records understate the disparity"
        elif low > 1:
            verdict = "so the records exaggerate the disparity"
        else:
            verdict = ("so the data cannot tell whether the records show more or less of the "
                       "disparity than the truth")
    else:
        if -SAME_DIFFERENCE <= low and high <= SAME_DIFFERENCE:
            band.append(ledger.add(setting("recorded_view.same_difference",
                                           "tool.same_difference", SAME_DIFFERENCE,
                                           style="points1", unit="percentage points")))
            verdict = (f"so the records show the same disparity to within "
                       f"{band[0].text()} percentage point either way")
        elif high < 0:
            verdict = "so the records understate the disparity"
        elif low > 0:
            verdict = "so the records exaggerate the disparity"
        else:
            verdict = ("so the data cannot tell whether the records show more or less of the "
                       "disparity than the truth")
    compared = (f"the recorded disparity is {comparison.text()} times the true one"
                if measure == "ratio"
                else f"the recorded disparity differs from the true one by "
                     f"{comparison.text()} points")
    interval = f"{level_claim_.text()} CI " + comparison.interval(
        "–" if measure == "ratio" else " to ")
    if frozen:
        interval = f"interval {WITHHELD}: every resample gives this value"
    first = (f"By the records alone, as a real auditor sees them, the false positive rate of "
             f"{who(grouping, group)} is {disparity(recorded_claim)}, against "
             f"{disparity(true_claim)} by the true outcome.")
    text = (f"{first} Their {level_claim_.text()} CIs: {ends(recorded_claim)} and "
            f"{ends(true_claim)}. Compared in pairs on the same decisions, {compared} ({interval}, "
            f"{adjustment}; n = {counts[0].text()} and {counts[1].text()} by the truth, "
            f"{counts[2].text()} and {counts[3].text()} by the records), {verdict}.")
    claims = [recorded_claim, true_claim, comparison, *counts, level_claim_, *band]
    if among is not None:
        claims.append(among)
    return ledger.sentence(text, claims)


#: The file holding the paired comparisons of the two views that headlines quote.
VIEW_COMPARISON = "view_comparison.csv"


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


def contrast_headline(system_run: SystemRun, contrast: object,
                      ledger: Ledger | None = None) -> str:
    """A system's own attributed comparison (its label, e.g. the growth of a gap over rounds),
    split between what remains with every knob off and each knob, with intervals; every
    number a claim on attribution.csv recorded in ``ledger``."""

    ledger = ledger if ledger is not None else Ledger()
    attribution = system_run.findings.attribution
    if attribution is None:
        return ""
    rows = attribution.rows(contrast.grouping, contrast.group, contrast.metric)
    if rows.empty:
        return ""
    off, total, knobs, claims = _worlds(ledger, "contrast", rows, attribution.confidence)
    level, total_claim, off_claim = claims
    parts = []
    for _, r in knobs.iterrows():
        share = attribution_claim(ledger, f"contrast.{r['source']}", r)
        claims.append(share)
        part = (f"{r['source']} {claimed_points(share, level)}"
                + ("" if (r["ci_low"] > 0 or r["ci_high"] < 0) else ", which the data "
                   "cannot tell from zero"))
        part += _alone_words(ledger, f"contrast.{r['source']}", r, level, claims)
        parts.append(part)
    separated = off["ci_low"] > 0 or off["ci_high"] < 0
    text = (f"The {contrast.label} was {claimed_points(total_claim, level)} "
            f"percentage points; with every bias knob off it is "
            f"{claimed_points(off_claim, level)}"
            + ("" if separated else ", which the data cannot tell from none")
            + ". The knobs contribute: " + "; ".join(parts)
            + _interaction_words(knobs, total)
            + " (Shapley contributions, same applicants in every world).")
    return ledger.sentence(text, claims)


#: Key columns of a remedies.csv row.
REMEDY_KEYS = ("remedy", "view", "kind", "grouping", "group", "reference", "metric")


def remedies_headline(config: ExperimentConfig, system_run: SystemRun,
                      ledger: Ledger | None = None) -> str:
    """The remedy that most narrows the first focus comparison's gap by the true outcome, and
    what it did to the share of people the system acts on; a remedy that narrows the gap
    mainly by acting on far fewer people is headlined as such. Every number is a claim on
    remedies.csv recorded in ``ledger``; empty when no remedy ran."""
    from experiments.config.remedies import REMEDY_TITLES
    from experiments.reports.remedies import acts_on_far_fewer  # the rule every report uses

    ledger = ledger if ledger is not None else Ledger()
    remedies = system_run.findings.remedies
    if remedies is None or remedies.table.empty or not config.audit.focus:
        return ""
    table = remedies.table
    focus = config.audit.focus[0]
    gaps = table[(table["kind"] == "focus_disparity") & (table["view"] == "true")
                 & (table["grouping"] == focus.grouping) & (table["group"] == focus.group)]
    gaps = gaps[gaps["metric"] == ("fpr" if "fpr" in set(gaps["metric"]) else
                                   gaps["metric"].iloc[0] if len(gaps) else "")]
    gaps = gaps[gaps["remedied"].notna()]
    if gaps.empty:
        return ""
    best = gaps.loc[gaps["remedied"].abs().idxmin()]
    overall = table[(table["kind"] == "overall") & (table["view"] == "true")
                    & (table["metric"] == "selection_rate") & (table["remedy"] == best["remedy"])]
    title = REMEDY_TITLES.get(best["remedy"], best["remedy"])

    def claim(id: str, row: pd.Series, value: str, ci: tuple[str, str] | None,
              style: str, kind: str) -> Claim:
        return ledger.add(from_row(id, row, source="remedies.csv", keys=REMEDY_KEYS,
                                   value=value, ci=ci, n=None, style=style,
                                   unit="percentage points" if "points" in style else "share",
                                   interval_kind=kind))

    level = ledger.add(setting("remedy.level", "config.audit.confidence",
                               remedies.confidence, style="level", unit="confidence level"))
    before = claim("remedy.gap_before", best, "base", None, "signed_points1", "none")
    after = claim("remedy.gap_after", best, "remedied", ("remedied_ci_low", "remedied_ci_high"),
                  "signed_points1", "unadjusted")
    change = claim("remedy.gap_change", best, "change", ("change_ci_low", "change_ci_high"),
                   "signed_points1", "paired")
    claims = [level, before, after, change]
    metric = GAP_WORDS.get(str(best["metric"]), str(best["metric"]).replace("_", " "))
    gap = (f"the {metric} gap between {who(focus.grouping, focus.group)} and "
           f"{who(focus.grouping, str(best['reference']))}")
    fewer = ""
    acted = ""
    if not overall.empty:
        row = overall.iloc[0]
        share_before = claim("remedy.selected_before", row, "base", None, "percent", "none")
        share_after = claim("remedy.selected_after", row, "remedied", None, "percent", "none")
        claims += [share_before, share_after]
        if acts_on_far_fewer(float(row["base"]), float(row["remedied"])):
            # A gap closed by acting on almost nobody is no fix: the headline leads with it.
            fewer = (f", mainly by acting on far fewer people ({share_after.text()} "
                     f"{system_run.wording.decision_label}, against {share_before.text()})")
        else:
            acted = (f" The share of people {system_run.wording.decision_label} went from "
                     f"{share_before.text()} to {share_after.text()}.")
    text = (f"Of the remedies run, {title} narrowed {gap} most{fewer}: from "
            f"{before.text()} to {after.text()} percentage points by the true outcome."
            f"{acted} The change in the gap is {change.text()} points ({level.text()} paired "
            f"CI {change.interval(' to ')}); the remedied gap's {level.text()} CI is "
            f"{after.interval(' to ')}, and every remedy is in remedies.csv.")
    return ledger.sentence(text, claims)


#: How a focus metric's gap is named in a remedies headline.
GAP_WORDS = {"fpr": "false positive rate", "fnr": "false negative rate",
             "selection_rate": "selection rate", "tpr": "true positive rate"}
