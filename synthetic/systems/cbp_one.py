"""CBP One-style face verification: a learned projection of synthetic face images, compared by
cosine similarity at one global threshold.

People booking an asylum appointment through the CBP One app have their live photo compared
with the one they enrolled (1:1 verification). The mimic learns a linear projection of face
images (linear discriminant analysis, as in "Fisherfaces") from a training set of captures of
labelled identities whose composition by skin tone is a knob, embeds the enrolment and the new
capture, and accepts the claim when their cosine similarity reaches a threshold chosen for one
overall false-match rate. Faces come from :mod:`synthetic.faces`, where no tone band is harder
to verify in itself: unequal errors come only from how well the projection learned each band,
that is, from who was in its training set. See ``cbp_one.md`` for its card.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.utils.validation import check_is_fitted

from synthetic.faces import TONE_BANDS
from synthetic.systems.base import read_card

#: Training composition by tone band at ``representation = 0``: lighter faces dominate, as
#: audits of widely used face datasets have reported (illustrative shares).
SKEWED_SHARES = (0.80, 0.17, 0.03)


def training_shares(representation: float, skewed_shares: tuple[float, ...] = SKEWED_SHARES
                    ) -> np.ndarray:
    """Share of training identities per tone band.

    ``representation = 1`` gives every band the same share; ``0`` gives ``skewed_shares``;
    values between mix the two linearly.
    """
    if not 0 <= representation <= 1:
        raise ValueError(f"representation must lie in [0, 1], got {representation}")
    skewed = np.asarray(skewed_shares, dtype=np.float64)
    if skewed.shape != (len(TONE_BANDS),) or (skewed < 0).any() or abs(skewed.sum() - 1) > 1e-6:
        raise ValueError(
            f"skewed_shares must be {len(TONE_BANDS)} non-negative shares summing to 1 "
            f"(lighter, medium, darker), got {list(skewed_shares)}"
        )
    balanced = np.full(len(TONE_BANDS), 1 / len(TONE_BANDS))
    return representation * balanced + (1 - representation) * skewed


def band_quotas(shares: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers of identities per band, summing to ``total`` (largest remainders)."""
    exact = np.asarray(shares) * total
    quotas = np.floor(exact).astype(np.int64)
    remainder_order = np.argsort(-(exact - quotas), kind="stable")
    quotas[remainder_order[: total - quotas.sum()]] += 1
    return quotas


