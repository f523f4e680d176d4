"""The exact check: no withheld group follows from every published figure taken together.

The rules of :mod:`audit.disclosure` protect each grouping against its own total. What they
cannot see is a withheld group that follows from several groupings at once: in a two-way
layout, the people of a withheld cell ``c × x`` are the group ``x`` minus the published
cells ``a × x`` and ``b × x``; a country withheld is its region minus the region's other
countries. A group withheld beside it in its own grouping does not change that.

Every count a table publishes is a sum of people's confusion cells (true label × decision)
over cells of the groupings' cross-classification (the family's count table, whose non-empty
cells are the *atoms* here), and a published ``overall`` rate ``v`` is the equation
``numerator - v × denominator = 0`` over all of them. A withheld group's size or one of its
confusion cells can be computed exactly when its form lies in the span of these equations.
The check finds each such group and withholds one more figure its computation uses, until
none remains: the smallest other group it uses, whole (the reference last), or else an
overall rate.

Groupings counted apart (country and region of origin, with no intersection asked for) are
checked together on the joint counts of every group column
(:func:`audit.engine.count_joint`); where those would be too large, each family is checked
on its own and the result names the groupings left unchecked. A rate withheld for its few
people inside a published group is not a target here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import scipy.linalg
from threadpoolctl import threadpool_limits

from audit.disclosure import COMPLEMENTARY, add_flags, without_reference_gaps
from audit.metrics import ALL, RATE_METRICS, RATE_NAMES
from audit.tables import has_flag

#: Each rate's numerator and denominator as 0/1 vectors over the cells (TN, FP, FN, TP).
NUMERATORS = np.array([[1.0 if c in m.numerator else 0.0 for c in ALL] for m in RATE_METRICS])
DENOMINATORS = np.array([[1.0 if c in m.denominator else 0.0 for c in ALL]
                         for m in RATE_METRICS])
#: Overall rates, the first to withhold first: those a reader of error rates needs least.
WITHHOLD_ORDER: tuple[str, ...] = ("accuracy", "for", "npv", "fdr", "ppv", "prevalence",
                                   "tnr", "tpr", "selection_rate", "fnr", "fpr")
#: Largest number of unknowns (atoms × 4 cells) the check solves for in one family.
MAX_UNKNOWNS = 2_400
_TOLERANCE = 1e-6


@dataclass
class Figure:
    """A figure to withhold: a group whole (``size``) or an overall rate (``overall``)."""

    kind: str
    grouping: str
    group: str | None
    metric: str
    people: float
    reference: bool


@dataclass
class FamilyLayout:
    """Which atoms each group of each grouping of one count table holds.

    Attributes
    ----------
    members : dict
        ``{grouping name: {group label: 0/1 array over the atoms}}``.
    n_atoms : int
        The count table's non-empty cells.
    """

    members: dict[str, dict[str, np.ndarray]]
    n_atoms: int


def family_layout(sizes: np.ndarray, group_index: Sequence[tuple[str, np.ndarray, list[str]]]
                  ) -> FamilyLayout:
    """The atoms of a count table and the groups that hold them.

    Parameters
    ----------
    sizes : numpy.ndarray
        People in each cell of the count table.
    group_index : sequence of (str, numpy.ndarray, list of str)
        For each grouping: its name, each cell's group position (shaped like ``sizes``)
        and the groups' labels.
    """
    atoms = np.flatnonzero(np.asarray(sizes).ravel())
    members: dict[str, dict[str, np.ndarray]] = {}
    for name, positions, labels in group_index:
        of_atom = np.asarray(positions).ravel()[atoms]
        members[name] = {labels[g]: (of_atom == g).astype(np.float64)
                         for g in np.unique(of_atom)}
    return FamilyLayout(members, len(atoms))


@dataclass
class _Group:
    """What one group publishes, as the check goes."""

    grouping: str
    group: str
    member: np.ndarray
    people: float
    reference: bool
    published: np.ndarray  # rates published (not withheld)
    whole: bool  # withheld whole (its size and every rate)
    small: bool  # withheld whole for its own few people
    first_whole: bool = False


def _groups(table: pd.DataFrame, layout: FamilyLayout) -> list[_Group]:
    rows = table[table["grouping"].isin(list(layout.members))
                 & table["metric"].isin(["n", *RATE_NAMES])]
    by_group: dict[tuple[str, str], list] = {}
    for row in rows.itertuples(index=False):
        by_group.setdefault((row.grouping, str(row.group)), []).append(row)
    groups = []
    for (grouping, group), group_rows in by_group.items():
        member = layout.members[grouping].get(group)
        size = next((r for r in group_rows if r.metric == "n"), None)
        if member is None or size is None:
            continue
        published = np.zeros(len(RATE_NAMES), dtype=bool)
        for row in group_rows:
            if row.metric != "n":
                published[RATE_NAMES.index(row.metric)] = not has_flag(row.flags, "suppressed")
        whole = has_flag(size.flags, "suppressed")
        small = whole and not has_flag(size.flags, COMPLEMENTARY)
        groups.append(_Group(grouping, group, member, float(size.numerator),
                             str(size.reference) == group, published & ~whole, whole, small,
                             whole))
    return groups


@lru_cache(maxsize=4096)
def _cell_basis(published: tuple[bool, ...]) -> np.ndarray:
    """An orthonormal basis (rows) of what a published group's size and rates tell about its
    four cells: at most four vectors, however many rates it publishes."""
    forms = [np.ones(len(ALL))] + [part[k] for k, shown in enumerate(published) if shown
                                   for part in (NUMERATORS, DENOMINATORS)]
    _, singular, vt = np.linalg.svd(np.array(forms), full_matrices=False)
    return vt[singular > 1e-10 * singular.max()]


def _equations(groups: list[_Group], overall: dict[str, float], n_atoms: int
               ) -> tuple[np.ndarray, list[int | str]]:
    """The published equations and, for each, the group that publishes it (or the overall
    rate's name). A group's equations are its atoms times a basis of its cell forms: the
    same span as its figures' own, in at most four rows."""
    owners: list[int | str] = []
    members, cells = [], []
    for position, group in enumerate(groups):
        if group.whole:
            continue
        basis = _cell_basis(tuple(bool(x) for x in group.published))
        owners += [position] * len(basis)
        members += [group.member] * len(basis)
        cells.append(basis)
    everyone = np.ones(n_atoms)
    for metric, value in overall.items():
        k = RATE_NAMES.index(metric)
        owners.append(metric)
        members.append(everyone)
        cells.append((NUMERATORS[k] - value * DENOMINATORS[k])[None])
    if not owners:
        return np.zeros((0, 0)), owners
    # Row i is members[i] ⊗ cells[i], atoms first and cells within: one product for all.
    rows = np.array(members)[:, :, None] * np.concatenate(cells)[:, None, :]
    return rows.reshape(len(owners), n_atoms * len(ALL)), owners


def find_withheld(table: pd.DataFrame, summary: pd.DataFrame, layout: FamilyLayout
                  ) -> tuple[list[Figure], bool]:
    """The further figures to withhold so that no withheld group can be computed.

    Parameters
    ----------
    table, summary : pandas.DataFrame
        The audit's tables, flagged by the rules of :mod:`audit.disclosure`.
    layout : FamilyLayout
        The family's atoms and groups.

    Returns
    -------
    list of Figure
        The figures to withhold: a ``size`` figure stands for its whole group.
    bool
        False when the family has too many atoms to check (see :data:`MAX_UNKNOWNS`).
    """
    if len(layout.members) < 2:
        # One grouping alone: the rules of audit.disclosure already leave two or more groups
        # withheld, or the overall rows, and no total separates two withheld groups.
        return [], True
    if layout.n_atoms * len(ALL) > MAX_UNKNOWNS:
        return [], False
    groups = _groups(table, layout)
    if not any(group.small for group in groups):
        return [], True
    overall_rows = summary[(summary["measure"] == "overall")
                           & summary["metric"].isin(RATE_NAMES)].drop_duplicates("metric")
    overall = {m: float(v) for m, v, f in zip(overall_rows["metric"], overall_rows["value"],
                                              overall_rows["flags"], strict=True)
               if not has_flag(f, "suppressed") and np.isfinite(v)}
    first_overall = set(overall)
    # Small decompositions, many times: one thread each is faster than a contended pool, and
    # gives the same answer on every machine.
    with threadpool_limits(1):
        while _withhold_more(groups, overall, layout.n_atoms):
            pass
    figures = [Figure("size", g.grouping, g.group, "n", g.people, g.reference)
               for g in groups if g.whole and not g.first_whole]
    figures += [Figure("overall", "", None, m, np.inf, False)
                for m in sorted(first_overall - set(overall))]
    return figures, True


def _withhold_more(groups: list[_Group], overall: dict[str, float], n_atoms: int) -> bool:
    """One round: for each small group still computable, withhold one more figure its
    computation uses. True when something was withheld."""
    matrix, owners = _equations(groups, overall, n_atoms)
    if len(matrix) == 0:
        return False
    # One decomposition of the published equations answers every group: a form lies in their
    # span when nothing of it is left outside, and the combination that gives it (over the
    # equations the pivoting picked as independent) names the figures its computation uses.
    q, r, pivots = scipy.linalg.qr(matrix.T, mode="economic", pivoting=True)
    diagonal = np.abs(np.diag(r))
    rank = int((diagonal > diagonal.max() * 1e-10).sum()) if diagonal.any() else 0
    q, r, pivots = q[:, :rank], r[:rank, :rank], pivots[:rank]
    changed = False
    for position, group in enumerate(groups):
        if not group.small:
            continue
        for cell in (np.ones(len(ALL)), *np.eye(len(ALL))):
            form = np.kron(group.member, cell)
            projected = q.T @ form
            if np.linalg.norm(form - q @ projected) >= _TOLERANCE:
                continue
            coefficients = scipy.linalg.solve_triangular(r, projected)
            used = pivots[np.abs(coefficients) > 1e-9]
            changed |= _withhold_one(groups, overall, position, [owners[i] for i in used])
            break
    return changed


def _withhold_one(groups: list[_Group], overall: dict[str, float], position: int,
                  used: list[int | str]) -> bool:
    """Withhold the smallest group a computation uses (the reference last), or else an
    overall rate it uses; True if there was one."""
    others = {p for p in used if not isinstance(p, str) and p != position
              and not groups[p].whole}
    pool = [p for p in others if not groups[p].reference] or list(others)
    if pool:
        pick = min(pool, key=lambda p: (groups[p].people, p))
        groups[pick].whole = True
        groups[pick].published[:] = False
        return True
    rates = [owners for owners in used if isinstance(owners, str) and owners in overall]
    if rates:
        del overall[min(rates, key=WITHHOLD_ORDER.index)]
        return True
    return False


def withhold_figures(table: pd.DataFrame, summary: pd.DataFrame, figures: Sequence[Figure],
                     eligible_from: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tables with ``figures`` flagged ``suppressed;complementary``.

    A ``size`` figure withholds its whole group; a rate figure its row, and an overall one
    its row in every grouping. A spread across a grouping's groups that took in a figure
    now withheld (one resting on ``eligible_from`` people or more) could give it back, and
    is withheld too, as is every gap to a reference whose figure is withheld.
    """
    if not figures:
        return table, summary
    table, summary = table.copy(), summary.copy()
    grouping = table["grouping"].to_numpy(dtype=object)
    group = table["group"].astype(str).to_numpy(dtype=object)
    metric = table["metric"].to_numpy(dtype=object)
    chosen = np.zeros(len(table), dtype=bool)
    spreads: dict[str, set[str]] = {}
    overall: set[str] = set()
    gaps: dict[str, set[str]] = {}
    for figure in figures:
        if figure.kind == "overall":
            overall.add(figure.metric)
            continue
        rows = (grouping == figure.grouping) & (group == figure.group)
        metrics = set(RATE_NAMES) if figure.kind == "size" else {figure.metric}
        if figure.kind == "rate":
            rows &= metric == figure.metric
        chosen |= rows
        if figure.people >= eligible_from:
            spreads.setdefault(figure.grouping, set()).update(metrics)
        if figure.reference:
            gaps.setdefault(figure.grouping, set()).update(metrics)
    flags = table["flags"].to_numpy(dtype=object)
    chosen &= np.array([not has_flag(f, "suppressed") for f in flags], dtype=bool)
    table.loc[chosen, "flags"] = [add_flags(f, "suppressed", COMPLEMENTARY)
                                  for f in flags[chosen]]
    for name, metrics in gaps.items():
        rows = (table["grouping"] == name).to_numpy()
        table.loc[rows] = without_reference_gaps(table.loc[rows], metrics)
    measure = summary["measure"].to_numpy(dtype=object)
    summary_metric = summary["metric"].astype(str).to_numpy(dtype=object)
    summary_grouping = summary["grouping"].to_numpy(dtype=object)
    out = (measure == "overall") & np.isin(summary_metric, list(overall))
    for name, metrics in spreads.items():
        out |= ((summary_grouping == name) & (measure != "overall")
                & np.array([any(part in metrics for part in m.split(","))
                            for m in summary_metric], dtype=bool))
    summary_flags = summary["flags"].to_numpy(dtype=object)
    out &= np.array([not has_flag(f, "suppressed") for f in summary_flags], dtype=bool)
    summary.loc[out, "flags"] = [add_flags(f, "suppressed", COMPLEMENTARY)
                                 for f in summary_flags[out]]
    return table, summary
