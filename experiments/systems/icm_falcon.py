"""Adapter for the ICM/FALCON-style link analysis: build the social graph over the whole
population, seed it with enforcement records and tips, flag persons of interest, and report how
far suspicion spreads from true cases and what the same scoring does on a graph with homophily
off."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import Field

from audit import audit, compare
from audit.report import percent
from experiments.config import Strict
from experiments.config.remedies import MODEL_REMEDIES
from experiments.systems.contract import Decisions, Hooks, SystemRun, Wording, raised_share_capacity
from experiments.writing.claims import Claim, Ledger, from_row, setting
from experiments.writing.document import Heading, Paragraph, Table
from synthetic.networks import SocialGraph, build_graph
from synthetic.systems.icm_falcon import (
    LinkAnalysis,
    enforcement_records,
    tip_line,
    true_interest,
)

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

SPREAD_TABLE = "suspicion_spread"
#: Column of the decisions naming each person's strongest direct source of suspicion.
CLUSTER = "suspicion_source"
HOMOPHILY_TABLE = "homophily_off"


class Settings(Strict):
    """The ``[system]`` table of a link-analysis experiment."""

    homophily_origin: float = Field(default=0.8, ge=0, le=1,
                                    description="probability a tie is formed within nationality")
    homophily_language: float = Field(
        default=0.5, ge=0, le=1,
        description="otherwise, probability it is formed among speakers of one's language")
    seed_weight: float = Field(default=1.0, ge=0, description="points for an enforcement record")
    tip_weight: float = Field(default=0.6, ge=0, description="points for a tip")
    decay: float = Field(default=0.5, ge=0, le=1, description="discount per step of distance")
    capacity: float = Field(default=0.02, gt=0, le=1,
                            description="share of people flagged as persons of interest")
    true_tip_rate: float = Field(default=0.2, ge=0, le=1,
                                 description="tip probability for a person truly of interest")
    false_tip_rate: float = Field(default=0.002, ge=0, le=1,
                                  description="base tip probability for anyone else")
    neighbourhood_effect: float = Field(
        default=1.0, ge=0, le=10,
        description="false tips rise by this times the neighbourhood's surveillance density")
    tip_bias: float = Field(default=0.0, ge=0, le=50,
                            description="false tips about targeted origins (1 + b) times as often")
    tip_targets: list[str] = Field(default_factory=list,
                                   description="ISO3 nationalities or 'region:<name>'")


class _Graphs:
    """Graphs of the run's people by homophily setting, built once each."""

    def __init__(self, people: pd.DataFrame, seed: int) -> None:
        self.people, self.seed, self.built = people, seed, {}

    def get(self, origin: float, language: float) -> SocialGraph:
        key = (origin, language)
        if key not in self.built:
            self.built[key] = build_graph(self.people, self.seed, homophily_origin=origin,
                                          homophily_language=language)
        return self.built[key]


def _flag(settings: Settings, graph: SocialGraph, people: pd.DataFrame, seed: int
          ) -> tuple[LinkAnalysis, np.ndarray, np.ndarray, np.ndarray]:
    tips = tip_line(people, seed, true_tip_rate=settings.true_tip_rate,
                    false_tip_rate=settings.false_tip_rate,
                    neighbourhood_effect=settings.neighbourhood_effect,
                    tip_bias=settings.tip_bias, targets=settings.tip_targets)
    analysis = LinkAnalysis(seed_weight=settings.seed_weight, tip_weight=settings.tip_weight,
                            decay=settings.decay, capacity=settings.capacity)
    flagged, scores = analysis.flag(graph, enforcement_records(people), tips)
    return analysis, flagged, scores, tips


