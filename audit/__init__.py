"""The measuring instrument: fairness metrics, disparities, intervals and tests from counts.

It knows nothing about immigration: it audits any table of groups, true labels and decisions
(and optionally scores), a simulation's or a user's own.

>>> from audit import audit                                                  # doctest: +SKIP
>>> result = audit(frame, groups=["nationality", "sex"], y_true="y", y_pred="d")
"""

from audit.compare import Comparison, compare
from audit.counts import CountTable, count_table
from audit.engine import audit, audit_adjusted, audit_counts
from audit.errors import AuditInputError
from audit.result import AuditResult

__all__ = ["AuditInputError", "AuditResult", "Comparison", "CountTable", "audit",
           "audit_adjusted", "audit_counts", "compare", "count_table"]
