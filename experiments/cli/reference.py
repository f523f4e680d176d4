"""The README's reference block, generated from the code so it never drifts.

``python -m experiments.cli.reference`` rewrites the part of README.md between
``<!-- keys:start -->`` and ``<!-- keys:end -->``: every key of an experiment or sweep file
(from the pydantic models of :mod:`experiments.config`, with type, default and description),
the mechanisms and each system's settings, every flag of the audit's tables
(:data:`audit.glossary.FLAG_HELP`), the columns of a sweep's tables and the one convention for
intervals without a bound and withheld intervals. ``--check`` only says whether the README is
up to date (exit code 1 when not), for tests and CI.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

START, END = "<!-- keys:start -->", "<!-- keys:end -->"
README = Path(__file__).resolve().parents[2] / "README.md"

#: What a table of the experiment file holds, where its model says nothing of it.
SECTION_HELP = {
    "mechanisms": "one table per bias mechanism, named as below; a mechanism left out is off",
    "system": "the chosen system's settings: see each system's keys below",
}

#: Keys of an experiment file that no model holds: they are read before validation.
EXTRA_KEYS = [
    ("base", "text", "none", "start from another experiment (a shipped name or a .toml file): "
     "its tables are merged with this file's key by key, and any other value this file sets "
     "(lists included) replaces the base's; bias-audit validate FILE --show prints the result"),
]


def _type_text(annotation: Any) -> str:
    """A reader's name for a field's type: ``number``, ``list of text``, ``one of a, b``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in args if a is not type(None)]
        text = " or ".join(_type_text(a) for a in parts)
        return text + (" or none" if len(parts) < len(args) else "")
    if origin in (list, tuple):
        if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return "array of tables"
        return "list of " + (_type_text(args[0]) if args else "values")
    if origin is dict:
        if len(args) == 2 and isinstance(args[1], type) and issubclass(args[1], BaseModel):
            return "tables"
        return "table of " + _type_text(args[1]) if len(args) == 2 else "table"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    names = {bool: "true/false", int: "integer", float: "number", str: "text"}
    return names.get(annotation, "any value" if annotation is Any else str(annotation))


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _limits(field: Any) -> str:
    """``, ≥ 10 and ≤ 100,000``: a field's numeric bounds, as validated."""
    low = high = None
    for item in field.metadata:
        for name, sign in (("ge", "≥"), ("gt", ">")):
            if getattr(item, name, None) is not None:
                low = f"{sign} {_number(getattr(item, name))}"
        for name, sign in (("le", "≤"), ("lt", "<")):
            if getattr(item, name, None) is not None:
                high = f"{sign} {_number(getattr(item, name))}"
    parts = [p for p in (low, high) if p]
    return f", {' and '.join(parts)}" if parts else ""


def _default_text(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "see its keys"
    if value is None or value == "" or value == [] or value == {}:
        return "none" if value is None or value == "" else ("[]" if value == [] else "{}")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("'", '"').replace("True", "true").replace("False", "false")


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The model a field holds, and how its key continues: ``.`` (table), ``[].`` (array of
    tables) or ``.<name>.`` (table of tables)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, "."
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            model, joint = _model_of(arg)
            if model is not None:
                return model, joint
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], "[]."
    if origin is dict and len(args) == 2 and isinstance(args[1], type) \
            and issubclass(args[1], BaseModel):
        return args[1], ".<name>."
    return None, ""


def model_rows(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """``(key, type, default, description)`` for every key of ``model``, nested tables
    flattened into dotted keys (``audit.focus[].group``, ``mechanisms.<name>.strength``)."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        inner, joint = _model_of(field.annotation)
        if inner is not None and joint == ".":
            yield from model_rows(inner, key + joint)
            continue
        description = field.description or (inner.__doc__ or "").strip().split("\n\n")[0]
        yield (key, _type_text(field.annotation) + _limits(field), _default_text(field),
               " ".join(description.split()))
        if inner is not None:
            yield from model_rows(inner, key + joint)


def experiment_rows() -> list[tuple[str, str, str, str]]:
    """Every key of an experiment or sweep file, in file order."""
    from experiments.config import ExperimentConfig

    rows = list(EXTRA_KEYS)
    for key, kind, default, description in model_rows(ExperimentConfig):
        description = SECTION_HELP.get(key, description)
        rows.append((key, kind, default, description))
    return rows


def system_rows() -> list[tuple[str, str, str, str, str]]:
    """``(system, key, type, default, description)`` for every system's ``[system]`` keys."""
    from experiments.config.registry import SYSTEMS, system_adapter

    rows = []
    for system in SYSTEMS:
        for key, kind, default, description in model_rows(system_adapter(system).Settings):
            rows.append((system, key, kind, default, description or "—"))
    return rows


def _table(header: list[str], rows: list[tuple[str, ...]], code: tuple[int, ...] = (0,)
           ) -> list[str]:
    def cell(text: str, index: int) -> str:
        text = text.replace("|", "\\|")
        return f"`{text}`" if index in code else text

    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(cell(str(c), i) for i, c in enumerate(row)) + " |"
              for row in rows)]


