"""Profiles: shipped files load, name their sources, and bad files fail with one clear line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from synthetic.population import REGIONS, PopulationInputError, list_profiles, load_profile
from synthetic.population.profiles import profiles_dir

REQUIRED = {"us_visa_holders", "us_international_students", "southern_border_asylum",
            "uk_visa_applicants"}
US_VISA = profiles_dir() / "us_visa_holders.toml"


def test_required_profiles_are_shipped_with_one_line_descriptions():
    listed = dict(list_profiles())
    assert REQUIRED <= set(listed)
    for description in listed.values():
        assert description and "\n" not in description


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_profile_loads_with_valid_shares_and_codes(name):
    profile = load_profile(name)
    assert np.isclose(profile.shares.sum(), 1.0)
    assert all(re.fullmatch(r"[A-Z]{3}", code) for code in profile.nationalities)
    assert set(profile.regions) <= set(REGIONS)
    for table in (profile.visa_probs, profile.language_probs, profile.name_probs,
                  profile.neighbourhood_probs, profile.skin_tone_probs, profile.sector_probs):
        assert np.allclose(table.sum(axis=1), 1.0)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_table_names_a_source(name):
    with (profiles_dir() / f"{name}.toml").open("rb") as handle:
        data = tomllib.load(handle)
    for key, value in data.items():
        if isinstance(value, dict) and key not in ("regions", "visa_types"):
            assert value.get("source"), f"[{key}] has no source"
    for group in ("regions", "visa_types"):
        for key, value in data.get(group, {}).items():
            assert value.get("source"), f"[{group}.{key}] has no source"


def test_southern_border_profile_has_the_named_nationalities():
    profile = load_profile("southern_border_asylum")
    named = {"MEX", "GTM", "HND", "SLV", "VEN", "HTI", "CUB", "NIC", "COL", "ECU"}
    assert named <= set(profile.nationalities)


def test_us_visa_holders_has_about_thirty_nationalities_and_all_statuses():
    profile = load_profile("us_visa_holders")
    assert 25 <= len(profile.nationalities) <= 40
    assert {"valid", "permanent resident", "overstayed"} <= set(profile.visa_statuses)


def test_student_profile_holds_only_student_visas():
    assert load_profile("us_international_students").visa_types == ("F-1 student",)


def test_unknown_profile_lists_the_available_ones():
    with pytest.raises(PopulationInputError, match="unknown profile 'us_visa'.*us_visa_holders"):
        load_profile("us_visa")


def test_missing_profile_file_is_named(tmp_path):
    with pytest.raises(PopulationInputError, match="not found"):
        load_profile(tmp_path / "nope.toml")


def _custom(tmp_path: Path, old: str, new: str) -> Path:
    text = US_VISA.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "custom.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_user_profile_file_loads(tmp_path):
    path = _custom(tmp_path, 'name = "us_visa_holders"', 'name = "my_profile"')
    assert load_profile(path).name == "my_profile"
    assert load_profile(str(path)).name == "my_profile"


def test_shares_not_summing_to_one_say_by_how_much(tmp_path):
    path = _custom(tmp_path, "MEX = { share = 0.150", "MEX = { share = 0.120")
    with pytest.raises(PopulationInputError, match=r"add up to 0\.97, 0\.03 short of 1"):
        load_profile(path)


def test_distribution_over_one_is_reported(tmp_path):
    path = _custom(tmp_path, "Spanish = 0.94, Nahuatl", "Spanish = 0.99, Nahuatl")
    with pytest.raises(PopulationInputError, match=r"MEX\.languages add up to 1\.05, 0\.05 over 1"):
        load_profile(path)


def test_table_without_source_is_rejected(tmp_path):
    path = _custom(tmp_path, 'source = "illustrative assumption: mean number', 'note = "x')
    with pytest.raises(PopulationInputError, match=r"\[sectors\] names no source"):
        load_profile(path)


def test_unknown_region_is_named(tmp_path):
    path = _custom(tmp_path, 'region = "North America"', 'region = "Atlantis"')
    with pytest.raises(PopulationInputError, match="'Atlantis'"):
        load_profile(path)


def test_bad_iso_code_is_named(tmp_path):
    path = _custom(tmp_path, "\nGBR = {", "\nUK = {")
    with pytest.raises(PopulationInputError, match="'UK' is not an ISO 3166 alpha-3 code"):
        load_profile(path)


def test_speech_rates_come_from_the_profiles_labelled_assumption():
    profile = load_profile("us_international_students")  # inherits [speech] from its base
    assert "illustrative assumption" in profile.raw["speech"]["source"]
    by_code = dict(zip(profile.nationalities, profile.palestine_solidarity, strict=True))
    assert by_code["SAU"] == 0.40 and by_code["PAK"] == 0.25 and by_code["CHN"] == 0.05
    assert profile.solidarity_protest_multiplier == 4.0


def test_speech_by_origin_typo_is_named(tmp_path):
    path = _custom(tmp_path, 'by_origin = { "Middle East and North Africa"',
                   'by_origin = { "Middle East"')
    with pytest.raises(PopulationInputError, match="speech.by_origin names 'Middle East'"):
        load_profile(path)


def test_profile_without_speech_table_has_nobody_speaking(tmp_path):
    text = US_VISA.read_text(encoding="utf-8")
    path = tmp_path / "quiet.toml"
    path.write_text(text[:text.index("[speech]")], encoding="utf-8")
    profile = load_profile(path)
    assert not profile.palestine_solidarity.any()
