"""Reports a reader can follow: the run report and its headlines, the remedies section, and
the comparison of two finished runs. Every sentence is built from tables a run wrote.

May import: systems (their contract and wording), writing, config, errors, version,
:mod:`audit`. Imported by: the engine, sweeps, the Python API and the command line.
"""
