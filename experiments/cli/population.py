"""``bias-audit population``: generate a synthetic population and write it to a file.

Examples::

    bias-audit population --list
    bias-audit population us_visa_holders --size 1000000 --seed 7 --out people.parquet
    bias-audit population my_profile.toml --size 5000 --out people.csv --mechanisms bias.toml

The ``--mechanisms`` file is TOML with one table per mechanism, e.g.
``[label_bias]`` ``strength = 1.0`` ``targets = ["region:South Asia"]`` (optionally nested
under ``[mechanisms]``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from audit.tables import neutralise_formulas
from experiments.config import MAX_POPULATION_SIZE, MAX_SEED
from experiments.engine.output import resolve_output_file
from experiments.errors import UsageError
from synthetic.population import (
    PopulationInputError,
    iter_chunks,
    list_profiles,
    load_profile,
    resolve_mechanisms,
)

#: Rows generated and written at a time; the file is identical whatever this is.
CHUNK_ROWS = 1_048_576
#: Sizes from which a progress bar is shown (unless --quiet).
PROGRESS_FROM = 2 * CHUNK_ROWS


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``population`` sub-command."""
    parser = subparsers.add_parser(
        "population",
        help="generate a synthetic population and write it to .parquet or .csv",
        description=(
            "Generate synthetic people from a profile (a shipped name or a .toml path) and "
            "write them, with the recorded world the bias mechanisms add, to a file."
        ),
    )
    parser.add_argument("profile", nargs="?", help="profile name or path of a .toml profile")
    parser.add_argument("--list", action="store_true", help="list the shipped profiles and exit")
    parser.add_argument("--size", type=int, help="number of people (positive)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, help="output file, .parquet or .csv")
    parser.add_argument(
        "--mechanisms", type=Path, metavar="FILE",
        help="TOML file of bias mechanisms: [label_bias] strength = 1.0 targets = [...]",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the sub-command; returns the exit code."""
    try:
        return _run(args)
    except PopulationInputError as error:
        raise UsageError(str(error)) from None


def _run(args: argparse.Namespace) -> int:
    if args.list:
        profiles = list_profiles()
        width = max(len(name) for name, _ in profiles)
        for name, description in profiles:
            print(f"{name:<{width}}  {description}")
        return 0
    if args.profile is None:
        raise UsageError("give a PROFILE (see `bias-audit population --list`) or --list")
    if args.size is None:
        raise UsageError("give the number of people with --size N")
    if args.size <= 0:
        raise UsageError(f"--size must be a positive whole number of people, got {args.size}")
    if args.size > MAX_POPULATION_SIZE:
        raise UsageError(
            f"--size {args.size:,} is more than {MAX_POPULATION_SIZE:,} people, the largest "
            "population this tool generates (as for `bias-audit run`); give a smaller --size"
        )
    if not 0 <= args.seed <= MAX_SEED:
        raise UsageError(
            f"--seed must be a whole number from 0 to {MAX_SEED} (2**32 - 1, as for "
            f"`bias-audit run`), got {args.seed}"
        )
    if args.out is None:
        raise UsageError("give an output file with --out FILE (.parquet or .csv)")
    out: Path = args.out
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise UsageError(f"--out {str(out)!r}: use a .parquet or .csv file name")
    inputs = [Path(p) for p in (args.mechanisms, args.profile) if p is not None]
    resolve_output_file(out, args.force, inputs=[p for p in inputs if p.exists()])

    profile = load_profile(args.profile)
    mechanisms = _read_mechanisms(args.mechanisms)
    resolve_mechanisms(mechanisms, profile.nationalities, profile.regions)  # fail before work
    progress = not args.quiet and args.size >= PROGRESS_FROM
    chunks = iter_chunks(
        profile, args.size, args.seed, CHUNK_ROWS, mechanisms=mechanisms, progress=progress
    )
    partial = out.with_name(out.name + ".partial")
    try:
        columns = _write(chunks, partial, suffix)
        os.replace(partial, out)
    finally:
        if partial.exists():
            partial.unlink()
    if not args.quiet:
        print(
            f"wrote {args.size:,} people ({columns} columns) from profile {profile.name!r}, "
            f"seed {args.seed}, to {out}",
            file=sys.stderr,
        )
    return 0


def _read_mechanisms(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    if not path.is_file():
        raise UsageError(f"mechanisms file {str(path)!r} not found")
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"mechanisms file {str(path)!r} is not valid TOML: {error}") from None
    return data.get("mechanisms", data)


def _write(chunks, path: Path, suffix: str) -> int:
    columns = 0
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        try:
            for chunk in chunks:
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
                columns = chunk.shape[1]
        finally:
            if writer is not None:
                writer.close()
    else:
        for i, chunk in enumerate(chunks):
            # Text a spreadsheet would run as a formula (from a profile's names) made inert.
            neutralise_formulas(chunk).to_csv(path, mode="w" if i == 0 else "a",
                                              header=i == 0, index=False)
            columns = chunk.shape[1]
    return columns
