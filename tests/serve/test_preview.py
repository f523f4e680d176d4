"""The page shows a run's numbers as soon as its tables are written, while its report is still
being drawn: the same numbers the published run then holds."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from experiments.config import parse_config
from experiments.engine import runner
from experiments.serve.jobs import JobQueue
from experiments.serve.results import preview_summary, read_run, run_summary
from tests.experiments.conftest import shipped_data


def test_the_numbers_shown_before_the_report_are_the_published_ones(tmp_path):
    config = parse_config(shipped_data("icm_falcon", 3_000, n_boot=50))
    seen = {}

    def numbers(staging: Path, fields: dict) -> None:
        seen["files"] = {p.name for p in staging.iterdir()}
        seen["summary"] = preview_summary(staging, fields)

    with threadpool_limits(1):
        result = runner.run_experiment(config, Path("icm_falcon.toml"), out=tmp_path / "run",
                                       attribution=True, on_tables=numbers)
    preview, published = seen["summary"], run_summary(read_run(result.directory))
    # Called between the tables and the report, in the run's own staging folder.
    assert {"metrics.csv", "attribution.csv"} <= seen["files"]
    assert not {"report.html", "report.md", "manifest.json"} & seen["files"]
    assert preview["attribution"] and preview["headlines"]
    for key in ("experiment", "run_id", "seed", "size", "headlines", "focus", "attribution"):
        assert preview[key] == published[key], key
    assert preview["preview"] and not preview["has_report"]
    assert published["has_report"] and "preview" not in published


def test_a_running_job_offers_its_numbers_until_it_ends(tmp_path, monkeypatch):
    reached, release = threading.Event(), threading.Event()

    def run_experiment(config, config_file, *, out, progress, attribution, on_tables, pool=None):
        staging = out.parent / ".partial-test"
        staging.mkdir(parents=True)
        on_tables(staging, {"experiment": "icm-falcon", "run_id": "r1", "seed": 7,
                            "population_size": 30, "config": {}, "headlines": ["a finding"],
                            "details": {"seconds": 0.5}})
        reached.set()
        assert release.wait(30)
        progress("writing the report")

    monkeypatch.setattr(runner, "run_experiment", run_experiment)
    queue = JobQueue(tmp_path / "results", replicate_workers=0)
    try:
        job = queue.submit("tab", "icm-falcon",
                           parse_config(shipped_data("icm_falcon", 3_000)),
                           Path("icm_falcon.toml"), False, {})
        assert reached.wait(30)
        shown = job.public()
        assert shown["status"] == "running"
        assert shown["preview"]["headlines"] == ["a finding"]
        assert shown["preview"]["seconds"] == 0.5 and shown["preview"]["preview"]
        assert shown["message"] == "numbers ready; writing the report"
        release.set()
        deadline = time.time() + 30
        while job.pending and time.time() < deadline:
            time.sleep(0.05)
        # Done: the page reads the published run, not the preview.
        assert job.status == "done" and job.public()["preview"] is None
    finally:
        release.set()
        queue.shutdown(timeout=5)
