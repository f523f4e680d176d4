"""Adapters between the experiment runner and the toy systems, one module per system.

Each adapter is wiring and wording: its ``Settings`` (the ``[system]`` table), ``run`` (train
the system and decide; see the contract in :mod:`experiments.systems.contract`), its focus
sentences and its own figures. Register a new system by adding its module name to
:data:`experiments.config.registry.SYSTEMS`.

May import: :mod:`experiments.writing`, :mod:`experiments.config`, :mod:`experiments.errors`,
:mod:`audit` and :mod:`synthetic`; never the engine, reports, sweeps or the command line.
"""
