"""Small, fast experiment configs for the runner tests."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from experiments.config import CATALOGUE_DIR, parse_config, set_dotted
from experiments.config.experiment import read_experiment_data
from experiments.engine.runner import run_experiment

SMALL_SIZE = 20_000


def apply_changes(data: dict, changes: dict[str, object]) -> dict:
    """Set dotted keys (``"system.capacity"``) of parsed experiment data, in place."""
    for dotted, value in changes.items():
        set_dotted(data, dotted, copy.deepcopy(value))
    return data


def shipped_data(stem: str, size: int, n_boot: int = 200, replicates: int | None = 1) -> dict:
    """A shipped experiment file's data, with a small population and bootstrap, and one
    replicate of the system's randomness (``replicates``; None keeps the file's): the
    replicates have tests of their own, and the others need not pay for them."""
    # A file that starts from another (``base = ...``) is read with its base merged in.
    data = read_experiment_data(CATALOGUE_DIR / f"{stem}.toml")
    data["population"]["size"] = size
    data["audit"]["n_boot"] = n_boot
    if replicates is not None:
        data["experiment"]["replicates"] = replicates
    return data


def immigration_os_data(**changes: object) -> dict:
    """The shipped ImmigrationOS experiment, made small; ``changes`` maps dotted keys."""
    return apply_changes(shipped_data("immigration_os", SMALL_SIZE), changes)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """One small run of the shipped experiment, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("runs") / "small"
    config = parse_config(immigration_os_data())
    return run_experiment(config, Path("immigration_os.toml"), out=out)


#: Interval columns of metrics.csv and summary.csv, as (low, high) pairs.
INTERVAL_COLUMNS = (("ci_low", "ci_high"), ("diff_ci_low", "diff_ci_high"),
                    ("ratio_ci_low", "ratio_ci_high"), ("sim_diff_ci_low", "sim_diff_ci_high"),
                    ("sim_ratio_ci_low", "sim_ratio_ci_high"))


def assert_intervals_claim_no_false_certainty(directory: Path) -> None:
    """No zero-width interval, and no infinite bound without the flag ``unbounded``, in a
    run's metrics.csv and summary.csv."""
    import numpy as np
    import pandas as pd

    for name in ("metrics.csv", "summary.csv"):
        table = pd.read_csv(directory / name, keep_default_na=False, na_values=[""],
                            dtype={"group": str, "grouping": str, "flags": str})
        table["flags"] = table["flags"].fillna("")
        for low_name, high_name in INTERVAL_COLUMNS:
            if low_name not in table:
                continue
            low = pd.to_numeric(table[low_name], errors="coerce").to_numpy(dtype=float)
            high = pd.to_numeric(table[high_name], errors="coerce").to_numpy(dtype=float)
            frozen = ~np.isnan(low) & (low == high)
            assert not frozen.any(), (name, low_name, table.loc[frozen].head(3).to_dict("records"))
            infinite = np.isinf(low) | np.isinf(high)
            unflagged = infinite & ~table["flags"].str.contains("unbounded").to_numpy()
            assert not unflagged.any(), (name, high_name,
                                         table.loc[unflagged].head(3).to_dict("records"))


def assert_report_reads_well(directory: Path) -> None:
    """A run's reports name countries, parse as HTML and load nothing from the network.

    - every country code among the run's groups that appears in report.md or in the text of
      report.html (code blocks excepted: they quote configuration) stands beside its name,
      as ``Saudi Arabia (SAU)``, never alone;
    - metrics.csv keeps the code in ``group`` and adds the name in ``group_name``;
    - report.html parses without error (html5lib, strict) and no script or stylesheet in it
      points anywhere: no ``src`` on a script, no linked stylesheet, no URL in either.
    """
    import re

    import html5lib
    import pandas as pd

    from experiments.writing.names import group_names

    metrics = pd.read_csv(directory / "metrics.csv", keep_default_na=False, na_values=[""],
                          dtype={"group": str, "group_name": str})
    names = group_names(metrics["group"].dropna().unique())
    assert "group_name" in metrics.columns
    for code, name in names.items():
        assert (metrics.loc[metrics["group"] == code, "group_name"] == name).all(), code

    markdown = (directory / "report.md").read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)
    document = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(
        (directory / "report.html").read_text(encoding="utf-8"))
    for pre in document.iter("pre"):
        pre.clear()
    html_text = " ".join(document.itertext())
    for where, text in (("report.md", prose), ("report.html", html_text)):
        for code, name in names.items():
            for match in re.finditer(rf"(?<!\w){code}(?!\w)", text):
                before = text[max(0, match.start() - len(name) - 2):match.start()]
                assert before == f"{name} (", (where, code, text[match.start() - 80:
                                                                  match.end() + 40])
    for script in document.iter("script"):
        assert "src" not in script.attrib, script.attrib
        assert not re.search(r"(https?:)?//[\w.-]+\.\w", script.text or ""), "URL in a script"
    for link in document.iter("link"):
        assert "stylesheet" not in link.attrib.get("rel", ""), link.attrib
    for style in document.iter("style"):
        assert not re.search(r"@import|url\(", style.text or ""), "a stylesheet loads a file"


def counted_fit_thread(monkeypatch, adapter) -> list[bool]:
    """A fitting thread of the test's own for ``adapter`` and Babel X's scorer, recording
    whether each piece of work it is given is urgent; the features and fits kept before are
    forgotten (a corpus featurised by an earlier test is asked for without its features)."""
    from synthetic.systems import babel_x as system
    from synthetic.systems.ahead import WorkAhead

    asked: list[bool] = []
    thread = WorkAhead("test fits")
    submit = thread.submit
    monkeypatch.setattr(thread, "submit", lambda work, urgent=False: asked.append(urgent)
                        or submit(work, urgent=urgent))
    monkeypatch.setattr(system, "FIT_THREAD", thread)
    monkeypatch.setattr(adapter, "FIT_THREAD", thread)
    for kept in (system.FITS, system.FEATURES, system.FEATURES_AHEAD):
        kept.clear()
    return asked


def same_table_bytes(first: Path, second: Path) -> list[str]:
    """The tables of two run folders (all but the manifest), checked byte for byte."""
    tables = sorted(p.name for p in first.iterdir() if p.suffix in (".csv", ".json"))
    for table in tables:
        if table != "manifest.json":
            assert (first / table).read_bytes() == (second / table).read_bytes(), table
    return tables
