"""Adapter for the origin checks of asylum applicants (dialect identification and phone data):
simulate who the applicants truly are, train the dialect identifier on a reference corpus,
check every held-out applicant's stated origin, and report the three outcomes per group."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from audit.figures import literal_text, new_figure, save_figure
from audit.intervals import newcombe_difference_interval, wilson_interval
from audit.levels import audit_levels
from audit.report import percent
from experiments.config import Strict, system_seed
from experiments.config.remedies import MODEL_REMEDIES
from experiments.errors import UsageError
from experiments.systems.contract import Decisions, Hooks, SystemRun, Wording, own_findings
from experiments.writing.claims import Claim, Ledger, from_row, setting
from experiments.writing.document import Figure, Heading, Paragraph, Table
from experiments.writing.names import named_labels
from synthetic.systems.bamf_origin import (
    CONTRADICTS,
    LEVELS,
    MAJORITY,
    MINORITY,
    Applicants,
    DialectIdentifier,
    OriginWorldError,
    PhoneAnalysis,
    combine,
    corpus_mask,
    load_origin_world,
    recorded_false_origin,
    simulate_applicants,
)

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

#: Columns the adapter derives per person, which groupings may name.
DERIVED_COLUMNS = ("home_area", "language_status", "route_of_flight", "home_region",
                   "claimed_origin")
#: Name of the table of outcome shares (``origin_check_levels.csv``).
LEVELS_TABLE = "origin_check_levels"
#: Name of the audit of the combined finding's cut-offs (``origin_check_cutoffs.csv``).
CUTOFFS_TABLE = "origin_check_cutoffs"
#: The file of the comparison of minority- and majority-language speakers' contradictions.
LANGUAGE_STATUS_TABLE = "language_status_contradictions.csv"
INSTRUMENTS = {"combined": "combined finding", "dialect": "dialect identification",
               "phone": "phone-data analysis"}


class Settings(Strict):
    """The ``[system]`` table of an origin-check experiment."""

    world: str = Field(default="", description="origin-check world (file stem in "
                       "synthetic/profiles/origin_checks/ or a .toml path); default: the "
                       "population profile's name")
    false_claim_rate: float = Field(default=0.03, ge=0, le=0.5,
                                    description="share of applicants whose stated origin is "
                                    "false, the same in every group")
    corpus_share: float = Field(default=0.2, gt=0, le=1, description="share of the training "
                                "split recorded for the dialect reference corpus")
    corpus_representation: float = Field(
        default=0.3, ge=0, le=1, description="how often speakers of minority languages and of "
        "varieties spoken across a border enter the corpus, relative to others (1 = as often)")
    dialect_verdict: Literal["country", "variety"] = Field(
        default="country", description="judge the stated country by the regions of the "
        "country (country) or by the varieties spoken in it (variety)")
    dialect_confirm_at: float = Field(default=0.7, gt=0, le=1)
    dialect_contradict_below: float = Field(default=0.2, ge=0, lt=1)
    phone_counts_transit: bool = Field(
        default=True, description="traces in the country of the route of flight count as "
        "evidence of origin")
    phone_confirm_at: float = Field(default=0.5, gt=0, le=1)
    phone_contradict_below: float = Field(default=0.2, ge=0, lt=1)
    phone_contradict_other: float = Field(default=0.4, gt=0, le=1)
    phone_min_traces: int = Field(default=10, ge=0)

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> Settings:
        for name in ("dialect", "phone"):
            low = getattr(self, f"{name}_contradict_below")
            high = getattr(self, f"{name}_confirm_at")
            if not low < high:
                raise ValueError(f"{name}_contradict_below ({low}) must be below "
                                 f"{name}_confirm_at ({high})")
        return self


def _world_name(config: ExperimentConfig, settings: Settings) -> str:
    return settings.world or Path(str(config.population.profile)).stem


def _instruments(settings: Settings) -> tuple[DialectIdentifier, PhoneAnalysis]:
    return (DialectIdentifier(verdict=settings.dialect_verdict,
                              confirm_at=settings.dialect_confirm_at,
                              contradict_below=settings.dialect_contradict_below),
            PhoneAnalysis(counts_transit=settings.phone_counts_transit,
                          confirm_at=settings.phone_confirm_at,
                          contradict_below=settings.phone_contradict_below,
                          contradict_other=settings.phone_contradict_other,
                          min_traces=settings.phone_min_traces))


def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Check the stated origin of every held-out applicant with both instruments.

    The dialect identifier learns from a reference corpus recorded from the training split
    (true home regions as labels); the phone analysis has nothing to learn.

    The applicants' speech, phones and claims are drawn from the experiment's seed; who is
    recorded for the reference corpus is the system's own draw (:func:`system_seed`, redrawn
    by each replicate). The discriminant itself fits without randomness.
    """
    settings = config.system_settings()
    seed = config.experiment.seed
    corpus_seed = system_seed(config)
    try:
        world = load_origin_world(_world_name(config, settings))
        applicants = simulate_applicants(people, world, seed, settings.false_claim_rate)
    except OriginWorldError as error:
        raise UsageError(f"system.world: {error}") from None
    held_out = people.loc[~train]
    checked = applicants.subset(~train)
    claimed = checked.table["claimed_origin"].to_numpy(dtype=str)
    corpora: dict[tuple[float, float], np.ndarray] = {}

    def reference_corpus(world_settings: Settings) -> np.ndarray:
        # Who is recorded depends on the corpus settings alone: the worlds that change the
        # verdict rule or the phone analysis share it.
        share = (world_settings.corpus_share, world_settings.corpus_representation)
        if share not in corpora:
            corpora[share] = corpus_mask(applicants, people, corpus_seed, *share) & train
        return corpora[share]

    # The checks of the held-out applicants under each instrument's settings: a world reruns
    # only the instrument its knobs change (the applicants are the same in every world).
    dialect_checks: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = {}
    phone_checks: dict[tuple[object, ...], np.ndarray] = {}

    def check(world_settings: Settings) -> dict[str, np.ndarray]:
        dialect, phone = _instruments(world_settings)
        corpus = reference_corpus(world_settings)
        dialect_key = (world_settings.corpus_share, world_settings.corpus_representation,
                       repr(sorted(dialect.get_params().items())))
        if dialect_key not in dialect_checks:
            try:
                dialect.fit(applicants.speech[corpus], applicants.region[corpus], world)
            except ValueError as error:
                raise UsageError(f"system.corpus_share: {error} by raising system.corpus_share "
                                 "or population.size") from None
            dialect_checks[dialect_key] = dialect.verify(checked.speech, claimed,
                                                         checked.recording_usable)
        dialect_code, support = dialect_checks[dialect_key]
        phone_key = repr(sorted(phone.get_params().items()))
        if phone_key not in phone_checks:
            phone_checks[phone_key] = phone.verify(checked, held_out, world)
        phone_code = phone_checks[phone_key]
        return {"dialect": dialect_code, "phone": phone_code,
                "combined": combine(dialect_code, phone_code), "support": support,
                "corpus_size": np.array([int(corpus.sum())])}

    found = check(settings)
    finding = found["combined"]
    derived = {c: checked.table[c].reset_index(drop=True) for c in DERIVED_COLUMNS}
    columns = {c: (held_out[c].reset_index(drop=True) if c in held_out.columns else derived[c])
               for c in group_columns}
    decisions = pd.DataFrame(columns).assign(
        y_true=checked.table["false_claim"].to_numpy(),
        y_recorded=recorded_false_origin(checked, held_out, world, finding, seed),
        decision=finding == CONTRADICTS,
        score=1.0 - found["support"],
    )
    singles = [g[0] for g in config.audit.groupings if len(g) == 1]

    def decide_world(world_config: ExperimentConfig, world_people: pd.DataFrame
                     ) -> dict[str, np.ndarray]:
        # The population's mechanisms do not reach the checks; only the settings change.
        return {"decision": check(world_config.system_settings())["combined"] == CONTRADICTS}

    def decide_twins(twins: pd.DataFrame, effect: str = "total") -> np.ndarray:
        if effect == "direct":
            # Only the stated nationality changes: the applicant's voice, phone traces, home
            # region and route stay their own, and a truthful applicant now states the twin's
            # nationality (a false claim stays the claim it was).
            twin_checked = direct_twin_applicants(checked, held_out, twins.loc[~train])
            return check_twin(twin_checked, held_out)
        # A total twin regenerates what follows from nationality, the traces included.
        twin_checked = simulate_applicants(twins, world, seed,
                                           settings.false_claim_rate).subset(~train)
        return check_twin(twin_checked, twins.loc[~train])

    def check_twin(twin_checked: Applicants, traces_of: pd.DataFrame) -> np.ndarray:
        dialect, phone = _instruments(settings)
        corpus = reference_corpus(settings)
        dialect.fit(applicants.speech[corpus], applicants.region[corpus], world)
        twin_claimed = twin_checked.table["claimed_origin"].to_numpy(dtype=str)
        dialect_code, _ = dialect.verify(twin_checked.speech, twin_claimed,
                                         twin_checked.recording_usable)
        phone_code = phone.verify(twin_checked, traces_of, world)
        return combine(dialect_code, phone_code) == CONTRADICTS

    hooks = Hooks(decide_twins_by_effect=decide_twins, decide_world=decide_world)
    if not own_findings():  # a further replicate: its decisions and worlds are all it gives
        return SystemRun(decided=Decisions(table=decisions),
                         wording=Wording(card=DialectIdentifier.card()), hooks=hooks)
    levels, cutoffs = level_shares(decisions, found, singles, config)
    ledger = Ledger()

    def write_extras(directory: Path) -> list[object]:
        return levels_section(levels, directory, singles, config.audit.confidence)

    overall = {INSTRUMENTS[k]: {name: float(np.mean(found[k] == i))
                                for i, name in enumerate(LEVELS)} for k in INSTRUMENTS}
    headlines = level_headlines(levels, decisions, config.audit.confidence, ledger)
    return SystemRun(
        decided=Decisions(
            table=decisions,
            details={
                "world": world.name,
                "held_out_applicants": int(len(held_out)),
                "reference_corpus_recordings": int(found["corpus_size"][0]),
                "false_claim_share": float(decisions["y_true"].mean()),
                "outcome_shares": overall,
            },
            extra_tables={LEVELS_TABLE: levels, CUTOFFS_TABLE: cutoffs,
                          # rows a headline computed, which its claims cite
                          **{name.removesuffix(".csv"): pd.DataFrame(rows)
                             for name, rows in ledger.tables.items()}},
        ),
        wording=Wording(
            card=DialectIdentifier.card(),
            decision_label="contradicted by the origin check",
            error_phrase="contradicted by the origin check though their stated origin was true",
            negative_phrase="whose stated origin was true",
            headlines=headlines,
            claims=ledger.claims,
            write_extras=write_extras,
        ),
        hooks=hooks,
    )


