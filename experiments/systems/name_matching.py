"""Adapter for watchlist screening by fuzzy name matching: draw travellers' names and the
watchlist, score every held-out traveller against the list, and report how the threshold trades
missed listed persons against false hits per name origin."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from audit.figures import literal_text, new_figure, plain_log_labels, save_figure
from audit.intervals import wilson_interval
from audit.report import percent
from experiments.config import Strict
from experiments.config.remedies import MODEL_REMEDIES
from experiments.errors import UsageError
from experiments.systems.contract import Decisions, Hooks, SystemRun, Wording
from experiments.writing.claims import Claim, Ledger, from_row, setting
from experiments.writing.document import Figure, Heading, Paragraph, Table
from experiments.writing.names import named_labels
from synthetic.names import NamePoolError, load_name_pools
from synthetic.systems.name_matching import WatchlistMatcher, draw_listed, list_shares, screen

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

#: Name of the threshold trade-off table (``threshold_tradeoff.csv``).
TRADEOFF_TABLE = "threshold_tradeoff"
#: Default composition of a targeted list, by name origin (illustrative).
TARGETED_SHARES = {"Arabic": 0.45, "Somali": 0.13, "Persian": 0.12, "Slavic": 0.12,
                   "Hispanic": 0.10, "Chinese": 0.06, "Anglo": 0.02}


class Settings(Strict):
    """The ``[system]`` table of a watchlist name-matching experiment."""

    pools: str = Field(default="", description="name-pool file (default: the shipped "
                       "synthetic/names/pools.toml)")
    list_size: int = Field(default=10_000, ge=1, le=1_000_000)
    list_composition: Literal["targeted", "proportional"] = Field(
        default="targeted", description="targeted: list_shares by name origin; proportional: "
        "as common as among the travellers")
    list_shares: dict[str, float] = Field(default_factory=lambda: dict(TARGETED_SHARES))
    listed_rate: float = Field(default=0.001, ge=0, le=0.05,
                               description="share of travellers who are listed persons")
    transliteration_variety: float = Field(
        default=0.5, ge=0, le=1, description="probability that a name part is written in any "
        "of its spellings rather than the canonical one (passport and list independently)")
    name_concentration: float = Field(
        default=1.0, ge=0, le=2, description="scales each pool's rank-frequency exponent; 0 = "
        "every name of a pool equally common")
    threshold: float = Field(default=0.9, gt=0, le=1)
    score_floor: float = Field(default=0.85, gt=0, le=1)
    weights: list[float] = Field(default=[0.35, 0.3, 0.35], min_length=3, max_length=3)
    year_tolerance: int = Field(default=1, ge=0, le=20)
    list_year_known: float = Field(default=0.8, ge=0, le=1,
                                   description="share of list entries with a year of birth")
    reference_year: int = Field(default=2025, description="year of screening: birth year = "
                                "reference_year - age")
    thresholds: list[float] = Field(
        default=[0.85, 0.875, 0.9, 0.925, 0.95, 0.975, 1.0], min_length=1,
        description="thresholds of the trade-off table, each at least score_floor")

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: list[float]) -> list[float]:
        if min(value) < 0 or abs(sum(value) - 1) > 1e-9 or value[2] == 0:
            raise ValueError(f"needs three non-negative weights (given, middle, family) summing "
                             f"to 1, the family one positive; got {value}")
        return value

    @model_validator(mode="after")
    def _floors(self) -> Settings:
        if self.threshold < self.score_floor:
            raise ValueError(f"threshold ({self.threshold}) must be at least score_floor "
                             f"({self.score_floor})")
        low = [t for t in self.thresholds if t < self.score_floor or t > 1]
        if low:
            raise ValueError(f"thresholds {low} must lie between score_floor "
                             f"({self.score_floor}) and 1")
        return self


def _matcher(settings: Settings) -> WatchlistMatcher:
    return WatchlistMatcher(threshold=settings.threshold, weights=tuple(settings.weights),
                            score_floor=settings.score_floor,
                            year_tolerance=settings.year_tolerance)


def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Screen every held-out traveller's passport name against the watchlist.

    The matcher learns nothing: its weights and threshold are set by design. The training
    split is not used, except that listed persons from either split are on the list.
    """
    settings = config.system_settings()
    seed = config.experiment.seed
    try:
        pools = load_name_pools(settings.pools or None)
        origin = pools.origin_codes(people["name_origin"].to_numpy())
    except NamePoolError as error:
        raise UsageError(f"system.pools: {error}") from None
    ids = people["person_id"].to_numpy()
    birth_year = settings.reference_year - people["age"].to_numpy(dtype=np.int64)
    held_out = ~train

    def check(world: Settings, listed: np.ndarray | None = None,
              names_of: np.ndarray | None = None, years: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, object, WatchlistMatcher]:
        # ``names_of`` and ``years``: a total twin's name origins and birth years; the list's
        # composition stays the factual travellers'.
        names_of = origin if names_of is None else names_of
        years = birth_year if years is None else years
        try:
            shares = list_shares(world.list_composition, world.list_shares, origin, pools)
            screening = screen(pools, names_of, ids, seed, birth_year=years,
                               list_size=world.list_size, shares=shares,
                               listed_rate=world.listed_rate,
                               concentration=world.name_concentration,
                               variety=world.transliteration_variety,
                               year_known=world.list_year_known, listed=listed)
        except ValueError as error:
            raise UsageError(f"system: {error}") from None
        matcher = _matcher(world).fit(*screening.list_strings(pools),
                                      screening.watchlist["birth_year"])
        score = matcher.score(*screening.passport_strings(pools, held_out), years[held_out])
        return score, screening.listed[held_out], screening, matcher

    score, listed, screening, matcher = check(settings)
    hit = score >= settings.threshold - 1e-6
    frame = people.loc[held_out]
    decisions = frame[group_columns].reset_index(drop=True).assign(
        y_true=listed, y_recorded=listed, decision=hit, score=score)
    singles = [g[0] for g in config.audit.groupings if len(g) == 1]
    tradeoff = threshold_tradeoff(decisions[singles], listed, score, settings.thresholds,
                                  config.audit.confidence, config.audit.suppress_below,
                                  config.audit.min_count)

    def decide_world(world_config: ExperimentConfig, world_people: pd.DataFrame
                     ) -> dict[str, np.ndarray]:
        # The population's record mechanisms do not reach the names; only the settings change,
        # and the listed persons stay the same people (on the list in every world).
        world_score = check(world_config.system_settings(), screening.listed)[0]
        return {"decision": world_score >= world_config.system_settings().threshold - 1e-6}

    def decide_twins(twins: pd.DataFrame, effect: str = "total") -> np.ndarray:
        from synthetic.names import PARTS, draw_names

        twin_origin = pools.origin_codes(twins["name_origin"].to_numpy())
        if effect == "direct":
            # The same traveller, birth year and listed status with the twin's name origin,
            # against the same list.
            names = draw_names(pools, twin_origin[held_out], ids[held_out], seed, "passport",
                               concentration=settings.name_concentration,
                               variety=settings.transliteration_variety)
            strings = [pools.spell(p, names[p]) for p in PARTS]
            return matcher.score(*strings, birth_year[held_out]) >= settings.threshold - 1e-6
        # A total twin also takes the birth year of the twin's age and is listed as a person
        # of the twin's origin would be (the same draw, the factual list composition), and a
        # listed twin's own list entry carries the twin's name; the other entries keep theirs.
        twin_year = settings.reference_year - twins["age"].to_numpy(dtype=np.int64)
        twin_listed = draw_listed(origin, twin_origin, ids, seed, list_shares(
            settings.list_composition, settings.list_shares, origin, pools),
            settings.listed_rate)
        twin_score = check(settings, twin_listed, twin_origin, twin_year)[0]
        return twin_score >= settings.threshold - 1e-6

    def write_extras(directory: Path) -> list[object]:
        return tradeoff_section(tradeoff, directory, singles, settings, config.audit.confidence)

    list_origin = np.bincount(screening.watchlist["origin"], minlength=len(pools.origins))
    ledger = Ledger()
    return SystemRun(
        decided=Decisions(
            table=decisions,
            details={
                "held_out_travellers": int(held_out.sum()),
                "list_entries": int(len(screening.watchlist["origin"])),
                "list_entries_by_origin": {o: int(c) for o, c in zip(pools.origins, list_origin,
                                                                     strict=True)},
                "listed_travellers_held_out": int(listed.sum()),
                "threshold": settings.threshold,
            },
            extra_tables={TRADEOFF_TABLE: tradeoff},
            unit="travellers",
        ),
        wording=Wording(
            card=WatchlistMatcher.card(),
            decision_label="referred as possible watchlist matches",
            error_phrase="referred as possible watchlist matches though they were not on the list",
            negative_phrase="not on the watchlist",
            headlines=tradeoff_headlines(tradeoff, config, ledger),
            claims=ledger.claims,
            write_extras=write_extras,
        ),
        hooks=Hooks(
            decide_twins_by_effect=decide_twins,
            decide_world=decide_world,
        ),
    )


