"""Exogenous noise: reproducible uniforms keyed by (seed, block, variable).

Every random quantity in the population is a deterministic function of the seed, the index of
the fixed-size block a person falls in, the person's offset inside that block and the name of
the variable. Each (block, variable) pair has its own stream, a child of
``numpy.random.SeedSequence(seed)`` with spawn key ``(block, crc32(variable))``, and every
variable draws exactly one uniform per person whatever the values of its parents. Hence:

* a population is identical however it is chunked or spread over workers, because a block is
  always generated from the same streams;
* a counterfactual twin re-uses the person's own noise: changing a parent changes the value a
  variable takes, never which uniform it consumed.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import special

#: Rows per block. Part of the determinism contract: the same seed with another block size gives
#: another (equally valid) population.
BLOCK_SIZE = 65_536

_TINY = 1e-12


def stream_key(variable: str) -> int:
    """Stable integer key of a variable's stream (CRC-32 of its name)."""
    return zlib.crc32(variable.encode("utf-8"))


def block_uniforms(seed: int, block: int, variable: str, size: int) -> np.ndarray:
    """Uniforms on [0, 1) for the first ``size`` people of ``block`` and one ``variable``.

    Parameters
    ----------
    seed : int
        Population seed.
    block : int
        Block index (person position // block size).
    variable : str
        Name of the variable the noise belongs to.
    size : int
        Number of people (at most the block size); a shorter draw is a prefix of a longer one.

    Returns
    -------
    numpy.ndarray
        Float64 uniforms, one per person.
    """
    sequence = np.random.SeedSequence(seed, spawn_key=(block, stream_key(variable)))
    return np.random.default_rng(sequence).random(size)


def person_uniforms(
    seed: int, person_id: np.ndarray, variable: str, block_size: int = BLOCK_SIZE
) -> np.ndarray:
    """Uniforms for arbitrary people, keyed by their position (``person_id``).

    The value for a person depends only on ``(seed, person_id, variable, block_size)``, never on
    which other people are in the frame or in which order, so chunked work gives identical
    results.

    Parameters
    ----------
    seed : int
        Seed of the stream family.
    person_id : numpy.ndarray
        Non-negative integer positions of the people.
    variable : str
        Name of the variable the noise belongs to.
    block_size : int, default 65_536
        Rows per block.

    Returns
    -------
    numpy.ndarray
        Float64 uniforms aligned with ``person_id``.
    """
    person_id = np.asarray(person_id, dtype=np.int64)
    out = np.empty(person_id.shape[0], dtype=np.float64)
    if person_id.size == 0:
        return out
    blocks = person_id // block_size
    offsets = person_id - blocks * block_size
    if np.all(blocks[1:] >= blocks[:-1]):
        order = None
        sorted_blocks = blocks
    else:
        order = np.argsort(blocks, kind="stable")
        sorted_blocks = blocks[order]
    starts = np.flatnonzero(np.r_[True, sorted_blocks[1:] != sorted_blocks[:-1]])
    stops = np.r_[starts[1:], sorted_blocks.size]
    for start, stop in zip(starts, stops, strict=True):
        rows = slice(start, stop) if order is None else order[start:stop]
        block_offsets = offsets[rows]
        block = int(sorted_blocks[start])
        draws = block_uniforms(seed, block, variable, int(block_offsets.max()) + 1)
        out[rows] = draws[block_offsets]
    return out


def normal_from_uniform(u: np.ndarray) -> np.ndarray:
    """Standard normal quantiles of ``u`` (inverse CDF, clipped away from 0 and 1)."""
    return special.ndtri(np.clip(u, _TINY, 1.0 - _TINY))


def poisson_from_uniform(u: np.ndarray, lam: np.ndarray, max_count: int = 10_000) -> np.ndarray:
    """Poisson counts by inverse CDF: one uniform per person, whatever the rate.

    Parameters
    ----------
    u : numpy.ndarray
        Uniforms on [0, 1).
    lam : numpy.ndarray
        Non-negative rates, same shape as ``u``.
    max_count : int, default 10_000
        Safety cap on the count.

    Returns
    -------
    numpy.ndarray
        Int64 counts: the smallest ``k`` with ``P(X <= k) > u``.
    """
    lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), u.shape)
    count = np.zeros(u.shape, dtype=np.int64)
    pmf = np.exp(-lam)
    cdf = pmf.copy()
    active = np.flatnonzero(u >= cdf)
    k = 0
    while active.size and k < max_count:
        k += 1
        lam_a = lam[active]
        pmf_a = pmf[active] * lam_a / k
        cdf_a = cdf[active] + pmf_a
        pmf[active] = pmf_a
        cdf[active] = cdf_a
        count[active] = k
        # Stop when the tail is exhausted numerically (cdf no longer grows).
        still = (u[active] >= cdf_a) & ((pmf_a > 0) | (k < lam_a))
        active = active[still]
    return count


class CategoricalSampler:
    """Inverse-CDF sampler for categorical variables with a categorical parent.

    ``probs[p, k]`` is the probability of category ``k`` given parent value ``p``. Drawing
    consumes one uniform per person: the category is the first whose cumulative probability,
    in the parent's row, exceeds the uniform.

    Parameters
    ----------
    probs : numpy.ndarray
        Shape ``(n_parent_values, n_categories)`` (or 1-D for no parent); rows sum to 1.
    """

    def __init__(self, probs: np.ndarray) -> None:
        probs = np.atleast_2d(np.asarray(probs, dtype=np.float64))
        cdf = np.cumsum(probs, axis=1)
        cdf /= cdf[:, -1:]
        cdf[:, -1] = 1.0
        self.n_parents, self.n_categories = cdf.shape
        self._flat = (cdf + np.arange(self.n_parents)[:, None]).ravel()

    def draw(self, u: np.ndarray, parent: np.ndarray | int | None = None) -> np.ndarray:
        """Category codes (int64) for uniforms ``u`` given parent codes ``parent``."""
        if parent is None:
            parent = 0
        parent = np.asarray(parent, dtype=np.int64)
        idx = np.searchsorted(self._flat, u + parent, side="right") - parent * self.n_categories
        return np.clip(idx, 0, self.n_categories - 1)
