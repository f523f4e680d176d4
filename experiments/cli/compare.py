"""``bias-audit compare RUN_A RUN_B``: two runs of one system and profile side by side."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``compare``."""
    parser = subparsers.add_parser(
        "compare", help="compare two runs of one system and profile (focus gaps, config "
                        "differences)",
        description="Put two finished runs side by side, of one experiment or of two variants "
                    "that share a system and a population profile: the configuration keys "
                    "that differ, every focus comparison of either run with its gap in both "
                    "runs and its interval, the change between them with its interval (paired "
                    "person by person when both runs decided on the same people and both "
                    "folders hold decisions.parquet), and whether they differ. Writes "
                    "compare.md, compare.html and compare.csv.")
    parser.add_argument("run_a", help="a run folder, or a run id (bias-audit runs lists them)")
    parser.add_argument("run_b", help="the other run")
    parser.add_argument("--results-dir", type=Path, default=Path("results"),
                        help="where run ids are looked up (default: results)")
    parser.add_argument("--out", type=Path,
                        help="folder to write (default: <results-dir>/comparisons/A-vs-B)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing --out folder written by this tool")
    parser.set_defaults(func=compare_command)


def compare_command(args: argparse.Namespace) -> int:
    """Compare, print the verdicts and write the comparison's folder."""
    from experiments.api import load
    from experiments.engine.output import discard, publish, resolve_output_dir, staging_dir
    from experiments.errors import UsageError
    from experiments.reports.compare import compare_runs, find_run

    first, second = (find_run(run, args.results_dir) for run in (args.run_a, args.run_b))
    runs = [load(first), load(second)]
    for given, loaded in zip((args.run_a, args.run_b), runs, strict=True):
        if loaded.manifest.get("command") == "audit":
            # Two audits of files share no simulated people: the comparison's statements
            # about the same people under two settings would be false for them.
            raise UsageError(
                f"{str(given)!r} is the folder of an audit of a file, not of a run; compare "
                "takes two runs (bias-audit run) of the same simulated people")
    comparison = compare_runs(*runs)
    name = f"{comparison.run_a.manifest.get('run_id')}-vs-{comparison.run_b.manifest.get('run_id')}"
    target = resolve_output_dir(args.out or args.results_dir / "comparisons" / name, "",
                                args.force, inputs=[first / "manifest.json",
                                                    second / "manifest.json"])
    staging = staging_dir(target)
    try:
        comparison.write(staging)
        publish(staging, target, args.force)
    except BaseException:
        discard(staging)
        raise
    print(f"{comparison.run_a.manifest.get('experiment')}: run A "
          f"{comparison.run_a.manifest.get('run_id')}, run B "
          f"{comparison.run_b.manifest.get('run_id')}\n")
    for sentence in comparison.verdicts() or ["neither run holds a focus comparison"]:
        print(f"- {sentence}\n")
    print(comparison.method_sentence())
    for note in comparison.notes:
        print(note)
    differences = comparison.config_differences
    print(f"\n{len(differences)} configuration key{'s' if len(differences) != 1 else ''} "
          "differ" + ("s" if len(differences) == 1 else "")
          + (": " + ", ".join(differences["key"].head(8)) if len(differences) else "")
          + (", …" if len(differences) > 8 else ""))
    print(f"\ncomparison: {target / 'compare.html'}\n            {target / 'compare.md'}")
    return 0
