"""Experiments: TOML configs, the runner, sweeps, the ``bias-audit`` command and benchmarks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bias-audit-sandbox")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"
