"""Knobs that interact are not read as additive parts: wherever a knob's effect alone lies
apart from its Shapley share, the headlines and the attribution section print the effect alone
beside the share and name the interaction."""

from __future__ import annotations

import pandas as pd

from experiments.reports.headlines import contrast_headline
from experiments.reports.interactions import alone_differs, interaction_phrase
from experiments.reports.run import attribution_blocks, interaction_paragraph
from experiments.systems.contract import (
    ALL_OFF,
    AS_CONFIGURED,
    Attribution,
    Decisions,
    SystemRun,
    Wording,
    WorldContrast,
)
from experiments.writing.document import Paragraph


def _rows(knobs: list[tuple[str, float, float, float, float]], total: float,
          metric: str = "fpr") -> pd.DataFrame:
    """Attribution rows of one comparison: (name, share, alone, alone low, alone high)."""
    base = {"grouping": "nationality", "group": "NGA", "reference": "IND", "metric": metric,
            "n_group": 1000, "n_reference": 3000, "label": "", "monte_carlo_error": 0.0}
    nan = float("nan")
    rest = total - sum(k[1] for k in knobs)
    rows = [{**base, "source": ALL_OFF, "kind": "baseline", "knob_key": "",
             "contribution": rest, "ci_low": rest - 0.01, "ci_high": rest + 0.01,
             "one_at_a_time_change": nan, "one_at_a_time_ci_low": nan,
             "one_at_a_time_ci_high": nan}]
    rows += [{**base, "source": name, "kind": "knob", "knob_key": f"knob.{name}",
              "contribution": share, "ci_low": share - 0.015, "ci_high": share + 0.015,
              "one_at_a_time_change": alone, "one_at_a_time_ci_low": low,
              "one_at_a_time_ci_high": high} for name, share, alone, low, high in knobs]
    rows.append({**base, "source": AS_CONFIGURED, "kind": "total", "knob_key": "",
                 "contribution": total, "ci_low": total - 0.03, "ci_high": total + 0.03,
                 "one_at_a_time_change": nan, "one_at_a_time_ci_low": nan,
                 "one_at_a_time_ci_high": nan})
    return pd.DataFrame(rows)


#: Visa streaming's focus gap: switching off either knob alone removes the whole gap.
PURE = [("biased history", 0.2021, 0.4055, 0.3757, 0.4327),
        ("the loop itself", 0.2137, 0.4171, 0.3880, 0.4444)]
#: Additive knobs: each knob's effect alone is its share.
ADDITIVE = [("a", 0.10, 0.101, 0.08, 0.12), ("b", 0.20, 0.199, 0.18, 0.22)]


def _system_run(table: pd.DataFrame) -> SystemRun:
    run = SystemRun(decided=Decisions(table=pd.DataFrame()), wording=Wording(card=""))
    run.findings.attribution = Attribution(table, [], "", "exact", 4, 0.0, 0.95)
    return run


def test_a_pure_interaction_is_named_and_additive_knobs_are_not():
    pure = _rows(PURE, 0.4066)
    knobs, total = pure[pure["kind"] == "knob"], pure.iloc[-1]
    assert all(alone_differs(r) for _, r in knobs.iterrows())
    assert "neither produces a gap without the other" in interaction_phrase(knobs, total)
    additive = _rows(ADDITIVE, 0.30)
    assert interaction_phrase(additive[additive["kind"] == "knob"], additive.iloc[-1]) == ""
    # Knobs that each do more alone than their share, without either removing the whole
    # gap, act together; knobs that do less alone overlap.
    joint = _rows([("a", -0.025, 0.19, 0.16, 0.22), ("b", 0.23, 0.44, 0.42, 0.47)], 0.21)
    assert "act together" in interaction_phrase(joint[joint["kind"] == "knob"], joint.iloc[-1])
    overlap = _rows([("a", 0.20, 0.05, 0.03, 0.07), ("b", 0.20, 0.05, 0.03, 0.07)], 0.45)
    assert "overlap" in interaction_phrase(overlap[overlap["kind"] == "knob"],
                                           overlap.iloc[-1])


def test_the_attribution_section_prints_the_effect_alone_beside_the_share():
    blocks = attribution_blocks(_system_run(_rows(PURE, 0.4066)))
    text = " ".join(b.text for b in blocks if isinstance(b, Paragraph))
    assert "Interaction: biased history has a Shapley share of +20.21" in text
    assert "but an effect alone of +40.55" in text
    assert "neither produces a gap without the other" in text
    assert "only that knob switched off" in text  # which effect "alone" is
    assert interaction_paragraph(_rows(ADDITIVE, 0.30)) is None


def test_a_systems_own_contrast_does_not_read_as_additive_halves():
    table = _rows([("biased history", -0.0254, 0.1918, 0.1622, 0.2235),
                   ("the loop itself", 0.2275, 0.4447, 0.4200, 0.4691)], 0.2099,
                  metric="red_share_gap_growth")
    contrast = WorldContrast(grouping="nationality", group="NGA", reference="IND",
                             metric="red_share_gap_growth", outcome="red", groups=None,
                             weights={}, label="growth of the gap")
    sentence = contrast_headline(_system_run(table), contrast)
    assert "switching it off alone changes the gap by -19.18" in sentence
    assert "the knobs act together" in sentence
    additive = _rows(ADDITIVE, 0.30, metric="red_share_gap_growth")
    assert "alone" not in contrast_headline(_system_run(additive), contrast)
