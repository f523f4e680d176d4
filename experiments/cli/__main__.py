"""``python -m experiments.cli``: the ``bias-audit`` command."""

import sys

from experiments.cli import main

sys.exit(main())
