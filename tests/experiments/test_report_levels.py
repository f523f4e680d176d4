"""A report states the experiment's own interval level and suppression threshold, in every
sentence, table header and figure caption, and draws no figure it has nothing for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from experiments.config import parse_config
from experiments.engine.runner import run_experiment

from .conftest import apply_changes, shipped_data

#: A level and a threshold no shipped file uses, so that a fixed "95%" or "<10" shows.
CHANGES = {"audit.confidence": 0.9, "audit.suppress_below": 7}
#: "95%" as an interval's level ("95% CI", "Wilson 95%", "(95% Wilson interval)"), not a
#: share that happens to be 95% or part of a longer number ("10.95%").
FIXED_LEVEL = re.compile(r"(?<![\d.])95%(?= (?:CIs?|Wilson|intervals?|bootstrap|Newcombe|t "
                         r"interval))|Wilson 95%")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("levels")
    found = {}
    # At this size ICM Falcon has no nationality's error rate to draw (each is undefined or
    # withheld for its few people): its report must still be written, without that figure.
    for stem, replicates in (("catch_and_revoke", 1), ("detention_rca", 1),
                             ("icm_falcon", 2)):
        data = apply_changes(shipped_data(stem, 3_000, n_boot=50, replicates=replicates),
                             CHANGES)
        with threadpool_limits(1):
            found[stem] = run_experiment(parse_config(data), Path(f"{stem}.toml"),
                                         out=out / stem,
                                         attribution=stem == "icm_falcon").directory
    return found


@pytest.mark.parametrize("stem", ["catch_and_revoke", "detention_rca", "icm_falcon"])
def test_the_report_states_the_configured_level_and_threshold(runs, stem):
    text = (runs[stem] / "report.md").read_text(encoding="utf-8")
    assert "90%" in text
    fixed = [text[max(0, m.start() - 80):m.end() + 10] for m in FIXED_LEVEL.finditer(text)]
    assert not fixed, fixed
    assert "<10" not in text
    claims = json.loads((runs[stem] / "claims.json").read_text(encoding="utf-8"))["claims"]
    levels = {c["value"] for c in claims if c["unit"] == "confidence level"}
    assert levels == {0.9}, levels


def test_a_grouping_with_every_rate_withheld_gets_no_figure(runs):
    directory = runs["icm_falcon"]
    metrics = (directory / "metrics.csv").read_text(encoding="utf-8")
    assert "suppressed" in metrics
    report = (directory / "report.md").read_text(encoding="utf-8")
    for figure in re.findall(r"\]\((figures/[^)]+\.png)\)", report):
        assert (directory / figure).is_file(), figure
