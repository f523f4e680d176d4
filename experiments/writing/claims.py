"""Claims: every number a headline prints, with its interval, n and the table row it came from.

A headline sentence is rendered from claims. A :class:`Claim` holds a number as its table holds
it (value, interval ends, n), says how the number is printed (its ``style``) and where it came
from (the file and the key columns of the row); a sentence prints a number only through
:meth:`Claim.text`, so it cannot print a figure its record does not hold. A :class:`Ledger`
gathers a run's claims, ties each to the sentence it appears in, and writes them as
``claims.json`` and ``claims.csv`` beside the tables they cite.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from audit.report import bounds

#: What an interval covers, as a claim records it.
INTERVAL_KINDS = (
    "unadjusted",
    "simultaneous",
    "paired",
    "pooled over replicates",
    "bounds with stated confidence",
    "adjusted",
    "none",
)


def _share(value: float) -> str:
    # Small shares keep two decimals so that 0.09% does not print as 0.1%.
    percent = 100 * value
    digits = 2 if abs(percent) < 1 else 1
    return f"{percent:.{digits}f}%"


#: How a claim's numbers are printed, by style name. Each takes the number as its table holds
#: it (a share as a fraction, a gap as a difference of fractions).
STYLES: dict[str, Callable[[float], str]] = {
    "percent": _share,
    "percent1": lambda v: f"{100 * v:.1f}%",
    "percent0": lambda v: f"{100 * v:.0f}%",
    "percent2": lambda v: f"{100 * v:.2f}%",
    "points": lambda v: f"{100 * v:.2f}",
    "signed_points": lambda v: f"{100 * v:+.2f}",
    "points1": lambda v: f"{100 * v:.1f}",
    "signed_points1": lambda v: f"{100 * v:+.1f}",
    "ratio": lambda v: f"{v:.2f}",
    "ratio1": lambda v: f"{v:.1f}",
    "count": lambda v: f"{int(round(v)):,}",
    "p": lambda v: f"{v:.2g}",
    "level": lambda v: f"{100 * v:g}%",
    # Two intervals at level c each hold together with at least 2c - 1 (Bonferroni).
    "joint_level": lambda v: f"{100 * (2 * v - 1):g}%",
    "one_in": lambda v: f"1 in {round(1 / v):,}" if v < 0.5 else f"{100 * v:g}%",
    "plain": lambda v: f"{v:g}",
}


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _number(value: Any) -> float:
    """A table cell as a float; NaN for a missing cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass
