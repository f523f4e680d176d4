"""Is the sandbox fast enough to play? Time from pressing Run to the numbers, per experiment.

Starts the real server (``bias-audit serve``) in a temporary folder, and for every shipped
experiment at the page's default size posts a run as the page does, without and with the
attribution worlds, and polls it as the page does. Prints, per experiment, the seconds until
the numbers are on the page (the page draws them as soon as the run's tables are written,
while its report is still being drawn) against the targets (5 s without attribution, 20 s
with), and the seconds until the whole run, report included, is published::

    python -m experiments.benchmarks.bench_serve [--only NAME ...] [--no-attribution-only]

Each experiment runs first without attribution, then with it, in one server: the second run
looks up what the first computed (the same people's posts, features and fitted models). The
server starts the worker processes that take a run's further replicates when it starts; the
benchmark gives them :data:`WARM_UP` seconds to load, as a user takes to open a page, before
its first run (see the README).
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from experiments.benchmarks.processes import free_port

#: Seconds the page aims for, without and with attribution.
TARGETS = {False: 5.0, True: 20.0}
#: Seconds between the server's first answer and the first run: its replicate workers load
#: what a run needs meanwhile.
WARM_UP = 3.0


def _call(url: str, method: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "X-Sandbox-Session": token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def time_run(base: str, name: str, controls: dict, token: str
             ) -> tuple[float, float, str]:
    """Seconds from the POST of a run to its numbers on the page (the preview the page draws
    while the report is written, or the finished result), to its finished result being
    readable, and its end state."""
    started = time.perf_counter()
    status, job = _call(f"{base}/api/experiments/{name}/runs", "POST", token, controls)
    if status != 202:
        seconds = time.perf_counter() - started
        return seconds, seconds, f"refused: {job}"
    numbers = None
    while True:
        _, state = _call(f"{base}/api/jobs/{job['id']}", "GET", token)
        if numbers is None and state.get("preview"):
            numbers = time.perf_counter() - started
        if state["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    if state["status"] != "done":
        seconds = time.perf_counter() - started
        return seconds, seconds, f"{state['status']}: {state['error']}"
    _call(f"{base}/api/runs/{job['id']}", "GET", token)
    done = time.perf_counter() - started
    return (numbers if numbers is not None else done), done, "done"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per experiment and setting."""
    from experiments.serve.catalogue import shipped_experiments
    from experiments.serve.controls import experiment_page

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="benchmark only this experiment")
    parser.add_argument("--no-attribution-only", action="store_true",
                        help="skip the runs with attribution")
    args = parser.parse_args(argv)
    names = args.only or [n for n, e in shipped_experiments().items() if not e.is_sweep]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            [sys.executable, "-m", "experiments.cli", "serve", "--port", str(port),
             "--results-dir", str(Path(folder) / "results")], cwd=folder,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(base + "/", timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.2)
            time.sleep(WARM_UP)
            token = secrets.token_hex(16)
            print(f"{'experiment':<26} {'people':>8} {'attribution':>11} {'numbers s':>9} "
                  f"{'target':>6} {'report s':>8}  state")
            for name in names:
                page = experiment_page(name)
                size = page.control("population.size").value
                has_knobs = page.control("run.attribution") is not None
                settings = [False] if args.no_attribution_only or not has_knobs \
                    else [False, True]
                for attribution in settings:
                    # As the page sends them: its size, and attribution where it offers it.
                    controls = {"population.size": size,
                                **({"run.attribution": attribution} if has_knobs else {})}
                    numbers, done, state = time_run(base, name, controls, token)
                    verdict = "ok" if numbers <= TARGETS[attribution] else "slow"
                    print(f"{name:<26} {size:>8,} {'with' if attribution else 'without':>11} "
                          f"{numbers:>9.1f} {TARGETS[attribution]:>6.0f} {done:>8.1f}  "
                          f"{state}, {verdict}", flush=True)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
