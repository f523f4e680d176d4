"""``bias-audit serve``: the local sandbox in a browser (see :mod:`experiments.serve`)."""

from __future__ import annotations

import argparse
import sys
import threading
import webbrowser
from pathlib import Path

from experiments.errors import UsageError

#: Addresses that only this machine can reach.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``serve``."""
    parser = subparsers.add_parser(
        "serve", help="start the sandbox: turn an experiment's knobs in a browser",
        description="Start a local web app on 127.0.0.1: the shipped experiments with their "
                    "knobs as controls, runs with live progress, results with intervals and "
                    "attribution, two runs side by side, and an audit of your own file. "
                    "Stop it with Ctrl-C.")
    parser.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    parser.add_argument("--results-dir", type=Path, default=Path("results"),
                        help="where runs are written and listed from (default: results)")
    parser.add_argument("--open", action="store_true", help="open the page in a browser")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: 127.0.0.1, this machine only); any "
                             "other address lets other machines run experiments here")
    parser.set_defaults(func=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    """Start the server and block until it is stopped."""
    try:
        import uvicorn

        from experiments.serve.app import create_app
    except ImportError as error:
        raise UsageError(f"the sandbox needs its extra ({error.name} is missing): "
                         'pip install -e ".[serve]"') from None
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {args.port}")
    if args.results_dir.exists() and not args.results_dir.is_dir():
        raise UsageError(f"--results-dir {str(args.results_dir)!r} is a file; give a folder")
    hosts = ["127.0.0.1", "localhost", "[::1]"]
    if args.host not in LOOPBACK:
        print(f"bias-audit serve: warning: binding {args.host}: anyone who can reach this "
              "address can run experiments and upload files here; the sandbox has no login",
              file=sys.stderr)
        hosts = ["*"]
    app = create_app(args.results_dir, allowed_hosts=hosts)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://{shown}:{args.port}/"
    print(f"bias-audit sandbox: {url}  (results in {args.results_dir}; Ctrl-C stops it)",
          flush=True)
    if args.open:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
