"""Adapter for the Risk Classification Assessment-style detention tool: run the configured
version (by default without its release branch, as changed in 2017), run the other version on
the same people, and report the change as a difference with bootstrap intervals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from audit.figures import literal_text, new_figure, save_figure
from audit.intervals import (
    paired_difference_interval,
    wilson_interval,
)
from audit.paired import paired_counts, world_contrasts
from audit.report import percent
from experiments.config import Strict
from experiments.config.remedies import MODEL_REMEDIES
from experiments.systems.contract import Decisions, Hooks, SystemRun, Wording
from experiments.writing.claims import Claim, Ledger, derived, from_row, setting
from experiments.writing.document import Figure, Heading, Paragraph, Table
from experiments.writing.names import named_labels
from synthetic.systems.detention_rca import (
    DETAIN,
    RECOMMENDATIONS,
    RELEASE,
    RiskClassificationAssessment,
    recorded_risk,
    true_risk,
)

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

#: Name of the before/after table (``release_branch_change.csv``).
CHANGE_TABLE = "release_branch_change"
#: Stream of SeedSequence(seed) for the selection-adjusted interval's resamples.
CHANGE_BOOTSTRAP_STREAM = 11


class Settings(Strict):
    """The ``[system]`` table of a Risk Classification Assessment experiment."""

    release_branch: bool = Field(
        default=False, description="whether the tool may recommend release (false: as of 2017)")
    supervisor_band: bool = Field(
        default=True, description="medium risk refers the case to a supervisor")
    public_safety_cuts: list[int] = Field(
        default=[2, 8], min_length=2, max_length=2,
        description="points at which public-safety risk becomes medium and high")
    flight_risk_cuts: list[int] = Field(
        default=[4, 6], min_length=2, max_length=2,
        description="points at which flight risk becomes medium and high")

    @field_validator("public_safety_cuts", "flight_risk_cuts")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if not 0 < value[0] < value[1]:
            raise ValueError(f"needs two increasing positive points, like [2, 8]; got {value}")
        return value


def _version(release_branch: bool) -> str:
    return "with release branch" if release_branch else "without release branch"


def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Score the held-out people with both versions of the tool; audit the configured one.

    The training split is the historical caseload that sets the score's percentile scale;
    the points and cut-offs themselves are fixed, not learned.
    """
    settings = config.system_settings()
    seed = config.experiment.seed
    system = RiskClassificationAssessment(
        release_branch=settings.release_branch, supervisor_band=settings.supervisor_band,
        public_safety_cuts=tuple(settings.public_safety_cuts),
        flight_risk_cuts=tuple(settings.flight_risk_cuts),
    )
    caseload = people.loc[train]
    system.fit(caseload)
    held_out = people.loc[~train]
    truth = true_risk(held_out, seed)
    with_branch = system.recommend(held_out, release_branch=True)
    without_branch = system.recommend(held_out, release_branch=False)
    configured = with_branch if settings.release_branch else without_branch
    decisions = held_out[group_columns].reset_index(drop=True).assign(
        y_true=truth,
        y_recorded=recorded_risk(held_out),
        decision=configured == DETAIN,
        score=system.risk_score(held_out),
    )
    singles = [g[0] for g in config.audit.groupings if len(g) == 1]
    change = release_branch_change(
        decisions[singles], truth, with_branch, without_branch,
        confidence=config.audit.confidence, suppress_below=config.audit.suppress_below,
        min_count=config.audit.min_count,
    )

    def decide_twins(twins: pd.DataFrame) -> np.ndarray:
        return system.recommend(twins.loc[~train]) == DETAIN

    def decide_world(world: ExperimentConfig, world_people: pd.DataFrame
                     ) -> dict[str, np.ndarray]:
        # A world's records set both the caseload's percentile scale and the scores.
        world_settings = world.system_settings()
        tool = RiskClassificationAssessment(
            release_branch=world_settings.release_branch,
            supervisor_band=world_settings.supervisor_band,
            public_safety_cuts=tuple(world_settings.public_safety_cuts),
            flight_risk_cuts=tuple(world_settings.flight_risk_cuts),
        ).fit(world_people.loc[train])
        recommended = tool.recommend(world_people.loc[~train],
                                     release_branch=world_settings.release_branch)
        return {"decision": recommended == DETAIN}

    def selected_interval(group: str, compared: int) -> tuple[float, float]:
        # The group is named for the largest rise among ``compared``: its interval is made
        # simultaneous over them (Bonferroni), from the paired decisions of both versions.
        paired = paired_counts(decisions["nationality"].astype(str).to_numpy(),
                               np.column_stack([with_branch == DETAIN, without_branch == DETAIN]),
                               {"y_true": truth}, group_order=[group])
        result = world_contrasts(
            paired, {group: 1.0}, [[-1.0, 1.0]], metric="fpr", n_boot=config.audit.n_boot,
            confidence=1 - (1 - config.audit.confidence) / compared,
            random_state=np.random.default_rng(np.random.SeedSequence(
                [seed, CHANGE_BOOTSTRAP_STREAM, 1])))
        return float(result.ci_low[0]), float(result.ci_high[0])

    def write_extras(directory: Path) -> list[object]:
        return change_section(change, directory, singles, config.audit.confidence,
                              settings.release_branch)

    ledger = Ledger()
    found = change_headlines(change, selected_interval if "nationality" in decisions.columns
                             else None, ledger, config.audit.confidence)
    shares = {
        _version(branch): {name: float(np.mean(codes == i))
                           for i, name in enumerate(RECOMMENDATIONS)}
        for branch, codes in ((True, with_branch), (False, without_branch))
    }
    return SystemRun(
        decided=Decisions(
            table=decisions,
            details={
                "training_people": int(len(caseload)),
                "held_out_people": int(len(held_out)),
                "audited_version": _version(settings.release_branch),
                "recommendation_shares": shares,
                "true_risk_prevalence": float(truth.mean()),
            },
            extra_tables={CHANGE_TABLE: change,
                          # rows a headline computed, which its claims cite
                          **{name.removesuffix(".csv"): pd.DataFrame(rows)
                             for name, rows in ledger.tables.items()}},
        ),
        wording=Wording(
            card=system.card(),
            decision_label="recommended for detention",
            error_phrase="recommended for detention though they posed neither flight risk nor "
                          "danger",
            negative_phrase="posing neither flight risk nor danger",
            headlines=found,
            claims=ledger.claims,
            write_extras=write_extras,
        ),
        hooks=Hooks(
            decide_twins=decide_twins,
            decide_world=decide_world,
        ),
    )


