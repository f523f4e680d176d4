"""Interactions between bias knobs, in words: where a knob's effect alone is not its Shapley
share.

A Shapley share averages a knob's effect over every order of switching the knobs on, so the
shares add up to the gap even where the knobs only act together. Read alone, two shares then
sound like two additive halves. Attribution with exact enumeration runs all ``2**k`` worlds,
so each knob's effect *alone* comes free: the gap as configured minus the gap with only that
knob switched off (``one_at_a_time_change`` in attribution.csv). Wherever that effect lies
apart from the share (the share falls outside its interval), the renderers print it beside the
share and name the interaction with :func:`interaction_phrase`.
"""

from __future__ import annotations

import math

import pandas as pd

#: How a report states which effect "alone" is.
ALONE_MEANING = ("its effect alone: the gap as configured minus the gap with only that knob "
                 "switched off, every other knob left as configured")


def alone_differs(row: pd.Series) -> bool:
    """Whether a knob's effect alone lies apart from its Shapley share: the share falls
    outside the interval of the effect alone (never where that interval is undefined)."""
    low, high = row.get("one_at_a_time_ci_low"), row.get("one_at_a_time_ci_high")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return False
    return not low <= row["contribution"] <= high


def _names(rows: list[pd.Series]) -> str:
    names = [str(r["source"]) for r in rows]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def interaction_phrase(knobs: pd.DataFrame, total: pd.Series) -> str:
    """The interaction among a comparison's knobs, named in one clause; "" when every knob's
    effect alone agrees with its Shapley share.

    Parameters
    ----------
    knobs : DataFrame
        The comparison's knob rows of attribution.csv (``contribution``,
        ``one_at_a_time_change`` and its interval).
    total : Series
        Its ``as configured`` row: the gap itself.

    Returns
    -------
    str
        Starts with a lower-case word, to follow a semicolon. Two or more knobs that each
        remove the whole gap when switched off alone need one another ("neither produces a
        gap without the other"); knobs that do more alone than their share act together;
        knobs that do less alone overlap, the others producing part of the same gap.
    """
    if knobs.empty or "one_at_a_time_ci_high" not in knobs:
        return ""
    apart = [r for _, r in knobs.iterrows() if alone_differs(r)]
    if not apart:
        return ""
    whole = [r for r in apart if r["one_at_a_time_ci_low"] <= total["contribution"]
             <= r["one_at_a_time_ci_high"]]
    if len(whole) >= 2:
        return (f"switching off {_names(whole)} alone each removes the whole gap: neither "
                "produces a gap without the other, so their Shapley shares split one "
                "interaction, not two additive parts")
    more = [r for r in apart if abs(r["one_at_a_time_change"]) > abs(r["contribution"])]
    if len(more) == len(apart):
        return (f"{_names(apart)} {'does' if len(apart) == 1 else 'do'} more with the other "
                "knobs on than the Shapley share credits: the knobs act together, so the "
                "shares split a joint effect, not additive parts")
    if not more:
        return (f"{_names(apart)} {'does' if len(apart) == 1 else 'do'} less with the other "
                "knobs on than the Shapley share credits: the other knobs produce part of the "
                "same gap without it, so the shares split an overlap, not additive parts")
    return (f"the knobs interact: {_names(apart)} change the gap by other amounts switched off "
            "alone than their Shapley shares, so the shares split a joint effect, not "
            "additive parts")
