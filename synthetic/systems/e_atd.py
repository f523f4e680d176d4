"""Electronic alternatives to detention: scheduled voice and selfie check-ins whose failures
become recorded violations.

People released into an ISAP-style programme must check in on a schedule (weekly by default)
for months: a phone call in which a speaker verifier compares their voice with their enrolment
and a speech recogniser checks a spoken answer, and a selfie matched against their enrolment
photo. A check-in passes when one attempt passes all three; a person who cannot get through
after the allowed retries, or who never called, is recorded as having missed the check-in: a
violation. See ``e_atd.md`` for the card.

Where errors come from, each a knob of :class:`CheckInVerifier`:

* the voice model's training mix (``representation``): speech varieties with a smaller share
  of its training speech are verified and recognised worse (a lower genuine score and more
  recognition failures);
* recording conditions (``conditions_effect``): background noise and phone quality of where
  a person lives and works (profile table ``[recording_conditions]``);
* the selfie check (``face_tone_gap``): more false non-matches for darker skin tones.

The truth, known only to the simulation: whether a person truly called at each check-in
(:class:`CheckInNoise`), drawn from a per-person propensity that depends on nothing about them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from synthetic.population.noise import normal_from_uniform, person_uniforms
from synthetic.systems.base import read_card

#: Profile tables the system reads.
SPEECH_TABLE = "speech_varieties"
CONDITIONS_TABLE = "recording_conditions"
#: Columns of a person the system reads.
FEATURE_COLUMNS = ("person_id", "first_language", "dialect", "neighbourhood",
                   "employer_sector", "skin_tone")
#: Name of the exported person-level column: recorded violations over the period.
VIOLATIONS_COLUMN = "recorded_atd_violations"

#: The truth: a share of people are irregular callers; the rest almost never miss
#: (illustrative; studies of people released pending their hearings report that most attend).
IRREGULAR_SHARE = 0.10
IRREGULAR_MISS = 0.05
REGULAR_MISS = 0.002


def _probit(p: float | np.ndarray) -> np.ndarray:
    return special.ndtri(np.clip(p, 1e-12, 1 - 1e-12))


def _lookup(labels: np.ndarray, table: dict[str, float]) -> np.ndarray:
    """``table[label]`` for every label, one lookup per distinct label."""
    distinct, inverse = np.unique(labels, return_inverse=True)
    return np.array([table[label] for label in distinct], dtype=np.float64)[inverse]


@dataclass(frozen=True)
class SpeechTables:
    """What a population profile says about its people's voices and calls.

    Attributes
    ----------
    accent_of : dict
        Dialect label (``"Spanish (Caribbean)"``) or first language -> accent group.
    default_accent : str
        Accent group of a language the table does not name.
    training_share : dict
        Accent group -> share of the voice model's training speech at ``representation = 0``.
    housing_noise, work_noise : dict
        Neighbourhood and employer sector -> noise of a call from there, in [0, 1].
    default_noise : float
        Noise of a neighbourhood or sector the table does not name.
    """

    accent_of: dict[str, str]
    default_accent: str
    training_share: dict[str, float]
    housing_noise: dict[str, float]
    work_noise: dict[str, float]
    default_noise: float

    @classmethod
    def from_profile(cls, raw: dict, profile: str) -> SpeechTables:
        """Read and check the ``[speech_varieties]`` and ``[recording_conditions]`` tables.

        Raises
        ------
        ValueError
            Naming the profile, the table and the key, and the way out.
        """
        where = f"profile {profile!r}"
        for table in (SPEECH_TABLE, CONDITIONS_TABLE):
            if not isinstance(raw.get(table), dict):
                raise ValueError(
                    f"{where} has no [{table}] table, which the e-atd check-in system reads; "
                    "use profile 'us_atd_enrollees' or add the table (see that profile)")
        speech, conditions = raw[SPEECH_TABLE], raw[CONDITIONS_TABLE]
        accent_of = speech.get("accent_of", {})
        shares = {k: v for k, v in speech.get("vendor_training_share", {}).items()
                  if k != "source"}
        default_accent = speech.get("default", "other languages")
        if not isinstance(accent_of, dict) or not all(isinstance(v, str)
                                                      for v in accent_of.values()):
            raise ValueError(f"{where}: [{SPEECH_TABLE}].accent_of must map languages or "
                             "dialects to accent group names")
        groups = {*accent_of.values(), default_accent}
        missing = sorted(groups - set(shares))
        if missing:
            raise ValueError(f"{where}: [{SPEECH_TABLE}.vendor_training_share] lacks {missing}; "
                             "give every accent group a share above 0")
        if any(not isinstance(v, int | float) or v <= 0 for v in shares.values()):
            raise ValueError(f"{where}: [{SPEECH_TABLE}.vendor_training_share] shares must be "
                             "numbers above 0")
        noise = {}
        for key in ("housing", "work"):
            table = conditions.get(key, {})
            if not isinstance(table, dict) or any(
                    not isinstance(v, int | float) or not 0 <= v <= 1 for v in table.values()):
                raise ValueError(f"{where}: [{CONDITIONS_TABLE}].{key} must map names to noise "
                                 "levels in [0, 1]")
            noise[key] = {k: float(v) for k, v in table.items()}
        default_noise = conditions.get("default", 0.5)
        if not isinstance(default_noise, int | float) or not 0 <= default_noise <= 1:
            raise ValueError(f"{where}: [{CONDITIONS_TABLE}].default must lie in [0, 1]")
        return cls(dict(accent_of), str(default_accent),
                   {k: float(v) for k, v in shares.items()}, noise["housing"], noise["work"],
                   float(default_noise))

    def accent_groups(self, people: pd.DataFrame) -> np.ndarray:
        """Each person's accent group: by dialect, else first language, else the default."""
        dialect = pd.Categorical(people["dialect"])
        language = pd.Categorical(people["first_language"])
        by_dialect = np.array([self.accent_of.get(str(d), "") for d in dialect.categories]
                              + [""], dtype=object)[dialect.codes]
        by_language = np.array([self.accent_of.get(str(c), self.default_accent)
                                for c in language.categories] + [self.default_accent],
                               dtype=object)[language.codes]
        return np.where(by_dialect != "", by_dialect, by_language).astype(str)

    def noise(self, people: pd.DataFrame) -> np.ndarray:
        """Noise of each person's calls in [0, 1]: the mean of their housing's and work's."""
        parts = []
        for column, table in (("neighbourhood", self.housing_noise),
                              ("employer_sector", self.work_noise)):
            values = pd.Categorical(people[column])
            lookup = np.array([table.get(str(c), self.default_noise) for c in values.categories]
                              + [self.default_noise])
            parts.append(lookup[values.codes])
        return (parts[0] + parts[1]) / 2


