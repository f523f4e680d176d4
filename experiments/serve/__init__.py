"""The local sandbox: a small web app to turn an experiment's knobs and watch the disparity move.

``bias-audit serve`` starts it on 127.0.0.1. Pages are built from the same pydantic models as
experiment files (:mod:`.controls`), runs go through the engine's runner in a small queue
(:mod:`.jobs`), results are read back from the run folders (:mod:`.results`), and an uploaded
file is audited by ``bias-audit audit`` itself (:mod:`.uploads`). :mod:`.app` holds the routes.

Its room sits below the Python API and above sweeps: it may import sweeps, engine, reports,
systems, writing, config, errors, version and the instrument; the command line imports it.
"""
