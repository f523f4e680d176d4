"""The sandbox as a local server: hostile data stays text, bad values are refused beside their
control, uploads are capped and checked, tabs do not see each other's runs, no path from a
page reaches the disk, and stopping the server leaves no half-written run."""

from __future__ import annotations

import re
import secrets
import signal
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from experiments.reports.compare import list_runs
from tests.serve.conftest import call, start_server, stop_server

HOSTILE = ["<script>alert(1)</script>", '=HYPERLINK("http://x")', "<img src=x onerror=alert(1)>"]
QUICK = "iborderctrl"  # the shipped experiment that runs fastest


def wait_for(server, job: str, token: str, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, answer = call(server, "GET", f"/api/jobs/{job}", token=token)
        assert status == 200, answer
        if answer["status"] not in ("queued", "running"):
            return answer
        time.sleep(0.3)
    raise AssertionError("the run did not finish")


def upload_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("bias-audit-upload-*")}


def test_hostile_group_names_show_as_text_and_run_nothing(server, page, tmp_path):
    data = tmp_path / "hostile.csv"
    pd.DataFrame({"country": [HOSTILE[i % 3] for i in range(600)],
                  "truth": [int(i % 5 == 0) for i in range(600)],
                  "decision": [int(i % 3 == 0) for i in range(600)]}).to_csv(data, index=False)
    before = upload_folders()

    page.goto(server.url + "/audit")
    assert "50 MB" in page.text_content("main")
    page.set_input_files("#upload-file", str(data))
    page.click("#upload-button")
    expect(page.locator("#columns-form")).to_be_visible()
    page.check("#group-columns input[value='country']")
    page.select_option("#y-true", "truth")
    page.select_option("#y-pred", "decision")
    page.click("#audit-button")
    expect(page.locator("#audit-status")).to_have_text(re.compile("^Audited"), timeout=90_000)

    names = page.locator("#audit-tables th.group-name").all_text_contents()
    assert sorted(names) == sorted(HOSTILE)
    # report.md, shown as its source: the names are escaped for Markdown there.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text_content("#audit-report")
    assert page.dialogs == []
    # Nothing was injected: no image, and no script but the page's own.
    assert page.locator("img").count() == 0
    assert page.evaluate("Array.from(document.scripts, s => s.src)") == [
        server.url + "/static/sandbox.js"]
    # The upload is gone from the disk; the audit can be downloaded.
    assert upload_folders() - before == set()
    download = page.request.get(server.url + page.get_attribute("#audit-download", "href"))
    assert download.ok and download.body()[:2] == b"PK"


def test_uploads_are_capped_and_type_checked(server):
    token = secrets.token_hex(16)
    # Refused on its declared length, before a byte of it is stored.
    status, answer = call(server, "POST", "/api/uploads", b"x" * 1024, token,
                          {"X-File-Name": "big.csv", "Content-Length": str(50 * 2**20 + 1)})
    assert status == 413 and "50 MB" in answer["error"]
    status, answer = call(server, "POST", "/api/uploads", b"MZ\x00\x01", token,
                          {"X-File-Name": "tool.exe"})
    assert status == 415 and ".csv or .parquet" in answer["error"]
    status, answer = call(server, "POST", "/api/uploads", b"\x00\x01binary", token,
                          {"X-File-Name": "data.csv"})
    assert status == 415 and "not a CSV" in answer["error"]
    status, answer = call(server, "POST", "/api/uploads", b"a,b\n1,2\n", token,
                          {"X-File-Name": "data.parquet"})
    assert status == 415 and "not a Parquet" in answer["error"]
    status, _ = call(server, "POST", "/api/uploads", b"a,b\n1,2\n", None,
                     {"X-File-Name": "data.csv"})
    assert status == 400  # no session token, no upload


