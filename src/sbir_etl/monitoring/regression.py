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
from collections.abc import Sequence
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


#: The gated metrics, in the order gates report them.
METRICS = ("time", "memory", "match_rate")

#: Each metric's :class:`GateThresholds` fields: warn, fail, noise floor, noise delta (the match
#: rate has no noise floor: 0), and the unit of its warn and fail levels.
_LEVEL_FIELDS: dict[str, tuple[str, str, str | None, str | None, str]] = {
    "time": ("time_warn_pct", "time_fail_pct", "time_noise_floor_s", "time_noise_delta_s", "%"),
    "memory": ("memory_warn_pct", "memory_fail_pct", "memory_noise_floor_mib", "memory_noise_delta_mib", "%"),
    "match_rate": ("match_rate_warn_points", "match_rate_fail_points", None, None, "points"),
}


@dataclass(frozen=True)
class MetricLevels:
    """One metric's thresholds, as the gates, the charts and the report's text all read them.

    ``warn`` and ``fail`` (``None``: that level is off) are in ``unit``: ``%`` of the baseline
    for a rise of time or memory, ``points`` for a drop of the match rate. Below the noise floor
    (time in s, memory in MiB; 0 for the match rate) a change counts only when it also exceeds
    the noise delta.
    """

    metric: str
    warn: float | None
    fail: float | None
    noise_floor: float
    noise_delta: float
    unit: str

    @property
    def label(self) -> str:
        """How messages name the metric: ``time``, ``memory``, ``match rate``."""
        return self.metric.replace("_", " ")

    def limit_text(self, value: float) -> str:
        """A level as messages write it: ``+25 %`` (a rise) or ``-5 points`` (a drop)."""
        return f"+{value:g} %" if self.unit == "%" else f"-{value:g} points"

    def describe(self) -> str:
        """The enabled levels, e.g. ``warn +10 %, fail +25 %``, or ``off``."""
        levels = [
            f"{name} {self.limit_text(v)}" for name, v in (("warn", self.warn), ("fail", self.fail)) if v is not None
        ]
        return ", ".join(levels) or "off"


@dataclass(frozen=True)
class GateThresholds:
    """When a change is a warning or a failure; every field is configurable from pytest.

    Percentages are relative to the baseline; match-rate thresholds are in percentage points
    (a drop from 0.85 to 0.79 is 6 points). A threshold of ``None`` disables that level.
    The noise floors skip a gate when both the baseline and the change are too small to be
    meaningful: a 10 ms test that takes 14 ms is +40 % but is only scheduling noise.
    :meth:`levels` gives one metric's fields together.
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
        for metric in METRICS:
            levels = self.levels(metric)
            if levels.warn is not None and levels.fail is not None and levels.warn > levels.fail:
                warn_field, fail_field = _LEVEL_FIELDS[metric][:2]
                raise ThresholdError(
                    f"{warn_field}={levels.warn} is above {fail_field}={levels.fail}; "
                    "the warning threshold must not exceed the failure threshold",
                    (warn_field, fail_field),
                )

    def levels(self, metric: str) -> MetricLevels:
        """The thresholds of ``metric`` (one of :data:`METRICS`)."""
        warn, fail, floor, delta, unit = _LEVEL_FIELDS[metric]
        return MetricLevels(
            metric,
            getattr(self, warn),
            getattr(self, fail),
            0.0 if floor is None else getattr(self, floor),
            0.0 if delta is None else getattr(self, delta),
            unit,
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
            thresholds.levels("time"),
            current.wall_s,
            _median([s.wall_s for s in window]),
            window_text=window_text,
        ),
        _relative_gate(
            thresholds.levels("memory"),
            current.peak_rss_growth_mib,
            _median([s.peak_rss_growth_mib for s in window]),
            window_text=window_text,
        ),
        _match_rate_gate(
            thresholds.levels("match_rate"),
            current.match_rate,
            _median([s.match_rate for s in window]),
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


def format_value(metric: str, value: float | None) -> str:
    """A measurement of ``metric`` as gate messages and reports write it: ``1.41 s``,
    ``120.5 MiB``, ``82.0%``; ``–`` when not measured."""
    if value is None:
        return "–"
    if metric == "time":
        return format_seconds(value)
    return f"{value:.1f} MiB" if metric == "memory" else f"{value:.1%}"


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _classify(change: float, warn: float | None, fail: float | None) -> Status:
    if fail is not None and change >= fail:
        return Status.FAIL
    if warn is not None and change >= warn:
        return Status.WARN
    return Status.PASS


def _wording(levels: MetricLevels, status: Status) -> tuple[str, str]:
    """A gate message's label ("time", or "time regression" at warn or worse) and the clause
    naming the threshold that was crossed (", fail at +25 %"; empty on a pass)."""
    label = f"{levels.label} regression" if status.severity >= Status.WARN.severity else levels.label
    limit = levels.fail if status is Status.FAIL else levels.warn
    if limit is None or status is Status.PASS:
        return label, ""
    return label, f", {status.value} at {levels.limit_text(limit)}"


def _relative_gate(
    levels: MetricLevels,
    current: float | None,
    baseline: float | None,
    *,
    window_text: str,
) -> GateVerdict | None:
    metric = levels.metric

    def fmt(value: float) -> str:
        return format_value(metric, value)

    if current is None:
        return None
    if baseline is None:
        return GateVerdict(metric, Status.BASELINE, f"{metric}: baseline established", current=current)
    delta = current - baseline
    if baseline < levels.noise_floor and delta < levels.noise_delta:
        return GateVerdict(
            metric,
            Status.PASS,
            f"{metric}: {fmt(current)} vs baseline {fmt(baseline)}, below the noise floor",
            current=current,
            baseline=baseline,
        )
    change = math.inf if baseline <= 0 else delta / baseline * 100
    status = _classify(change, levels.warn, levels.fail)
    label, limit_text = _wording(levels, status)
    change_text = "from zero" if math.isinf(change) else f"{change:+.0f} %"
    message = f"{label}: {fmt(current)} vs baseline {fmt(baseline)}{window_text}: {change_text}{limit_text}"
    return GateVerdict(metric, status, message, current=current, baseline=baseline, change=change)


def _match_rate_gate(
    levels: MetricLevels,
    current: float | None,
    baseline: float | None,
    *,
    window_text: str,
) -> GateVerdict | None:
    if current is None:
        return None
    if baseline is None:
        return GateVerdict("match_rate", Status.BASELINE, "match rate: baseline established", current=current)
    drop_points = (baseline - current) * 100
    status = _classify(drop_points, levels.warn, levels.fail)
    label, limit_text = _wording(levels, status)
    now, before = format_value("match_rate", current), format_value("match_rate", baseline)
    message = f"{label}: {now} vs baseline {before}{window_text}: {-drop_points:+.1f} points{limit_text}"
    return GateVerdict("match_rate", status, message, current=current, baseline=baseline, change=-drop_points)


__all__ = [
    "METRICS",
    "GateThresholds",
    "GateVerdict",
    "MetricLevels",
    "Sample",
    "TestVerdict",
    "ThresholdError",
    "judge_regression",
    "format_seconds",
    "format_value",
]