#: The file holding the selection-adjusted interval a headline quotes.
SELECTED_TABLE = "selected_change"


def change_headlines(change: pd.DataFrame,
                     selected_interval: Callable[[str, int], tuple[float, float]] | None = None,
                     ledger: Ledger | None = None, confidence: float = 0.95) -> list[str]:
    """Two findings on the removal: overall, and the nationality it moved most.

    That nationality is selected by rank, so its sentence says so and quotes an interval made
    simultaneous over the nationalities compared (``selected_interval(group, compared)``,
    written as a row of selected_change.csv); without one it quotes none. Every number is a
    claim on release_branch_change.csv or that row, recorded in ``ledger``.
    """
    ledger = ledger if ledger is not None else Ledger()
    source, keys = f"{CHANGE_TABLE}.csv", ("grouping", "group", "metric")
    wrongful = change[change["metric"] == "wrongful_detention_rate"]
    overall = wrongful[wrongful["grouping"] == "(all)"].iloc[0]

    def claim(id: str, row: pd.Series, value: str, ci: tuple[str, str] | None = None,
              n: str | None = None, style: str = "percent1") -> Claim:
        return ledger.add(from_row(id, row, source=source, keys=keys, value=value, ci=ci,
                                   n=n, style=style,
                                   unit="share" if style.startswith("percent")
                                   else "percentage points", interval_kind="paired"))

    level = ledger.add(setting("change.level", "config.audit.confidence", confidence,
                               style="level", unit="confidence level"))
    before = claim("change.before", overall, "before", n="denominator_before")
    after = claim("change.after", overall, "after")
    rise = claim("change.difference", overall, "difference", ("diff_ci_low", "diff_ci_high"),
                 style="signed_points1")
    found = [ledger.sentence(
        f"Removing the release branch raised the share of people posing neither flight risk "
        f"nor danger whom the tool recommended for detention from {before.text()} to "
        f"{after.text()}. That is {rise.text()} percentage points ({level.text()} CI "
        f"{rise.interval(' to ')}, paired on the same people; n = {before.text('n')}).",
        [level, before, after, rise])]
    usable = wrongful[(wrongful["grouping"] == "nationality") & (wrongful["flags"] == "")]
    if not usable.empty:
        top = usable.loc[usable["difference"].idxmax()]
        release = change[(change["grouping"] == "nationality") & (change["group"] == top["group"])
                         & (change["metric"] == "release_rate")].iloc[0]
        compared = len(usable)
        count = ledger.add(derived("change.compared", compared, source=source,
                                   source_row={"grouping": "nationality",
                                               "metric": "wrongful_detention_rate",
                                               "flags": ""}, unit="nationalities"))
        released = claim("change.top_release", release, "before")
        top_rise = claim("change.top_difference", top, "difference", n="denominator_before",
                         style="signed_points1")
        overall_rise = claim("change.overall_difference", overall, "difference",
                             style="signed_points1")
        claims = [level, count, released, top_rise, overall_rise]
        if selected_interval is not None:
            low, high = selected_interval(str(top["group"]), compared)
            row = {"grouping": "nationality", "group": str(top["group"]),
                   "metric": "wrongful_detention_rate", "difference": float(top["difference"]),
                   "ci_low": low, "ci_high": high, "compared": compared,
                   "confidence": 1 - (1 - confidence) / compared}
            ledger.tables.setdefault(f"{SELECTED_TABLE}.csv", []).append(row)
            selected = ledger.add(from_row("change.top_selected", row,
                                           source=f"{SELECTED_TABLE}.csv", keys=keys,
                                           value="difference", n=None,
                                           style="signed_points1",
                                           unit="percentage points",
                                           interval_kind="simultaneous"))
            claims.append(selected)
            bounds = (f"{level.text()} CI adjusted for selection among {count.text()} "
                      f"nationalities {selected.interval(' to ')}")
        else:
            bounds = "no interval adjusted for that selection is available"
        found.append(ledger.sentence(
            f"Of the {count.text()} nationalities compared, the largest rise was for people "
            f"from {top['group']}, {released.text()} of whom the tool had recommended for "
            f"release. Their wrongful detention recommendations rose by {top_rise.text()} "
            f"percentage points ({bounds}; n = {top_rise.text('n')}), against "
            f"{overall_rise.text()} overall; the nationality was selected for having the "
            "largest rise.", claims))
    return found


