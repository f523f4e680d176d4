"""A run's withheld groups, kept withheld in every table and sentence beside metrics.csv.

The audit withholds small groups and their complements (:mod:`audit.disclosure`). A run also
writes tables of its own with group figures (attribution, an adapter's remedies and
records), and headlines that quote a focus group: a group the audit withholds must not be
quoted or tabulated there either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from audit.result import AuditResult
from audit.tables import has_flag
from experiments.writing.claims import Ledger

#: Columns of a table that name a group another row's figures compare against.
GROUP_COLUMNS = ("group", "reference")


def withheld_groups(views: Mapping[str, AuditResult]) -> set[tuple[str, str, str]]:
    """``(grouping, group, metric)`` of every withheld figure in any view.

    Parameters
    ----------
    views : mapping of str to AuditResult
        The run's audits (by true and by recorded outcome).

    Returns
    -------
    set of (str, str, str)
        Figures flagged ``suppressed``; a withheld size is ``(grouping, group, "n")`` and
        withholds every figure of its group.
    """
    found: set[tuple[str, str, str]] = set()
    for result in views.values():
        table = result.table
        marked = [has_flag(f, "suppressed") for f in table["flags"]]
        rows = table.loc[marked, ["grouping", "group", "metric"]]
        found.update(zip(rows["grouping"].astype(str), rows["group"].astype(str),
                         rows["metric"].astype(str), strict=True))
    return found


def is_withheld(withheld: set[tuple[str, str, str]], grouping: str, group: str,
                metric: object = None) -> bool:
    """Whether a figure of ``group`` (of ``metric``, or any when it is not named) is withheld."""
    if (grouping, group, "n") in withheld:
        return True
    if metric is None or (isinstance(metric, float) and metric != metric):
        return any(g == grouping and v == group for g, v, _ in withheld)
    return any((grouping, group, str(part)) in withheld for part in str(metric).split(","))


def flag_withheld_rows(table: pd.DataFrame, withheld: set[tuple[str, str]]) -> pd.DataFrame:
    """``table`` with rows about a withheld group flagged ``suppressed`` (blanked on writing).

    Only tables without a ``flags`` column are marked: one with flags (a paired comparison
    of :func:`audit.compare.compare`) has withheld its own small groups, which may be other
    people than the audit's. A row is about a withheld group when its ``grouping`` and its
    ``group`` (or its ``reference``, whose figure a gap would give back) are withheld.
    Tables without a ``grouping`` column, or with no such row, are returned as they are.
    """
    if not withheld or "grouping" not in table.columns or table.empty:
        return table
    if "flags" in table.columns:
        return table  # a table with flags applied the suppression rule to its own people
    columns = [c for c in GROUP_COLUMNS if c in table.columns]
    if not columns:
        return table
    grouping = table["grouping"].astype(str)
    metric = table["metric"] if "metric" in table.columns else pd.Series(None, index=table.index)
    about = pd.Series(False, index=table.index)
    for column in columns:
        about |= pd.Series([is_withheld(withheld, g, str(v), m) for g, v, m in
                            zip(grouping, table[column], metric, strict=True)],
                           index=table.index)
    if not about.any():
        return table
    table = table.copy()
    flags = table["flags"] if "flags" in table.columns else pd.Series("", index=table.index)
    flags = flags.fillna("").astype(str)
    flags[about] = [f if has_flag(f, "suppressed") else ";".join(filter(None, [f, "suppressed"]))
                    for f in flags[about]]
    table["flags"] = flags
    return table


def withhold_headlines(found: Iterable[str], ledger: Ledger,
                       withheld: set[tuple[str, str, str]]) -> tuple[list[str], Ledger]:
    """Headlines with every sentence that quotes a withheld group replaced by one that says so.

    Parameters
    ----------
    found : iterable of str
        The run's headlines.
    ledger : Ledger
        Their claims; a sentence's claims name the rows (grouping, group) they quote.
    withheld : set of (str, str, str)
        :func:`withheld_groups`. The replacing sentence names no number, so that every
        number a headline prints is a claim.

    Returns
    -------
    headlines : list of str
    ledger : Ledger
        Without the claims of the replaced sentences (claims.csv prints numbers as quoted).
    """
    kept, dropped = [], set()
    for sentence in found:
        quoted = sorted({str(c.source_row.get(column)) for c in ledger.of(sentence)
                         for column in GROUP_COLUMNS
                         if c.source_row.get(column) is not None
                         and is_withheld(withheld, str(c.source_row.get("grouping")),
                                         str(c.source_row.get(column)),
                                         c.source_row.get("metric"))})
        if not quoted:
            kept.append(sentence)
            continue
        dropped.add(sentence)
        names = ", ".join(quoted)
        kept.append(f"A finding about {names} is withheld: it rests on figures the published "
                    "tables withhold, because too few people stand behind them or they would "
                    "reveal a figure that does.")
    if not dropped:
        return kept, ledger
    return kept, Ledger([c for c in ledger.claims if c.sentence not in dropped],
                        dict(ledger.tables))
