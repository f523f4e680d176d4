"""Generation: schema, marginals against the profile, independences, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from synthetic.population import (
    COLUMNS,
    PopulationInputError,
    generate,
    generate_rows,
    iter_chunks,
    load_profile,
)
from synthetic.population.profiles import profiles_dir
from tests.synthetic.helpers import assert_same_frame

ALPHA = 1e-3


def chi_square_p(observed: np.ndarray, expected: np.ndarray) -> float:
    """Pearson goodness-of-fit p-value over cells with positive expectation."""
    observed = np.asarray(observed, dtype=float).ravel()
    expected = np.asarray(expected, dtype=float).ravel()
    assert observed[expected == 0].sum() == 0, "counts in cells the profile rules out"
    keep = expected > 0
    statistic = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    return float(stats.chi2.sf(statistic, keep.sum() - 1))


def test_required_columns_and_dtypes(visa_population):
    people = visa_population.people
    expected = {
        "person_id": "int64", "age": "int16", "years_in_country": "float32",
        "days_to_visa_expiry": "int32", "overstay_days": "int32", "skin_tone": "int8",
        "posts_per_month": "float32", "neighbourhood_surveillance": "float32",
        "n_family_ties": "int16", "n_coworker_ties": "int16", "plate_reader_hits": "int16",
        "prior_contacts": "int16",
    }
    for name, dtype in expected.items():
        assert str(people[name].dtype) == dtype, name
    for name in ("nationality", "region_of_origin", "sex", "first_language", "dialect",
                 "visa_type", "visa_status", "true_criminal_record", "neighbourhood",
                 "name_origin", "employer_sector", "recorded_criminal_record"):
        assert isinstance(people[name].dtype, pd.CategoricalDtype), name
    for name in ("speaks_english", "true_overstay", "true_serious_crime", "protest_participation",
                 "name_transliterated", "has_tattoo", "true_gang_affiliation", "true_threat",
                 "vehicle_owner", "recorded_overstay", "in_training_sample"):
        assert people[name].dtype == bool, name
    assert [c.name for c in COLUMNS] == list(people.columns[: len(COLUMNS)])
    assert np.array_equal(people["person_id"].to_numpy(), np.arange(len(people)))


def test_values_are_in_their_ranges(visa_population):
    people = visa_population.people
    assert people["skin_tone"].between(1, 10).all()
    assert people["neighbourhood_surveillance"].between(0, 1).all()
    assert (people["overstay_days"] >= 0).all()
    overstayed = people["true_overstay"]
    assert (people.loc[overstayed, "days_to_visa_expiry"] < 0).all()
    assert (people.loc[overstayed, "visa_status"] == "overstayed").all()
    assert (people.loc[~overstayed, "overstay_days"] == 0).all()
    assert (people.loc[~overstayed, "days_to_visa_expiry"] >= 0).all()
    assert people["true_serious_crime"].equals(people["true_criminal_record"] == "serious")
    assert (people["years_in_country"] <= people["age"]).all()
    english = people["first_language"] == "English"
    assert people.loc[english, "speaks_english"].all()


def test_nationality_shares_match_the_profile(visa_population):
    profile, people = visa_population.profile, visa_population.people
    observed = people["nationality"].value_counts().reindex(profile.nationalities).to_numpy()
    assert chi_square_p(observed, profile.shares * len(people)) > ALPHA


def test_region_follows_nationality(visa_population):
    profile, people = visa_population.profile, visa_population.people
    codes = people["nationality"].cat.codes.to_numpy()
    mapped = np.asarray(profile.regions)[profile.nationality_region[codes]]
    assert np.array_equal(mapped, people["region_of_origin"].astype(str).to_numpy())


@pytest.mark.parametrize(
    ("column", "table"),
    [("visa_type", "visa_probs"), ("first_language", "language_probs"),
     ("name_origin", "name_probs"), ("neighbourhood", "neighbourhood_probs")],
)
def test_conditional_distributions_given_nationality_match(visa_population, column, table):
    profile, people = visa_population.profile, visa_population.people
    observed = pd.crosstab(people["nationality"], people[column], dropna=False).to_numpy()
    expected = observed.sum(axis=1, keepdims=True) * getattr(profile, table)
    assert chi_square_p(observed, expected) > ALPHA


def test_skin_tone_given_region_matches(visa_population):
    profile, people = visa_population.profile, visa_population.people
    observed = pd.crosstab(people["region_of_origin"], people["skin_tone"]).reindex(
        columns=range(1, 11), fill_value=0).to_numpy()
    expected = observed.sum(axis=1, keepdims=True) * profile.skin_tone_probs
    assert chi_square_p(observed, expected) > ALPHA


def test_sex_and_overstay_rates_match(visa_population):
    profile, people = visa_population.profile, visa_population.people
    female = (people["sex"] == "F").to_numpy()
    codes = people["nationality"].cat.codes.to_numpy()
    expected_female = profile.female[codes].sum()
    sd = np.sqrt((profile.female[codes] * (1 - profile.female[codes])).sum())
    assert abs(female.sum() - expected_female) < 4 * sd
    visa = people["visa_type"].cat.codes.to_numpy()
    rate = profile.visa["overstay_rate"][visa] * profile.overstay_multiplier[codes]
    sd = np.sqrt((rate * (1 - rate)).sum())
    assert abs(people["true_overstay"].sum() - rate.sum()) < 4 * sd


def test_true_criminal_record_does_not_depend_on_nationality_given_sex_and_age(visa_population):
    people = visa_population.people
    stratum = (people["sex"] == "M") & people["age"].between(35, 45) & ~people[
        "true_gang_affiliation"]
    table = pd.crosstab(people.loc[stratum, "region_of_origin"],
                        people.loc[stratum, "true_criminal_record"] != "none")
    assert stats.chi2_contingency(table.to_numpy())[1] > ALPHA


def _profile_with(tmp_path, replacements):
    text = (profiles_dir() / "us_visa_holders.toml").read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "rates.toml"
    path.write_text(text, encoding="utf-8")
    return load_profile(path)


def test_true_threat_and_gang_affiliation_are_independent_of_nationality(tmp_path):
    # Rare by default; raise the rates so the test has power, the structure is unchanged.
    profile = _profile_with(
        tmp_path,
        [("threat_rate = 0.0001", "threat_rate = 0.2"), ("gang_rate = 0.0005", "gang_rate = 0.1")],
    )
    people = generate(profile, 100_000, seed=5).people
    for column in ("true_threat", "true_gang_affiliation", "has_tattoo"):
        table = pd.crosstab(people["nationality"], people[column]).to_numpy()
        assert stats.chi2_contingency(table)[1] > ALPHA, column
    assert abs(people["true_threat"].mean() - 0.2) < 0.01
    assert abs(people["true_gang_affiliation"].mean() - 0.1) < 0.01


def test_default_threat_rate_is_extremely_rare(visa_population):
    rate = visa_population.people["true_threat"].mean()
    assert rate < 5e-4


def test_same_seed_same_population_whatever_the_chunking():
    profile = load_profile("southern_border_asylum")
    n = 150_000
    mechanisms = {"label_bias": {"strength": 2.0, "targets": ["HTI", "region:South Asia"]},
                  "surveillance_intensity": {"strength": 1.0, "targets": ["VEN"]}}
    whole = generate(profile, n, seed=99, mechanisms=mechanisms).people
    for chunk_size in (1, 7_919, 65_536, 100_000):
        if chunk_size == 1:
            parts = [generate_rows(profile, n, 99, s, s + 1, mechanisms=mechanisms)
                     for s in (0, 65_535, 65_536, n - 1)]
            for part, row in zip(parts, (0, 65_535, 65_536, n - 1), strict=True):
                assert_same_frame(part, whole.iloc[[row]].reset_index(drop=True))
            continue
        chunks = list(iter_chunks(profile, n, 99, chunk_size, mechanisms=mechanisms))
        assert_same_frame(pd.concat(chunks, ignore_index=True), whole)


def test_different_seeds_give_different_populations():
    a = generate("us_visa_holders", 1000, seed=1).people
    b = generate("us_visa_holders", 1000, seed=2).people
    assert not a["nationality"].equals(b["nationality"])


def test_a_population_is_a_prefix_of_a_larger_one():
    small = generate("uk_visa_applicants", 1_000, seed=3).people
    large = generate("uk_visa_applicants", 70_000, seed=3).people
    assert_same_frame(small, large.iloc[:1_000])


@pytest.mark.parametrize("size", [0, -5, 2.5, True])
def test_non_positive_or_fractional_size_is_rejected(size):
    with pytest.raises(PopulationInputError, match="size must be a positive whole number"):
        generate("us_visa_holders", size, seed=1)


def test_bad_seed_is_rejected():
    with pytest.raises(PopulationInputError, match="seed must be a whole number"):
        generate("us_visa_holders", 10, seed=-1)


def test_to_file_round_trips_and_refuses_to_overwrite(tmp_path):
    population = generate("us_international_students", 500, seed=4)
    path = population.to_file(tmp_path / "people.parquet")
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, population.people)
    with pytest.raises(PopulationInputError, match="already exists"):
        population.to_file(path)
    population.to_file(tmp_path / "people.csv")
    assert len(pd.read_csv(tmp_path / "people.csv")) == 500
    with pytest.raises(PopulationInputError, match=r"\.parquet or \.csv"):
        population.to_file(tmp_path / "people.xlsx")


def test_a_progress_bar_is_shown_only_when_asked_for_and_the_people_are_the_same(capsys):
    """progress=True shows a bar on standard error; without it nothing is printed, and the
    people are the same either way."""
    quiet = generate("us_visa_holders", 3000, 5).people
    assert capsys.readouterr().err == ""
    shown = generate("us_visa_holders", 3000, 5, progress=True).people
    assert "population" in capsys.readouterr().err
    pd.testing.assert_frame_equal(quiet, shown)
    chunks = list(iter_chunks("us_visa_holders", 3000, 5, chunk_size=1000, progress=True))
    assert "people" in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), quiet)
    list(iter_chunks("us_visa_holders", 3000, 5, chunk_size=1000))
    assert capsys.readouterr().err == ""


def test_generating_people_without_a_bar_does_not_load_tqdm():
    """A run asks for no bar, and its start-up does not pay for tqdm's import."""
    import subprocess
    import sys

    code = ("import sys; from synthetic.population import generate; "
            "generate('us_visa_holders', 2000, 1); print('tqdm' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "False"
