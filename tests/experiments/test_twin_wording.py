"""Every sentence a report prints about counterfactual twins names the effect it computed."""

from __future__ import annotations

import re

import pandas as pd

from experiments.reports.headlines import share
from experiments.writing.names import country_name

#: A twin sentence: "... changed the decision for X% of them (95% CI a–b; n = N): the E effect."
TWIN_SENTENCE = re.compile(
    r"Changing (?P<what>.+?) changed the decision for (?P<rate>\S+) of the people decided "
    r"\(the (?P<effect>\w+) effect; Wilson 95% CI (?P<low>\S+)–(?P<high>\S+); "
    r"n = (?P<n>[\d,]+)\)\. The twin changes (?P<detail>.+?)\.(?=\s|$)"
    # The rate among people whose attribute the twin changes, where some are their own twin.
    r"(?: Among the (?P<changed_n>[\d,]+) whose .+? who are their own twin\.)?")


def _sentences(text: str) -> list[str]:
    return [m.group(0) for m in TWIN_SENTENCE.finditer(text)]


def test_flip_rates_hold_both_effects(small_run):
    flips = pd.read_csv(small_run.directory / "flip_rates.csv")
    assert list(flips.columns[:2]) == ["intervention", "effect"]
    for _, part in flips.groupby("intervention"):
        assert set(part["effect"]) == {"total", "direct"}


def test_report_twin_sentences_match_the_effect_computed(small_run):
    report = (small_run.directory / "report.md").read_text(encoding="utf-8")
    flips = pd.read_csv(small_run.directory / "flip_rates.csv")
    found = _sentences(report)
    # One sentence per (intervention, effect) in the twins section, and the headline's.
    assert len(found) >= 2 * flips["intervention"].nunique()
    seen = set()
    for sentence in found:
        match = TWIN_SENTENCE.fullmatch(sentence)
        effect, what = match["effect"], match["what"]
        # A country code is written as the country's name ("nationality to India").
        named = [i for i in flips["intervention"].unique()
                 if re.match(rf"(only )?their {i.split('=')[0].replace('_', ' ')} to "
                             rf"{re.escape(country_name(i.split('=')[1]) or i.split('=')[1])}"
                             r"( and|,)", what)]
        assert len(named) == 1, sentence
        intervention, attribute = named[0], named[0].split("=")[0]
        row = flips[(flips["intervention"] == intervention) & (flips["effect"] == effect)
                    & (flips["group"] == "(all)") & (flips["grouping"] == attribute)].iloc[0]
        assert match["rate"] == share(row["flip_rate"]), sentence
        assert (match["low"], match["high"]) == (share(row["ci_low"]), share(row["ci_high"]))
        assert int(match["n"].replace(",", "")) == row["n"]
        # Only the direct effect holds everything else fixed; the total one says what follows.
        assert ("held fixed" in sentence) == (effect == "direct"), sentence
        assert ("what follows from it" in sentence) == (effect == "total"), sentence
        assert what.startswith("only ") == (effect == "direct"), sentence
        seen.add((intervention, effect))
    assert seen == set(zip(flips["intervention"], flips["effect"], strict=True))
    # No other sentence of the report claims that a twin held everything else fixed.
    rest = TWIN_SENTENCE.sub("", report)
    assert "held fixed" not in rest


def test_headline_twin_sentences_match_the_report(small_run):
    twin_headlines = [h for h in small_run.headlines if _sentences(h)]
    assert twin_headlines, small_run.headlines
    for headline in twin_headlines:
        assert TWIN_SENTENCE.sub("", headline).strip() == ""
