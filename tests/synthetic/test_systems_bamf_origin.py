"""The origin-check mimic: its world file, the applicants' truth, both instruments, the rule."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic.population import generate, load_profile
from synthetic.systems.bamf_origin import (
    CONFIRMS,
    CONTRADICTS,
    CROSS_BORDER,
    MINORITY,
    UNUSABLE,
    WORLDS_DIR,
    DialectIdentifier,
    OriginWorldError,
    PhoneAnalysis,
    combine,
    corpus_mask,
    load_origin_world,
    simulate_applicants,
)

PROFILE = "germany_asylum_applicants"
SEED = 3


@pytest.fixture(scope="module")
def world():
    return load_origin_world(PROFILE)


@pytest.fixture(scope="module")
def people():
    return generate(PROFILE, 30_000, SEED).people


@pytest.fixture(scope="module")
def applicants(people, world):
    return simulate_applicants(people, world, SEED)


def test_world_covers_its_profile_and_derives_the_border_straddling_regions(world):
    profile = load_profile(PROFILE)
    pairs = {(n, lang) for i, n in enumerate(profile.nationalities)
             for j, lang in enumerate(profile.languages) if profile.language_probs[i, j] > 0}
    world.check_covers(pairs)
    straddles = dict(zip(world.regions, world.cross_border, strict=True))
    assert straddles["SYR: Syrian Kurdish north (Afrin, Kobani, Qamishli)"]
    assert straddles["IRQ: Ninawa and Anbar"] and straddles["ETH: Tigray"]
    assert not straddles["TUR: Turkey"] and not straddles["SOM: southern Somalia (Bay, Bakool)"]


@pytest.mark.parametrize("edit, message", [
    (lambda text: text.replace('source = "illustrative assumption"\nother_evidence', 'other'
                               '_evidence'), r"\[records\] names no source"),
    (lambda text: text.replace('variety = "Pashto", share', 'variety = "Pashtu", share'),
     "variety 'Pashtu' is not listed in \\[varieties\\]"),
    (lambda text: text.replace("share = 0.75 },", "share = 0.70 },", 1),
     "home_regions.SYR.Arabic shares add up to 0.95"),
    (lambda text: text.replace("officer_adoption = 0.6", "officer_adoption = 6"),
     "records.officer_adoption = 6 is a probability"),
])
def test_bad_world_files_are_named(tmp_path, edit, message):
    text = (WORLDS_DIR / f"{PROFILE}.toml").read_text(encoding="utf-8")
    changed = edit(text)
    assert changed != text
    path = tmp_path / "world.toml"
    path.write_text(changed, encoding="utf-8")
    with pytest.raises(OriginWorldError, match=message):
        load_origin_world(path)
    with pytest.raises(OriginWorldError, match="not found; shipped worlds: " + PROFILE):
        load_origin_world("atlantis")


def test_a_world_that_misses_a_language_is_refused(people, world):
    other = people.assign(first_language=people["first_language"].astype(str).replace(
        "Zazaki", "Klingon"))
    with pytest.raises(OriginWorldError, match="TUR.Klingon"):
        simulate_applicants(other, world, SEED)


def test_applicants_are_keyed_by_person_not_by_row_order(people, world, applicants):
    shuffled = people.sample(frac=1.0, random_state=1)
    again = simulate_applicants(shuffled, world, SEED)
    position = shuffled.index.to_numpy()
    assert np.array_equal(again.region, applicants.region[position])
    assert np.allclose(again.speech, applicants.speech[position])
    assert np.array_equal(again.phone["contacts_home"], applicants.phone["contacts_home"][position])
    table = applicants.table
    assert 0.02 < table["false_claim"].mean() < 0.04
    lied = table["false_claim"].to_numpy()
    truthful = table.loc[~lied, "claimed_origin"].to_numpy()
    assert np.array_equal(truthful, people.loc[~lied, "nationality"].astype(str).to_numpy())
    assert np.all(table.loc[lied, "claimed_origin"].to_numpy()
                  != people.loc[lied, "nationality"].astype(str).to_numpy())


def test_combination_rule():
    dialect = np.array([CONFIRMS, CONFIRMS, CONFIRMS, UNUSABLE, UNUSABLE, CONTRADICTS,
                        CONTRADICTS, UNUSABLE, CONTRADICTS])
    phone = np.array([CONFIRMS, UNUSABLE, CONTRADICTS, UNUSABLE, CONTRADICTS, UNUSABLE,
                      CONTRADICTS, CONFIRMS, CONFIRMS])
    assert combine(dialect, phone).tolist() == [
        CONFIRMS, CONFIRMS, UNUSABLE, UNUSABLE, CONTRADICTS, CONTRADICTS, CONTRADICTS,
        CONFIRMS, UNUSABLE]


def _truthful_contradicted(people, world, applicants, mask, **settings) -> float:
    train = np.arange(len(people)) % 2 == 0
    corpus = corpus_mask(applicants, people, SEED, 0.4,
                         settings.pop("representation", 1.0)) & train
    identifier = DialectIdentifier(**settings).fit(applicants.speech[corpus],
                                                   applicants.region[corpus], world)
    claimed = applicants.table["claimed_origin"].to_numpy(dtype=str)
    code, support = identifier.verify(applicants.speech, claimed, applicants.recording_usable)
    assert np.all((support >= 0) & (support <= 1 + 1e-9))
    chosen = mask & ~train & ~applicants.table["false_claim"].to_numpy()
    return float(np.mean(code[chosen] == CONTRADICTS))


def test_dialect_read_as_nationality_contradicts_cross_border_speakers(people, world,
                                                                       applicants):
    cross = (applicants.table["home_area"] == CROSS_BORDER).to_numpy()
    by_country = _truthful_contradicted(people, world, applicants, cross, verdict="country")
    by_variety = _truthful_contradicted(people, world, applicants, cross, verdict="variety")
    assert by_country > by_variety + 0.05


def test_an_under_representing_corpus_contradicts_minority_speakers(people, world,
                                                                    applicants):
    minority = (applicants.table["language_status"] == MINORITY).to_numpy()
    proportional = _truthful_contradicted(people, world, applicants, minority,
                                          verdict="variety", representation=1.0)
    skewed = _truthful_contradicted(people, world, applicants, minority, verdict="variety",
                                    representation=0.1)
    assert skewed > proportional + 0.03


def test_transit_traces_contradict_afghans_raised_in_iran(people, world, applicants):
    raised = (applicants.table["route_of_flight"] == "raised in Iran").to_numpy()
    truthful = raised & ~applicants.table["false_claim"].to_numpy()
    counted = PhoneAnalysis(counts_transit=True).verify(applicants, people, world)
    discounted = PhoneAnalysis(counts_transit=False).verify(applicants, people, world)
    assert np.mean(counted[truthful] == CONTRADICTS) > 0.1
    assert np.mean(discounted[truthful] == CONTRADICTS) < 0.02
    claim_with, _ = PhoneAnalysis(counts_transit=True).evidence(applicants, people, world)
    claim_without, _ = PhoneAnalysis(counts_transit=False).evidence(applicants, people, world)
    everyone = ~applicants.table["false_claim"].to_numpy()
    # Discounting traces of flight never takes evidence away from a truthful claim.
    assert np.all(claim_without[everyone] >= claim_with[everyone] - 1e-12)


def test_bad_thresholds_are_named(applicants, world):
    with pytest.raises(ValueError, match="contradict_below < confirm_at"):
        DialectIdentifier(confirm_at=0.2, contradict_below=0.5).fit(
            applicants.speech, applicants.region, world)
    with pytest.raises(ValueError, match="verdict must be one of"):
        DialectIdentifier(verdict="accent").fit(applicants.speech, applicants.region, world)