@dataclass(frozen=True)
class CheckInNoise:
    """Every random draw of the check-in period, keyed by person, shared by every world.

    Attributes
    ----------
    missed : ndarray of bool, shape (n, n_checkins)
        The truth: the person did not call at that check-in.
    attempt : ndarray of float32, shape (n, n_checkins, max_attempts)
        One uniform per attempt: the attempt fails when it lies below its failure probability.
    """

    missed: np.ndarray
    attempt: np.ndarray

    @classmethod
    def draw(cls, person_id: np.ndarray, seed: int, n_checkins: int, max_attempts: int
             ) -> CheckInNoise:
        """Draws for these people from their own streams (same person, same draws, whatever
        other rows are drawn with them)."""
        person_id = np.asarray(person_id)
        irregular = person_uniforms(seed, person_id, "e_atd:irregular") < IRREGULAR_SHARE
        miss_probability = np.where(irregular, IRREGULAR_MISS, REGULAR_MISS)
        missed = np.column_stack([
            person_uniforms(seed, person_id, f"e_atd:missed:{week}") < miss_probability
            for week in range(n_checkins)])  # one column per check-in, vectorised over people
        attempt = np.empty((len(person_id), n_checkins, max_attempts), dtype=np.float32)
        for week in range(n_checkins):
            for k in range(max_attempts):
                attempt[:, week, k] = person_uniforms(seed, person_id, f"e_atd:attempt:{week}:{k}")
        return cls(missed.reshape(len(person_id), n_checkins), attempt)