def direct_twin_applicants(checked: Applicants, people: pd.DataFrame, twins: pd.DataFrame
                           ) -> Applicants:
    """The checked applicants with only their stated nationality changed to their twin's.

    Parameters
    ----------
    checked : Applicants
        The factual applicants checked (held-out rows).
    people, twins : DataFrame
        The same rows of the factual and the twin population.

    Returns
    -------
    Applicants
        Speech, phone traces, home region and route as in ``checked``; a truthful applicant's
        ``claimed_origin`` is the twin's nationality, a false claim is unchanged.
    """
    table = checked.table.copy()
    truthful = ~table["false_claim"].to_numpy(dtype=bool)
    factual = people["nationality"].astype(str).to_numpy()
    twin = twins["nationality"].astype(str).to_numpy()
    claimed = table["claimed_origin"].to_numpy(dtype=str).astype(object)
    claimed[truthful & (twin != factual)] = twin[truthful & (twin != factual)]
    table["claimed_origin"] = claimed.astype(str)
    return Applicants(table, checked.region, checked.speech, checked.recording_usable,
                      checked.phone)


def level_shares(decisions: pd.DataFrame, found: dict[str, np.ndarray], singles: list[str],
                 config: ExperimentConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shares of confirms / unusable / contradicts per group and instrument, with Wilson
    intervals, overall and by each single grouping; and the combined finding audited as an
    ordered decision (:func:`audit.levels.audit_levels`), one binary audit per cut-off.

    Returns
    -------
    shares : DataFrame
        One row per (instrument, grouping, group, level).
    cutoffs : DataFrame
        The audit table of each cut-off of the combined finding ("at least unusable":
        not confirmed; "contradicts"), with a ``cutoff`` column.
    """
    settings = config.audit
    frame = decisions[singles].assign(**{"(all)": "(all)"},
                                      y_true=decisions["y_true"].to_numpy())
    parts = []
    cutoffs = pd.DataFrame()
    for key, label in INSTRUMENTS.items():
        frame["outcome"] = np.asarray(LEVELS, dtype=object)[found[key]]
        if key == "combined":
            result = audit_levels(frame, ["(all)", *singles], "y_true", "outcome", LEVELS,
                                  confidence=settings.confidence, n_boot=settings.n_boot,
                                  min_count=settings.min_count,
                                  suppress_below=settings.suppress_below,
                                  reference=settings.reference,
                                  random_state=config.experiment.seed)
            shares = result.shares
            cutoffs = pd.concat([r.table.assign(cutoff=name) for name, r in
                                 result.cutoffs.items()], ignore_index=True)
            cutoffs = cutoffs[["cutoff", *[c for c in cutoffs.columns if c != "cutoff"]]]
        else:
            shares = _level_shares(frame, ["(all)", *singles], found[key], settings.confidence)
        shares.insert(0, "instrument", label)
        parts.append(shares)
    table = pd.concat(parts, ignore_index=True)
    table["flags"] = np.where(table["n"] < settings.suppress_below, "suppressed",
                              np.where(table["n"] < settings.min_count, "small_n", ""))
    withheld = table["flags"] == "suppressed"
    table.loc[withheld, ["count", "share", "ci_low", "ci_high"]] = np.nan
    return table, cutoffs


def _level_shares(frame: pd.DataFrame, groups: list[str], codes: np.ndarray,
                  confidence: float) -> pd.DataFrame:
    """Each group's share in each level, with Wilson intervals (the layout of
    :attr:`audit.levels.LevelsResult.shares`)."""
    parts = []
    n_levels = len(LEVELS)
    for column in groups:
        categorical = pd.Categorical(frame[column])
        labels = [str(c) for c in categorical.categories]
        counts = np.bincount(categorical.codes.astype(np.int64) * n_levels + codes,
                             minlength=len(labels) * n_levels).reshape(len(labels), n_levels)
        n = counts.sum(axis=1, keepdims=True)
        low, high = wilson_interval(counts, n, confidence)
        parts.append(pd.DataFrame({
            "grouping": column, "group": np.repeat(labels, n_levels),
            "level": np.tile(LEVELS, len(labels)), "n": np.repeat(n[:, 0], n_levels),
            "count": counts.ravel(), "share": (counts / np.maximum(n, 1)).ravel(),
            "ci_low": low.ravel(), "ci_high": high.ravel()}))
    return pd.concat(parts, ignore_index=True)


def _share(row: pd.Series, level: str) -> str:
    return (f"{percent(row['share'])} ({level} CI {percent(row['ci_low'])}–"
            f"{percent(row['ci_high'])})")


def level_headlines(levels: pd.DataFrame, decisions: pd.DataFrame, confidence: float,
                    ledger: Ledger | None = None) -> list[str]:
    """The three outcomes overall, and the harmful error by language status. The first
    sentence's numbers, every one with its Wilson interval, are claims on
    origin_check_levels.csv recorded in ``ledger``."""
    ledger = ledger if ledger is not None else Ledger()
    overall = levels[levels["grouping"] == "(all)"]
    keys = ("instrument", "grouping", "group", "level")

    def claim(instrument: str, outcome: str) -> Claim:
        row = overall[(overall["instrument"] == INSTRUMENTS[instrument])
                      & (overall["level"] == outcome)].iloc[0]
        return ledger.add(from_row(f"levels.{instrument}.{outcome}", row,
                                   source=f"{LEVELS_TABLE}.csv", keys=keys, value="share",
                                   n="n", style="percent1"))

    outcomes = ("confirms", "unusable", "contradicts")
    combined = [claim("combined", o) for o in outcomes]
    phone = [claim("phone", o) for o in outcomes]
    level_claim = ledger.add(setting("levels.level", "config.audit.confidence", confidence,
                                     style="level", unit="confidence level"))
    found = [ledger.sentence(
        f"Of the {combined[0].text('n')} applicants checked, the combined origin check "
        f"confirmed the stated origin of {combined[0].text()}, could not be used for "
        f"{combined[1].text()} and contradicted {combined[2].text()}. Their "
        f"{level_claim.text()} Wilson intervals are {combined[0].interval()}, "
        f"{combined[1].interval()} and {combined[2].interval()}; the phone-data analysis "
        f"alone confirmed {phone[0].text()} ({phone[0].interval()}), could not be used for "
        f"{phone[1].text()} ({phone[1].interval()}) and contradicted {phone[2].text()} "
        f"({phone[2].interval()}).", [*combined, *phone, level_claim])]
    truthful = ~decisions["y_true"].to_numpy(dtype=bool)
    if "language_status" not in decisions.columns:
        return found
    contradicted = decisions["decision"].to_numpy(dtype=bool) & truthful
    labels = decisions["language_status"].astype(str).to_numpy()
    x = [int(contradicted[labels == g].sum()) for g in (MINORITY, MAJORITY)]
    m = [int((truthful & (labels == g)).sum()) for g in (MINORITY, MAJORITY)]
    if min(m) == 0:
        return found
    low, high = newcombe_difference_interval(x[0], m[0], x[1], m[1], confidence)
    rates = [wilson_interval(x[i], m[i], confidence) for i in range(2)]
    # The comparison is computed here from the decisions; its rows are written beside the
    # run's tables so that each number the sentence prints cites one.
    rows = ledger.tables.setdefault(LANGUAGE_STATUS_TABLE, [])
    status_keys = ("language_status", "metric")

    def rate_claim(i: int, status: str) -> Claim:
        row = {"language_status": status, "metric": "contradicted_though_truthful",
               "value": x[i] / m[i], "ci_low": float(rates[i][0]),
               "ci_high": float(rates[i][1]), "contradicted": x[i], "truthful": m[i]}
        rows.append(row)
        return ledger.add(from_row(f"language_status.{status}", row,
                                   source=LANGUAGE_STATUS_TABLE, keys=status_keys, n="truthful",
                                   style="percent1"))

    minority, majority = rate_claim(0, MINORITY), rate_claim(1, MAJORITY)
    row = {"language_status": f"{MINORITY} - {MAJORITY}", "metric": "difference",
           "value": x[0] / m[0] - x[1] / m[1], "ci_low": float(low), "ci_high": float(high),
           "contradicted": None, "truthful": None}
    rows.append(row)
    gap = ledger.add(from_row("language_status.difference", row, source=LANGUAGE_STATUS_TABLE,
                              keys=status_keys, n=None, style="signed_points1",
                              unit="percentage points"))
    inconclusive = "; the data cannot tell whether the rates differ" if low <= 0 <= high else ""
    found.append(ledger.sentence(
        f"Truthful applicants speaking a minority language of their country were contradicted "
        f"at a rate of {minority.text()} ({level_claim.text()} Wilson interval "
        f"{minority.interval()}; n = {minority.text('n')}), against {majority.text()} "
        f"({majority.interval()}; n = {majority.text('n')}) for those speaking a majority "
        f"language: {gap.text()} percentage points ({level_claim.text()} Newcombe interval "
        f"{gap.interval(' to ')}){inconclusive}.", [minority, majority, gap, level_claim]))
    return found


def levels_section(levels: pd.DataFrame, directory: Path, singles: list[str],
                   confidence: float) -> list[object]:
    """Report blocks: the three outcomes of each instrument, by group, and a figure."""
    level = f"{100 * confidence:g}%"
    blocks: list[object] = [
        Heading("Confirms, unusable, contradicts"),
        Paragraph(
            "Each held-out applicant's stated origin was checked by the dialect identifier and "
            "by the phone-data analysis; the combined finding contradicts when one report "
            "contradicts and the other does not confirm, confirms when one confirms and "
            "neither contradicts, and is unusable otherwise. The shares below carry "
            f"{level} Wilson intervals; every instrument, grouping and group is in "
            f"{LEVELS_TABLE}.csv. The audit above treats 'contradicts' as the decision and a "
            "false stated origin as the truth, so its false positive rate is the share of "
            "truthful applicants contradicted; the same audit of 'not confirmed' (unusable or "
            f"contradicts), with every rate, gap and interval, is in {CUTOFFS_TABLE}.csv."),
    ]
    header = ["grouping", "group", "applicants", *[f"combined: {x}" for x in LEVELS],
              "dialect: contradicts", "phone: contradicts"]
    rows = []
    shown = ["(all)", *[g for g in ("home_area", "language_status", "nationality")
                        if g in singles]]
    indexed = levels.set_index(["instrument", "grouping", "group", "level"])
    for grouping in shown:
        part = levels[(levels["grouping"] == grouping)
                      & (levels["instrument"] == INSTRUMENTS["combined"])]
        for group in dict.fromkeys(part["group"]):
            first = indexed.loc[(INSTRUMENTS["combined"], grouping, group, LEVELS[0])]
            if first["flags"] == "suppressed":
                rows.append([grouping, group, "suppressed", *["—"] * 5])
                continue
            cells = [_share(indexed.loc[(INSTRUMENTS["combined"], grouping, group, x)], level)
                     for x in LEVELS]
            singles_cells = [percent(indexed.loc[(INSTRUMENTS[k], grouping, group,
                                                  "contradicts"), "share"])
                             for k in ("dialect", "phone")]
            rows.append([grouping, group, f"{int(first['n']):,}", *cells, *singles_cells])
    blocks.append(Table(header, rows, caption=(
        "Outcome shares of the combined origin finding (with Wilson intervals), and the share "
        "each instrument alone contradicted, among all held-out applicants (truthful or not).")))
    grouping = "nationality" if "nationality" in singles else (singles or ["(all)"])[0]
    path = plot_levels(levels, grouping, directory / "figures" / "origin_check_levels.png")
    blocks.append(Figure(path, (
        f"Shares of the combined finding by {grouping}: confirms, unusable, contradicts "
        f"(their {level} Wilson intervals are in {LEVELS_TABLE}.csv)."), relative_to=directory))
    return blocks


@literal_text
def plot_levels(levels: pd.DataFrame, grouping: str, path: Path) -> Path:
    """Stacked bars of the combined finding's three outcomes per group."""
    part = levels[(levels["grouping"] == grouping) & (levels["flags"] != "suppressed")
                  & (levels["instrument"] == INSTRUMENTS["combined"])]
    wide = part.pivot(index="group", columns="level", values="share")[list(LEVELS)]
    wide = wide.sort_values("contradicts")
    fig, axis = new_figure((8, max(2.5, 0.35 * len(wide) + 1.2)))
    left = np.zeros(len(wide))
    colours = {"confirms": "#4a7c59", "unusable": "#bbbbbb", "contradicts": "#b03a2e"}
    for name in LEVELS:
        values = 100 * wide[name].to_numpy()
        axis.barh(range(len(wide)), values, left=left, color=colours[name], label=name)
        left += values
    axis.set_yticks(range(len(wide)), named_labels(wide.index), fontsize=8)
    axis.set_xlabel("% of held-out applicants")
    axis.set_xlim(0, 100)
    axis.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.18),
                ncol=len(LEVELS))
    axis.set_title(f"Origin check findings by {grouping}", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


#: Remedies this system cannot take, and why (see experiments.engine.remedies).
REMEDIES_UNSUPPORTED = {
    **dict.fromkeys(
        MODEL_REMEDIES,
        "its verdicts come from fixed dialect and phone-trace rules with confirm and contradict "
        "cut-offs; nothing is learned from recorded outcomes of people for the model remedies to "
        "refit or post-process"),
    "raise_capacity": "it checks every applicant; it has no capacity",
    "remove_biased_list": "it keeps no list; its errors come from under-represented varieties in "
                          "its corpus",
}