def test_out_of_range_knob_is_refused_beside_its_control(server, page):
    page.goto(f"{server.url}/experiments/catch-and-revoke")
    # Past the slider's end, through its number box (a slider itself cannot go there).
    page.fill("#control-mechanisms-surveillance_intensity-strength-exact", "99")
    page.click("#run-button")
    message = page.locator("#control-mechanisms-surveillance_intensity-strength-error")
    expect(message).to_be_visible()
    assert "out of range" in message.text_content() and "[0, 5]" in message.text_content()
    assert page.get_attribute("#control-mechanisms-surveillance_intensity-strength-exact",
                              "aria-invalid") == "true"
    assert page.text_content("#status").startswith("Not run")
    # A slider set past its range through script is held to it by the browser, and a direct
    # request past it is refused by the models, with the key named.
    token = secrets.token_hex(16)
    status, answer = call(server, "POST", "/api/experiments/catch-and-revoke/runs",
                          {"system.annotator_bias": 7, "system.capacity": "lots"}, token)
    assert status == 422
    assert "less than or equal to 5" in answer["errors"]["system.annotator_bias"]
    assert "give a number" in answer["errors"]["system.capacity"]
    status, answer = call(server, "POST", "/api/experiments/catch-and-revoke/runs",
                          {"population.size": 10_000_000, "../../etc/passwd": 1}, token)
    assert status == 422 and "not a control" in answer["errors"][""]
    # No run was made for either tab.
    _, runs = call(server, "GET", "/api/experiments/catch-and-revoke/runs", token=token)
    assert runs["own"] == []
    assert not list(server.results_dir.glob("catch-and-revoke/*/manifest.json"))


def test_tabs_do_not_see_each_others_runs(server):
    mine, theirs = secrets.token_hex(16), secrets.token_hex(16)
    status, job = call(server, "POST", f"/api/experiments/{QUICK}/runs",
                       {"population.size": 5000, "run.attribution": False}, mine)
    assert status == 202, job
    assert len(job["id"]) >= 22  # random, not a timestamp
    assert call(server, "GET", f"/api/jobs/{job['id']}", token=theirs)[0] == 404
    assert call(server, "POST", f"/api/jobs/{job['id']}/cancel", token=theirs)[0] == 404
    done = wait_for(server, job["id"], mine)
    assert done["status"] == "done", done
    assert call(server, "GET", f"/api/experiments/{QUICK}/runs", token=theirs)[1]["own"] == []
    assert [j["id"] for j in call(server, "GET", f"/api/experiments/{QUICK}/runs",
                                  token=mine)[1]["own"]] == [job["id"]]
    assert call(server, "GET", f"/api/runs/{job['id']}", token=theirs)[0] == 404
    assert call(server, "GET", f"/api/runs/{job['id']}", token=mine)[0] == 200
    # The home page lists runs that were in the folder, not this tab's.
    with urllib.request.urlopen(server.url + "/") as response:
        assert job["id"] not in response.read().decode()


@pytest.mark.parametrize("path", [
    "/runs/..%2F..%2F..%2Fetc%2Fpasswd/report.html", "/runs/%2Fetc%2Fpasswd/download",
    "/static/../app.py", "/static/%2e%2e/app.py", "/experiments/..%2Fcatalogue",
    "/api/runs/..%2Fmanifest.json"])
def test_no_path_from_a_page_reaches_the_disk(server, path):
    request = urllib.request.Request(server.url + path,
                                     headers={"X-Sandbox-Session": secrets.token_hex(16)})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request)
    assert error.value.code in (400, 404)


def test_only_local_host_names_are_answered(server):
    request = urllib.request.Request(server.url + "/", headers={"Host": "evil.example"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request)
    assert error.value.code == 400


def test_pages_allow_only_their_own_scripts(server):
    with urllib.request.urlopen(server.url + "/experiments/catch-and-revoke") as response:
        policy = response.headers["Content-Security-Policy"]
        page = response.read().decode()
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "http://" not in page.replace(server.url, "") and "https://" not in page


def test_stopping_the_server_leaves_no_half_written_run(tmp_path):
    running = start_server(tmp_path)
    token = secrets.token_hex(16)
    try:
        status, job = call(running, "POST", "/api/experiments/catch-and-revoke/runs",
                           {"population.size": 200_000}, token)
        assert status == 202, job
        deadline = time.time() + 60
        while call(running, "GET", f"/api/jobs/{job['id']}", token=token)[1]["status"] != \
                "running" and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        running.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        running.process.wait(timeout=90)
    finally:
        if running.process.poll() is None:
            stop_server(running.process)
    assert list_runs(running.results_dir) == []
    leftovers = [p for p in running.results_dir.rglob("*") if p.name.startswith(".partial-")]
    assert leftovers == []
