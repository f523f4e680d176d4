"""What every toy system shares: its card, and capacity-limited selection by score."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CARDS_DIR = Path(__file__).parent


def read_card(name: str) -> str:
    """The Markdown card kept beside a system's module: what it mimics, sources, knobs."""
    return (CARDS_DIR / f"{name}.md").read_text(encoding="utf-8")


def top_share(scores: np.ndarray, share: float) -> tuple[np.ndarray, float]:
    """Select the highest-scoring ``share`` of people, and return the score threshold used.

    Exactly ``round(share * n)`` people are selected; ties at the threshold are broken by
    position (a stable sort), so the selection is deterministic.

    Returns
    -------
    selected : ndarray of bool
    threshold : float
        The lowest selected score: a person scoring above it would be selected (used to
        decide counterfactual twins with the same cut-off).
    """
    n_selected = int(round(share * len(scores)))
    selected = np.zeros(len(scores), dtype=bool)
    if n_selected == 0:
        return selected, float("inf")
    order = np.argsort(-scores, kind="stable")
    selected[order[:n_selected]] = True
    return selected, float(scores[order[n_selected - 1]])
