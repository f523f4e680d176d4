"""Synthetic social graphs over a population: households, co-workers, neighbours and phone
contacts, with homophily by origin and by language as knobs.

Every kind of tie is made the same way. People are put in *pools*: with probability
``homophily_origin`` a person joins the pool of their nationality, else with probability
``homophily_language`` the pool of their first language, else one shared pool. Within a context
(the whole population for households and phone contacts, the employer sector for co-workers,
the kind of neighbourhood for neighbours) each pool is shuffled and cut into groups of a fixed
size; everyone in a group is tied to everyone else (households, workplaces, blocks of
neighbours), and phone contacts tie each person to people a short random distance along the
shuffled pool. With both knobs at 0 nobody's ties depend on their origin or language; at 1 every
tie is within the person's nationality.

All draws are keyed by ``(seed, person_id, variable)`` (see
:func:`synthetic.population.noise.person_uniforms`), so the same people get the same draws
under any homophily setting: two graphs of the same people differ only by the knobs. Building
is vectorised (one pass per offset inside a group, never a loop per person); a million people
and their edges take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from synthetic.population.noise import person_uniforms

#: Kinds of tie, with the group size of each and the weight a tie carries in the adjacency.
TIE_KINDS = ("household", "coworker", "neighbour", "phone")
GROUP_SIZES = {"household": 3, "coworker": 8, "neighbour": 6}
#: Phone contacts per person and how far along the shuffled pool a contact may sit.
PHONE_CONTACTS = 2
PHONE_REACH = 40
DEFAULT_WEIGHTS = {"household": 1.0, "coworker": 0.5, "neighbour": 0.3, "phone": 0.7}
#: Columns the graph reads.
GRAPH_COLUMNS = ("person_id", "nationality", "first_language", "employer_sector",
                 "neighbourhood", "n_coworker_ties")


@dataclass(frozen=True)
class SocialGraph:
    """An undirected weighted graph over the rows of a people table.

    Attributes
    ----------
    adjacency : scipy.sparse.csr_matrix
        Symmetric, ``(n, n)``; entry ``(i, j)`` is the summed weight of every tie between rows
        ``i`` and ``j``.
    edges : dict
        Number of ties of each kind (before ties of several kinds between two people are
        summed).
    same_origin_share : dict
        Share of each kind's ties joining two people of the same nationality.
    """

    adjacency: sparse.csr_matrix
    edges: dict[str, int] = field(default_factory=dict)
    same_origin_share: dict[str, float] = field(default_factory=dict)

    @property
    def n_people(self) -> int:
        """Number of people (rows)."""
        return int(self.adjacency.shape[0])

    def contacts_of(self, mask: np.ndarray) -> np.ndarray:
        """Whether each person has at least one tie to a person in ``mask`` (not themselves)."""
        reached = self.adjacency @ mask.astype(np.float64)
        return reached > 0


def _pools(ids: np.ndarray, seed: int, kind: str, origin: np.ndarray, language: np.ndarray,
           homophily_origin: float, homophily_language: float) -> np.ndarray:
    """Each person's pool: 1 + nationality code, 1 + n_origins + language code, or 0."""
    u = person_uniforms(seed, ids, f"network:{kind}:pool")
    by_origin = u < homophily_origin
    by_language = ~by_origin & (u < homophily_origin + (1 - homophily_origin)
                                * homophily_language)
    n_origins = int(origin.max(initial=-1)) + 1
    return np.where(by_origin, 1 + origin,
                    np.where(by_language, 1 + n_origins + language, 0)).astype(np.int64)