def generate() -> str:
    """The reference block's text, markers included."""
    from audit.glossary import FLAG_HELP, INTERVAL_CONVENTION, SUPPRESSION_RULE
    from audit.pooling import SWEEP_METRICS_HELP, SWEEP_SUMMARY_HELP
    from experiments.config import SweepSection
    from experiments.sweeps.report import ANSWERS
    from synthetic.population import MECHANISMS

    answers = typing.get_args(SweepSection.model_fields["answer"].annotation)
    lines = [
        START,
        "<!-- generated by `python -m experiments.cli.reference` from experiments/config/, the "
        "systems' settings and audit/glossary.py; edit those, not this block -->",
        "",
        "**Keys of an experiment or sweep file.** `a.b` is key `b` of table `[a]`; `a[].b` is "
        "key `b` of each `[[a]]` table; `<name>` is a name you choose.",
        "",
        *_table(["key", "type", "default", "what it means"], experiment_rows()),
        "",
        "**What each `sweep.answer` computes** (from the pooled intervals; every analysis "
        "follows the sweep's first comparison: `sweep.focus_group`, else the first "
        "`[[audit.focus]]`):",
        "",
        *(f"- `{name}`: {ANSWERS[name]}" for name in answers if name in ANSWERS),
        "",
        "**Mechanisms** (`mechanisms.<name>`):",
        "",
        *_table(["name", "strength range", "what it is"],
                [(name, f"0 to {m.max_strength:g}",
                  " ".join((m.__doc__ or "").strip().split("\n\n")[0].split()))
                 for name, m in MECHANISMS.items()]),
        "",
        "<details><summary>Keys of each system's <code>[system]</code> table</summary>",
        "",
        *_table(["system", "key", "type", "default", "what it means"], system_rows(),
                code=(0, 1)),
        "",
        "</details>",
        "",
        "**Flags** (the `flags` column of metrics.csv and summary.csv, joined by `;`):",
        "",
        *_table(["flag", "what it means"], list(FLAG_HELP.items())),
        "",
        "**Columns of a sweep's tables** (every point's own columns are described in "
        "`audit/glossary.py`):",
        "",
        *_table(["sweep_metrics.csv", "what it holds"], list(SWEEP_METRICS_HELP.items())),
        "",
        *_table(["sweep_summary.csv", "what it holds"], list(SWEEP_SUMMARY_HELP.items())),
        "",
        f"**Intervals with no bound, and withheld intervals.** {INTERVAL_CONVENTION}",
        "",
        f"**Withheld cells stay withheld.** {SUPPRESSION_RULE}",
        END,
    ]
    return "\n".join(lines)


def current(readme: Path = README) -> str:
    """The README's block as it stands (markers included); empty when it has none."""
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return ""
    return text[text.index(START):text.index(END) + len(END)]


def write(readme: Path = README) -> bool:
    """Replace the README's block with the generated one; return whether it changed."""
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: no {START} ... {END} block to fill; add the two markers "
                         "where the reference belongs")
    block = generate()
    old = current(readme)
    if old == block:
        return False
    readme.write_text(text.replace(old, block), encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m experiments.cli.reference [--check]``."""
    parser = argparse.ArgumentParser(prog="python -m experiments.cli.reference",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only check that README.md's block is up to date (exit code 1 "
                             "when not)")
    args = parser.parse_args(argv)
    if args.check:
        if current(README) != generate():
            print("README.md's reference block is out of date; run python -m "
                  "experiments.cli.reference", file=sys.stderr)
            return 1
        return 0
    print("README.md updated" if write(README) else "README.md already up to date")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