def _rates(counts: np.ndarray) -> dict[str, tuple[np.ndarray, ...]]:
    """Numerators and denominators of each metric, before and after, from paired counts.

    ``counts[..., true risk, recommendation before, recommendation after]``; "before" is the
    version with the release branch, "after" the one without.
    """
    before = counts.sum(axis=-1)          # (..., true risk, before)
    after = counts.sum(axis=-2)           # (..., true risk, after)
    everyone = counts.sum(axis=(-1, -2, -3))
    out: dict[str, tuple[np.ndarray, ...]] = {}
    for label, table in (("before", before), ("after", after)):
        out[f"release_rate|{label}"] = (table[..., RELEASE].sum(axis=-1), everyone)
        out[f"detention_rate|{label}"] = (table[..., DETAIN].sum(axis=-1), everyone)
        out[f"wrongful_detention_rate|{label}"] = (table[..., 0, DETAIN],
                                                   table[..., 0, :].sum(axis=-1))
        out[f"detained_posing_neither|{label}"] = (table[..., 0, DETAIN],
                                                   table[..., DETAIN].sum(axis=-1))
    return out


#: Rates whose people are the same under both versions: which true risks the rate is over
#: and which recommendation it counts.
PAIRED_CELLS = {
    "release_rate": ((0, 1), RELEASE),
    "detention_rate": ((0, 1), DETAIN),
    "wrongful_detention_rate": ((0,), DETAIN),
}


def _discordant(counts: np.ndarray, risks: tuple[int, ...], code: int
                ) -> tuple[np.ndarray, ...]:
    """People counted by the rate under both versions, before only, after only, neither.

    ``counts[group, true risk, recommendation before, recommendation after]``.
    """
    over = counts[:, list(risks)].sum(axis=1)
    hit_before = over[:, code, :].sum(axis=1)
    both = over[:, code, code]
    only_before = hit_before - both
    only_after = over[:, :, code].sum(axis=1) - both
    neither = over.sum(axis=(1, 2)) - both - only_before - only_after
    return both, only_before, only_after, neither


METRIC_TITLES = {
    "release_rate": "recommended for release",
    "detention_rate": "recommended for detention",
    "wrongful_detention_rate": ("recommended for detention, of those posing neither flight "
                                "risk nor danger"),
    "detained_posing_neither": ("posing neither flight risk nor danger, of those recommended "
                                "for detention"),
}


#: Shorter titles for the figure's panels.
PANEL_TITLES = {
    "release_rate": "recommended for release",
    "wrongful_detention_rate": "detention recommended, posing neither risk",
}