def _ordered(ids: np.ndarray, seed: int, kind: str, context: np.ndarray, pool: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by (context, pool, random rank); each row's segment and rank in it."""
    rank = person_uniforms(seed, ids, f"network:{kind}:rank")
    order = np.lexsort((rank, pool, context))
    segment_key = context[order] * (int(pool.max(initial=0)) + 1) + pool[order]
    starts = np.r_[True, segment_key[1:] != segment_key[:-1]]
    segment = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    position = np.arange(len(order)) - first[segment]
    return order, segment, position


def _group_edges(order: np.ndarray, segment: np.ndarray, position: np.ndarray, size: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Every pair inside consecutive groups of ``size`` within a segment (cliques)."""
    group = segment * (len(order) + 1) + position // size
    rows, cols = [], []
    for offset in range(1, size):  # one vectorised pass per offset inside a group
        same = group[:-offset] == group[offset:]
        rows.append(order[:-offset][same])
        cols.append(order[offset:][same])
    return np.concatenate(rows), np.concatenate(cols)


def _phone_edges(order: np.ndarray, segment: np.ndarray, ids: np.ndarray, seed: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Each person calls ``PHONE_CONTACTS`` people a short random distance along their pool."""
    n = len(order)
    rows, cols = [], []
    sorted_ids = ids[order]
    for contact in range(PHONE_CONTACTS):
        u = person_uniforms(seed, sorted_ids, f"network:phone:{contact}")
        target = np.arange(n) + 1 + (u * PHONE_REACH).astype(np.int64)
        inside = target < n
        inside[inside] &= segment[target[inside]] == segment[np.flatnonzero(inside)]
        rows.append(order[inside])
        cols.append(order[target[inside]])
    return np.concatenate(rows), np.concatenate(cols)


def build_graph(
    people: pd.DataFrame,
    seed: int,
    *,
    homophily_origin: float = 0.8,
    homophily_language: float = 0.5,
    weights: dict[str, float] | None = None,
) -> SocialGraph:
    """Households, co-workers, neighbours and phone contacts over ``people``'s rows.

    Parameters
    ----------
    people : DataFrame
        A population (see :mod:`synthetic.population`); rows are the graph's nodes, in order.
    seed : int
        Keys every draw, with each person's ``person_id``.
    homophily_origin : float
        Probability that a person's ties of each kind are formed within their nationality.
    homophily_language : float
        Otherwise, probability that they are formed among speakers of their first language.
    weights : dict, optional
        Weight of a tie of each kind (default :data:`DEFAULT_WEIGHTS`).

    Returns
    -------
    SocialGraph
    """
    missing = [c for c in GRAPH_COLUMNS if c not in people.columns]
    if missing:
        raise ValueError(f"people table lacks the columns {missing}; generate it with "
                         "synthetic.population.generate")
    for name, value in (("homophily_origin", homophily_origin),
                        ("homophily_language", homophily_language)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must lie in [0, 1], got {value}")
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    unknown = set(weights) - set(TIE_KINDS)
    if unknown:
        raise ValueError(f"unknown tie kinds {sorted(unknown)}; known: {', '.join(TIE_KINDS)}")
    n = len(people)
    ids = people["person_id"].to_numpy()
    origin = pd.Categorical(people["nationality"]).codes.astype(np.int64)
    language = pd.Categorical(people["first_language"]).codes.astype(np.int64)
    everyone = np.zeros(n, dtype=np.int64)
    contexts = {
        "household": everyone,
        "coworker": pd.Categorical(people["employer_sector"]).codes.astype(np.int64),
        "neighbour": pd.Categorical(people["neighbourhood"]).codes.astype(np.int64),
        "phone": everyone,
    }
    # Only people who know co-workers or fellow students have a workplace.
    working = people["n_coworker_ties"].to_numpy() > 0
    rows, cols, values = [], [], []
    edges, same_origin = {}, {}
    for kind in TIE_KINDS:
        members = working if kind == "coworker" else np.ones(n, dtype=bool)
        index = np.flatnonzero(members)
        pool = _pools(ids[index], seed, kind, origin[index], language[index], homophily_origin,
                      homophily_language)
        order, segment, position = _ordered(ids[index], seed, kind, contexts[kind][index], pool)
        if kind == "phone":
            a, b = _phone_edges(order, segment, ids[index], seed)
        else:
            a, b = _group_edges(order, segment, position, GROUP_SIZES[kind])
        a, b = index[a], index[b]
        edges[kind] = int(len(a))
        same_origin[kind] = float(np.mean(origin[a] == origin[b])) if len(a) else float("nan")
        rows += [a, b]
        cols += [b, a]
        values.append(np.full(2 * len(a), weights[kind], dtype=np.float32))
    adjacency = sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    adjacency.sum_duplicates()
    return SocialGraph(adjacency, edges, same_origin)