class Claim:
    """One number a sentence prints, with the record behind it.

    Attributes
    ----------
    id : str
        Unique within a run (``"h1.focus_ratio"``).
    value : float
        The number as its source row holds it.
    ci_low, ci_high : float
        The ends of its interval (NaN when it has none).
    n : int or None
        The people behind it (the group's denominator), when one count applies.
    unit : str
        What the number measures ("share", "percentage points", "ratio", "people", ...).
    interval_kind : str
        What the interval covers, one of :data:`INTERVAL_KINDS`.
    source : str
        The file of the run that holds the row (``"metrics.csv"``), or ``"manifest.json"``
        for a setting of the experiment.
    source_row : dict
        The key columns and values that pick the row (for a setting, its dotted ``key``).
    columns : dict
        Which column of the row holds each field (``{"value": "ratio", "ci_low":
        "ratio_ci_low", ...}``); empty for a number derived from several rows.
    style : str
        How the number is printed (a key of :data:`STYLES`); n is always printed as a count.
    sentence : str
        The sentence that prints it, filled in when the sentence is rendered.
    """

    id: str
    value: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int | None = None
    unit: str = ""
    interval_kind: str = "none"
    source: str = ""
    source_row: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    style: str = "plain"
    sentence: str = ""
    #: Whether the published row withholds this number (a suppressed cell): no sentence may
    #: print it.
    withheld: bool = False

    def __post_init__(self) -> None:
        if self.interval_kind not in INTERVAL_KINDS:
            raise ValueError(f"interval_kind {self.interval_kind!r} is not one of "
                             f"{', '.join(INTERVAL_KINDS)}")
        if self.style not in STYLES:
            raise ValueError(f"style {self.style!r} is not one of {', '.join(STYLES)}")

    # --- printing: the only way a sentence shows a number -----------------------------------

    def text(self, which: str = "value") -> str:
        """One of the claim's numbers as a sentence prints it: ``value``, ``ci_low``,
        ``ci_high`` (in the claim's style) or ``n`` (as a count); "undefined" when missing."""
        if which == "n":
            return f"{int(self.n):,}" if self.n is not None else "undefined"
        number = getattr(self, which)
        return STYLES[self.style](number) if _finite(number) else "undefined"

    def interval(self, separator: str = "–") -> str:
        """The interval's ends in the report's one convention (missing or infinite ends in
        words, never as a number)."""
        return bounds(self.ci_low, self.ci_high, STYLES[self.style], separator)

    @property
    def has_interval(self) -> bool:
        """Whether both ends are numbers."""
        return _finite(self.ci_low) and _finite(self.ci_high)

    @property
    def frozen(self) -> bool:
        """Whether the interval cannot move: both ends print as the value itself, which reads
        as certainty and so is never printed as an interval."""
        return self.has_interval and self.text("ci_low") == self.text("ci_high") == \
            self.text("value")

    def printed(self) -> list[str]:
        """Every number this claim may put in a sentence, as printed."""
        out = [self.text("value")]
        if self.has_interval:
            out += [self.text("ci_low"), self.text("ci_high")]
        else:  # one finite end beside a missing bound
            out += [self.text(end) for end in ("ci_low", "ci_high")
                    if _finite(getattr(self, end))]
        if self.n is not None:
            out.append(self.text("n"))
        return [t for t in out if t != "undefined"]

    def tooltip(self) -> str:
        """Where the number comes from, for a reader hovering over it."""
        key = ", ".join(f"{k} = {v}" for k, v in self.source_row.items())
        interval = "" if self.interval_kind == "none" else f"; interval: {self.interval_kind}"
        return f"{self.source}, row {key}{interval} (claim {self.id})"

    def record(self) -> dict[str, Any]:
        """The claim as claims.json holds it (NaN as null)."""
        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {
            "id": self.id, "sentence": self.sentence, "value": clean(float(self.value)),
            "printed": self.text("value"), "ci_low": clean(float(self.ci_low)),
            "ci_high": clean(float(self.ci_high)), "n": self.n, "unit": self.unit,
            "interval_kind": self.interval_kind, "source": self.source,
            "source_row": {k: clean(v) for k, v in self.source_row.items()},
            "columns": dict(self.columns), "style": self.style,
        }


def from_row(id: str, row: Mapping[str, Any], *, source: str, keys: tuple[str, ...],
             value: str = "value", ci: tuple[str, str] | None = ("ci_low", "ci_high"),
             n: str | None = "denominator", style: str = "percent", unit: str = "share",
             interval_kind: str = "unadjusted", extra_keys: Mapping[str, Any] | None = None
             ) -> Claim:
    """A claim on one row of a run's table.

    Parameters
    ----------
    id : str
        The claim's id.
    row : mapping
        The row as the run's table holds it (a pandas row).
    source : str
        The file the table is written to.
    keys : tuple of str
        The columns of ``row`` that pick it out in ``source``.
    value, ci, n : str
        The columns holding the number, its interval ends and its n (None: no interval, no n).
    style, unit, interval_kind : str
        See :class:`Claim`.
    extra_keys : mapping, optional
        Key columns the in-memory row lacks but the file adds (``{"view": "true"}``).
    """
    columns = {"value": value}
    low = high = math.nan
    if ci is not None:
        low, high = _number(row.get(ci[0])), _number(row.get(ci[1]))
        columns.update(ci_low=ci[0], ci_high=ci[1])
    count = None
    if n is not None and _finite(row.get(n)):
        count = int(round(float(row[n])))
        columns["n"] = n
    source_row = {**dict(extra_keys or {}), **{k: _plain(row.get(k)) for k in keys}}
    flags = str(row.get("flags", "") or "").split(";")
    return Claim(id, _number(row.get(value)), low, high, count, unit,
                 interval_kind if ci is not None else "none", source, source_row, columns,
                 style, withheld="suppressed" in flags)


def _plain(value: Any) -> Any:
    """A key cell as JSON holds it (numpy scalars become Python numbers or strings)."""
    if hasattr(value, "item"):
        value = value.item()
    return value if isinstance(value, (int, float, bool)) or value is None else str(value)