@dataclass(frozen=True)
class CheckIns:
    """What happened at every scheduled check-in of every person (shape ``(n, n_checkins)``).

    Attributes
    ----------
    missed : the person truly did not call.
    first_rejected : the person called and their first attempt was rejected.
    attempts : attempts made (0 when the person did not call).
    violation : recorded as a missed check-in (truly missed, or every attempt rejected).
    wrongful : recorded as missed though the person called (every attempt rejected).
    """

    missed: np.ndarray
    first_rejected: np.ndarray
    attempts: np.ndarray
    violation: np.ndarray
    wrongful: np.ndarray

    @property
    def recorded_violations(self) -> np.ndarray:
        """Recorded violations per person over the period: the exported column."""
        return self.violation.sum(axis=1)


def simulate_checkins(failure: np.ndarray, noise: CheckInNoise, retries: int) -> CheckIns:
    """Run the schedule: attempts fail independently given the person's failure probability.

    Parameters
    ----------
    failure : ndarray, shape (n,)
        Probability that one attempt of a person is rejected (any of the three checks).
    noise : CheckInNoise
    retries : int
        Attempts allowed after a rejected one before the check-in is recorded as missed.
    """
    attempts_allowed = retries + 1
    if attempts_allowed > noise.attempt.shape[2]:
        raise ValueError(f"retries = {retries} needs {attempts_allowed} attempts; the draws "
                         f"hold {noise.attempt.shape[2]}")
    fails = noise.attempt[:, :, :attempts_allowed] < failure[:, None, None].astype(np.float32)
    all_fail = fails.all(axis=2)
    called = ~noise.missed
    # Attempts stop at the first success: the index of the first pass, plus one.
    first_pass = np.where(all_fail, attempts_allowed - 1, np.argmin(fails, axis=2))
    return CheckIns(
        missed=noise.missed,
        first_rejected=called & fails[:, :, 0],
        attempts=np.where(called, first_pass + 1, 0).astype(np.int8),
        violation=noise.missed | all_fail,
        wrongful=called & all_fail,
    )