METRICS = {
    "false_hit_rate": "referred, of travellers not on the list",
    "missed_rate": "not referred, of listed travellers",
    "misidentification_share": "not on the list, of referred travellers",
}


def threshold_tradeoff(groups: pd.DataFrame, listed: np.ndarray, score: np.ndarray,
                       thresholds: list[float], confidence: float, suppress_below: int,
                       min_count: int) -> pd.DataFrame:
    """False hits, misses and misidentified referrals per group at each threshold, with Wilson
    intervals, from counts per (group, listed, hit)."""
    parts = []
    columns = [("(all)", np.zeros(len(score), dtype=np.int64), ["(all)"])]
    for column in groups.columns:
        categorical = pd.Categorical(groups[column])
        columns.append((column, categorical.codes.astype(np.int64),
                        [str(c) for c in categorical.categories]))
    for threshold in thresholds:
        hit = score >= threshold - 1e-6
        for grouping, codes, labels in columns:  # one count per grouping, not per person
            cells = np.bincount(codes * 4 + listed.astype(np.int64) * 2 + hit,
                                minlength=len(labels) * 4).reshape(len(labels), 2, 2)
            terms = {
                "false_hit_rate": (cells[:, 0, 1], cells[:, 0].sum(axis=1)),
                "missed_rate": (cells[:, 1, 0], cells[:, 1].sum(axis=1)),
                "misidentification_share": (cells[:, 0, 1], cells[:, :, 1].sum(axis=1)),
            }
            people = cells.sum(axis=(1, 2))
            for metric, (numerator, denominator) in terms.items():
                low, high = wilson_interval(numerator, denominator, confidence)
                with np.errstate(divide="ignore", invalid="ignore"):
                    value = numerator / denominator
                flags = np.where(people < suppress_below, "suppressed",
                                 np.where(denominator == 0, "undefined",
                                          np.where(denominator < min_count, "small_n", "")))
                frame = pd.DataFrame({
                    "threshold": threshold, "grouping": grouping, "group": labels,
                    "metric": metric, "travellers": people, "numerator": numerator,
                    "denominator": denominator, "value": value, "ci_low": low,
                    "ci_high": high, "flags": flags})
                withheld = frame["flags"] == "suppressed"
                value_columns = ["numerator", "denominator", "value", "ci_low", "ci_high"]
                frame[value_columns] = frame[value_columns].astype(np.float64)
                frame.loc[withheld, value_columns] = np.nan
                parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _rate(row: pd.Series) -> str:
    if row["flags"] in ("suppressed", "undefined"):
        return row["flags"]
    return (f"{percent(row['value'], 2)} ({percent(row['ci_low'], 2)}–"
            f"{percent(row['ci_high'], 2)}; n = {int(row['denominator']):,})")


