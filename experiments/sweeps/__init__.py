"""Grids of runs: the sweep runner (points on one machine or a Dask cluster), each point's
result, the pooled answer over seeds, the sweep report and the remedies sweep.

May import: engine, reports, systems, writing, config, errors, version, :mod:`audit`.
Imported by: the Python API and the command line.
"""
