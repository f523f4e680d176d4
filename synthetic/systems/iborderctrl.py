"""iBorderCtrl-style "deception detection": a virtual border guard scores a traveller's
demeanour and flags those it rates deceptive.

A camera-based interview reads "micro-expression" channels (gaze aversion, smiling, blink
rate, speech rate, response latency, head movement) and combines them with the vendor's cue
weights, a folk theory of what liars do. The threshold is calibrated on a small pilot, as the
EU-funded pilot's lab study was (about 30 people, half instructed to lie), and applied at a
border where deceivers are rare. See ``iborderctrl.md`` for its card.

What the channels carry, each a knob of :func:`demeanour`:

* cultural display rules (``cultural_baselines``): how people of each region behave, truthful,
  in a stressful official interview (profile table ``[demeanour_baselines]``);
* interpreter use (``interpreter_effect``): interpreted interviews add pauses and break eye
  contact;
* the setting (``setting_stress``): fear of people asking for protection;
* the truth (``truth_signal``): by default none: deceivers behave like everyone else.

The truth, known only to the simulation, is :func:`true_deception`: a draw per traveller at
the base rate, independent of everything about them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from synthetic.population.columns import in_values, text_values
from synthetic.population.noise import normal_from_uniform, person_uniforms
from synthetic.systems.base import read_card
from synthetic.systems.memo import RecentResults, content_key

#: Channels the interview reads, in standard units.
CHANNELS = ("gaze_aversion", "smiling", "blink_rate", "speech_rate", "response_latency",
            "head_movement")
#: The vendor's cue weights: the folk theory that liars avert their gaze, smile less, blink
#: more, speak slowly, hesitate and fidget (illustrative; no published weights exist).
CUE_WEIGHTS = (1.0, -0.5, 0.5, -0.5, 1.0, 0.5)
#: Profile tables the system reads.
BASELINE_TABLE = "demeanour_baselines"
INTERVIEW_TABLE = "interviews"
#: Visa type whose holders ask for protection at the border (the stressful setting).
PROTECTION_TYPE = "international protection applicant"
#: Columns of a person the system reads.
FEATURE_COLUMNS = ("person_id", "region_of_origin", "first_language", "speaks_english",
                   "visa_type")
#: Labels of the derived interpreter column.
INTERPRETED, NOT_INTERPRETED = "interpreted", "not interpreted"


@dataclass(frozen=True)
class DemeanourTables:
    """What a population profile says about demeanour in an interview.

    Attributes
    ----------
    by_region : dict
        Region -> shift of each channel (truthful travellers), shape ``(len(CHANNELS),)``.
    interpreter, protection_applicant : ndarray
        Shift of each channel for interpreted interviews, and for people asking protection.
    interview_languages : tuple of str
        Languages the avatar speaks; others who do not speak English need an interpreter.
    """

    by_region: dict[str, np.ndarray]
    interpreter: np.ndarray
    protection_applicant: np.ndarray
    interview_languages: tuple[str, ...]

    @classmethod
    def from_profile(cls, raw: dict, profile: str) -> DemeanourTables:
        """Read and check ``[demeanour_baselines]`` and ``[interviews]``.

        Raises
        ------
        ValueError
            Naming the profile, the table and the key, and the way out.
        """
        where = f"profile {profile!r}"
        for table in (BASELINE_TABLE, INTERVIEW_TABLE):
            if not isinstance(raw.get(table), dict):
                raise ValueError(
                    f"{where} has no [{table}] table, which the iborderctrl system reads; use "
                    "profile 'eu_border_travellers' or add the table (see that profile)")
        rows = {}
        for key, value in raw[BASELINE_TABLE].items():
            if key == "source":
                continue
            if not isinstance(value, dict) or set(value) != set(CHANNELS) or not all(
                    isinstance(v, int | float) for v in value.values()):
                raise ValueError(f"{where}: [{BASELINE_TABLE}].{key} must give a number for "
                                 f"each of {', '.join(CHANNELS)}")
            rows[key] = np.array([float(value[c]) for c in CHANNELS])
        for key in ("interpreter", "protection_applicant"):
            if key not in rows:
                raise ValueError(f"{where}: [{BASELINE_TABLE}] needs {key} = {{ ... }}")
        languages = raw[INTERVIEW_TABLE].get("languages")
        if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
            raise ValueError(f"{where}: [{INTERVIEW_TABLE}].languages must list the languages "
                             "the interview is held in")
        interpreter, protection = rows.pop("interpreter"), rows.pop("protection_applicant")
        return cls(rows, interpreter, protection, tuple(languages))

    def interpreted(self, people: pd.DataFrame) -> np.ndarray:
        """Whether each person is interviewed through an interpreter."""
        own = in_values(people["first_language"], self.interview_languages)
        return ~own & ~people["speaks_english"].to_numpy(dtype=bool)

    def region_shift(self, people: pd.DataFrame) -> np.ndarray:
        """Each person's cultural baseline, shape ``(n, len(CHANNELS))``; a region the table
        does not name has none."""
        region = pd.Categorical(people["region_of_origin"])
        lookup = np.vstack([self.by_region.get(str(r), np.zeros(len(CHANNELS)))
                            for r in region.categories] + [np.zeros(len(CHANNELS))])
        return lookup[region.codes]


def true_deception(people: pd.DataFrame, seed: int, base_rate: float) -> np.ndarray:
    """Whether each traveller is truly deceiving (known only to the simulation).

    A draw at ``base_rate`` from the person's own uniform: independent of origin, language,
    travel status and everything else.
    """
    if not 0 < base_rate < 1:
        raise ValueError(f"base_rate must lie in (0, 1), got {base_rate}")
    return person_uniforms(seed, people["person_id"].to_numpy(), "iborderctrl:deceptive") \
        < base_rate


def demeanour(
    people: pd.DataFrame,
    tables: DemeanourTables,
    deceptive: np.ndarray,
    seed: int,
    *,
    cultural_baselines: float = 1.0,
    interpreter_effect: float = 1.0,
    setting_stress: float = 1.0,
    truth_signal: float = 0.0,
    setting: str = "border",
) -> np.ndarray:
    """The channels the interview reads, shape ``(n, len(CHANNELS))``.

    Each channel is the person's cultural baseline (times ``cultural_baselines``), plus the
    interpreter's shift if interpreted (times ``interpreter_effect``), plus the shift of asking
    for protection at the border (times ``setting_stress``; never in the lab), plus, for a
    deceiver, ``truth_signal`` standard units along the vendor's cue direction, plus the
    person's own standard normal noise per channel (keyed by ``setting`` and person, so the
    same person in the same setting reads the same).
    """
    if setting not in ("border", "lab"):
        raise ValueError(f"setting must be 'border' or 'lab', got {setting!r}")
    noise = _channel_noise(people["person_id"].to_numpy(), seed, setting)
    direction = np.asarray(CUE_WEIGHTS) / np.linalg.norm(CUE_WEIGHTS)
    features = noise + cultural_baselines * tables.region_shift(people)
    features += interpreter_effect * np.outer(tables.interpreted(people), tables.interpreter)
    if setting == "border":
        protection = text_values(people["visa_type"]) == PROTECTION_TYPE
        features += setting_stress * np.outer(protection, tables.protection_applicant)
    features += truth_signal * np.outer(np.asarray(deceptive, dtype=np.float64), direction)
    return features


#: Each person's own channel noise, by the people, seed and setting: every attribution world
#: and replicate interviews the same people in the same setting and reads the same noise.
NOISE = RecentResults(max_entries=4)


def _channel_noise(person_id: np.ndarray, seed: int, setting: str) -> np.ndarray:
    """Standard normal noise per person and channel, shape ``(n, len(CHANNELS))``; the same
    array (read-only) for the same people, seed and setting."""
    def draw() -> np.ndarray:
        noise = np.column_stack([
            normal_from_uniform(person_uniforms(seed, person_id, f"iborderctrl:{setting}:{c}"))
            for c in CHANNELS])  # one column per channel, vectorised over people
        noise.flags.writeable = False
        return noise

    return NOISE.get(content_key(person_id, seed, setting), draw)


class DeceptionDetector(BaseEstimator):
    """Weighted cue score, with a threshold calibrated on a pilot.

    Parameters
    ----------
    cue_weights : tuple of float
        Weight of each channel in :data:`CHANNELS` (the vendor's model); the score is the
        weighted sum divided by the weights' norm, so it is standard normal for a traveller
        with no shift.

    Attributes
    ----------
    threshold_ : float
        Score at or above which a traveller is flagged: the pilot's score quantile that
        flags as many pilot participants as were instructed to lie.
    pilot_size_, pilot_correct_ : int
        Pilot participants, and how many the calibrated rule classified correctly.
    pilot_accuracy_ : float
        In-sample accuracy on the pilot, as a lab study would report it.
    """

    card_name = "iborderctrl"

    def __init__(self, cue_weights: tuple[float, ...] = CUE_WEIGHTS) -> None:
        self.cue_weights = cue_weights

    def score(self, features: np.ndarray) -> np.ndarray:
        """Deception score of each row of channels."""
        weights = np.asarray(self.cue_weights, dtype=np.float64)
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != len(weights):
            raise ValueError(f"features must have {len(weights)} columns ({', '.join(CHANNELS)}),"
                             f" got shape {features.shape}")
        if not np.any(weights):
            raise ValueError("cue_weights are all zero; give at least one non-zero weight")
        return features @ weights / np.linalg.norm(weights)

    def fit(self, features: np.ndarray, instructed_to_lie: np.ndarray) -> DeceptionDetector:
        """Calibrate the threshold on a pilot: flag as many as were instructed to lie."""
        instructed = np.asarray(instructed_to_lie, dtype=bool)
        if len(instructed) < 2 or instructed.all() or not instructed.any():
            raise ValueError("the pilot needs at least one participant instructed to lie and "
                             "one telling the truth")
        scores = self.score(features)
        liars = int(instructed.sum())
        # The liars-th highest pilot score: exactly that many pilot participants are flagged
        # (ties aside).
        self.threshold_ = float(np.sort(scores)[len(scores) - liars])
        flagged = scores >= self.threshold_
        self.pilot_size_ = int(len(scores))
        self.pilot_correct_ = int((flagged == instructed).sum())
        self.pilot_accuracy_ = self.pilot_correct_ / self.pilot_size_
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Flagged as deceptive or not."""
        check_is_fitted(self, "threshold_")
        return self.score(features) >= self.threshold_

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """The score mapped to [0, 1] by the normal distribution (not a calibrated probability)."""
        return special.ndtr(self.score(features))

    @classmethod
    def card(cls) -> str:
        """The system's card (Markdown)."""
        return read_card(cls.card_name)


def pilot_rows(people: pd.DataFrame, tables: DemeanourTables, size: int, region: str,
               balance: float, rng: np.random.Generator) -> np.ndarray:
    """Row positions of the pilot's participants.

    A share ``1 - balance`` comes from ``region``, interviewed without an interpreter and not
    asking for protection (an unbalanced lab sample); the rest from everyone.

    Raises
    ------
    ValueError
        When there are fewer such people than the pilot needs.
    """
    if not 0 <= balance <= 1:
        raise ValueError(f"pilot balance must lie in [0, 1], got {balance}")
    like = ((text_values(people["region_of_origin"]) == region)
            & ~tables.interpreted(people)
            & (text_values(people["visa_type"]) != PROTECTION_TYPE))
    n_like = int(round((1 - balance) * size))
    pool = np.flatnonzero(like)
    if len(pool) < n_like or len(people) < size:
        raise ValueError(f"the pilot needs {n_like:,} people from {region!r} interviewed without "
                         f"an interpreter, but the first split has {len(pool):,}; enlarge the "
                         "population or shrink the pilot")
    chosen = rng.choice(pool, size=n_like, replace=False)
    rest = np.setdiff1d(np.arange(len(people)), chosen)
    others = rng.choice(rest, size=size - n_like, replace=False)
    return np.sort(np.concatenate([chosen, others]))


def expected_precision(tpr: np.ndarray | float, fpr: np.ndarray | float,
                       base_rate: np.ndarray | float) -> np.ndarray:
    """Share of flags that fall on deceivers at a base rate, by Bayes' rule.

    ``tpr * p / (tpr * p + fpr * (1 - p))``; NaN where nobody would be flagged.
    """
    tpr, fpr, p = (np.asarray(x, dtype=np.float64) for x in (tpr, fpr, base_rate))
    hits, false = tpr * p, fpr * (1 - p)
    total = hits + false
    return np.divide(hits, total, out=np.full(np.broadcast(hits, false).shape, np.nan),
                     where=total > 0)
