"""Experiments: TOML configs, the runner, sweeps, the ``bias-audit`` command and benchmarks.

From Python, ``experiments.run``, ``experiments.sweep``, ``experiments.load`` and
``experiments.compare`` do what the commands do (see :mod:`experiments.api`).
"""

from experiments.version import __version__  # noqa: F401  (the package's version)

#: The Python API, loaded on first use so that ``bias-audit --help`` stays quick.
__all__ = ["compare", "load", "run", "sweep"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from experiments import api

        return getattr(api, name)
    raise AttributeError(f"module 'experiments' has no attribute {name!r}")