def setting(id: str, key: str, value: float, style: str = "plain", unit: str = "setting"
            ) -> Claim:
    """A claim on a setting of the experiment (``audit.confidence``), which the manifest's
    config holds under ``key``; or, for ``key`` starting with ``tool.``, a fixed rule of the
    tool (the significance level a headline tests at)."""
    source = "manifest.json" if not key.startswith("tool.") else "tool"
    return Claim(id, float(value), unit=unit, source=source, source_row={"key": key},
                 style=style)


def derived(id: str, value: float, *, source: str, source_row: Mapping[str, Any],
            style: str = "count", unit: str = "groups") -> Claim:
    """A number derived from several rows of one table (how many groups were compared)."""
    return Claim(id, float(value), unit=unit, source=source, source_row=dict(source_row),
                 style=style)


@dataclass
class Ledger:
    """The claims of one run, in the order their sentences were rendered, and the rows of
    comparisons a sentence computes that no other table of the run holds (``tables``: file
    name to rows), which the run writes so that those claims, too, cite a row."""

    claims: list[Claim] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, *claims: Claim) -> Claim | None:
        """Record claims (ids are made unique) and return the last (None for none)."""
        taken = {c.id for c in self.claims}
        for claim in claims:
            base, k = claim.id, 2
            while claim.id in taken:
                claim.id = f"{base}.{k}"
                k += 1
            taken.add(claim.id)
            self.claims.append(claim)
        return claims[-1] if claims else None

    def extend(self, other: Ledger | list[Claim]) -> None:
        """Record another ledger's claims (an adapter's), keeping their sentences."""
        self.add(*(other.claims if isinstance(other, Ledger) else other))

    def sentence(self, text: str, claims: list[Claim]) -> str:
        """Tie ``claims`` to the sentence ``text`` that prints them, and return the text.

        A claim not yet in the ledger is added; one already tied to another sentence (a
        confidence level two sentences state) is copied, so that each sentence holds its
        own record of every number it prints.
        """
        for claim in claims:
            if claim.sentence and claim.sentence != text:
                claim = replace(claim, source_row=dict(claim.source_row),
                                columns=dict(claim.columns))
                self.add(claim)
            elif not any(c is claim for c in self.claims):
                self.add(claim)
            claim.sentence = text
        return text

    def rename(self, before: str, after: str) -> None:
        """A sentence rewritten after rendering (country codes named): its claims follow."""
        for claim in self.claims:
            if claim.sentence == before:
                claim.sentence = after

    def of(self, sentence: str) -> list[Claim]:
        """The claims a sentence prints."""
        return [c for c in self.claims if c.sentence == sentence]

    def table(self) -> pd.DataFrame:
        """claims.csv: one row per claim, the source row's key as ``key=value`` pairs."""
        rows = []
        for claim in self.claims:
            record = claim.record()
            record["source_row"] = "; ".join(f"{k}={v}" for k, v in record["source_row"].items())
            record["columns"] = "; ".join(f"{k}={v}" for k, v in record["columns"].items())
            rows.append(record)
        columns = ["id", "sentence", "value", "printed", "ci_low", "ci_high", "n", "unit",
                   "interval_kind", "source", "source_row", "columns", "style"]
        table = pd.DataFrame(rows, columns=columns)
        table["n"] = table["n"].astype("Int64")
        return table

    def to_json(self) -> str:
        """claims.json: the claims in order, with the sentence each appears in."""
        return json.dumps({"claims": [c.record() for c in self.claims]}, indent=1,
                          ensure_ascii=False) + "\n"


#: A number as a sentence prints it: digits with thousands commas, an optional sign,
#: decimals, an exponent and a percent sign.
NUMBER = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?%?")


def numbers_in(text: str) -> list[str]:
    """Every number printed in ``text`` (a trailing comma or full stop is punctuation)."""
    return [m.group(0).rstrip(",").replace("−", "-") for m in NUMBER.finditer(text)]


def unclaimed_numbers(text: str, claims: list[Claim]) -> list[str]:
    """Numbers ``text`` prints that none of ``claims`` holds as printed (signs and a percent
    sign aside, so ``+1.20`` matches a claim printed ``1.20``), nor names in a row's key."""
    def bare(t: str) -> str:
        return t.lstrip("+-").rstrip("%")

    allowed = {bare(n) for c in claims for t in c.printed() for n in numbers_in(t)}
    # A label a row is keyed by ("lighter (Monk 1-3)") names its group, not a measurement.
    allowed |= {bare(n) for c in claims for v in c.source_row.values() if isinstance(v, str)
                for n in numbers_in(v)}
    return [t for t in numbers_in(text) if bare(t) not in allowed]
