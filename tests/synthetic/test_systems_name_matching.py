"""Name pools and the watchlist matcher: exact search, keyed draws, and what each knob does."""

from __future__ import annotations

import numpy as np
import pytest
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

from synthetic.names import PARTS, NamePoolError, draw_names, load_name_pools
from synthetic.systems.name_matching import WatchlistMatcher, list_shares, normalise, screen

SEED = 11
TARGETED = {"Arabic": 0.45, "Somali": 0.13, "Persian": 0.12, "Slavic": 0.12, "Hispanic": 0.10,
            "Chinese": 0.06, "Anglo": 0.02}


@pytest.fixture(scope="module")
def pools():
    return load_name_pools()


@pytest.fixture(scope="module")
def travellers(pools):
    rng = np.random.default_rng(0)
    n = 60_000
    shares = np.array([0.16, 0.05, 0.04, 0.12, 0.12, 0.13, 0.38])
    origin = rng.choice(len(pools.origins), size=n, p=shares)
    return origin, np.arange(n), 2025 - rng.integers(18, 80, size=n)


def test_pools_hold_every_origin_and_the_twelve_spellings(pools):
    assert set(pools.origins) == {"Arabic", "Persian", "Somali", "Slavic", "Chinese", "Hispanic",
                                  "Anglo"}
    family = pools.spellings["family"]
    qadhafi = pools.name_spellings["family"][[i for i, row in enumerate(
        pools.name_spellings["family"]) if family[row[0]] == "Qadhafi"][0]]
    assert (qadhafi >= 0).sum() == 12
    with pytest.raises(NamePoolError, match="no origin 'Klingon'"):
        pools.origin_codes(np.array(["Arabic", "Klingon"]))


@pytest.mark.parametrize("text, message", [
    ('[origins.X]\ngiven = ["Ann"]\n', r"origins.X names no source"),
    ('[origins.X]\nsource = "s"\ngiven = ["Ann|Ann"]\n', "empty or repeated spelling"),
    ('[origins.X]\nsource = "s"\ngiven = ["Ann"]\nfamily = "surname"\n',
     "must name a part listed in the same origin"),
])
def test_bad_pool_files_are_named(tmp_path, text, message):
    path = tmp_path / "pools.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(NamePoolError, match=message):
        load_name_pools(path)


def test_normalise_drops_accents_case_and_punctuation():
    assert normalise(["José", "Al-Masri", "Ja'fari", "Abdul Aziz"]) == [
        "jose", "almasri", "jafari", "abdulaziz"]


def test_names_are_keyed_by_row_identifier(pools, travellers):
    origin, ids, _ = travellers
    whole = draw_names(pools, origin, ids, SEED, "passport")
    part = draw_names(pools, origin[::7], ids[::7], SEED, "passport")
    for key in part:
        assert np.array_equal(part[key], whole[key][::7])
    respelled = draw_names(pools, origin, ids, SEED, "list",
                           names={f"{p}_name": whole[f"{p}_name"] for p in PARTS})
    assert np.array_equal(respelled["family_name"], whole["family_name"])
    assert not np.array_equal(respelled["family"], whole["family"])


def brute_force(matcher, passport, years, listed, list_years):
    """Every traveller against every entry, without blocking."""
    total = 0.0
    for weight, part in zip(matcher.weights, PARTS, strict=True):
        total = total + weight * cdist(normalise(passport[part]), normalise(listed[part]),
                                       scorer=fuzz.ratio, dtype=np.float32) / 100.0
    compatible = (list_years[None, :] < 0) | (
        np.abs(years[:, None] - list_years[None, :]) <= matcher.year_tolerance)
    best = np.where(compatible, total, 0.0).max(axis=1)
    return np.where(best >= matcher.score_floor - 1e-6, best, 0.0)


def test_blocked_search_finds_exactly_the_best_match(pools, travellers):
    origin, ids, years = travellers
    shares = list_shares("targeted", TARGETED, origin, pools)
    screening = screen(pools, origin, ids, SEED, birth_year=years, list_size=800,
                       shares=shares, listed_rate=0.002)
    rows = np.arange(0, len(origin), 40)
    passport = dict(zip(PARTS, screening.passport_strings(pools, rows), strict=True))
    listed = dict(zip(PARTS, screening.list_strings(pools), strict=True))
    for floor in (0.75, 0.85):
        matcher = WatchlistMatcher(threshold=0.9, score_floor=floor).fit(
            *listed.values(), screening.watchlist["birth_year"])
        fast = matcher.score(*passport.values(), years[rows])
        slow = brute_force(matcher, passport, years[rows], listed,
                           screening.watchlist["birth_year"])
        assert np.allclose(fast, slow, atol=1e-5)
        assert (fast > 0).sum() >= 5


def _rates(pools, travellers, **knobs):
    origin, ids, years = travellers
    composition = knobs.pop("composition", "targeted")
    shares = list_shares(composition, TARGETED, origin, pools)
    screening = screen(pools, origin, ids, SEED, birth_year=years, shares=shares,
                       listed_rate=0.004, **knobs)
    hit = WatchlistMatcher().fit(*screening.list_strings(pools),
                                 screening.watchlist["birth_year"]).predict(
        *screening.passport_strings(pools), years)
    names = np.array(pools.origins)[origin]
    listed = screening.listed
    false_hits = {o: hit[(names == o) & ~listed].mean() for o in pools.origins}
    transliterated = np.isin(names, ["Arabic", "Persian", "Chinese", "Slavic"]) & listed
    return false_hits, 1 - hit[transliterated].mean()


def test_a_targeted_list_raises_false_hits_of_the_targeted_origins(pools, travellers):
    targeted, _ = _rates(pools, travellers)
    proportional, _ = _rates(pools, travellers, composition="proportional")
    assert targeted["Arabic"] > proportional["Arabic"] + 0.02
    assert targeted["Anglo"] < proportional["Anglo"]


def test_concentrated_pools_raise_false_hits(pools, travellers):
    concentrated, _ = _rates(pools, travellers)
    flat, _ = _rates(pools, travellers, concentration=0.0)
    assert concentrated["Arabic"] > flat["Arabic"] + 0.02
    assert concentrated["Somali"] > flat["Somali"]


def test_transliteration_variety_makes_the_matcher_miss_listed_travellers(pools, travellers):
    _, missed_varied = _rates(pools, travellers)
    _, missed_canonical = _rates(pools, travellers, variety=0.0)
    assert missed_canonical < 0.05
    assert missed_varied > missed_canonical + 0.2


def test_bad_matcher_settings_and_lists_are_named(pools, travellers):
    with pytest.raises(ValueError, match="weights must be three"):
        WatchlistMatcher(weights=(0.5, 0.5, 0.5)).fit(["a"], ["b"], ["c"])
    with pytest.raises(ValueError, match="score_floor <= threshold"):
        WatchlistMatcher(threshold=0.8, score_floor=0.9).fit(["a"], ["b"], ["c"])
    origin, _, _ = travellers
    with pytest.raises(ValueError, match="list shares add up to 0.9"):
        list_shares("targeted", {"Arabic": 0.9}, origin, pools)
    with pytest.raises(ValueError, match="origin 'Klingon', which has no name pool"):
        list_shares("targeted", {"Klingon": 1.0}, origin, pools)