class CheckInVerifier(BaseEstimator):
    """Voice, speech and selfie check-in, with one global voice threshold.

    Parameters
    ----------
    representation : float
        The voice model's training mix: 0 = the profile's vendor training shares, 1 = every
        accent group alike; values between mix the two.
    accent_gap : float
        Drop of the genuine voice score (in units of an attempt's noise) per unit of an accent
        group's under-representation, ``log(largest share / the group's share)``.
    asr_accent_gap : float
        Rise of the speech recogniser's failure on the probit scale per unit of
        under-representation.
    conditions_effect : float
        Drop of the voice score, and rise of the recogniser's failure (probit), per unit of call
        noise (0 quiet, 1 noisiest).
    face_tone_gap : float
        Rise of the selfie's false non-match (probit) from Monk skin tone 1 to 10.
    target_frr : float
        Share of first attempts the voice check rejects on the calibration people: the one
        global threshold is set for it.
    asr_failure, face_frr : float
        Failure of the recogniser and the selfie for a well-represented speaker in a quiet room
        with the lightest skin tone.
    person_sd : float
        Spread of people's voices against their enrolment (a person-level offset, so that some
        people fail again and again), relative to an attempt's noise.
    random_state : int
        Seed of the per-person voice offsets.

    Attributes
    ----------
    training_shares_ : dict
        Share of training speech per accent group after mixing.
    mismatch_ : dict
        Under-representation of each accent group, ``log(max share / share)``.
    threshold_ : float
        Voice score below which an attempt is rejected.
    """

    card_name = "e_atd"

    def __init__(
        self,
        representation: float = 0.0,
        accent_gap: float = 0.2,
        asr_accent_gap: float = 0.2,
        conditions_effect: float = 0.5,
        face_tone_gap: float = 0.8,
        target_frr: float = 0.03,
        asr_failure: float = 0.005,
        face_frr: float = 0.005,
        person_sd: float = 0.5,
        random_state: int = 0,
    ) -> None:
        self.representation = representation
        self.accent_gap = accent_gap
        self.asr_accent_gap = asr_accent_gap
        self.conditions_effect = conditions_effect
        self.face_tone_gap = face_tone_gap
        self.target_frr = target_frr
        self.asr_failure = asr_failure
        self.face_frr = face_frr
        self.person_sd = person_sd
        self.random_state = random_state

    def _check(self, people: pd.DataFrame) -> None:
        missing = [c for c in FEATURE_COLUMNS if c not in people.columns]
        if missing:
            raise ValueError(f"people table lacks the columns {missing} the check-in system "
                             "reads; generate the people from a population profile")
        if not 0 <= self.representation <= 1:
            raise ValueError(f"representation must lie in [0, 1], got {self.representation}")
        for name in ("target_frr", "asr_failure", "face_frr"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must lie in (0, 1), got {getattr(self, name)}")

    def _voice_mean(self, people: pd.DataFrame, speech: SpeechTables) -> np.ndarray:
        """Mean genuine voice score of each person's attempts (before the attempt noise)."""
        mismatch = _lookup(speech.accent_groups(people), self.mismatch_)
        offset = normal_from_uniform(person_uniforms(
            self.random_state, people["person_id"].to_numpy(), "e_atd:voice"))
        return (-self.accent_gap * mismatch - self.conditions_effect * speech.noise(people)
                + self.person_sd * offset)

    def fit(self, people: pd.DataFrame, speech: SpeechTables) -> CheckInVerifier:
        """Mix the training shares and set the global threshold on calibration people.

        The threshold makes the expected share of rejected first attempts of ``people`` (the
        calibration calls) equal ``target_frr``.
        """
        self._check(people)
        groups = sorted(speech.training_share)
        skewed = np.array([speech.training_share[g] for g in groups])
        skewed = skewed / skewed.sum()
        mixed = self.representation / len(groups) + (1 - self.representation) * skewed
        self.training_shares_ = dict(zip(groups, mixed.tolist(), strict=True))
        self.mismatch_ = dict(zip(groups, np.log(mixed.max() / mixed).tolist(), strict=True))
        mean = self._voice_mean(people, speech)
        if not len(mean):
            raise ValueError("no calibration people to set the threshold on")

        def excess(threshold: float) -> float:
            return float(special.ndtr(threshold - mean).mean() - self.target_frr)

        self.threshold_ = float(optimize.brentq(excess, mean.min() - 10, mean.max() + 10,
                                                xtol=1e-10))
        return self

    def failure_parts(self, people: pd.DataFrame, speech: SpeechTables
                      ) -> dict[str, np.ndarray]:
        """Probability that one attempt of each person fails each check.

        Returns
        -------
        dict
            ``voice``, ``speech`` (recognition of the spoken answer), ``selfie`` and ``any``.
        """
        check_is_fitted(self, "threshold_")
        self._check(people)
        voice = special.ndtr(self.threshold_ - self._voice_mean(people, speech))
        mismatch = _lookup(speech.accent_groups(people), self.mismatch_)
        recognition = special.ndtr(_probit(self.asr_failure) + self.asr_accent_gap * mismatch
                                   + self.conditions_effect * speech.noise(people))
        tone = (people["skin_tone"].to_numpy(dtype=np.float64) - 1) / 9
        selfie = special.ndtr(_probit(self.face_frr) + self.face_tone_gap * tone)
        return {"voice": voice, "speech": recognition, "selfie": selfie,
                "any": 1 - (1 - voice) * (1 - recognition) * (1 - selfie)}

    def predict_proba(self, people: pd.DataFrame, speech: SpeechTables) -> np.ndarray:
        """Probability that one attempt of each person is rejected."""
        return self.failure_parts(people, speech)["any"]

    @classmethod
    def card(cls) -> str:
        """The system's card (Markdown)."""
        return read_card(cls.card_name)


def record_violations(people: pd.DataFrame, checkins: CheckIns) -> pd.DataFrame:
    """``people`` with the column :data:`VIOLATIONS_COLUMN` that other systems may read.

    The rows of ``checkins`` must be those of ``people``, in order.
    """
    if len(people) != checkins.violation.shape[0]:
        raise ValueError(f"{len(people)} people but check-ins of {checkins.violation.shape[0]}")
    return people.assign(**{VIOLATIONS_COLUMN: checkins.recorded_violations.astype(np.int16)})
