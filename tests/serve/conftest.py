"""The sandbox under test: the real server in its own process, driven by Debian's Chromium.

One server per test module (starting one costs a second or two); each test opens its own
browser context, so its tab has its own session token.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
#: Seconds the server may take to answer its first request.
START_TIMEOUT = 60


@dataclass
class Server:
    url: str
    results_dir: Path
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path) -> Server:
    """Start ``bias-audit serve`` in ``folder`` on a free port and wait until it answers."""
    port = free_port()
    results = folder / "results"
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", "serve", "--port", str(port),
         "--results-dir", str(results)],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + START_TIMEOUT
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited: " + (folder / "server.log").read_text())
        try:
            with urllib.request.urlopen(url + "/", timeout=2):
                return Server(url, results, process)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    stop_server(process)
    raise RuntimeError("the server did not answer within a minute")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def call(server, method: str, path: str, body=None, token: str | None = None,
         headers: dict | None = None) -> tuple[int, dict]:
    """One request to the API; returns the status and the JSON answer."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(server.url + path, data=data, method=method,
                                     headers={**({"X-Sandbox-Session": token} if token else {}),
                                              **({"Content-Type": "application/json"}
                                                 if isinstance(body, dict) else {}),
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"text": text.decode(errors="replace")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sandbox")
    running = start_server(folder)
    yield running
    stop_server(running.process)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); the sandbox's "
                    "browser tests need it")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason='Playwright is not installed (pip install -e ".[test]")')
    with sync_api.sync_playwright() as playwright:
        executable = CHROMIUM if CHROMIUM.exists() else Path(shutil.which("chromium"))
        launched = playwright.chromium.launch(executable_path=str(executable),
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A fresh tab (its own context, so its own session token) that fails on any dialog."""
    context = browser.new_context(accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.dialogs = dialogs
    yield tab
    context.close()
