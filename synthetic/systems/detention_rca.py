"""ICE Risk Classification Assessment-style detention tool, with its release branch removable.

A points-based custody recommendation in the spirit of the Risk Classification Assessment
(RCA) that US Immigration and Customs Enforcement has used since 2013: points for the recorded
criminal history (public safety) and for immigration history, community and family ties and
time in the country (flight risk) give a low, medium or high level on each scale, and a
recommendation — release, refer to a supervisor, or detain. In 2017 the software was changed so
that it no longer recommended release (reported in 2018); ``release_branch=False`` turns every
"release" into "detain", as that change did. See ``detention_rca.md`` for its card.

The truth the tool claims to assess, known only to the simulation, is :func:`true_risk`: a
person is truly a danger (a true serious criminal record, true gang membership or a true
threat) or truly a flight risk (a latent propensity to abscond, drawn once per person; see
:func:`true_flight_risk`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from synthetic.population.noise import person_uniforms
from synthetic.systems.base import read_card

#: Recommendation codes, in order of severity.
RECOMMENDATIONS = ("release", "supervisor decides", "detain")
RELEASE, SUPERVISOR, DETAIN = 0, 1, 2
#: Levels of each risk scale.
LEVELS = ("low", "medium", "high")

#: Public-safety points per recorded criminal record category.
CRIMINAL_RECORD_POINTS = {"none": 0, "minor": 2, "serious": 8}
GANG_POINTS = 8
PRIOR_CONTACT_POINTS_CAP = 3
#: Flight-risk points.
RECORDED_OVERSTAY_POINTS = 3
ENTRY_WITHOUT_INSPECTION_POINTS = 1
#: Visa types that count as entry without inspection (manner of entry).
ENTRY_WITHOUT_INSPECTION = ("none/asylum seeker",)
UNEMPLOYED_SECTORS = ("unemployed",)
UNEMPLOYED_POINTS = 1

#: Latent flight risk: the baseline probability to abscond and what raises it (illustrative).
ABSCOND_BASE = 0.03
ABSCOND_NO_FAMILY = 0.08
ABSCOND_TRUE_OVERSTAY = 0.10
ABSCOND_NEW_ARRIVAL = 0.03

#: Columns the tool reads.
FEATURE_COLUMNS = (
    "recorded_criminal_record", "recorded_gang_affiliation", "prior_contacts",
    "recorded_overstay", "visa_type", "recorded_years_in_country", "n_family_ties",
    "employer_sector",
)


def true_flight_risk(people: pd.DataFrame, seed: int) -> np.ndarray:
    """Whether a person would truly abscond if released (known only to the simulation).

    A latent Bernoulli draw with probability ``0.03 + 0.08 [no family in the country] + 0.10
    [truly overstayed] + 0.03 [in the country under a year]``, from the person's own uniform
    (keyed by ``seed`` and ``person_id``, so it is the same whatever rows are drawn with it).
    Its parents are true columns only; none depends on nationality except through them.
    """
    probability = (
        ABSCOND_BASE
        + ABSCOND_NO_FAMILY * (people["n_family_ties"].to_numpy() == 0)
        + ABSCOND_TRUE_OVERSTAY * people["true_overstay"].to_numpy(dtype=bool)
        + ABSCOND_NEW_ARRIVAL * (people["years_in_country"].to_numpy() < 1)
    )
    uniforms = person_uniforms(seed, people["person_id"].to_numpy(), "true_flight_risk")
    return uniforms < probability


def true_danger(people: pd.DataFrame) -> np.ndarray:
    """Whether a person is truly a danger: true serious record, gang membership or threat."""
    return (people["true_serious_crime"].to_numpy(dtype=bool)
            | people["true_gang_affiliation"].to_numpy(dtype=bool)
            | people["true_threat"].to_numpy(dtype=bool))


def true_risk(people: pd.DataFrame, seed: int) -> np.ndarray:
    """The truth the tool claims to assess: a danger or a flight risk."""
    return true_danger(people) | true_flight_risk(people, seed)


def recorded_risk(people: pd.DataFrame) -> np.ndarray:
    """What the records say: a recorded serious crime, gang flag or overstay."""
    return (people["recorded_serious_crime"].to_numpy(dtype=bool)
            | people["recorded_gang_affiliation"].to_numpy(dtype=bool)
            | people["recorded_overstay"].to_numpy(dtype=bool))


class RiskClassificationAssessment(BaseEstimator):
    """Points-based detain / supervisor / release recommendation.

    Parameters
    ----------
    release_branch : bool
        Whether the tool may recommend release. False reproduces the 2017 change: every
        recommendation that would have been "release" becomes "detain".
    supervisor_band : bool
        Whether a medium level on either scale (and neither high) refers the case to a
        supervisor. Without it, such cases are recommended for detention.
    public_safety_cuts : tuple of int
        Points at which the public-safety level becomes medium and high.
    flight_risk_cuts : tuple of int
        Points at which the flight-risk level becomes medium and high.

    Attributes
    ----------
    caseload_points_ : ndarray
        Sorted total points of the historical caseload given to :meth:`fit`; the score is a
        person's percentile in it.
    """

    card_name = "detention_rca"

    def __init__(
        self,
        release_branch: bool = False,
        supervisor_band: bool = True,
        public_safety_cuts: tuple[int, int] = (2, 8),
        flight_risk_cuts: tuple[int, int] = (4, 6),
    ) -> None:
        self.release_branch = release_branch
        self.supervisor_band = supervisor_band
        self.public_safety_cuts = public_safety_cuts
        self.flight_risk_cuts = flight_risk_cuts

    def _check(self, people: pd.DataFrame) -> None:
        missing = [c for c in FEATURE_COLUMNS if c not in people.columns]
        if missing:
            raise ValueError(
                f"people table lacks the columns {missing}; apply the population's mechanisms "
                "(which add the recorded_* columns) before scoring"
            )
        for name, cuts in (("public_safety_cuts", self.public_safety_cuts),
                           ("flight_risk_cuts", self.flight_risk_cuts)):
            if len(cuts) != 2 or not 0 < cuts[0] < cuts[1]:
                raise ValueError(f"{name} must be two increasing positive points, got {cuts}")

    def points(self, people: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Public-safety and flight-risk points of each person.

        Returns
        -------
        public_safety, flight_risk : ndarray of int
        """
        self._check(people)
        record = people["recorded_criminal_record"].astype(str).to_numpy()
        public_safety = np.zeros(len(people), dtype=np.int64)
        for category, value in CRIMINAL_RECORD_POINTS.items():
            public_safety += value * (record == category)
        public_safety += GANG_POINTS * people["recorded_gang_affiliation"].to_numpy(dtype=bool)
        public_safety += np.minimum(people["prior_contacts"].to_numpy(dtype=np.int64),
                                    PRIOR_CONTACT_POINTS_CAP)

        years = people["recorded_years_in_country"].to_numpy(dtype=np.float64)
        ties = people["n_family_ties"].to_numpy(dtype=np.int64)
        flight = (
            RECORDED_OVERSTAY_POINTS * people["recorded_overstay"].to_numpy(dtype=bool)
            + ENTRY_WITHOUT_INSPECTION_POINTS
            * people["visa_type"].astype(str).isin(ENTRY_WITHOUT_INSPECTION).to_numpy()
            # Residence that cannot be verified (missing record) counts as no residence.
            + np.where(np.isnan(years) | (years < 1), 2, np.where(years < 3, 1, 0))
            + np.where(ties == 0, 2, np.where(ties < 3, 1, 0))
            + UNEMPLOYED_POINTS
            * people["employer_sector"].astype(str).isin(UNEMPLOYED_SECTORS).to_numpy()
        ).astype(np.int64)
        return public_safety, flight

    def levels(self, people: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Public-safety and flight-risk levels (0 low, 1 medium, 2 high)."""
        public_safety, flight = self.points(people)
        return (np.searchsorted(self.public_safety_cuts, public_safety, side="right"),
                np.searchsorted(self.flight_risk_cuts, flight, side="right"))

    def fit(self, people: pd.DataFrame, y: np.ndarray | None = None
            ) -> RiskClassificationAssessment:
        """Record the historical caseload's points, which set the score's scale.

        The points and cut-offs are fixed by design, not learned; ``y`` is ignored.
        """
        public_safety, flight = self.points(people)
        self.caseload_points_ = np.sort(public_safety + flight)
        return self

    def recommend(self, people: pd.DataFrame, release_branch: bool | None = None
                  ) -> np.ndarray:
        """Recommendation codes (0 release, 1 supervisor decides, 2 detain).

        Parameters
        ----------
        people : DataFrame
        release_branch : bool, optional
            Overrides the estimator's setting, to compare both versions on the same people.
        """
        branch = self.release_branch if release_branch is None else release_branch
        safety, flight = self.levels(people)
        worst = np.maximum(safety, flight)
        middle = SUPERVISOR if self.supervisor_band else DETAIN
        outcome = np.where(worst == 2, DETAIN, np.where(worst == 1, middle, RELEASE))
        if not branch:
            outcome = np.where(outcome == RELEASE, DETAIN, outcome)
        return outcome.astype(np.int8)

    def risk_score(self, people: pd.DataFrame) -> np.ndarray:
        """Total points as a percentile of the historical caseload, in [0, 1]."""
        check_is_fitted(self, "caseload_points_")
        public_safety, flight = self.points(people)
        below = np.searchsorted(self.caseload_points_, public_safety + flight, side="right")
        return below / max(len(self.caseload_points_), 1)

    def predict(self, people: pd.DataFrame) -> np.ndarray:
        """Recommended for detention or not."""
        return self.recommend(people) == DETAIN

    @classmethod
    def card(cls) -> str:
        """The system's card (Markdown)."""
        return read_card(cls.card_name)
