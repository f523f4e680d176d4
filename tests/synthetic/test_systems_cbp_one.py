"""Synthetic faces and the CBP One-style verifier: keys, symmetry, pairing, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic.faces import FACE_DIMS, FaceSpace, person_normals, tone_band
from synthetic.systems.cbp_one import (
    FaceVerifier,
    band_quotas,
    cosine,
    det_points,
    impostor_partners,
    order_within_bands,
    pick_by_band,
    training_shares,
)


def test_tone_bands_cut_the_monk_scale():
    assert tone_band(np.arange(1, 11)).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    with pytest.raises(ValueError, match="Monk scale"):
        tone_band(np.array([0, 3]))


def test_faces_are_keyed_by_person_not_by_who_else_is_drawn():
    space = FaceSpace(seed=3)
    ids = np.array([5, 70_000, 12, 200_001])
    tones = np.array([2, 8, 5, 9])
    together = space.captures(ids, tones, "enrol")
    alone = space.captures(ids[[2]], tones[[2]], "enrol")
    assert together.shape == (4, FACE_DIMS)
    # the same draws; only the rounding of the matrix products may differ with batch shape
    assert np.allclose(together[2], alone[0], rtol=0, atol=1e-12)
    assert np.array_equal(person_normals(3, ids, "x", 4)[1:3],
                          person_normals(3, ids[1:3], "x", 4))
    # another session of the same face differs by capture variation only
    assert not np.array_equal(together, space.captures(ids, tones, "probe"))


def test_bands_are_equally_variable_by_construction():
    space = FaceSpace(tone_specific_variation=0.7, seed=1)
    ids = np.arange(30_000)
    variances = [space.faces(ids, np.full(len(ids), tone)).var(axis=0).sum()
                 for tone in (2, 5, 9)]
    assert np.allclose(variances, variances[0], rtol=0.03)
    # with no tone-specific variation, the band does not change a person's face at all
    flat = FaceSpace(tone_specific_variation=0.0, seed=1)
    assert np.allclose(flat.faces(ids[:50], np.full(50, 2)), flat.faces(ids[:50], np.full(50, 9)))


def test_training_composition():
    assert training_shares(1.0) == pytest.approx([1 / 3] * 3)
    assert training_shares(0.0) == pytest.approx([0.80, 0.17, 0.03])
    assert band_quotas(training_shares(0.3), 1500).sum() == 1500
    with pytest.raises(ValueError, match="summing to 1"):
        training_shares(0.5, (0.5, 0.5, 0.5))
    band = np.array([0, 0, 1, 2, 2, 2])
    orders = order_within_bands(band, np.random.default_rng(0))
    chosen = pick_by_band(orders, np.array([1, 1, 2]))
    assert [band[c].tolist() for c in chosen] == [[0], [1], [2, 2]]
    with pytest.raises(ValueError, match="enlarge the population"):
        pick_by_band(orders, np.array([3, 0, 0]))


def test_impostors_are_other_people_of_the_same_band():
    band = np.random.default_rng(1).integers(0, 3, 1_000)
    partners = impostor_partners(band, np.random.default_rng(2))
    assert np.array_equal(np.sort(partners), np.arange(1_000))  # everyone claimed once
    assert np.all(band[partners] == band)
    assert not np.any(partners == np.arange(1_000))


def test_threshold_is_set_for_the_target_false_match_rate():
    space = FaceSpace(seed=4)
    rng = np.random.default_rng(0)
    ids = np.arange(400)
    tones = rng.integers(1, 11, 400)
    images = np.concatenate([space.captures(ids, tones, f"train:{j}") for j in range(3)])
    verifier = FaceVerifier(embedding_dims=20, target_fmr=0.01).fit(images, np.tile(ids, 3))
    test_ids = np.arange(1_000, 21_000)
    test_tones = rng.integers(1, 11, len(test_ids))
    enrol = space.captures(test_ids, test_tones, "enrol")
    probe = space.captures(test_ids, test_tones, "probe")
    partners = impostor_partners(tone_band(test_tones), rng)
    impostor = verifier.similarity(enrol, probe[partners])
    verifier.calibrate(impostor)
    rejected, genuine = verifier.verify(enrol, probe)
    assert np.mean(impostor >= verifier.threshold_) == pytest.approx(0.01, abs=0.002)
    assert rejected.mean() < 0.5 and genuine.mean() > impostor.mean()
    fnmr, fmr = det_points(genuine, impostor, np.linspace(-1, 1, 50))
    assert np.all(np.diff(fnmr) >= 0) and np.all(np.diff(fmr) <= 0)
    assert cosine(enrol[:3], enrol[:3]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="more identities than dimensions"):
        FaceVerifier(embedding_dims=500).fit(images, np.tile(ids, 3))