def release_branch_change(
    groups: pd.DataFrame,
    truth: np.ndarray,
    with_branch: np.ndarray,
    without_branch: np.ndarray,
    *,
    confidence: float = 0.95,
    suppress_below: int = 10,
    min_count: int = 30,
) -> pd.DataFrame:
    """Rates with and without the release branch per group, and the change, with intervals.

    The same people are scored by both versions, so the change is paired: each group's
    people are counted over (true risk, recommendation with the branch, recommendation
    without it), 18 cells. Rates carry Wilson intervals; the change (after minus before) of
    a rate over the same people has Newcombe's paired score interval from the discordant
    counts (:func:`audit.intervals.paired_difference_interval`). The share posing neither
    risk among those recommended for detention is over different people in each version:
    its change gets no interval.

    Parameters
    ----------
    groups : DataFrame
        One column per grouping, one row per person.
    truth : array of bool
        Truly a flight risk or a danger.
    with_branch, without_branch : array of int
        Recommendation codes of the two versions.
    confidence : float
        Interval coverage.
    suppress_below, min_count : int
        Groups smaller than ``suppress_below`` are withheld; smaller than ``min_count``,
        flagged ``small_n``.

    Returns
    -------
    DataFrame
        One row per (grouping, group, metric): ``people``, ``before`` (with the release
        branch) and ``after`` (without it) with their denominators and intervals, and
        ``difference`` (after minus before) with its interval, and ``flags``.
    """
    n_codes = len(RECOMMENDATIONS)
    cell = (truth.astype(np.int64) * n_codes + with_branch) * n_codes + without_branch
    parts = []
    columns = [("(all)", np.zeros(len(truth), dtype=np.int64), ["(all)"])]
    for column in groups.columns:
        categorical = pd.Categorical(groups[column])
        columns.append((column, categorical.codes.astype(np.int64),
                        [str(c) for c in categorical.categories]))
    for grouping, codes, labels in columns:  # one pass per grouping, not per person
        size = 2 * n_codes * n_codes
        counts = np.bincount(codes * size + cell, minlength=len(labels) * size).reshape(
            len(labels), 2, n_codes, n_codes)
        point = _rates(counts)
        people = counts.sum(axis=(1, 2, 3))
        for metric in METRIC_TITLES:
            numerator_b, denominator_b = point[f"{metric}|before"]
            numerator_a, denominator_a = point[f"{metric}|after"]
            with np.errstate(divide="ignore", invalid="ignore"):
                before = numerator_b / denominator_b
                after = numerator_a / denominator_a
            if metric in PAIRED_CELLS:
                # Both versions are judged on the same people: the change rests on those whose
                # recommendation moved, and its interval is the instrument's paired one.
                diff_low, diff_high = paired_difference_interval(
                    *_discordant(counts, *PAIRED_CELLS[metric]), confidence)
            else:
                # Its denominator (those recommended for detention) differs between the two
                # versions, so no paired interval of the change exists; none is claimed.
                diff_low = diff_high = np.full(len(labels), np.nan)
            low_b, high_b = wilson_interval(numerator_b, denominator_b, confidence)
            low_a, high_a = wilson_interval(numerator_a, denominator_a, confidence)
            flags = np.where(people < suppress_below, "suppressed",
                             np.where(np.minimum(denominator_b, denominator_a) < min_count,
                                      "small_n", ""))
            undefined = (denominator_b == 0) | (denominator_a == 0)
            flags = np.where(undefined & (flags == ""), "undefined", flags)
            frame = pd.DataFrame({
                "grouping": grouping, "group": labels, "metric": metric, "people": people,
                "denominator_before": denominator_b, "before": before,
                "before_ci_low": low_b, "before_ci_high": high_b,
                "denominator_after": denominator_a, "after": after,
                "after_ci_low": low_a, "after_ci_high": high_a,
                "difference": after - before, "diff_ci_low": diff_low,
                "diff_ci_high": diff_high, "flags": flags,
            })
            withheld = frame["flags"] == "suppressed"
            value_columns = [c for c in frame.columns
                             if c not in ("grouping", "group", "metric", "people", "flags")]
            frame[value_columns] = frame[value_columns].astype(np.float64)
            frame.loc[withheld, value_columns] = np.nan
            parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _interval(row: pd.Series, prefix: str) -> str:
    if row["flags"] == "suppressed":
        return "suppressed"
    value = row[prefix]
    low = row[f"{prefix}_ci_low" if prefix != "difference" else "diff_ci_low"]
    high = row[f"{prefix}_ci_high" if prefix != "difference" else "diff_ci_high"]
    if prefix == "difference":
        return (f"{100 * value:+.1f} pp ({100 * low:+.1f} to {100 * high:+.1f})"
                if np.isfinite(value) else "—")
    return f"{percent(value)} ({percent(low)}–{percent(high)})"


