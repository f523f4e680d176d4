"""The same data and seed give byte-identical output files."""

from __future__ import annotations

import numpy as np

from audit import audit
from tests.audit.tables import random_decisions

FILES = ("metrics.csv", "summary.csv", "metrics.json", "report.md")


def _run(frame, tmp_path, name, random_state):
    frame = frame.assign(score=np.linspace(0, 1, len(frame)))
    result = audit(frame, groups=["nationality", "sex"], y_true="y", y_pred="d", score="score",
                   n_boot=200, random_state=random_state)
    result.write(tmp_path / name)
    return result


def test_same_data_and_seed_write_byte_identical_files(tmp_path):
    frame = random_decisions(seed=2)
    first = _run(frame, tmp_path, "first", random_state=42)
    second = _run(frame.copy(), tmp_path, "second", random_state=42)
    for name in FILES:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes()
    assert first.table.equals(second.table)
    assert first.summary.equals(second.summary)


def test_same_generator_seed_gives_identical_tables(tmp_path):
    frame = random_decisions(seed=2)
    first = _run(frame, tmp_path, "first", random_state=np.random.default_rng(9))
    second = _run(frame, tmp_path, "second", random_state=np.random.default_rng(9))
    assert first.table.equals(second.table)
    assert (tmp_path / "first" / "metrics.csv").read_bytes() == (
        tmp_path / "second" / "metrics.csv").read_bytes()
    assert first.settings["random_state"] == "Generator"


def test_another_seed_changes_only_the_bootstrap_intervals(tmp_path):
    frame = random_decisions(seed=2)
    first = _run(frame, tmp_path, "first", random_state=1).table
    second = _run(frame, tmp_path, "second", random_state=2).table
    bootstrap = ["diff_ci_low", "diff_ci_high", "ratio_ci_low", "ratio_ci_high"]
    rest = [c for c in first.columns if c not in bootstrap]
    # ECE's own interval is a bootstrap interval too; every other figure is seed-free.
    seed_free = first["metric"] != "ece"
    assert first.loc[seed_free, rest].equals(second.loc[seed_free, rest])
    assert not first[bootstrap].equals(second[bootstrap])


def test_the_mean_over_resamples_is_numpy_s_nanmean_without_its_warning():
    """Spreads' bootstrap bias reads nan_mean: the bytes of np.nanmean, NaN for a column with
    no defined resample, and no warning (a warnings filter would be the whole process's)."""
    import warnings

    from audit.intervals import nan_mean

    rng = np.random.default_rng(4)
    for trial in range(60):
        values = rng.normal(size=(int(rng.integers(1, 40)), int(rng.integers(1, 9))))
        values *= 10.0 ** rng.integers(-4, 4)
        values[rng.random(values.shape) < rng.random()] = np.nan
        values[:, 0] = np.nan  # a slice with nothing defined
        if trial % 5 == 0:
            values[0, -1] = np.inf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmean(values, axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            found = nan_mean(values, axis=0)
        assert found.tobytes() == expected.tobytes()
        assert np.isnan(found[0])


def test_audits_on_two_threads_equal_audits_alone_and_never_touch_the_warnings_filter(
        monkeypatch):
    """Runs audit their two views on two threads at once: each equals its audit alone. The
    audit's own code never changes the warnings filters (``catch_warnings``), which are the
    whole process's: one thread's change would show in the other, and two interleaved
    changes can leave a filter behind."""
    import sys
    import warnings
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    audit_folder = str(Path(__file__).resolve().parents[2] / "audit")
    callers = []
    catch_warnings = warnings.catch_warnings

    def recorded(*args, **kwargs):
        callers.append(sys._getframe(1).f_code.co_filename)
        return catch_warnings(*args, **kwargs)

    frames = [random_decisions(seed=seed) for seed in (3, 4)]
    frames = [f.assign(score=np.linspace(0, 1, len(f))) for f in frames]

    def audited(frame):
        return audit(frame, groups=["nationality", "sex"], y_true="y", y_pred="d",
                     score="score", n_boot=200, random_state=7, min_count=1)

    alone = [audited(frame) for frame in frames]
    monkeypatch.setattr(warnings, "catch_warnings", recorded)
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(audited, frames))
    for one, other in zip(together, alone, strict=True):
        assert one.table.equals(other.table) and one.summary.equals(other.summary)
    assert not [c for c in callers if c.startswith(audit_folder)], callers
