"""Click through the flagship in a real browser: a knob off, a run, its numbers, the download,
and two runs side by side."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile

import pandas as pd
from playwright.sync_api import expect

from audit.report import points

FLAGSHIP = "catch-and-revoke"
#: Small enough to keep the test quick, large enough for the flagship's system.
SIZE = "10000"


def run_on_page(page, *, attribution: bool, preview: bool = False) -> None:
    """Set the size and attribution, press Run and wait for the result; with ``preview``,
    first for the numbers the page shows while the report is written."""
    page.fill("#control-population-size-exact", SIZE)
    page.set_checked("#control-run-attribution", attribution)
    page.click("#run-button")
    if preview:
        expect(page.locator("#status")).to_have_text(
            re.compile(r"^Numbers in [\d.]+ s; writing the report"), timeout=120_000)
        assert page.locator("#headlines li").count() > 0
        assert page.locator("figure.waterfall").count() > 0
        # Nothing to download before the run is published.
        assert not page.is_visible("#download-link")
        assert not page.is_visible("#report-link")
    expect(page.locator("#status")).to_have_text(re.compile(r"^(Done|The run failed|Not run)"),
                                                 timeout=120_000)
    assert page.text_content("#status").startswith("Done"), page.text_content("#status")


def the_run_folder(server, before: set) -> object:
    folders = {p.parent for p in server.results_dir.glob(f"{FLAGSHIP}/*/manifest.json")}
    new = folders - before
    assert len(new) == 1, new
    return new.pop()


def test_flagship_knob_off_run_download_and_side_by_side(server, page):
    page.goto(server.url + "/")
    page.click(f"a[href='/experiments/{FLAGSHIP}']")
    assert page.text_content("h1") == "Catch and Revoke-style visa revocation"

    # The annotator-bias knob has its off position marked; switch it off.
    knob = page.locator(".control[data-key='system.annotator_bias']")
    assert "off = 0.0" in knob.text_content() and "◀ off" in knob.text_content()
    knob.get_by_role("button", name="switch annotator bias off").click()
    assert float(page.input_value("#control-system-annotator_bias-exact")) == 0

    before = {p.parent for p in server.results_dir.glob(f"{FLAGSHIP}/*/manifest.json")}
    run_on_page(page, attribution=True, preview=True)
    folder = the_run_folder(server, before)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["config"]["system"]["annotator_bias"] == 0.0
    assert manifest["population_size"] == int(SIZE)

    # The headlines are the run's own.
    shown = page.locator("#headlines li").all_text_contents()
    assert shown == manifest["headlines"]

    # The gap on the page is the run's attribution.csv, as the reports format it.
    table = pd.read_csv(folder / "attribution.csv", keep_default_na=False, na_values=[""])
    first = table.iloc[0]
    rows = table[(table["grouping"] == first["grouping"]) & (table["group"] == first["group"])
                 & (table["metric"] == first["metric"])]
    chart = page.locator("figure.waterfall").first
    for source in ("all knobs off", "as configured", "annotator bias"):
        row = rows[rows["source"] == source].iloc[0]
        expected = points(row["contribution"], row["ci_low"], row["ci_high"])
        cell = chart.locator(f"tr[data-source='{source}'] td.value")
        assert cell.text_content() == expected
    # With the knob off its share of the gap is nothing at all.
    assert abs(rows[rows["source"] == "annotator bias"]["contribution"].iloc[0]) < 1e-12

    # The focus comparison by both views, with intervals.
    focus = page.locator("#focus-rows tr")
    assert focus.count() >= 2
    views = {focus.nth(i).locator("td").nth(2).text_content() for i in range(focus.count())}
    assert {"true outcome", "recorded outcome"} <= views

    # Download this run: every file's hash matches its manifest.
    with page.expect_download() as info:
        page.click("#download-link")
    archive = zipfile.ZipFile(io.BytesIO(open(info.value.path(), "rb").read()))
    zipped = json.loads(archive.read("manifest.json"))
    assert zipped == manifest
    assert set(archive.namelist()) == {"manifest.json", *manifest["files"]}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest

    # The report opens from the page.
    report = page.request.get(server.url + page.get_attribute("#report-link", "href"))
    assert report.ok and "Catch and Revoke" in report.text()
    assert "default-src 'none'" in report.headers["content-security-policy"]

    # A second run, annotator bias back on, without the knob worlds; then side by side.
    page.click("#reset-button")
    run_on_page(page, attribution=False)
    page.click("#compare-button")
    expect(page.locator("#compare-status")).to_have_text(re.compile(r"^Run A"))
    people = page.text_content("#compare-people")
    assert people.startswith("Same people")
    rows = page.locator("#compare-rows tr")
    assert rows.count() >= 2
    differences = page.locator("#compare-differences li").all_text_contents()
    assert any(d.startswith("system.annotator_bias: 0.0 in A") for d in differences), differences


def test_a_run_can_be_cancelled_and_leaves_nothing(server, page):
    page.goto(f"{server.url}/experiments/{FLAGSHIP}")
    before = {p.name for p in server.results_dir.glob(f"{FLAGSHIP}/*")}
    page.fill("#control-population-size-exact", "200000")
    page.set_checked("#control-run-attribution", True)
    page.click("#run-button")
    expect(page.locator("#status")).to_have_text(re.compile(r"^Running"))
    page.click("#cancel-button")
    expect(page.locator("#status")).to_have_text(re.compile(r"^Cancelled"), timeout=120_000)
    after = {p.name for p in server.results_dir.glob(f"{FLAGSHIP}/*")}
    assert after == before  # no run folder, no staging folder
