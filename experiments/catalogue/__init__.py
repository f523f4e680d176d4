"""The shipped experiments and sweeps, as TOML files (data, not code), and the example
decisions file; found by name through :func:`experiments.config.builtin_experiments`.
Nothing here imports the rest of :mod:`experiments`.
"""