def order_within_bands(band: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Row positions of each tone band, in a random order (one array per band)."""
    order = np.lexsort((rng.random(len(band)), band))  # random order within each band
    sorted_band = band[order]
    return [order[sorted_band == b] for b in range(len(TONE_BANDS))]


def pick_by_band(orders: list[np.ndarray], quotas: np.ndarray) -> list[np.ndarray]:
    """The first ``quotas[b]`` rows of each band's order (see :func:`order_within_bands`).

    Taking prefixes of one fixed order makes training sets of different compositions nested
    within each band: they differ only in how many of each band's people they hold.

    Raises
    ------
    ValueError
        When a band has fewer rows than its quota.
    """
    chosen = []
    for b, quota in enumerate(quotas):  # one slice per band
        if len(orders[b]) < quota:
            raise ValueError(
                f"the training split has {len(orders[b]):,} people in tone band "
                f"{TONE_BANDS[b]!r} but the training set needs {quota:,}; enlarge the "
                "population or lower training_identities"
            )
        chosen.append(orders[b][:quota])
    return chosen


def impostor_partners(band: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each row, another row of the same tone band: who claims to be them.

    Rows are shuffled within their band and each is paired with the next one (cyclically), so
    every row is claimed exactly once and never by itself (bands of one row excepted).
    Impostors of the same band are the demanding, usual case in face-recognition testing.
    """
    order = np.lexsort((rng.random(len(band)), band))
    sorted_band = band[order]
    starts = np.flatnonzero(np.r_[True, sorted_band[1:] != sorted_band[:-1]])
    stops = np.r_[starts[1:], len(order)]
    following = np.arange(1, len(order) + 1)
    following[stops - 1] = starts  # the last of each band is claimed by the band's first
    partners = np.empty(len(band), dtype=np.int64)
    partners[order] = order[following]
    return partners


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two arrays of embeddings."""
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.einsum("ij,ij->i", a, b) / np.where(norms > 0, norms, 1.0)


class FaceVerifier(BaseEstimator):
    """1:1 face verification by cosine similarity of learned embeddings.

    Parameters
    ----------
    embedding_dims : int
        Dimensions of the embedding (components of the discriminant projection).
    target_fmr : float
        False-match rate the global threshold is chosen for, on calibration impostor pairs.

    Attributes
    ----------
    projection_ : LinearDiscriminantAnalysis
        The projection learned from the training captures.
    mean_ : ndarray
        Mean training image; images are centred on it before projection.
    threshold_ : float
        Similarity at or above which a claim is accepted (set by :meth:`calibrate`).
    """

    card_name = "cbp_one"

    def __init__(self, embedding_dims: int = 48, target_fmr: float = 0.001) -> None:
        self.embedding_dims = embedding_dims
        self.target_fmr = target_fmr

    def fit(self, images: np.ndarray, identities: np.ndarray) -> FaceVerifier:
        """Learn the projection from several captures of each training identity."""
        n_identities = len(np.unique(identities))
        if n_identities <= self.embedding_dims:
            raise ValueError(
                f"{n_identities} training identities cannot give {self.embedding_dims} "
                "embedding dimensions; use more identities than dimensions"
            )
        self.projection_ = LinearDiscriminantAnalysis(
            n_components=self.embedding_dims, solver="eigen"
        ).fit(images, identities)
        self.mean_ = images.mean(axis=0)
        return self

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Embeddings of face images."""
        check_is_fitted(self, "projection_")
        # Centred on the training mean, so that cosine similarity compares faces with the
        # average face; one matrix product on the kept components only, in the images'
        # precision (float32 images embed several times faster).
        dtype = images.dtype if images.dtype in (np.float32, np.float64) else np.float64
        scalings = self.projection_.scalings_[:, : self.embedding_dims].astype(dtype)
        return images.astype(dtype, copy=False) @ scalings - self.mean_.astype(dtype) @ scalings

    def similarity(self, enrolment: np.ndarray, probe: np.ndarray) -> np.ndarray:
        """Cosine similarity of each enrolment image with the probe image in the same row."""
        return cosine(self.embed(enrolment), self.embed(probe))

    def calibrate(self, impostor_similarity: np.ndarray) -> FaceVerifier:
        """Set the one global threshold so that ``target_fmr`` of impostor pairs match."""
        if not 0 < self.target_fmr < 1:
            raise ValueError(f"target_fmr must lie in (0, 1), got {self.target_fmr}")
        if len(impostor_similarity) * self.target_fmr < 1:
            raise ValueError(
                f"{len(impostor_similarity):,} calibration impostor pairs cannot pin down a "
                f"false-match rate of {self.target_fmr}; enlarge the population"
            )
        self.threshold_ = float(np.quantile(impostor_similarity, 1 - self.target_fmr,
                                            method="higher"))
        return self

    def verify(self, enrolment: np.ndarray, probe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Accept or reject each claim.

        Returns
        -------
        rejected : ndarray of bool
            Told they are not the person they claim to be.
        similarity : ndarray of float
        """
        check_is_fitted(self, "threshold_")
        similarity = self.similarity(enrolment, probe)
        return similarity < self.threshold_, similarity

    @classmethod
    def card(cls) -> str:
        """The system's card (Markdown)."""
        return read_card(cls.card_name)


def det_points(genuine: np.ndarray, impostor: np.ndarray, thresholds: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """False non-match and false match rates at each threshold (a DET curve).

    Returns
    -------
    fnmr, fmr : ndarray
        Share of genuine similarities below each threshold, and of impostor similarities at
        or above it.
    """
    genuine, impostor = np.sort(genuine), np.sort(impostor)
    fnmr = np.searchsorted(genuine, thresholds, side="left") / max(len(genuine), 1)
    fmr = 1 - np.searchsorted(impostor, thresholds, side="left") / max(len(impostor), 1)
    return fnmr, fmr
