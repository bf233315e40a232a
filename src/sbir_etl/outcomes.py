"""The outcome of every check this project makes: one status scale and one result type.

Quality gates, regression gates, time and memory budgets, the deployment checklist and the
Dagster asset checks all answer one question: did this pass, and if not, why. They share
`Status` (ordered from harmless to blocking) and `Outcome` (what was checked, its status, a
one-line message and plain-Python metadata); each kind of check adds its own fields to `Outcome`.
Statuses are stored by value in the metrics history, so a value never changes.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    """How a check came out, from harmless to blocking (see `severity`)."""

    SKIP = "skip"
    """Not evaluated (e.g. no history to compare with was given)."""
    BASELINE = "baseline established"
    """Nothing earlier to compare with; this result becomes the reference."""
    PASS = "pass"
    WARN = "warn"
    """Passed, but worth a look."""
    FAIL = "fail"

    @property
    def severity(self) -> int:
        """0 (skip) to 4 (fail): the order statuses combine in (`worst`)."""
        return _ORDER.index(self)

    @property
    def passed(self) -> bool:
        """Evaluated and not failed: a warning passes; a skipped check has not passed."""
        return self in (Status.BASELINE, Status.PASS, Status.WARN)

    @classmethod
    def of(cls, passed: bool) -> "Status":
        return cls.PASS if passed else cls.FAIL

    @classmethod
    def worst(cls, statuses: Iterable["Status"], default: "Status") -> "Status":
        """The most severe of `statuses`, or `default` when there are none."""
        return max(statuses, key=lambda status: status.severity, default=default)


_ORDER = (Status.SKIP, Status.BASELINE, Status.PASS, Status.WARN, Status.FAIL)


class Severity(str, Enum):
    """What a failed check does downstream (Dagster's asset-check severities)."""

    ERROR = "ERROR"
    """Blocking: what depends on the checked data does not run."""
    WARN = "WARN"
    """Reported; blocks nothing."""


@dataclass(frozen=True)
class Outcome:
    """One check: what was checked (`name`), its `status`, a one-line `message` saying why, and
    plain-Python `metadata` (JSON and Dagster safe) with the figures behind it."""

    name: str
    status: Status
    message: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status.passed


MATCH_RATE, COMPLETENESS, IDENTIFIER_VALIDITY = "match_rate", "completeness", "identifier_validity"
QUALITY_GATES: tuple[str, ...] = (MATCH_RATE, COMPLETENESS, IDENTIFIER_VALIDITY)
"""The quality gates by name (`evaluation.gates`), as the Dagster checks and scenario expectations call them."""

__all__ = ["COMPLETENESS", "IDENTIFIER_VALIDITY", "MATCH_RATE", "QUALITY_GATES", "Outcome", "Severity", "Status"]