def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Score everyone over the graph; audit the held-out people.

    The analysis learns nothing, so the training split only sets who is audited: a random
    half of the people (by default), whose ties reach into the whole graph.
    """
    from experiments.errors import UsageError
    from synthetic.population import PopulationInputError
    from synthetic.population.mechanisms import resolve_mechanisms

    settings = config.system_settings()
    seed = config.experiment.seed
    if settings.tip_bias > 0 and not settings.tip_targets:
        raise UsageError("system.tip_targets: tip_bias is on but no origin is targeted; list "
                         "ISO3 nationalities or 'region:<name>'")
    if settings.tip_targets:
        try:  # the same target check the population's mechanisms get
            resolve_mechanisms(
                {"label_bias": {"strength": 1.0, "targets": settings.tip_targets}},
                list(people["nationality"].cat.categories),
                list(people["region_of_origin"].cat.categories))
        except PopulationInputError as error:
            raise UsageError(f"system.tip_targets: {error}") from None
    graphs = _Graphs(people, seed)
    graph = graphs.get(settings.homophily_origin, settings.homophily_language)
    analysis, flagged, scores, tips = _flag(settings, graph, people, seed)
    truth = true_interest(people)
    seeds = enforcement_records(people)
    top = float(scores.max()) if len(scores) and scores.max() > 0 else 1.0
    audited = ~train
    # Flags of people tied to one source are not independent: intervals are clustered by it.
    sources = analysis.suspicion_sources(graph, seeds, tips)
    decisions = people.loc[audited, group_columns].reset_index(drop=True).assign(
        y_true=truth[audited], y_recorded=seeds[audited], decision=flagged[audited],
        score=scores[audited] / top,
        suspicion_source=people["person_id"].to_numpy()[sources][audited])

    singles = [g[0] for g in config.audit.groupings if len(g) == 1]
    references = {c: config.audit.reference[c] for c in singles if c in config.audit.reference}
    flat = graphs.get(0.0, 0.0)
    _, flat_flags, _, _ = _flag(settings, flat, people, seed)
    homophily = compare(decisions.assign(homophily_off=flat_flags[audited]), singles, "y_true",
                        "decision", "homophily_off", references,
                        confidence=config.audit.confidence,
                        metrics=["fpr", "selection_rate", "tpr"]).table
    spread = spread_table(decisions, graph.contacts_of(truth)[audited], singles, references,
                          config)

    def decide_world(world: ExperimentConfig, world_people: pd.DataFrame
                     ) -> dict[str, np.ndarray]:
        s = world.system_settings()
        return {"decision": _flag(s, graphs.get(s.homophily_origin, s.homophily_language),
                                  world_people, seed)[1][audited]}

    def write_extras(directory: Path) -> list[object]:
        return report_blocks(spread, homophily, settings, graph, flat, config.audit.confidence)

    ledger = Ledger()
    return SystemRun(
        decided=Decisions(
            table=decisions,
            details={
                "people": int(len(people)),
                "edges": graph.edges,
                "same_origin_share": graph.same_origin_share,
                "same_origin_share_homophily_off": flat.same_origin_share,
                "seeds_from_records": int(seeds.sum()),
                "tips": int(tips.sum()),
                "truly_of_interest": int(truth.sum()),
                "score_threshold": analysis.cut_off_.threshold,
                "audited_people": int(audited.sum()),
            },
            extra_tables={SPREAD_TABLE: spread, HOMOPHILY_TABLE: homophily},
            cluster=CLUSTER,
        ),
        wording=Wording(
            card=analysis.card(),
            decision_label="flagged as persons of interest",
            error_phrase="flagged as persons of interest though of no enforcement interest",
            negative_phrase="of no enforcement interest",
            headlines=link_headlines(config, spread, homophily, ledger),
            claims=ledger.claims,
            write_extras=write_extras,
        ),
        hooks=Hooks(
            decide_world=decide_world,
        ),
    )


def spread_table(decisions: pd.DataFrame, tied_to_case: np.ndarray, singles: list[str],
                 references: dict[str, str], config: ExperimentConfig) -> pd.DataFrame:
    """How far suspicion spreads from true cases, per group.

    Columns: ``true_cases`` and ``flagged_no_interest`` (counts among the audited people),
    ``flagged_per_true_case`` (their ratio, without an interval), and, for the
    people of no interest tied to a true case, the share flagged with its Wilson interval
    (``tied_*``, from :func:`audit.audit`).
    """
    truth = decisions["y_true"].to_numpy(dtype=bool)
    flagged = decisions["decision"].to_numpy(dtype=bool)
    parts = []
    tied = decisions[tied_to_case & ~truth]
    result = audit(tied, [[c] for c in singles], "y_true", "decision", reference=references,
                   n_boot=config.audit.n_boot, confidence=config.audit.confidence,
                   min_count=config.audit.min_count, suppress_below=config.audit.suppress_below,
                   random_state=config.experiment.seed, cluster=CLUSTER).table
    result = result[result["metric"] == "fpr"].set_index(["grouping", "group"])
    for column in singles:
        groups = decisions[column].astype(str)
        counts = pd.DataFrame({"group": groups, "true_cases": truth,
                               "flagged_no_interest": flagged & ~truth,
                               "people": 1}).groupby("group", sort=True).sum()
        counts["flagged_per_true_case"] = np.where(
            counts["true_cases"] > 0,
            counts["flagged_no_interest"] / counts["true_cases"].where(counts["true_cases"] > 0),
            np.nan)
        counts = counts.reset_index()
        counts.insert(0, "grouping", column)
        index = pd.MultiIndex.from_arrays([[column] * len(counts), counts["group"]])
        for name in ("denominator", "value", "ci_low", "ci_high", "flags"):
            counts[f"tied_{name}"] = result[name].reindex(index).to_numpy()
        parts.append(counts)
    return pd.concat(parts, ignore_index=True)


def _ci(low: float, high: float) -> str:
    return f"{100 * low:+.2f} to {100 * high:+.2f}"


def link_headlines(config: ExperimentConfig, spread: pd.DataFrame, homophily: pd.DataFrame,
                   ledger: Ledger | None = None) -> list[str]:
    """How far suspicion spread for the first pre-specified group, and what homophily did.
    The first finding's numbers are claims on suspicion_spread.csv recorded in ``ledger``."""
    ledger = ledger if ledger is not None else Ledger()
    focus = next((f for f in config.audit.focus if " × " not in f.grouping), None)
    if focus is None:
        return []
    rows = spread[spread["grouping"] == focus.grouping].set_index("group", drop=False)
    reference = focus.reference or config.audit.reference.get(focus.grouping, "")
    found = []
    if focus.group in rows.index and reference in rows.index:
        g, r = rows.loc[focus.group], rows.loc[reference]
        source, keys = f"{SPREAD_TABLE}.csv", ("grouping", "group")
        level_claim = ledger.add(setting("spread.level", "config.audit.confidence",
                                         config.audit.confidence, style="level",
                                         unit="confidence level"))

        def claim(id: str, row: pd.Series, value: str, style: str = "count",
                  ci: tuple[str, str] | None = None, n: str | None = None) -> Claim:
            return ledger.add(from_row(id, row, source=source, keys=keys, value=value,
                                       ci=ci, n=n, style=style, unit="people"))

        cases = claim("spread.true_cases", g, "true_cases")
        per_case = claim("spread.per_true_case", g, "flagged_per_true_case", "ratio")
        reference_per_case = claim("spread.reference_per_true_case", r,
                                   "flagged_per_true_case", "ratio")
        claims = [level_claim, cases, per_case, reference_per_case]

        def tied(id: str, row: pd.Series) -> str:
            if not np.isfinite(row["tied_value"]):
                return "no such people"
            share = claim(id, row, "tied_value", "percent2", ("tied_ci_low", "tied_ci_high"),
                          "tied_denominator")
            claims.append(share)
            return (f"{share.text()} ({level_claim.text()} CI {share.interval()}; n = "
                    f"{share.text('n')})")

        found.append(ledger.sentence(
            f"For each of the {cases.text()} people from {focus.group} truly of enforcement "
            f"interest, the system flagged {per_case.text()} people from {focus.group} of no "
            f"interest, against {reference_per_case.text()} per true case for {reference}. "
            "These are ratios of two counts among the same audited people, given without an "
            "interval: the flags spread along ties between people, so no interval that "
            "treats people as independent would hold. Of the people of no interest tied to a "
            f"true case, {tied('spread.tied', g)} were flagged from {focus.group} and "
            f"{tied('spread.reference_tied', r)} from {reference}.", claims))
    fpr = homophily[(homophily["grouping"] == focus.grouping) & (homophily["metric"] == "fpr")
                    ].set_index("group")
    if focus.group in fpr.index:
        g = fpr.loc[focus.group].copy()
        g["group"] = focus.group
        keys = ("grouping", "group", "metric")

        def homophily_claim(id: str, value: str, style: str, ci: tuple[str, str] | None = None,
                  n: str | None = None, unit: str = "share") -> Claim:
            return ledger.add(from_row(id, g, source=f"{HOMOPHILY_TABLE}.csv", keys=keys,
                                       value=value, ci=ci, n=n, style=style, unit=unit,
                                       interval_kind="paired" if ci else "none"))

        level_claim = ledger.add(setting("homophily.level", "config.audit.confidence",
                                         config.audit.confidence, style="level",
                                         unit="confidence level"))
        before = homophily_claim("homophily.with", "value_a", "percent2")
        after = homophily_claim("homophily.without", "value_b", "percent2")
        change = homophily_claim("homophily.change", "change", "signed_points",
                       ("change_ci_low", "change_ci_high"), "n", "percentage points")
        gap = homophily_claim("homophily.gap_change", "disparity_change", "signed_points",
                    ("disparity_change_ci_low", "disparity_change_ci_high"),
                    unit="percentage points")
        inconclusive = not (g["disparity_change_ci_low"] > 0 or g["disparity_change_ci_high"] < 0)
        verdict = ("The data cannot tell whether its gap to the reference changed"
                   if inconclusive else
                   f"Its gap to {g['reference']} changed by {gap.text()} percentage points")
        found.append(ledger.sentence(
            f"With homophily off (ties formed regardless of origin and language), the same "
            f"scoring flagged {after.text()} of people from {focus.group} of no interest, "
            f"against {before.text()} with it ({change.text()} percentage points, "
            f"{level_claim.text()} paired CI {change.interval(' to ')}; n = "
            f"{change.text('n')}). {verdict} ({level_claim.text()} CI "
            f"{gap.interval(' to ')}). Both intervals treat people as independent, which flags "
            "spread along ties are not, so they are too narrow.",
            [level_claim, before, after, change, gap]))
    return found