def tradeoff_headlines(tradeoff: pd.DataFrame, config: ExperimentConfig,
                       ledger: Ledger | None = None) -> list[str]:
    """What raising the threshold from the lowest to the highest below 1 does: false hits of
    the first focus group and its reference, and listed travellers missed. Every number is a
    claim on the trade-off table recorded in ``ledger``."""
    ledger = ledger if ledger is not None else Ledger()
    thresholds = sorted(t for t in set(tradeoff["threshold"]) if t < 1)
    if len(thresholds) < 2 or not config.audit.focus:
        return []
    low, high = thresholds[0], thresholds[-1]
    focus = config.audit.focus[0]
    reference = focus.reference or config.audit.reference.get(focus.grouping, "")
    rows = tradeoff.set_index(["threshold", "grouping", "group", "metric"], drop=False)
    wanted = [(t, focus.grouping, g, "false_hit_rate") for t in (low, high)
              for g in (focus.group, reference)]
    wanted += [(t, "(all)", "(all)", "missed_rate") for t in (low, high)]
    if not all(w in rows.index for w in wanted):
        return []
    source, keys = f"{TRADEOFF_TABLE}.csv", ("threshold", "grouping", "group", "metric")

    def claim(id: str, row: pd.Series) -> Claim:
        return ledger.add(from_row(id, row, source=source, keys=keys, style="percent"))

    level = ledger.add(setting("tradeoff.level", "config.audit.confidence",
                               config.audit.confidence, style="level",
                               unit="confidence level"))
    fh = {(t, g): claim(f"tradeoff.{g}.{t:g}", rows.loc[(t, focus.grouping, g,
                                                         "false_hit_rate")])
          for t in (low, high) for g in (focus.group, reference)}
    first_row = rows.loc[(low, focus.grouping, focus.group, "false_hit_rate")]
    last_row = rows.loc[(high, focus.grouping, focus.group, "false_hit_rate")]
    cuts = [ledger.add(from_row(f"tradeoff.threshold.{i}", row, source=source, keys=keys,
                                value="threshold", ci=None, n=None, style="plain",
                                unit="match threshold"))
            for i, row in enumerate((first_row, last_row))]
    claims = [level, *cuts, *fh.values()]

    def rate(c: Claim) -> str:
        return f"{c.text()} ({c.interval()}; n = {c.text('n')})"

    missed = {t: rows.loc[(t, "(all)", "(all)", "missed_rate")] for t in (low, high)}
    if all(float(missed[t]["denominator"]) > 0 for t in (low, high)):
        before, after = claim("tradeoff.missed.low", missed[low]), \
            claim("tradeoff.missed.high", missed[high])
        claims += [before, after]
        missed_words = (f"the share of listed travellers missed went from {rate(before)} to "
                        f"{rate(after)}")
    else:  # no listed traveller among those checked: the rate has nothing to count
        missed_words = ("no listed traveller was among those checked, so the share of listed "
                        "travellers missed cannot be measured")
    group_words, reference_words = _who(focus.grouping, focus.group), _who(focus.grouping,
                                                                          reference)
    return [ledger.sentence(
        f"Raising the match threshold from {cuts[0].text()} to {cuts[1].text()} cut the "
        f"false hit rate of {group_words} not on the list from "
        f"{fh[(low, focus.group)].text()} to {fh[(high, focus.group)].text()}, and of "
        f"{reference_words} from {fh[(low, reference)].text()} to "
        f"{fh[(high, reference)].text()}. With {level.text()} Wilson intervals: "
        f"{rate(fh[(low, focus.group)])} to {rate(fh[(high, focus.group)])}, and "
        f"{rate(fh[(low, reference)])} to {rate(fh[(high, reference)])}; {missed_words} "
        f"(every threshold and group in {TRADEOFF_TABLE}.csv).", claims)]


