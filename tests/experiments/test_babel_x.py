"""The babel-x experiment end to end: outputs, determinism, fair world, text counterfactual,
keyword flagger measured from data, settings errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.config import ConfigError, load_config, parse_config
from experiments.engine.checks import check_experiment
from experiments.engine.runner import run_experiment as run
from experiments.engine.runner import train_split
from experiments.systems import babel_x as adapter
from synthetic.population import generate
from synthetic.posts import ARABIC_RENDERINGS, generate_posts
from tests.experiments.conftest import (
    apply_changes,
    counted_fit_thread,
    same_table_bytes,
    shipped_data,
)

FAIR_PROFILE = Path(__file__).parent / "data" / "fair_world.toml"
EXTRA_FILES = ("post_metrics.csv", "keyword_flagger.csv", "posts_pulled_in.csv",
               "text_counterfactual.csv")
DETERMINISTIC_FILES = ("metrics.csv", "metrics.json", "summary.csv", *EXTRA_FILES)


def babel_x_data(**changes: object) -> dict:
    """The shipped babel-x experiment, made small; ``changes`` maps dotted keys."""
    data = shipped_data("babel_x", 20_000, 200)
    data["system"].update(training_posts=20_000, counterfactual_posts=2_000, n_jobs=1)
    return apply_changes(data, changes)


@pytest.fixture(scope="module")
def biased_run(tmp_path_factory):
    """The shipped experiment, small: annotator bias 1, Middle East watched more closely."""
    out = tmp_path_factory.mktemp("babel") / "biased"
    return run(parse_config(babel_x_data()), Path("babel_x.toml"), out=out)


@pytest.fixture(scope="module")
def fair_run(tmp_path_factory):
    """Groups alike, annotator bias 0, equal surveillance, no proxy leakage."""
    data = babel_x_data(**{
        "population.profile": str(FAIR_PROFILE),
        "population.size": 30_000,
        "mechanisms": {"surveillance_intensity": {"strength": 0.0},
                       "proxy_leakage": {"strength": 0.0}},
        "system.annotator_bias": 0.0,
        # the reported lexicon is itself a bias (identity and solidarity words); off: neutral
        "system.lexicon": "neutral",
        "audit.reference": {},
        "audit.groupings": [["nationality"], ["region_of_origin"], ["first_language"]],
        "audit.focus": [{"grouping": "region_of_origin", "group": "Middle East and North Africa",
                         "reference": "East Asia and Pacific"}],
    })
    config = parse_config(data)
    check_experiment(config)
    return run(config, Path("fair.toml"), out=tmp_path_factory.mktemp("babel") / "fair")


def test_shipped_experiment_validates():
    config, path = load_config("babel-x")
    check_experiment(config)
    assert path.name == "babel_x.toml"
    assert config.system_settings().annotator_bias == 1.0


def test_run_writes_the_usual_folder_and_the_post_tables(biased_run):
    names = {p.name for p in biased_run.directory.iterdir()}
    assert {"manifest.json", "metrics.csv", "report.md", "report.html", *EXTRA_FILES} <= names
    figures = {p.name for p in (biased_run.directory / "figures").iterdir()}
    assert {"text_counterfactual.png", "keyword_flagger_by_topic.png",
            "rates_nationality.png"} <= figures
    report = (biased_run.directory / "report.md").read_text()
    for heading in ("Babel X-style", "## Posts: the post-level audit", "Counterfactual text test",
                    "The keyword flagger, by topic", "Equity Evaluation Corpus"):
        assert heading in report
    assert "flagged as a threat in error" in " ".join(biased_run.headlines)


def test_people_are_flagged_when_any_pulled_in_post_is(biased_run):
    decisions = biased_run.decisions
    assert set(decisions.columns) >= {"nationality", "region_of_origin", "first_language",
                                      "y_true", "y_recorded", "decision", "score"}
    assert decisions["score"].between(0, 1).all()
    assert 0.05 < decisions["decision"].mean() < 0.8
    pulled = pd.read_csv(biased_run.directory / "posts_pulled_in.csv")
    region = pulled[pulled["grouping"] == "region_of_origin"].set_index("group")
    # Persistent search reads more of the watched group's posts and flags more of them.
    watched = region.loc["Middle East and North Africa"]
    others = region.drop(index="Middle East and North Africa")
    assert watched["posts_pulled_in_per_person"] > 1.4 * others["posts_pulled_in_per_person"].max()
    assert watched["fpr"] > others["fpr"].max()


def test_post_level_audit_has_both_views_and_every_grouping(biased_run):
    table = pd.read_csv(biased_run.directory / "post_metrics.csv")
    assert set(table["view"]) == {"true intent", "annotator labels"}
    assert set(table["grouping"]) == {"nationality", "region_of_origin", "first_language",
                                      "style", "topic"}
    fpr = table[(table["metric"] == "fpr") & (table["grouping"] == "style")
                & (table["view"] == "true intent")].set_index("group")
    assert fpr.loc["english", "flags"].startswith("reference")


def test_same_config_and_seed_give_byte_identical_outputs(biased_run, tmp_path):
    again = run(parse_config(babel_x_data()), Path("babel_x.toml"), out=tmp_path / "again")
    for name in DETERMINISTIC_FILES:
        assert (again.directory / name).read_bytes() == \
            (biased_run.directory / name).read_bytes(), name


def test_no_significant_person_level_fpr_disparity_without_bias_or_surveillance(fair_run):
    table = fair_run.views["true"].table
    fpr = table[table["metric"] == "fpr"]
    flagged = int(fair_run.decisions["decision"].sum())
    assert flagged > 2_000  # the test rests on enough flagged people to see a disparity
    significant = fpr.loc[fpr["p_holm"] < 0.05, ["grouping", "group", "value", "ratio"]]
    # Holm controls the family-wise error per grouping at 5%; one stray rejection in three
    # groupings is chance, more would be a disparity.
    assert len(significant) <= 1, significant


def test_arabic_renderings_flip_the_threat_flag_when_annotators_are_biased(biased_run, fair_run):
    biased = pd.read_csv(biased_run.directory / "text_counterfactual.csv").set_index("rendering")
    fair = pd.read_csv(fair_run.directory / "text_counterfactual.csv").set_index("rendering")
    for rendering in ARABIC_RENDERINGS:
        row = biased.loc[rendering]
        assert row["threat_flag_flip_ci_low"] > 0, rendering
    # Mixing Arabic words into the same English text raises the threat probability.
    switched = "English code-switched with Arabic"
    assert biased.loc[switched, "shift_ci_low"] > 0
    assert biased.loc[switched, "threat_flag_flip_rate"] > fair.loc[switched,
                                                                     "threat_flag_flip_rate"]
    assert biased.loc[switched, "mean_score_shift"] > fair.loc[switched, "mean_score_shift"] + 0.02
    baseline = biased.loc["English (baseline)"]
    assert baseline["threat_flag_flips"] == 0 and baseline["mean_score_shift"] == 0


def test_keyword_fpr_on_solidarity_posts_is_measured_from_the_posts(biased_run):
    table = pd.read_csv(biased_run.directory / "keyword_flagger.csv").set_index("topic")
    measured = table.loc["solidarity_palestine"]
    assert measured["keyword_fpr"] > 0
    # Recount from the same posts, regenerated, with a plain regular-expression search.
    config = parse_config(babel_x_data())
    settings = config.system_settings()
    population = generate(config.population.profile, config.population.size,
                          config.experiment.seed,
                          mechanisms={k: m.model_dump() for k, m in config.mechanisms.items()})
    people = population.people
    held_out = people.loc[~train_split(len(people), config.split.train_fraction,
                                       config.experiment.seed)].reset_index(drop=True)
    posts = generate_posts(held_out, config.experiment.seed, months=settings.months,
                           stream=adapter.POSTS_STREAM, annotator_bias=settings.annotator_bias,
                           annotator_noise=settings.annotator_noise,
                           annotator_miss_rate=settings.annotator_miss_rate,
                           threat_share=settings.threat_share)
    solidarity = posts[(posts["topic"] == "solidarity_palestine") & ~posts["true_threat"]]
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, settings.lexicon_words)) + ")",
                         re.I)
    hits = sum(bool(pattern.search(text)) for text in solidarity["text"])
    assert measured["non_threat_posts"] == len(solidarity)
    assert measured["keyword_false_positives"] == hits
    assert measured["keyword_fpr"] == pytest.approx(hits / len(solidarity))
    assert measured["keyword_fpr"] > 5 * table.loc["daily_life", "keyword_fpr"]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("system.annotator_bias", 7.0, "system.annotator_bias"),
    ("system.annotator_bais", 1.0, "did you mean 'annotator_bias'"),
    ("system.keywords", ["bomb", " "], "entry 1 is blank"),
    ("system.flag_rule", "any", "system.flag_rule"),
    ("system.months", 0.0, "system.months"),
])
def test_bad_settings_name_the_key(key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(babel_x_data(**{key: value}))


def test_settings_defaults_are_valid():
    settings = adapter.Settings()
    assert settings.flag_rule == "either" and settings.lexicon == "reported"
    assert settings.keywords is None and "gaza" in settings.lexicon_words
    assert np.isclose(settings.months, 3.0)


def test_the_keyword_lexicon_is_an_attribution_knob_as_in_the_flagship():
    knobs = {}
    for name in ("babel-x", "catch-and-revoke"):
        config = load_config(name)[0]
        knobs[name] = {k.key: k.off for k in config.attribution.knobs}
    assert knobs["babel-x"]["system.lexicon"] == "neutral"
    assert knobs["babel-x"]["system.lexicon"] == knobs["catch-and-revoke"]["system.lexicon"]
    # The knob names a setting the system takes: the lexicon switched off is a valid world.
    config = load_config("babel-x", {"system.lexicon": "neutral"})[0]
    assert config.system_settings().lexicon == "neutral"


def test_small_fnr_cells_are_withheld_not_undefined_and_the_records_fnr_is_shown(biased_run):
    from experiments.reports.run import defined_somewhere, undefined_everywhere

    report = (biased_run.directory / "report.md").read_text(encoding="utf-8")
    truth, recorded = biased_run.views["true"], biased_run.views["recorded"]
    grouping = "region_of_origin"
    if defined_somewhere(truth, grouping, "fnr"):
        # Some group has a true positive: its FNR exists, however small the cell.
        assert "undefined for every group" not in report
    if not undefined_everywhere(recorded, grouping, "fnr"):
        assert "FNR (recorded outcome)" in report


def test_fits_started_ahead_leave_every_table_the_same(tmp_path, monkeypatch):
    """The run's fits (per replicate and per annotator setting of the worlds) go to the
    fitting thread ahead of need; the tables are those of fitting each one when asked."""
    from synthetic.systems import babel_x as system

    data = babel_x_data(**{"experiment.replicates": 2, "population.size": 8_000,
                           "system.training_posts": 8_000, "system.counterfactual_posts": 500,
                           "audit.n_boot": 50})
    config = parse_config(data)
    asked = counted_fit_thread(monkeypatch, adapter)
    ahead = run(config, Path("babel_x.toml"), out=tmp_path / "ahead").directory
    # Replicate 1's other annotator setting and replicate 2's two on the configured people
    # (replicate 1's own is fitted at once), each corpus featurised once for its fits; on
    # the people without surveillance, replicate 1's features and two fits urgently, and
    # then replicate 2's, behind the rest.
    assert asked == [False] * (2 + 3) + [True] * 3 + [False] * 3
    system.FITS.clear()
    system.FEATURES.clear()
    monkeypatch.setattr(adapter, "run_plan", lambda: None)
    here = run(config, Path("babel_x.toml"), out=tmp_path / "here").directory
    assert len(asked) == 11  # nothing asked for ahead without a plan
    tables = same_table_bytes(ahead, here)
    assert "attribution.csv" in tables and "replicates.csv" in tables


@pytest.mark.parametrize("kept", [12, 11])
def test_later_replicates_worlds_are_asked_for_ahead_when_the_cache_keeps_every_fit(
        tmp_path, monkeypatch, kept):
    from synthetic.systems import babel_x as system
    from synthetic.systems.memo import RecentResults

    data = babel_x_data(**{"experiment.replicates": 3, "population.size": 6_000,
                           "system.training_posts": 6_000, "system.counterfactual_posts": 200,
                           "audit.n_boot": 20})
    asked = counted_fit_thread(monkeypatch, adapter)
    # Four fits a replicate (two annotator settings on each of two populations), twelve in
    # the run: with room for them all, replicates 2 and 3's worlds are asked for with
    # replicate 1's; with less, each replicate asks for its own when it comes to them.
    monkeypatch.setattr(system, "FITS", RecentResults(max_entries=kept))
    monkeypatch.setattr(adapter, "FITS", system.FITS)
    run(parse_config(data), Path("babel_x.toml"), out=tmp_path / "run")
    # On the configured people: replicate 1's other setting, replicates 2 and 3's two (each
    # corpus's features first). Without surveillance: replicate 1's urgently, then the rest.
    configured = [False] * (2 + 3 + 3)
    if kept == 12:
        assert asked == configured + [True] * 3 + [False] * (3 + 3)
    else:
        assert asked == configured + [True] * 3 + [True] * 3 + [True] * 3


def test_no_more_fits_are_asked_for_ahead_than_the_cache_keeps(tmp_path, monkeypatch):
    data = babel_x_data(**{"experiment.replicates": 3, "population.size": 6_000,
                           "system.training_posts": 6_000, "system.counterfactual_posts": 200,
                           "audit.n_boot": 20})
    asked = counted_fit_thread(monkeypatch, adapter)
    monkeypatch.setattr(adapter, "FITS_AHEAD", 1)
    result = run(parse_config(data), Path("babel_x.toml"), out=tmp_path / "run",
                 attribution=False)
    # Replicate 2's features and fit; replicate 3's are made when they are needed.
    assert asked == [False, False]
    assert (result.directory / "replicates.csv").exists()
