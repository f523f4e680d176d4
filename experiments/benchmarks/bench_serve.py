"""Is the sandbox fast enough to play? Time from pressing Run to the numbers, per experiment.

Starts the real server (``bias-audit serve``) in a temporary folder, and for every shipped
experiment at the page's default size posts a run as the page does, without and with the
attribution worlds, polls until it is done and reads the result the page shows. Prints the
seconds per experiment against the targets (5 s without attribution, 20 s with)::

    python -m experiments.benchmarks.bench_serve [--only NAME ...] [--no-attribution-only]

Each run starts from nothing: the engine offers no way to keep a population or a trained
system between runs, so a knob change recomputes everything (see the README).
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


def _call(url: str, method: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "X-Sandbox-Session": token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def time_run(base: str, name: str, controls: dict, token: str) -> tuple[float, str]:
    """Seconds from the POST of a run to its result being readable, and its end state."""
    started = time.perf_counter()
    status, job = _call(f"{base}/api/experiments/{name}/runs", "POST", token, controls)
    if status != 202:
        return time.perf_counter() - started, f"refused: {job}"
    while True:
        _, state = _call(f"{base}/api/jobs/{job['id']}", "GET", token)
        if state["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    if state["status"] != "done":
        return time.perf_counter() - started, f"{state['status']}: {state['error']}"
    _call(f"{base}/api/runs/{job['id']}", "GET", token)
    return time.perf_counter() - started, "done"


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
            token = secrets.token_hex(16)
            print(f"{'experiment':<26} {'people':>8} {'attribution':>11} {'seconds':>8} "
                  f"{'target':>6}  state")
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
                    seconds, state = time_run(base, name, controls, token)
                    verdict = "ok" if seconds <= TARGETS[attribution] else "slow"
                    print(f"{name:<26} {size:>8,} {'with' if attribution else 'without':>11} "
                          f"{seconds:>8.1f} {TARGETS[attribution]:>6.0f}  {state}, {verdict}",
                          flush=True)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