def _who(grouping: str, group: str) -> str:
    if grouping == "name_origin":
        return f"travellers with {group} names"
    if grouping == "nationality":
        return f"travellers of nationality {group}"
    return f"travellers with {grouping} {group}"


def tradeoff_section(tradeoff: pd.DataFrame, directory: Path, singles: list[str],
                     settings: Settings, confidence: float) -> list[object]:
    """Report blocks: misses against false hits by threshold, per group, and a figure."""
    level = f"{100 * confidence:g}%"
    blocks: list[object] = [
        Heading("The threshold: missed listed travellers against false hits"),
        Paragraph(
            f"Every held-out traveller's passport name was compared with each of the "
            f"{settings.list_size:,} watchlist entries (weighted similarity of given, middle "
            f"and family names; an entry with a year of birth matches only travellers born "
            f"within {settings.year_tolerance} year(s) of it). The audit above uses threshold "
            f"{settings.threshold:g}. Below, at each threshold: the false hit rate (referred, "
            "of travellers not on the list), the missed rate (not referred, of listed "
            "travellers) and the share of referrals that are misidentifications, each with "
            f"its {level} Wilson interval. Listed travellers are few, so their missed rate "
            "carries wide intervals; a cell marked small_n rests on fewer than the audit's "
            f"minimum count. Every group is in {TRADEOFF_TABLE}.csv."),
    ]
    grouping = "name_origin" if "name_origin" in singles else (singles or ["(all)"])[0]
    part = tradeoff[tradeoff["grouping"].isin(["(all)", grouping])]
    indexed = part.set_index(["threshold", "grouping", "group", "metric"])
    groups = list(dict.fromkeys(part.loc[part["grouping"] == grouping, "group"]))
    header = ["threshold", "missed (all)", "misidentified referrals (all)",
              *[f"false hits: {g}" for g in groups]]
    rows = []
    for threshold in sorted(set(part["threshold"])):
        cells = [f"{threshold:g}",
                 _rate(indexed.loc[(threshold, "(all)", "(all)", "missed_rate")]),
                 _rate(indexed.loc[(threshold, "(all)", "(all)", "misidentification_share")])]
        cells += [_rate(indexed.loc[(threshold, grouping, g, "false_hit_rate")])
                  for g in groups]
        rows.append(cells)
    blocks.append(Table(header, rows, caption=(
        f"Missed listed travellers and misidentified referrals (all travellers), and false hit "
        f"rates by {grouping}, at each threshold.")))
    path = plot_tradeoff(tradeoff, grouping, directory / "figures" / "threshold_tradeoff.png")
    blocks.append(Figure(path, (
        f"False hit rate by {grouping} (log scale) and share of listed travellers missed, "
        f"against the threshold, with {level} Wilson intervals."), relative_to=directory))
    return blocks