def report_blocks(spread: pd.DataFrame, homophily: pd.DataFrame, settings: Settings,
                  graph: SocialGraph, flat: SocialGraph, confidence: float) -> list[object]:
    """The report's sections: the graph, how far suspicion spreads, homophily off."""
    level = f"{100 * confidence:g}%"
    grouping = ("region_of_origin" if "region_of_origin" in set(spread["grouping"])
                else str(spread["grouping"].iloc[0]))
    kinds = ", ".join(f"{kind} {count:,} ({percent(graph.same_origin_share[kind], 0)} within "
                      f"one nationality; {percent(flat.same_origin_share[kind], 0)} with "
                      "homophily off)" for kind, count in graph.edges.items())
    blocks: list[object] = [
        Heading("The graph and how far suspicion spreads"),
        Paragraph(
            f"Ties by kind: {kinds}. With probability {settings.homophily_origin:g} a person's "
            f"ties of each kind are formed within their nationality, else with probability "
            f"{settings.homophily_language:g} among speakers of their first language. A score "
            f"adds a person's own enforcement record ({settings.seed_weight:g}) and tip "
            f"({settings.tip_weight:g}), and the same points of people one tie away (times "
            f"{settings.decay:g}) and two ties away (times {settings.decay ** 2:g}), weighted by "
            f"the ties; the top {percent(settings.capacity, 0)} are persons of interest. "
            "'Flagged per true case' divides a group's flagged people of no interest by its "
            "audited people truly of interest (a ratio of counts, given without an interval); "
            "the "
            f"last column is the share flagged among people of no interest tied to a true case, "
            f"with its {level} Wilson interval. Flags of people tied to one source rise and fall "
            "together, so this interval and every interval of the audit above are clustered by "
            "each person's strongest direct source of suspicion (an approximation: a person near "
            "two sources, or reached only two ties out, counts in one cluster or alone, which "
            f"leaves the intervals somewhat too narrow). Every group is in {SPREAD_TABLE}.csv."),
    ]
    part = spread[spread["grouping"] == grouping]
    blocks.append(Table(
        [grouping, "people", "truly of interest", "flagged, of no interest",
         "flagged per true case", f"tied to a true case: flagged ({level} CI)"],
        [[str(r["group"]), f"{int(r['people']):,}", f"{int(r['true_cases']):,}",
          f"{int(r['flagged_no_interest']):,}",
          f"{r['flagged_per_true_case']:.2f}" if np.isfinite(r["flagged_per_true_case"])
          else "—",
          f"{percent(r['tied_value'], 2)} ({percent(r['tied_ci_low'], 2)}–"
          f"{percent(r['tied_ci_high'], 2)})" if np.isfinite(r["tied_value"]) else "—"]
         for _, r in part.iterrows()],
        caption="How far suspicion spreads from the people truly of interest."))
    fpr = homophily[(homophily["grouping"] == grouping) & (homophily["metric"] == "fpr")]
    blocks += [
        Heading("The same scoring with homophily off"),
        Paragraph(
            "The same people, records and tips were scored on a second graph whose ties ignore "
            "origin and language (both homophily knobs at 0). The change in each group's false "
            f"person-of-interest rate is paired (Newcombe, {level}), as is the change in its gap "
            "to the reference (MOVER); these paired intervals treat people as independent, "
            "which flags spreading along ties are not, so they are too narrow and a change near "
            f"its bound is not evidence. Every group and rate is in {HOMOPHILY_TABLE}.csv."),
        Table([grouping, "people of no interest", "flagged, homophily as configured",
               "homophily off", f"change ({level} CI)",
               f"change in gap to reference ({level} CI)"],
              [[str(r["group"]), f"{int(r['n']):,}", percent(r["value_a"], 2),
                percent(r["value_b"], 2),
                f"{100 * r['change']:+.2f} pp ({_ci(r['change_ci_low'], r['change_ci_high'])})",
                "reference" if "reference" in str(r["flags"]) else
                f"{100 * r['disparity_change']:+.2f} pp "
                f"({_ci(r['disparity_change_ci_low'], r['disparity_change_ci_high'])})"]
               for _, r in fpr.iterrows()],
              caption="False person-of-interest rate (flagged, of people of no enforcement "
                      "interest) with homophily as configured and off."),
    ]
    return blocks


#: Design remedies as settings of this system (see experiments.engine.remedies).
REMEDY_KNOBS = {
    "raise_capacity": raised_share_capacity,
}

#: Remedies this system cannot take, and why.
REMEDIES_UNSUPPORTED = {
    **dict.fromkeys(
        MODEL_REMEDIES,
        "its suspicion score spreads enforcement records and tips through a network by fixed "
        "weights; nothing is learned from outcomes, so there is no estimator to refit or "
        "post-process"),
    "remove_biased_list": "it keeps no list or stage of its own; its bias comes from where "
                          "records and tips start and from homophily in the network",
}
