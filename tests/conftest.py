"""One thread per native library in each test process.

The suite runs on two processes (``pytest -n 2``) on a machine of two cores. A library that
also starts a thread per core (OpenMP in scikit-learn's gradient boosting, OpenBLAS in
numpy) then runs four busy threads on two cores, and its threads spin while they wait for
each other: the same test took three times as long. The variables are set before those
libraries load, and the servers and commands the tests start inherit them.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