def change_section(change: pd.DataFrame, directory: Path, singles: list[str],
                   confidence: float, audited_with_branch: bool) -> list[object]:
    """Report blocks and a figure: the tool with and without its release branch."""
    level = f"{100 * confidence:g}%"
    blocks: list[object] = [
        Heading("With and without the release branch"),
        Paragraph(
            "The same held-out people were scored by both versions of the tool: the original "
            "one, which could recommend release, and the one changed in 2017, which turns every "
            "'release' into 'detain'. The audit above covers the version "
            f"{_version(audited_with_branch)}. Each rate carries its {level} Wilson "
            f"interval; the change (without minus with the branch, in percentage points) a "
            f"{level} paired score interval (Newcombe) from the people whose recommendation "
            "changed, as the same people are scored twice. Every group and metric is in "
            f"{CHANGE_TABLE}.csv."
        ),
    ]
    shown = [g for g in ["(all)", *singles] if g != "nationality"] or ["(all)"]
    header = ["grouping", "group", "people", "release: with branch", "release: without",
              "wrongful detention: with branch", "wrongful detention: without",
              "change in wrongful detention"]
    rows = []
    for grouping in shown:
        part = change[change["grouping"] == grouping]
        release = part[part["metric"] == "release_rate"].set_index("group")
        wrongful = part[part["metric"] == "wrongful_detention_rate"].set_index("group")
        for group in release.index:
            r, w = release.loc[group], wrongful.loc[group]
            rows.append([grouping, group, f"{int(r['people']):,}", _interval(r, "before"),
                         _interval(r, "after"), _interval(w, "before"), _interval(w, "after"),
                         _interval(w, "difference")])
    blocks.append(Table(header, rows, caption=(
        "Release recommendations, and wrongful detention recommendations (recommended for "
        "detention, of those posing neither flight risk nor danger), with and without the "
        "release branch.")))
    figure_grouping = "nationality" if "nationality" in singles else (singles or ["(all)"])[0]
    path = plot_change(change, figure_grouping, directory / "figures" / "release_branch.png")
    blocks.append(Figure(path, (
        f"Share recommended for release and share of people posing neither flight risk nor "
        f"danger recommended for detention, by {figure_grouping}, with the release branch "
        f"(open circles) and without it (filled), with {level} Wilson intervals."),
        relative_to=directory))
    return blocks


@literal_text
def plot_change(change: pd.DataFrame, grouping: str, path: Path) -> Path:
    """Two panels: release rate and wrongful detention rate, before and after, per group."""
    part = change[(change["grouping"] == grouping) & (change["flags"] != "suppressed")]
    metrics = ("release_rate", "wrongful_detention_rate")
    order = (part[part["metric"] == metrics[0]].sort_values("before")["group"].tolist())
    fig, axes = new_figure((9.5, max(2.5, 0.3 * len(order) + 1.3)), 1, 2, sharey=True)
    position = {group: i for i, group in enumerate(order)}
    for axis, metric in zip(axes, metrics, strict=True):
        rows = part[part["metric"] == metric]
        y = rows["group"].map(position).to_numpy(dtype=float)
        for label, style, offset in (("before", "o", -0.12), ("after", "o", 0.12)):
            value = rows[label].to_numpy()
            error = np.clip(np.vstack([value - rows[f"{label}_ci_low"],
                                       rows[f"{label}_ci_high"] - value]), 0, None)
            axis.errorbar(100 * value, y + offset, xerr=100 * error, fmt=style, capsize=2,
                          markersize=5, color="#1f4e79",
                          markerfacecolor="white" if label == "before" else "#1f4e79",
                          label="with release branch" if label == "before"
                          else "without release branch")
        axis.set_title(PANEL_TITLES[metric], fontsize=9)
        axis.set_xlabel("%")
        axis.set_xlim(-2, 102)
        axis.grid(axis="x", color="#eeeeee")
    axes[0].set_yticks(range(len(order)), named_labels(order), fontsize=8)
    axes[0].legend(fontsize=7, frameon=False, loc="lower right")
    fig.suptitle(f"The tool with and without its release branch, by {grouping}", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


#: Design remedies as settings of this system (see experiments.engine.remedies): the 2017 change
#: that removed the release recommendation is undone.
REMEDY_KNOBS = {
    "remove_biased_list": lambda config: {"system.release_branch": True},
}

#: Remedies this system cannot take, and why.
REMEDIES_UNSUPPORTED = {
    **dict.fromkeys(
        MODEL_REMEDIES,
        "it is a points-based tool with fixed cut-offs; nothing is learned from outcomes, so "
        "there is no estimator to refit or post-process"),
    "raise_capacity": "it recommends for every person; it has no capacity",
}
