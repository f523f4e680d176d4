"""One run of an experiment: the runner, the knob worlds and their attribution, remedies run
on the same people, the checks made before any work, the manifest and the output folders.

May import: reports, systems, writing, config, errors, version, :mod:`audit` and
:mod:`synthetic`. Imported by: sweeps, the Python API and the command line.
"""