@literal_text
def plot_tradeoff(tradeoff: pd.DataFrame, grouping: str, path: Path) -> Path:
    """False hit rate per group and missed rate overall against the threshold."""
    fig, (left, right) = new_figure((10, 4), 1, 2)
    rows = tradeoff[(tradeoff["grouping"] == grouping)
                    & (tradeoff["metric"] == "false_hit_rate")
                    & ~tradeoff["flags"].isin(["suppressed", "undefined"])]
    for group, part in rows.groupby("group", sort=False):
        part = part.sort_values("threshold")
        line, = left.plot(part["threshold"], 100 * part["value"], marker="o", markersize=3,
                          label=named_labels([group])[0])
        left.fill_between(part["threshold"], 100 * part["ci_low"], 100 * part["ci_high"],
                          color=line.get_color(), alpha=0.15, linewidth=0)
    left.set_yscale("symlog", linthresh=0.01)
    plain_log_labels(left.yaxis, linthresh=0.01)
    left.set_xlabel("threshold")
    left.set_ylabel("% of travellers not on the list referred")
    left.set_title(f"False hit rate by {grouping}", fontsize=10)
    left.legend(fontsize=7, frameon=False)
    missed = tradeoff[(tradeoff["grouping"] == "(all)") & (tradeoff["metric"] == "missed_rate")
                      ].sort_values("threshold")
    right.plot(missed["threshold"], 100 * missed["value"], marker="o", markersize=3,
               color="#b03a2e")
    right.fill_between(missed["threshold"], 100 * missed["ci_low"], 100 * missed["ci_high"],
                       color="#b03a2e", alpha=0.15, linewidth=0)
    right.set_ylim(0, 100)
    right.set_xlabel("threshold")
    right.set_ylabel("% of listed travellers missed")
    right.set_title("Listed travellers missed (all)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


#: Remedies this system cannot take, and why (see experiments.engine.remedies).
REMEDIES_UNSUPPORTED = {
    **dict.fromkeys(
        MODEL_REMEDIES,
        "its hits are fuzzy name-similarity scores against a watchlist; nothing is learned from "
        "outcomes, so there is no estimator to refit or post-process"),
    "raise_capacity": "it screens every traveller; it has no capacity",
    "remove_biased_list": "its watchlist is the world it screens against; removing it would remove"
                          " the system",
}
