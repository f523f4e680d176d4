"""What every toy system shares: its card, and capacity-limited selection by score."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

CARDS_DIR = Path(__file__).parent


def read_card(name: str) -> str:
    """The Markdown card kept beside a system's module: what it mimics, sources, knobs."""
    return (CARDS_DIR / f"{name}.md").read_text(encoding="utf-8")


@dataclass(frozen=True)
class CutOff:
    """Where a capacity-limited selection stopped.

    Attributes
    ----------
    threshold : float
        The lowest selected score.
    last_tied_position : int
        Among people scoring exactly ``threshold``, the highest row position selected (ties
        are broken by position).
    """

    threshold: float
    last_tied_position: int

    def select(self, scores: np.ndarray) -> np.ndarray:
        """Apply the same cut-off to the same rows' new scores (counterfactual twins, say).

        A row keeps its decision whenever its score is unchanged, ties included.
        """
        position = np.arange(len(scores))
        return (scores > self.threshold) | (
            (scores == self.threshold) & (position <= self.last_tied_position)
        )


def top_share(scores: np.ndarray, share: float) -> tuple[np.ndarray, CutOff]:
    """Select the highest-scoring ``share`` of people, and return where the cut fell.

    Exactly ``round(share * n)`` people are selected; ties at the threshold are broken by
    position (a stable sort), so the selection is deterministic.

    Returns
    -------
    selected : ndarray of bool
    cut_off : CutOff
        Reapplies the same cut to new scores for the same rows.
    """
    return top_count(scores, int(round(share * len(scores))))


def top_count(scores: np.ndarray, n_selected: int) -> tuple[np.ndarray, CutOff]:
    """Select the ``n_selected`` highest-scoring people (all of them if fewer), and return
    where the cut fell; ties at the threshold are broken by position, as in
    :func:`top_share`."""
    n_selected = min(int(n_selected), len(scores))
    selected = np.zeros(len(scores), dtype=bool)
    if n_selected == 0:
        return selected, CutOff(float("inf"), -1)
    negated = -np.asarray(scores)
    if np.isnan(negated).any():  # NaN sorts last: leave the order to a full stable sort
        order = np.argsort(negated, kind="stable")
        chosen = order[:n_selected]
        selected[chosen] = True
        threshold = float(scores[order[n_selected - 1]])
        tied = chosen[scores[chosen] == threshold]
        return selected, CutOff(threshold, int(tied.max()))
    # The n-th highest score by partition, then every score above it and the first ties by
    # position: the selection of a stable sort, in linear time.
    cut = np.partition(negated, n_selected - 1)[n_selected - 1]
    selected = negated < cut
    ties = np.flatnonzero(negated == cut)[:n_selected - int(selected.sum())]
    selected[ties] = True
    return selected, CutOff(float(-cut), int(ties[-1]))
