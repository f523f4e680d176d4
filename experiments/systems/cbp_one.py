"""Adapter for the CBP One-style face verifier: learn the projection from a training set whose
skin-tone composition is the knob, set one global threshold, verify the held-out people
(each makes a genuine attempt and is claimed by an impostor; the audited mix of attempts has
the assumed share of genuine ones, ``system.genuine_share``), and report false non-match and
false match rates per group, their cost in extra attempts and days (at an assumed cost per
failed attempt, ``system.days_per_failed_attempt``), a DET figure, and how the gap shrinks as
training representation evens out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from audit.figures import literal_text, new_figure, plain_log_labels, save_figure
from audit.intervals import newcombe_difference_interval, wilson_interval
from audit.report import number, percent
from experiments.config import Strict, ints_as_floats, system_seed
from experiments.config.remedies import MODEL_REMEDIES
from experiments.systems.contract import (
    Decisions,
    Hooks,
    SystemRun,
    Wording,
    decisions_only,
    own_findings,
)
from experiments.writing.claims import Claim, Ledger, from_row, setting
from experiments.writing.document import Bullets, Figure, Heading, Paragraph, Table
from synthetic.faces import FACE_DIMS, TONE_BANDS, FaceSpace, tone_band
from synthetic.systems.cbp_one import (
    SKEWED_SHARES,
    FaceVerifier,
    band_quotas,
    cosine,
    det_points,
    impostor_partners,
    order_within_bands,
    pick_by_band,
    training_shares,
)
from synthetic.systems.memo import RecentResults, content_key

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

#: Streams of SeedSequence(seed) used by this system.
TRAINING_PICK_STREAM, CALIBRATION_PAIRS_STREAM, HELD_OUT_PAIRS_STREAM, BOOTSTRAP_STREAM = (
    21, 22, 23, 24)
#: Stream of SeedSequence(seed) that picks which attempts make up the audited mix.
ATTEMPT_MIX_STREAM = 25
#: Grouping name of the tone bands in the extra tables (not a population column).
BAND_GROUPING = "skin tone band"
RATES_TABLE = "face_verification_by_group"
#: Enrolment and probe images by the face space and the people photographed: drawn from the
#: experiment's seed, they are the same in every replicate (read-only arrays).
IMAGES = RecentResults(max_entries=4)
SWEEP_TABLE = "representation_sweep"

NIST_SENTENCE = (
    "For comparison of direction only: NIST's evaluation of demographic effects in face "
    "recognition (NISTIR 8280, 2019) found, for most of the algorithms it tested, higher false "
    "match rates for some demographic groups (in many algorithms, people of West and East "
    "African and of East Asian descent) and higher false non-match rates for some groups, with "
    "the size and even the direction of the differences varying by algorithm and image "
    "quality. This toy shows the same kind of disparity arising from one mechanism, an "
    "unbalanced training set; its numbers are not an attempt to reproduce NIST's."
)


class Settings(Strict):
    """The ``[system]`` table of a CBP One face-verification experiment."""

    representation: float = Field(
        default=0.0, ge=0, le=1,
        description="training composition: 1 = tone bands equally represented, 0 = skewed")
    skewed_shares: list[float] = Field(
        default=list(SKEWED_SHARES), min_length=3, max_length=3,
        description="training shares (lighter, medium, darker) at representation 0")
    tone_specific_variation: float = Field(
        default=0.6, ge=0, le=1,
        description="share of face and capture variation specific to each tone band")
    capture_noise: float = Field(default=1.0, ge=0, le=5,
                                 description="capture variation relative to identity variation")
    training_identities: int = Field(default=1500, ge=100, le=20_000)
    captures_per_identity: int = Field(default=4, ge=2, le=20)
    embedding_dims: int = Field(default=48, ge=2, lt=FACE_DIMS)
    target_fmr: float = Field(default=0.001, gt=0, le=0.1,
                              description="overall false-match rate the threshold is set for")
    days_per_failed_attempt: float = Field(
        default=1.0, ge=0,
        description="days of waiting each failed verification costs: an assumption, not a "
                    "measurement; the headline names it")
    genuine_share: float = Field(
        default=0.5, ge=0.01, le=0.999,
        description="share of the audited verification attempts that are genuine: an "
                    "assumption; 0.5 = each held-out person's genuine attempt and one impostor "
                    "attempt on their identity; the share of rejections that are genuine "
                    "depends on it")
    representation_levels: list[float] = Field(
        default=[0.0, 0.25, 0.5, 0.75, 1.0], min_length=1, max_length=11,
        description="training compositions compared in the representation sweep")

    @field_validator("representation", "tone_specific_variation", "capture_noise",
                     "target_fmr", "days_per_failed_attempt", "genuine_share", "skewed_shares",
                     "representation_levels", mode="before")
    @classmethod
    def _ints_are_floats(cls, value: Any) -> Any:
        return ints_as_floats(value)

    @field_validator("skewed_shares")
    @classmethod
    def _shares(cls, value: list[float]) -> list[float]:
        if min(value) < 0 or abs(sum(value) - 1) > 1e-6:
            raise ValueError(f"three non-negative shares summing to 1 (lighter, medium, "
                             f"darker), like [0.8, 0.17, 0.03]; got {value}")
        return value

    @field_validator("representation_levels")
    @classmethod
    def _levels(cls, value: list[float]) -> list[float]:
        if any(not 0 <= v <= 1 for v in value):
            raise ValueError(f"every level must lie in [0, 1]; got {value}")
        return sorted(set(value))


@dataclass
class Captures:
    """Enrolment and new (probe) images of a set of people, with their tone bands and the
    impostor who claims each one's identity."""

    enrol: np.ndarray
    probe: np.ndarray
    band: np.ndarray
    partners: np.ndarray

    @classmethod
    def of(cls, space: FaceSpace, people: pd.DataFrame, rng: np.random.Generator) -> Captures:
        """Photograph ``people`` twice and pair each with an impostor of their band."""
        person_id = people["person_id"].to_numpy()
        tones = people["skin_tone"].to_numpy()
        band = tone_band(tones)

        def photograph() -> tuple[np.ndarray, np.ndarray]:
            faces = space.faces(person_id, tones)
            # Single precision: the images are kept for every refit and embedded each time.
            images = (space.captures(person_id, tones, "enrol", faces).astype(np.float32),
                      space.captures(person_id, tones, "probe", faces).astype(np.float32))
            for image in images:
                image.setflags(write=False)
            return images

        enrol, probe = IMAGES.get(content_key("images", repr(space), person_id, tones),
                                  photograph)
        return cls(enrol, probe, band, impostor_partners(band, rng))

    def similarities(self, verifier: FaceVerifier, rows: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Genuine and impostor similarities of each row (optionally of some rows only).

        ``rows`` keeps only rows whose impostor partner is also in ``rows``'s set.
        """
        enrol, probe = verifier.embed(self.enrol), verifier.embed(self.probe)
        genuine = cosine(enrol, probe)
        impostor = cosine(enrol, probe[self.partners])
        if rows is None:
            return genuine, impostor
        return genuine[rows], impostor[rows]


@dataclass
class TrainingPool:
    """Photos of every training identity any composition in the run may use, taken once."""

    orders: list[np.ndarray]
    pool_rows: np.ndarray
    images: list[np.ndarray]
    person_id: np.ndarray

    @classmethod
    def of(cls, space: FaceSpace, train_people: pd.DataFrame, band: np.ndarray,
           largest_quotas: np.ndarray, captures_per_identity: int, rng: np.random.Generator
           ) -> TrainingPool:
        orders = order_within_bands(band, rng)
        pool_rows = np.concatenate(pick_by_band(orders, largest_quotas))
        person_id = train_people["person_id"].to_numpy()[pool_rows]
        tones = train_people["skin_tone"].to_numpy()[pool_rows]
        faces = space.faces(person_id, tones)
        images = [space.captures(person_id, tones, f"train:{j}", faces, keyed_by_person=False)
                  for j in range(captures_per_identity)]
        return cls(orders, pool_rows, images, person_id)

    def training_set(self, quotas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Images, identity labels and training-split rows of one composition."""
        rows = np.concatenate(pick_by_band(self.orders, quotas))
        sorter = np.argsort(self.pool_rows)
        where = sorter[np.searchsorted(self.pool_rows, rows, sorter=sorter)]
        images = np.concatenate([captures[where] for captures in self.images])
        return images, np.tile(self.person_id[where], len(self.images)), rows


@dataclass
class Verification:
    """Outcome of one fitted verifier on the held-out attempts."""

    verifier: FaceVerifier
    shares: np.ndarray
    quotas: np.ndarray
    genuine_similarity: np.ndarray
    impostor_similarity: np.ndarray
    calibration_fmr: float

    @property
    def genuine_rejected(self) -> np.ndarray:
        """Genuine attempts rejected: false non-matches."""
        return self.genuine_similarity < self.verifier.threshold_

    @property
    def impostor_rejected(self) -> np.ndarray:
        """Impostor attempts rejected (the others are false matches)."""
        return self.impostor_similarity < self.verifier.threshold_


def verify_at(representation: float, settings: Settings, pool: TrainingPool,
              calibration: Captures, held_out: Captures) -> Verification:
    """Train the projection at one training composition, calibrate, and verify the held out.

    The training identities are prefixes of one fixed random order per band, so a more
    balanced training set differs only in how many of each band's people fill it.
    Calibration uses impostor pairs of the training split's other people.
    """
    shares = training_shares(representation, tuple(settings.skewed_shares))
    quotas = band_quotas(shares, settings.training_identities)
    images, identities, chosen = pool.training_set(quotas)
    verifier = FaceVerifier(settings.embedding_dims, settings.target_fmr).fit(images, identities)
    others = np.ones(len(calibration.band), dtype=bool)
    others[chosen] = False
    _, impostor = calibration.similarities(
        verifier, np.flatnonzero(others & others[calibration.partners]))
    verifier.calibrate(impostor)
    genuine, impostor_held = held_out.similarities(verifier)
    return Verification(verifier, shares, quotas, genuine, impostor_held,
                        float(np.mean(impostor >= verifier.threshold_)))


def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Verify the held-out people at the configured training composition and sweep the rest.

    The decisions frame has one row per verification attempt: each held-out person makes one
    genuine attempt (``y_true`` False) and is claimed by one impostor of their tone band
    (``y_true`` True); group columns are those of the person whose identity is claimed, and
    ``decision`` is "rejected".

    Faces, captures and the audited attempts are drawn from the experiment's seed; which
    training identities the vendor picks and the impostor pairs it calibrates on are the
    system's own draw (:func:`system_seed`, redrawn by each replicate).
    """
    settings = config.system_settings()
    if settings.embedding_dims >= settings.training_identities:
        raise ValueError("system.embedding_dims must be below system.training_identities")
    seed = config.experiment.seed
    vendor_seed = system_seed(config)
    space = FaceSpace(settings.tone_specific_variation, settings.capture_noise, seed)
    train_people, held_people = people.loc[train], people.loc[~train]
    calibration = Captures.of(space, train_people, np.random.default_rng(
        np.random.SeedSequence([vendor_seed, CALIBRATION_PAIRS_STREAM])))
    held_out = Captures.of(space, held_people, np.random.default_rng(
        np.random.SeedSequence([seed, HELD_OUT_PAIRS_STREAM])))

    levels = sorted({settings.representation, *settings.representation_levels})
    largest = np.max([band_quotas(training_shares(level, tuple(settings.skewed_shares)),
                                  settings.training_identities) for level in levels], axis=0)
    pool = TrainingPool.of(space, train_people, calibration.band, largest,
                           settings.captures_per_identity,
                           np.random.default_rng(np.random.SeedSequence(
                               [vendor_seed, TRAINING_PICK_STREAM])))
    # One refit per training composition; a further replicate (no findings of its own)
    # needs the configured one alone. The pool is drawn for every level all the same, so the
    # configured composition picks the same people either way.
    fitted = levels if own_findings() else [settings.representation]
    results = {level: verify_at(level, settings, pool, calibration, held_out)
               for level in fitted}
    main = results[settings.representation]

    groups = held_people[group_columns].reset_index(drop=True)
    n = len(groups)
    similarity = np.r_[main.genuine_similarity, main.impostor_similarity]
    impostor = np.r_[np.zeros(n, dtype=bool), np.ones(n, dtype=bool)]
    keep = attempt_mix(n, settings.genuine_share, np.random.default_rng(
        np.random.SeedSequence([seed, ATTEMPT_MIX_STREAM])))
    decisions = pd.concat([groups, groups], ignore_index=True).assign(
        # The identity an attempt claims: a person's own genuine attempt and the impostor
        # attempt on their identity share a face and a template, so they form one cluster.
        claimed_identity=np.r_[np.arange(n), np.arange(n)],
        y_true=impostor,
        y_recorded=impostor,  # no recorded world: who made an attempt is known exactly
        decision=np.r_[main.genuine_rejected, main.impostor_rejected],
        score=np.clip((1 - similarity) / 2, 0, 1),
    ).loc[keep].reset_index(drop=True)

    def decide_world(world: ExperimentConfig, world_people: pd.DataFrame
                     ) -> dict[str, np.ndarray]:
        # A world that changes only the training composition verifies the same faces with
        # a projection refitted at its composition (kept for the next world that asks);
        # any other change reruns.
        world_settings = world.system_settings()
        same_faces = world_settings.model_copy(
            update={"representation": settings.representation}) == settings
        level = world_settings.representation
        if same_faces and (level in results or level in levels):
            if level not in results:
                results[level] = verify_at(level, settings, pool, calibration, held_out)
            verified = results[level]
            return {"decision": np.r_[verified.genuine_rejected,
                                      verified.impostor_rejected][keep]}
        with decisions_only():  # the world's decisions, not its report tables
            rerun = run(world, world_people, train, group_columns)
        return {"decision": rerun.decided.table["decision"].to_numpy(dtype=bool)}

    hooks = Hooks(decide_twins=None, decide_world=decide_world)
    if not own_findings():  # a further replicate: its decisions and worlds are all it gives
        return SystemRun(decided=Decisions(table=decisions, unit="verification attempts",
                                           cluster="claimed_identity"),
                         wording=Wording(card=FaceVerifier.card()), hooks=hooks)
    sweep = {level: results[level] for level in settings.representation_levels}
    singles = [g[0] for g in config.audit.groupings if len(g) == 1]
    labels = {column: held_people[column].astype(str).to_numpy() for column in singles}
    labels[BAND_GROUPING] = np.asarray(TONE_BANDS)[held_out.band]
    rates = rates_by_group(labels, main, settings.days_per_failed_attempt,
                           config.audit.confidence, config.audit.suppress_below,
                           config.audit.min_count)
    boot_rng = np.random.default_rng(np.random.SeedSequence([seed, BOOTSTRAP_STREAM]))
    sweep_table = representation_sweep(sweep, held_out.band, config.audit.n_boot,
                                       config.audit.confidence, boot_rng)

    def write_extras(directory: Path) -> list[object]:
        return report_section(directory, rates, sweep_table, main, held_out.band, settings,
                              config.audit.confidence, config.audit.suppress_below)

    ledger = Ledger()
    return SystemRun(
        decided=Decisions(
            table=decisions,
            details={
                "training_people": int(settings.training_identities),
                "held_out_people": int(n),
                "verification_attempts": int(len(decisions)),
                "genuine_share_assumed": settings.genuine_share,
                "threshold": main.verifier.threshold_,
                "calibration_fmr": main.calibration_fmr,
                "training_shares": dict(zip(TONE_BANDS, main.shares.tolist(), strict=True)),
            },
            extra_tables={RATES_TABLE: rates, SWEEP_TABLE: sweep_table},
            unit="verification attempts",
            cluster="claimed_identity",
        ),
        wording=Wording(
            card=FaceVerifier.card(),
            decision_label="rejected at face verification",
            error_phrase="wrongly rejected at face verification (told they are not themselves)",
            negative_phrase=f"making a genuine attempt, in a mix of attempts assumed to be "
                             f"{100 * settings.genuine_share:g}% genuine",
            phrase_claims=[setting("wording.genuine_share", "config.system.genuine_share",
                                   settings.genuine_share, style="level", unit="share")],
            headlines=verification_headlines(rates, sweep_table, settings, ledger,
                                             config.audit.confidence),
            claims=ledger.claims,
            write_extras=write_extras,
        ),
        hooks=hooks,
    )


def verification_headlines(rates: pd.DataFrame, sweep: pd.DataFrame, settings: Settings,
                           ledger: Ledger | None = None, confidence: float = 0.95
                           ) -> list[str]:
    """Two findings: the tone gap at the configured training set, and as it evens out. The
    first finding's numbers are claims on face_verification_by_group.csv recorded in
    ``ledger``."""
    ledger = ledger if ledger is not None else Ledger()
    bands = rates[rates["grouping"] == BAND_GROUPING].set_index("group", drop=False)
    darker, lighter = bands.loc[TONE_BANDS[-1]], bands.loc[TONE_BANDS[0]]
    source, keys = f"{RATES_TABLE}.csv", ("grouping", "group")

    def claim(id: str, row: pd.Series, value: str, style: str, n: str | None = None) -> Claim:
        return ledger.add(from_row(id, row, source=source, keys=keys, value=value,
                                   ci=(f"{value}_ci_low", f"{value}_ci_high"), n=n,
                                   style=style, unit="share" if style == "percent2"
                                   else "extra days per 100 people"))

    level = ledger.add(setting("verification.level", "config.audit.confidence", confidence,
                               style="level", unit="confidence level"))
    dark, light = (claim("verification.darker", darker, "fnmr", "percent2", "genuine_attempts"),
                   claim("verification.lighter", lighter, "fnmr", "percent2",
                         "genuine_attempts"))
    dark_days, light_days = (claim("verification.darker_days", darker, "extra_days", "points1"),
                             claim("verification.lighter_days", lighter, "extra_days",
                                   "points1"))
    fmr = ledger.add(setting("verification.target_fmr", "config.system.target_fmr",
                             settings.target_fmr, unit="false match rate"))
    days = ledger.add(setting("verification.days", "config.system.days_per_failed_attempt",
                              settings.days_per_failed_attempt, unit="days"))
    per = ledger.add(setting("verification.per", "tool.people_per_figure", 100,
                             style="count", unit="people"))
    found = [ledger.sentence(
        f"People with darker skin ({TONE_BANDS[-1].split('(')[1].rstrip(')')}) were told they "
        f"were not themselves in {dark.text()} of genuine attempts, against {light.text()} for "
        f"lighter skin, at one threshold set for a {fmr.text()} false match rate. Intervals "
        f"at {level.text()}: {dark.interval()} (n = {dark.text('n')}) and "
        f"{light.interval()} (n = {light.text('n')}). Assuming each failed attempt costs "
        f"{days.text()} day(s) of waiting (an assumption of the experiment, not a "
        f"measurement), that is {dark_days.text()} extra days per {per.text()} people "
        f"({level.text()} CI {dark_days.interval()}) against {light_days.text()} "
        f"({light_days.interval()}).",
        [level, dark, light, dark_days, light_days, fmr, days, per])]
    gaps = sweep[sweep["tone_band"] == TONE_BANDS[-1]].set_index("representation")
    if len(gaps) > 1:
        sweep_keys = ("representation", "tone_band")

        def sweep_claim(id: str, row: pd.Series, value: str, style: str) -> Claim:
            gap = value == "fnmr_gap_to_lighter"
            return ledger.add(from_row(
                id, row, source=f"{SWEEP_TABLE}.csv", keys=sweep_keys, value=value,
                ci=("gap_ci_low", "gap_ci_high") if gap else None, n=None, style=style,
                unit="percentage points" if gap else "training set representation"))

        ends = [gaps.iloc[0].copy(), gaps.iloc[-1].copy()]
        for row, representation in zip(ends, (gaps.index[0], gaps.index[-1]), strict=True):
            row["representation"] = representation
        skewed, balanced = (sweep_claim(f"sweep.representation_{i}", row, "representation",
                                        "plain") for i, row in enumerate(ends))
        before, after = (sweep_claim(f"sweep.gap_{i}", row, "fnmr_gap_to_lighter",
                                     "signed_points") for i, row in enumerate(ends))
        found.append(ledger.sentence(
            f"The gap comes from the training set: moving it from representation "
            f"{skewed.text()} to {balanced.text()} (skewed to balanced by skin tone) took the "
            f"darker-lighter false non-match gap from {before.text()} to {after.text()} "
            f"percentage points ({level.text()} CIs {before.interval(' to ')} and "
            f"{after.interval(' to ')}).", [skewed, balanced, before, after, level]))
    return found


def attempt_mix(n: int, genuine_share: float, rng: np.random.Generator) -> np.ndarray:
    """Which of the ``2 n`` attempts (``n`` genuine, then ``n`` impostor) the audit counts.

    The audited mix has ``genuine_share`` genuine attempts: every attempt of the scarcer kind is
    kept, and a random subset of the other kind (at least one), drawn without replacement. At
    0.5 every attempt is kept.
    """
    keep = np.ones(2 * n, dtype=bool)
    if genuine_share == 0.5 or n == 0:
        return keep
    if genuine_share > 0.5:
        count, first = round(n * (1 - genuine_share) / genuine_share), n  # impostors thinned
    else:
        count, first = round(n * genuine_share / (1 - genuine_share)), 0  # genuine thinned
    chosen = rng.choice(n, size=min(n, max(1, count)), replace=False)
    keep[first:first + n] = False
    keep[first + chosen] = True
    return keep


def extra_attempts(fnmr: np.ndarray) -> np.ndarray:
    """Expected failed attempts before a success, ``1 / (1 - FNMR) - 1``.

    Assumes attempts fail independently with the group's false non-match rate; a person
    whose face the system consistently fails fares worse than this average.
    """
    fnmr = np.asarray(fnmr, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(fnmr < 1, fnmr / (1 - fnmr), np.inf)


def rates_by_group(labels: dict[str, np.ndarray], verification: Verification,
                   days_per_failed_attempt: float, confidence: float, suppress_below: int,
                   min_count: int) -> pd.DataFrame:
    """Per group: FNMR and FMR with Wilson intervals, and the expected extra attempts and days.

    The intervals of the extra attempts and days map the FNMR interval through the same
    increasing function.
    """
    parts = []
    for grouping, values in labels.items():
        categories, codes = np.unique(values, return_inverse=True)
        k = len(categories)
        genuine = np.bincount(codes, minlength=k)
        false_non_match = np.bincount(codes, weights=verification.genuine_rejected, minlength=k)
        impostors = genuine  # every person is claimed by exactly one impostor
        false_match = np.bincount(codes, weights=~verification.impostor_rejected, minlength=k)
        fnmr, fmr = false_non_match / genuine, false_match / impostors
        fnmr_low, fnmr_high = wilson_interval(false_non_match, genuine, confidence)
        fmr_low, fmr_high = wilson_interval(false_match, impostors, confidence)
        frame = pd.DataFrame({
            "grouping": grouping, "group": categories, "genuine_attempts": genuine,
            "fnmr": fnmr, "fnmr_ci_low": fnmr_low, "fnmr_ci_high": fnmr_high,
            "impostor_attempts": impostors,
            "fmr": fmr, "fmr_ci_low": fmr_low, "fmr_ci_high": fmr_high,
            "extra_attempts": extra_attempts(fnmr),
            "extra_attempts_ci_low": extra_attempts(fnmr_low),
            "extra_attempts_ci_high": extra_attempts(fnmr_high),
            "extra_days": days_per_failed_attempt * extra_attempts(fnmr),
            "extra_days_ci_low": days_per_failed_attempt * extra_attempts(fnmr_low),
            "extra_days_ci_high": days_per_failed_attempt * extra_attempts(fnmr_high),
            "flags": np.where(genuine < suppress_below, "suppressed",
                              np.where(genuine < min_count, "small_n", "")),
        })
        value_columns = frame.columns[3:-1]
        frame.loc[frame["flags"] == "suppressed", value_columns] = np.nan
        if grouping == BAND_GROUPING:  # lighter to darker, not alphabetical
            frame = frame.set_index("group").reindex(
                [b for b in TONE_BANDS if b in set(categories)]).reset_index()
            frame["grouping"] = grouping
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def representation_sweep(sweep: dict[float, Verification], band: np.ndarray, n_boot: int,
                         confidence: float, rng: np.random.Generator) -> pd.DataFrame:
    """FNMR and FMR per tone band at each training composition, and the FNMR gap to the
    lighter band with Newcombe's score interval (``n_boot`` and ``rng`` are not used: the
    interval is closed-form)."""
    n_bands = len(TONE_BANDS)
    parts = []
    for level, verification in sweep.items():  # one refit per level
        genuine = np.bincount(band, minlength=n_bands)
        rejected = np.bincount(band, weights=verification.genuine_rejected,
                               minlength=n_bands).astype(np.int64)
        matched = np.bincount(band, weights=~verification.impostor_rejected,
                              minlength=n_bands).astype(np.int64)
        # The bands are different people: each band's gap to the lighter band has
        # Newcombe's score interval, defined with no rejection at all too.
        gap_low, gap_high = newcombe_difference_interval(rejected, genuine, rejected[0],
                                                         genuine[0], confidence)
        gap_low[0] = gap_high[0] = np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            fnmr = rejected / genuine
            fmr = matched / genuine
        fnmr_low, fnmr_high = wilson_interval(rejected, genuine, confidence)
        fmr_low, fmr_high = wilson_interval(matched, genuine, confidence)
        parts.append(pd.DataFrame({
            "representation": level, "tone_band": TONE_BANDS,
            "training_share": verification.shares, "training_identities": verification.quotas,
            "threshold": verification.verifier.threshold_,
            "genuine_attempts": genuine, "fnmr": fnmr, "fnmr_ci_low": fnmr_low,
            "fnmr_ci_high": fnmr_high, "impostor_attempts": genuine, "fmr": fmr,
            "fmr_ci_low": fmr_low, "fmr_ci_high": fmr_high,
            "fnmr_gap_to_lighter": fnmr - fnmr[0], "gap_ci_low": gap_low,
            "gap_ci_high": gap_high,
        }))
    return pd.concat(parts, ignore_index=True)


def _rate(row: pd.Series, name: str, digits: int = 2) -> str:
    if row.get("flags") == "suppressed":
        return "suppressed"
    return (f"{percent(row[name], digits)} ({percent(row[f'{name}_ci_low'], digits)}–"
            f"{percent(row[f'{name}_ci_high'], digits)})")


def _amount(row: pd.Series, name: str) -> str:
    if row.get("flags") == "suppressed":
        return "suppressed"
    return (f"{number(row[name], 3)} ({number(row[f'{name}_ci_low'], 3)}–"
            f"{number(row[f'{name}_ci_high'], 3)})")


def report_section(directory: Path, rates: pd.DataFrame, sweep: pd.DataFrame,
                   main: Verification, band: np.ndarray, settings: Settings,
                   confidence: float, suppress_below: int = 10) -> list[object]:
    """Report blocks and figures: per-group errors and costs, DET curves, the sweep
    (intervals at ``confidence``; groups under ``suppress_below`` attempts withheld)."""
    level = f"{100 * confidence:g}%"
    shares = ", ".join(f"{name} {100 * share:.0f}%"
                       for name, share in zip(TONE_BANDS, main.shares, strict=True))
    blocks: list[object] = [
        Heading("Face verification: who is told they are not themselves, and what it costs"),
        Paragraph(
            "Each row of the audit above is a verification attempt, not a person: every "
            "held-out person makes one genuine attempt (a new photo of themselves against their "
            "enrolment photo) and is claimed once by an impostor of their own skin-tone band. "
            "The groups are those of the person whose identity is claimed. So the false "
            "positive rate above is the false non-match rate (a genuine person rejected) and "
            "the false negative rate is the false match rate (an impostor accepted); the "
            "'held-out people' in the headlines count attempts. There is no recorded world "
            "here: whether an attempt is genuine is known exactly, so the recorded outcome "
            "equals the true one and the two views coincide. The audit counts a mix of "
            f"attempts assumed to be {100 * settings.genuine_share:g}% genuine "
            "(system.genuine_share; at 50% every genuine and every impostor attempt is "
            "counted, otherwise a random subset of the commoner kind is dropped): the share of "
            "rejections that were genuine depends on that assumption, the per-group rates "
            "below do not."
        ),
        Paragraph(
            f"The projection was trained on {settings.training_identities:,} identities "
            f"({settings.captures_per_identity} photos each) composed as {shares} "
            f"(representation {settings.representation:g}); one global threshold, similarity "
            f"{main.verifier.threshold_:.3f}, was set for an overall false match rate of "
            f"{settings.target_fmr:g} on impostor pairs of the training split's other people "
            f"(achieved there: {main.calibration_fmr:.4f})."
        ),
    ]
    header = ["grouping", "group", "genuine attempts", f"FNMR ({level} CI)",
              f"FMR ({level} CI)", "expected extra attempts",
              f"expected extra days (at {settings.days_per_failed_attempt:g} per failure)"]
    shown = rates[rates["grouping"].isin([BAND_GROUPING, "region_of_origin"])]
    rows = [[r["grouping"], r["group"],
             f"<{suppress_below}" if r["flags"] == "suppressed"
             else f"{int(r['genuine_attempts']):,}",
             _rate(r, "fnmr"), _rate(r, "fmr", 3), _amount(r, "extra_attempts"),
             _amount(r, "extra_days")] for _, r in shown.iterrows()]
    blocks.append(Table(header, rows, caption=(
        "False non-match rate (FNMR: the person is wrongly told they are not themselves and "
        "loses the attempt) and false match rate (FMR: an impostor is accepted), with Wilson "
        "intervals; expected extra attempts before a success, 1/(1 − FNMR) − 1, and the days "
        "of waiting they cost, assuming attempts fail independently (every group, nationality "
        f"included, is in {RATES_TABLE}.csv).")))
    det = plot_det(main, band, settings.target_fmr, directory / "figures" / "det_by_tone.png")
    blocks.append(Figure(det, (
        "DET curves by skin-tone band: false non-match rate against false match rate as the "
        "threshold moves (log scales); the dots mark the one global threshold in use."),
        relative_to=directory))
    darker = sweep[sweep["tone_band"] == TONE_BANDS[-1]]
    sweep_rows = []
    for level_value in sorted(sweep["representation"].unique()):
        part = sweep[sweep["representation"] == level_value].set_index("tone_band")
        gap = part.loc[TONE_BANDS[-1]]
        sweep_rows.append([
            f"{level_value:g}",
            " / ".join(f"{int(part.loc[b, 'training_identities']):,}" for b in TONE_BANDS),
            *[_rate(part.loc[b], "fnmr") for b in TONE_BANDS],
            f"{100 * gap['fnmr_gap_to_lighter']:+.2f} pp ({100 * gap['gap_ci_low']:+.2f} to "
            f"{100 * gap['gap_ci_high']:+.2f})",
        ])
    first, last = darker.iloc[0], darker.iloc[-1]
    blocks += [
        Heading("Where the gap comes from: training representation", 3),
        Paragraph(
            "The faces themselves are built so that no skin-tone band is harder to verify: "
            "every band's faces vary as much, along as many directions, and its photos are as "
            "noisy. What differs is how many faces of each band the projection learned from. "
            "Refitting it at several training compositions, on the same held-out attempts, "
            f"moves the darker band's false non-match rate from {percent(first['fnmr'], 2)} "
            f"(representation {first['representation']:g}) to {percent(last['fnmr'], 2)} "
            f"(representation {last['representation']:g}); the last column is its gap to the "
            f"lighter band with a {level} Newcombe score interval."
        ),
        Table(["representation", "training identities (lighter / medium / darker)",
               *[f"FNMR, {b}" for b in TONE_BANDS], "FNMR gap, darker − lighter"],
              sweep_rows),
    ]
    path = plot_sweep(sweep, directory / "figures" / "fnmr_by_representation.png")
    blocks += [
        Figure(path, (f"False non-match rate by skin-tone band against the training "
                      f"composition (0 = skewed, 1 = balanced), with {level} Wilson intervals."),
               relative_to=directory),
        Heading("Compared with published findings", 3),
        Paragraph(NIST_SENTENCE),
        Bullets([
            "A failed verification in CBP One was reported to cost applicants the appointment "
            "they were trying to book; the extra days above are a simple translation of extra "
            f"attempts at {settings.days_per_failed_attempt:g} day(s) each, set in the "
            "experiment file.",
            "The southern-border profile draws skin tone by region, so nationalities of one "
            "region share a tone distribution; differences between them here are chance.",
        ]),
    ]
    return blocks


@literal_text
def plot_det(verification: Verification, band: np.ndarray, target_fmr: float, path: Path
             ) -> Path:
    """DET curves per tone band, with the operating point of the global threshold."""
    pooled = np.r_[verification.genuine_similarity, verification.impostor_similarity]
    thresholds = np.quantile(pooled, np.linspace(0, 1, 600))
    fig, axis = new_figure((6.2, 4.6))
    colours = ("#c9a227", "#b35806", "#542788")
    floor = 1e-5  # log axes: zero rates are drawn at the floor
    for b, name in enumerate(TONE_BANDS):
        rows = band == b
        fnmr, fmr = det_points(verification.genuine_similarity[rows],
                               verification.impostor_similarity[rows], thresholds)
        axis.plot(np.maximum(fmr, floor), np.maximum(fnmr, floor), color=colours[b], label=name)
        at_fnmr, at_fmr = det_points(verification.genuine_similarity[rows],
                                     verification.impostor_similarity[rows],
                                     np.array([verification.verifier.threshold_]))
        axis.plot(max(at_fmr[0], floor), max(at_fnmr[0], floor), "o", color=colours[b])
    axis.axvline(target_fmr, color="#b0b0b0", linestyle="--", linewidth=1,
                 label=f"target FMR {target_fmr:g}")
    axis.set_xscale("log")
    axis.set_yscale("log")
    plain_log_labels(axis.xaxis)
    plain_log_labels(axis.yaxis)
    axis.set_xlim(floor, 1)
    axis.set_ylim(floor, 1)
    axis.set_xlabel("false match rate (impostor accepted)")
    axis.set_ylabel("false non-match rate (person rejected)")
    axis.set_title("DET curves by skin-tone band", fontsize=11)
    axis.grid(color="#eeeeee")
    axis.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


@literal_text
def plot_sweep(sweep: pd.DataFrame, path: Path) -> Path:
    """FNMR per tone band against the training representation level."""
    fig, axis = new_figure((6.2, 4.0))
    colours = ("#c9a227", "#b35806", "#542788")
    for b, name in enumerate(TONE_BANDS):
        rows = sweep[sweep["tone_band"] == name]
        value = rows["fnmr"].to_numpy()
        error = np.clip(np.vstack([value - rows["fnmr_ci_low"], rows["fnmr_ci_high"] - value]),
                        0, None)
        axis.errorbar(rows["representation"], 100 * value, yerr=100 * error, fmt="o-",
                      color=colours[b], capsize=2, markersize=4, label=name)
    axis.set_xlabel("training representation (0 = skewed, 1 = balanced by tone band)")
    axis.set_ylabel("false non-match rate, %")
    axis.set_title("Who is rejected, by how the projection was trained", fontsize=11)
    axis.grid(color="#eeeeee")
    axis.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


#: Remedies this system cannot take, and why (see experiments.engine.remedies).
REMEDIES_UNSUPPORTED = {
    **dict.fromkeys(
        MODEL_REMEDIES,
        "its decision is a face-verification threshold over embeddings; the disparity comes from "
        "how each group was represented when the embedding was trained, not from labels a fairness"
        " remedy could reweigh or re-threshold by recorded outcome"),
    "raise_capacity": "it verifies everyone who books; it has no capacity",
    "remove_biased_list": "it keeps no list or stage that targets a group",
}
