"""Regression gates: compare one test's measurements with its recent history.

Pure functions, no I/O. The baseline of a metric is the median of the last K runs of the same test
on the same machine class (the caller selects those runs, e.g. with
:meth:`sbir_etl.monitoring.history.HistoryStore.previous_results`). Each gate yields a :class:`GateVerdict`
with a message a reader can act on, e.g.
``time regression: 1.92 s vs baseline 1.41 s (median of 5 runs): +36 %, fail at +25 %``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sbir_etl.outcomes import Outcome, Status

if TYPE_CHECKING:
    from sbir_etl.monitoring.history import TestResult


class ThresholdError(ValueError):
    """Gate thresholds out of range or contradicting each other; ``fields`` names the fields at fault."""

    def __init__(self, message: str, fields: tuple[str, ...]) -> None:
        super().__init__(message)
        self.fields = fields


@dataclass(frozen=True)
class GateThresholds:
    """When a change is a warning or a failure; every field is configurable from pytest.

    Percentages are relative to the baseline; match-rate thresholds are in percentage points
    (a drop from 0.85 to 0.79 is 6 points). A threshold of ``None`` disables that level.
    The noise floors skip a gate when both the baseline and the change are too small to be
    meaningful: a 10 ms test that takes 14 ms is +40 % but is only scheduling noise.
    """

    baseline_runs: int = 5
    time_warn_pct: float | None = 10.0
    time_fail_pct: float | None = 25.0
    memory_warn_pct: float | None = 20.0
    memory_fail_pct: float | None = 50.0
    match_rate_warn_points: float | None = None
    match_rate_fail_points: float | None = 5.0
    time_noise_floor_s: float = 0.050
    time_noise_delta_s: float = 0.020
    memory_noise_floor_mib: float = 16.0
    memory_noise_delta_mib: float = 8.0

    def __post_init__(self) -> None:
        if self.baseline_runs < 1:
            raise ThresholdError(f"baseline_runs must be at least 1, got {self.baseline_runs}", ("baseline_runs",))
        for metric in ("time", "memory", "match_rate"):
            unit = "points" if metric == "match_rate" else "pct"
            warn = getattr(self, f"{metric}_warn_{unit}")
            fail = getattr(self, f"{metric}_fail_{unit}")
            if warn is not None and fail is not None and warn > fail:
                raise ThresholdError(
                    f"{metric}_warn_{unit}={warn} is above {metric}_fail_{unit}={fail}; "
                    "the warning threshold must not exceed the failure threshold",
                    (f"{metric}_warn_{unit}", f"{metric}_fail_{unit}"),
                )


@dataclass(frozen=True)
class Sample:
    """The gated measurements of one test in one run; ``None`` when not measured."""

    wall_s: float | None = None
    peak_rss_growth_mib: float | None = None
    match_rate: float | None = None

    @classmethod
    def of(cls, result: TestResult) -> Sample:
        """The gated measurements of a stored result, e.g. one of ``HistoryStore.previous_results``."""
        match_rate = result.quality.match_rate if result.quality is not None else None
        return cls(result.wall_s, result.peak_rss_growth_mib, match_rate)


@dataclass(frozen=True)
class GateVerdict(Outcome):
    """The verdict of one gate; its name is the metric: ``time``, ``memory`` or ``match_rate``.

    ``change`` is in percent for time and memory, in percentage points for match rate.
    """

    current: float | None = field(default=None, kw_only=True)
    baseline: float | None = field(default=None, kw_only=True)
    change: float | None = field(default=None, kw_only=True)

    @property
    def metric(self) -> str:
        return self.name


@dataclass(frozen=True)
class TestVerdict:
    """All gate verdicts of one test; its :attr:`status` is the worst of them."""

    __test__ = False  # not a pytest test class, despite the name

    test_id: str
    gates: tuple[GateVerdict, ...]
    baseline_runs: int

    @property
    def status(self) -> Status:
        if not self.gates:
            return Status.BASELINE if self.baseline_runs == 0 else Status.PASS
        return Status.worst((gate.status for gate in self.gates), default=Status.PASS)

    def messages(self, at_least: Status = Status.WARN) -> list[str]:
        """Messages of the gates at ``at_least`` severity or worse."""
        return [g.message for g in self.gates if g.status.severity >= at_least.severity]

    @property
    def summary(self) -> str:
        """One line for reports: the failing/warning messages, or what happened."""
        worst = self.messages(Status.WARN)
        if worst:
            return "; ".join(worst)
        if self.status is Status.BASELINE:
            return "baseline established (no earlier run on this machine class)"
        return f"within thresholds of the median of {self.baseline_runs} runs"


def judge_regression(
    test_id: str,
    current: Sample,
    previous: Sequence[Sample],
    thresholds: GateThresholds = GateThresholds(),
) -> TestVerdict:
    """Gate ``current`` against the median of the first K of ``previous`` (newest first).

    With no previous run the verdict is "baseline established", never a failure. A metric that
    ``current`` did not measure is not gated; a metric with no history yet is reported as its
    own baseline.
    """
    window = list(previous[: thresholds.baseline_runs])
    if not window:
        return TestVerdict(test_id=test_id, gates=(), baseline_runs=0)
    window_text = f" (median of {len(window)} run{'s' if len(window) != 1 else ''})"
    gates = [
        _relative_gate(
            "time",
            current.wall_s,
            _median([s.wall_s for s in window]),
            warn_pct=thresholds.time_warn_pct,
            fail_pct=thresholds.time_fail_pct,
            noise_floor=thresholds.time_noise_floor_s,
            noise_delta=thresholds.time_noise_delta_s,
            fmt=format_seconds,
            window_text=window_text,
        ),
        _relative_gate(
            "memory",
            current.peak_rss_growth_mib,
            _median([s.peak_rss_growth_mib for s in window]),
            warn_pct=thresholds.memory_warn_pct,
            fail_pct=thresholds.memory_fail_pct,
            noise_floor=thresholds.memory_noise_floor_mib,
            noise_delta=thresholds.memory_noise_delta_mib,
            fmt=lambda mib: f"{mib:.1f} MiB",
            window_text=window_text,
        ),
        _match_rate_gate(
            current.match_rate,
            _median([s.match_rate for s in window]),
            warn_points=thresholds.match_rate_warn_points,
            fail_points=thresholds.match_rate_fail_points,
            window_text=window_text,
        ),
    ]
    return TestVerdict(
        test_id=test_id,
        gates=tuple(g for g in gates if g is not None),
        baseline_runs=len(window),
    )


def format_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _classify(change: float, warn: float | None, fail: float | None) -> Status:
    if fail is not None and change >= fail:
        return Status.FAIL
    if warn is not None and change >= warn:
        return Status.WARN
    return Status.PASS


def _wording(
    name: str,
    status: Status,
    warn: float | None,
    fail: float | None,
    limit_fmt: Callable[[float], str],
) -> tuple[str, str]:
    """A gate message's label ("time", or "time regression" at warn or worse) and the clause
    naming the threshold that was crossed (", fail at +25 %"; empty on a pass)."""
    label = f"{name} regression" if status.severity >= Status.WARN.severity else name
    limit = fail if status is Status.FAIL else warn
    if limit is None or status is Status.PASS:
        return label, ""
    return label, f", {status.value} at {limit_fmt(limit)}"


def _relative_gate(
    metric: str,
    current: float | None,
    baseline: float | None,
    *,
    warn_pct: float | None,
    fail_pct: float | None,
    noise_floor: float,
    noise_delta: float,
    fmt: Callable[[float], str],
    window_text: str,
) -> GateVerdict | None:
    if current is None:
        return None
    if baseline is None:
        return GateVerdict(metric, Status.BASELINE, f"{metric}: baseline established", current=current)
    delta = current - baseline
    if baseline < noise_floor and delta < noise_delta:
        return GateVerdict(
            metric,
            Status.PASS,
            f"{metric}: {fmt(current)} vs baseline {fmt(baseline)}, below the noise floor",
            current=current,
            baseline=baseline,
        )
    change = math.inf if baseline <= 0 else delta / baseline * 100
    status = _classify(change, warn_pct, fail_pct)
    label, limit_text = _wording(metric, status, warn_pct, fail_pct, lambda limit: f"+{limit:g} %")
    change_text = "from zero" if math.isinf(change) else f"{change:+.0f} %"
    message = f"{label}: {fmt(current)} vs baseline {fmt(baseline)}{window_text}: {change_text}{limit_text}"
    return GateVerdict(metric, status, message, current=current, baseline=baseline, change=change)


def _match_rate_gate(
    current: float | None,
    baseline: float | None,
    *,
    warn_points: float | None,
    fail_points: float | None,
    window_text: str,
) -> GateVerdict | None:
    if current is None:
        return None
    if baseline is None:
        return GateVerdict("match_rate", Status.BASELINE, "match rate: baseline established", current=current)
    drop_points = (baseline - current) * 100
    status = _classify(drop_points, warn_points, fail_points)
    label, limit_text = _wording("match rate", status, warn_points, fail_points, lambda limit: f"-{limit:g} points")
    message = f"{label}: {current:.1%} vs baseline {baseline:.1%}{window_text}: {-drop_points:+.1f} points{limit_text}"
    return GateVerdict("match_rate", status, message, current=current, baseline=baseline, change=-drop_points)


__all__ = [
    "GateThresholds",
    "GateVerdict",
    "Sample",
    "TestVerdict",
    "ThresholdError",
    "judge_regression",
    "format_seconds",
]
