"""Synthetic face images as vectors, for toy face-verification systems.

A "face image" here is a point in a ``FACE_DIMS``-dimensional image space. Each person has a
latent face (their identity) and every capture of them adds capture variation (lighting,
exposure, contrast, pose) on top of it. The space is built from one random orthonormal basis
split into blocks:

- *shared identity* directions, along which every face varies from person to person;
- *tone-specific identity* directions, one block per skin-tone band: facial detail that tells
  people of that band apart (for example, contrast features that read differently on darker
  and lighter skin);
- *shared capture* directions, along which every capture varies (overall brightness, pose);
- *tone-specific capture* directions, one block per band: how lighting and exposure change an
  image of a face of that band;
- a little isotropic sensor noise in every direction.

``tone_specific_variation`` (0 to 1) sets how much of both the identity and the capture
variation lies in the band's own directions rather than the shared ones. The bands are
symmetric by construction: every band has blocks of the same size and the same variances, so
no band's faces are harder to tell apart *in themselves*. Unequal errors can only come from a
projection that learned some bands' directions better than others' — from who was in its
training set.

Noise is keyed by ``(seed, person_id, what)`` in blocks of ``BLOCK_SIZE`` people, so a person's
face and captures do not depend on which other people are generated with them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: Monk skin tone (1-10) -> band: 1-3 lighter, 4-6 medium, 7-10 darker.
TONE_BANDS = ("lighter (Monk 1-3)", "medium (Monk 4-6)", "darker (Monk 7-10)")
_BAND_UPPER_TONE = (3, 6, 10)
#: Rows per noise block (the same convention as the population's noise).
BLOCK_SIZE = 65_536

SHARED_IDENTITY_DIMS = 32
BAND_IDENTITY_DIMS = 16
SHARED_CAPTURE_DIMS = 16
BAND_CAPTURE_DIMS = 12
FACE_DIMS = (SHARED_IDENTITY_DIMS + SHARED_CAPTURE_DIMS
             + len(TONE_BANDS) * (BAND_IDENTITY_DIMS + BAND_CAPTURE_DIMS))
#: Standard deviation of the isotropic sensor noise in every image direction.
SENSOR_NOISE = 0.3


def tone_band(skin_tone: np.ndarray) -> np.ndarray:
    """Band index (0 lighter, 1 medium, 2 darker) of Monk skin tones 1-10."""
    tones = np.asarray(skin_tone, dtype=np.int64)
    if tones.size and (tones.min() < 1 or tones.max() > 10):
        raise ValueError("skin tones must lie on the Monk scale, 1 to 10")
    return np.searchsorted(np.asarray(_BAND_UPPER_TONE), tones, side="left")


def person_normals(seed: int, person_id: np.ndarray, what: str, dims: int) -> np.ndarray:
    """Standard normal draws, ``dims`` per person, keyed by ``(seed, person_id, what)``.

    The rows of a person are the same whatever other people are in ``person_id`` and in what
    order, because each block of ``BLOCK_SIZE`` positions has its own stream.

    Parameters
    ----------
    seed : int
        Seed of the stream family.
    person_id : ndarray of int
        Non-negative positions of the people.
    what : str
        Name of the quantity (``"identity"``, ``"capture:enrol"``...).
    dims : int
        Draws per person.

    Returns
    -------
    ndarray of float64, shape ``(len(person_id), dims)``
    """
    person_id = np.asarray(person_id, dtype=np.int64)
    out = np.empty((len(person_id), dims))
    blocks = person_id // BLOCK_SIZE
    key = zlib.crc32(what.encode("utf-8"))
    for block in np.unique(blocks):  # one stream per block, not per person
        rows = np.flatnonzero(blocks == block)
        offsets = person_id[rows] - block * BLOCK_SIZE
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(block), key)))
        out[rows] = rng.standard_normal((int(offsets.max()) + 1, dims))[offsets]
    return out


@dataclass(frozen=True)
class FaceSpace:
    """The image space: where identity and capture variation lie, for each tone band.

    Parameters
    ----------
    tone_specific_variation : float
        Share (0 to 1) of identity and of capture variance that lies in each band's own
        directions. 0: every face and capture varies along the same directions whatever the
        band, so no projection can serve one band worse than another.
    capture_noise : float
        Standard deviation of capture variation relative to identity variation (1 = as large).
    seed : int
        Seeds the basis and every face and capture.
    """

    tone_specific_variation: float = 0.5
    capture_noise: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.tone_specific_variation <= 1:
            raise ValueError(
                f"tone_specific_variation must lie in [0, 1], got {self.tone_specific_variation}"
            )
        if self.capture_noise < 0:
            raise ValueError(f"capture_noise must be non-negative, got {self.capture_noise}")

    @cached_property
    def basis(self) -> np.ndarray:
        """A random orthonormal basis of the image space (columns), fixed by the seed."""
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0,)))
        q, r = np.linalg.qr(rng.standard_normal((FACE_DIMS, FACE_DIMS)))
        return q * np.sign(np.diag(r))  # a unique QR: the same basis on every platform

    @cached_property
    def directions(self) -> dict[str, np.ndarray]:
        """Orthonormal directions (columns) of each kind of variation.

        The image space is cut into one shared block and one block per tone band. Identity
        varies along the first directions of a block; capture variation along a random
        subspace of the *whole* block, so that lighting and exposure blur exactly the detail
        that tells faces of that block apart, and a projection has to learn which mixtures of
        directions survive capture for each band. Every band's block has the same inner
        geometry (one rotation serves them all): the bands differ in where their detail lies,
        never in how hard it is to recover.
        """
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(1,)))
        shared_size = SHARED_IDENTITY_DIMS + SHARED_CAPTURE_DIMS
        band_size = BAND_IDENTITY_DIMS + BAND_CAPTURE_DIMS
        shared_rotation, _ = np.linalg.qr(rng.standard_normal((shared_size, SHARED_CAPTURE_DIMS)))
        band_rotation, _ = np.linalg.qr(rng.standard_normal((band_size, BAND_CAPTURE_DIMS)))
        shared_block = self.basis[:, :shared_size]
        out = {"identity:shared": shared_block[:, :SHARED_IDENTITY_DIMS],
               "capture:shared": shared_block @ shared_rotation}
        for band in range(len(TONE_BANDS)):
            start = shared_size + band * band_size
            block = self.basis[:, start:start + band_size]
            out[f"identity:{band}"] = block[:, :BAND_IDENTITY_DIMS]
            out[f"capture:{band}"] = block @ band_rotation
        return out

    def _mix(self, kind: str, draws_shared: np.ndarray,
             draws_specific: np.ndarray, band: np.ndarray, scale: float) -> np.ndarray:
        """Shared plus band-specific variation, with equal total variance per direction."""
        directions = self.directions
        s = self.tone_specific_variation
        # Variance per direction is scale**2 in both blocks, whatever s: s moves variance
        # between the shared and the band's own directions, never changes its amount.
        out = np.sqrt(1 - s) * scale * draws_shared @ directions[f"{kind}:shared"].T
        for b in range(len(TONE_BANDS)):
            rows = band == b
            out[rows] += np.sqrt(s) * scale * draws_specific[rows] @ directions[f"{kind}:{b}"].T
        return out

    def faces(self, person_id: np.ndarray, skin_tone: np.ndarray) -> np.ndarray:
        """Latent faces (one row per person): identity variation only."""
        band = tone_band(skin_tone)
        return self._mix(
            "identity",
            person_normals(self.seed, person_id, "face:shared_identity", SHARED_IDENTITY_DIMS),
            person_normals(self.seed, person_id, "face:band_identity", BAND_IDENTITY_DIMS),
            band, 1.0,
        )

    def captures(self, person_id: np.ndarray, skin_tone: np.ndarray, session: str,
                 faces: np.ndarray | None = None, keyed_by_person: bool = True) -> np.ndarray:
        """Images of the people taken in one capture session (``"enrol"``, ``"probe:1"``...).

        Each session draws fresh capture variation, so two sessions of the same person differ
        by capture variation only. ``faces`` (from :meth:`faces`) saves recomputing them.
        With ``keyed_by_person=False`` the capture variation comes from one stream for the
        whole batch, in row order: much cheaper for a few people scattered over many blocks
        (a training set), at the price of depending on the batch.
        """
        band = tone_band(skin_tone)
        if keyed_by_person:
            def draw(what: str, dims: int) -> np.ndarray:
                return person_normals(self.seed, person_id, f"{session}:{what}", dims)
        else:
            key = zlib.crc32(f"batch:{session}".encode())
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(key,)))

            def draw(what: str, dims: int) -> np.ndarray:
                return rng.standard_normal((len(person_id), dims))
        variation = self._mix(
            "capture", draw("shared", SHARED_CAPTURE_DIMS), draw("band", BAND_CAPTURE_DIMS),
            band, self.capture_noise,
        )
        sensor = SENSOR_NOISE * draw("sensor", FACE_DIMS)
        if faces is None:
            faces = self.faces(person_id, skin_tone)
        return faces + variation + sensor
