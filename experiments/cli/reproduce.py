"""``bias-audit reproduce RUN``: rerun a run from its manifest alone and check every file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``reproduce``."""
    parser = subparsers.add_parser(
        "reproduce", help="rerun a run from its manifest and check every file's hash",
        description="Rerun a finished run from the full resolved config its manifest.json "
                    "holds (no experiment file needed), warn when the tool, Python or a "
                    "package differs from the versions the manifest recorded, and compare "
                    "every file's SHA-256 with the manifest's, printing for each whether it "
                    "is identical. Exit code 0 when every file is identical (a report that "
                    "differs only by the run id it names counts as identical), 1 otherwise.")
    parser.add_argument("run", metavar="RUN_DIR_OR_MANIFEST",
                        help="a run folder, or its manifest.json")
    parser.add_argument("--out", type=Path,
                        help="folder to write the rerun into (default: "
                             "<results-dir>/<experiment>/<new run id>)")
    parser.add_argument("--results-dir", type=Path, default=Path("results"),
                        help="parent folder of the default --out (default: results)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing --out folder written by this tool")
    parser.add_argument("--quiet", action="store_true", help="print only the differences")
    parser.set_defaults(func=reproduce_command)


def reproduce_command(args: argparse.Namespace) -> int:
    """Rerun, compare and say per file whether it is identical."""
    from experiments.config import builtin_experiments
    from experiments.engine.manifest import (
        check_files,
        config_from_manifest,
        read_manifest,
        recording_overrides,
        version_differences,
    )
    from experiments.engine.runner import run_experiment
    from experiments.errors import UsageError

    manifest, manifest_path = read_manifest(args.run)
    run_id = str(manifest["run_id"])
    config = config_from_manifest(manifest, f"{manifest_path} (run {run_id})")
    if args.out is None and args.force:
        raise UsageError("--force only applies with --out")
    for difference in version_differences(manifest):
        print(f"bias-audit reproduce: warning: {difference}; files may differ for that reason",
              file=sys.stderr)
    # The file the run came from is named as it was recorded; a shipped one is found again so
    # that the rerun's report and manifest name it alike. Only the config is read.
    recorded_file = str(manifest.get("config_file", "")) or f"{config.experiment.name}.toml"
    config_file = builtin_experiments().get(recorded_file, Path(recorded_file))

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"… {message}", file=sys.stderr, flush=True)

    # The knob worlds ran if the manifest recorded them; remedies are in the config itself.
    attribution = "attribution" in (manifest.get("details") or {})
    with recording_overrides(manifest.get("overrides") or {}):
        result = run_experiment(
            config, config_file, results_dir=args.results_dir, out=args.out, force=args.force,
            progress=progress, attribution=attribution,
            suppress=bool(manifest.get("suppressed_cells_withheld", True)))
    original = manifest_path.parent
    checks = check_files(manifest, result.directory, original,
                         new_run_id=str(result.manifest.get("run_id")))
    width = max((len(status) for _, status, _ in checks), default=9)
    for name, status, detail in checks:
        if args.quiet and status == "identical":
            continue
        print(f"{status:<{width}}  {name}" + (f"  ({detail})" if detail else ""))
    identical = sum(status == "identical" for _, status, _ in checks)
    listed = sum(status != "new" for _, status, _ in checks)
    print(f"\n{identical} of {listed} files identical to run {run_id}'s manifest; rerun in "
          f"{result.directory}")
    return 0 if identical == listed else 1
