"""Reports from the metrics store: what needs attention in the latest run, and how each test moved.

``build_report`` turns stored runs and results into a :class:`HistoryReport` (pure); the
renderers write it as Markdown (the summary and the failing or warning tests, sized for a PR
comment or ``$GITHUB_STEP_SUMMARY``; :mod:`~sbir_etl.monitoring.report_markdown`), JSON, or one
self-contained interactive HTML page (:mod:`~sbir_etl.monitoring.report_html`).
``sbir-etl report`` is ``render(load_report(location), format)``, written where ``--out`` says
(by the command, at the CLI's error boundary).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from sbir_etl.monitoring.history import HistoryStore, RunInfo, StoredResult, StoreURL, TestResult
from sbir_etl.monitoring.regression import GateThresholds
from sbir_etl.monitoring.report_scores import ALL_METHODS
from sbir_etl.monitoring.trends import Direction, Trend, TrendPolicy, judge_trend
from sbir_etl.outcomes import Status

FORMATS = ("md", "json", "html")

#: The trend policy and gate thresholds a report uses unless told otherwise.
DEFAULT_POLICY = TrendPolicy()
DEFAULT_THRESHOLDS = GateThresholds()


@dataclass(frozen=True)
class LatestResult:
    """One test of the latest run; ``status`` is :attr:`TestResult.status` (the test's outcome
    and its gates on the one scale)."""

    test_id: str
    outcome: str
    status: Status
    gate_status: str | None
    gate_message: str | None
    wall_s: float | None
    peak_rss_growth_mib: float | None
    match_rate: float | None

    @property
    def message(self) -> str:
        """Why the test needs attention (the gate's message), or what is known about it."""
        if self.gate_message and self.status in (Status.FAIL, Status.WARN):
            return self.gate_message
        if self.status is Status.FAIL:
            return "the test itself failed (an assertion, an error or its budget); see the test log"
        return self.gate_message or ""


@dataclass(frozen=True)
class QualityGate:
    """The match-rate gate of one test in the latest run, as the test run recorded it (with its
    own thresholds); ``skip`` when the run did not gate it (the test failed, or an older
    release recorded it without per-gate verdicts)."""

    test_id: str
    match_rate: float
    baseline: float | None
    status: Status
    message: str


@dataclass(frozen=True)
class TestSeries:
    """One test's results on the latest run's machine class, oldest first (index-aligned lists).

    ``runs`` are indices into :attr:`HistoryReport.runs`; ``None`` means not measured.
    """

    __test__ = False  # not a pytest test class, despite the name

    runs: list[int] = field(default_factory=list)
    wall_s: list[float | None] = field(default_factory=list)
    memory_mib: list[float | None] = field(default_factory=list)
    match_rate: list[float | None] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Attention:
    """The latest run's tests that need a look, as every format's summary counts them."""

    failing: list[LatestResult]
    warnings: list[LatestResult]
    degrading: list[Trend]
    gated: int

    @property
    def any(self) -> bool:
        return bool(self.failing or self.warnings or self.degrading)


@dataclass(frozen=True)
class HistoryReport:
    """Everything the renderers show; plain data, serialisable with ``dataclasses.asdict``.

    ``score_distributions`` maps a test of the latest run to ``{method: {bucket: count}}``
    (method ``"all methods"`` when the test recorded no split by method).
    """

    source: str
    generated_at: str
    runs: list[RunInfo]
    latest_run: RunInfo | None
    latest_results: list[LatestResult]
    trends: list[Trend]
    quality_gates: list[QualityGate]
    series: dict[str, TestSeries]
    score_distributions: dict[str, dict[str, dict[str, int]]]
    policy: TrendPolicy = TrendPolicy()
    thresholds: GateThresholds = GateThresholds()

    @property
    def run_count(self) -> int:
        return len(self.runs)

    def with_status(self, *statuses: Status) -> list[LatestResult]:
        """The latest run's tests in any of ``statuses`` (see :attr:`LatestResult.status`), in run order."""
        return [r for r in self.latest_results if r.status in statuses]

    def attention(self) -> Attention:
        """What the summaries of every format count: failing, warning, degrading, gated."""
        return Attention(
            failing=self.with_status(Status.FAIL),
            warnings=self.with_status(Status.WARN),
            degrading=self.moving(Direction.DEGRADING),
            gated=sum(r.gate_status is not None for r in self.latest_results),
        )

    def latest_trends(self) -> dict[tuple[str, str], Trend]:
        """``(test_id, metric) -> Trend`` on the latest run's machine class."""
        machine = self.latest_run.machine_class if self.latest_run else None
        return {(t.test_id, t.metric): t for t in self.trends if t.machine_class == machine}

    def moving(self, direction: Direction) -> list[Trend]:
        """Trends of the latest machine class going ``direction``, by test and metric."""
        return sorted(
            (t for t in self.latest_trends().values() if t.direction is direction), key=lambda t: (t.test_id, t.metric)
        )


def build_report(
    runs: Sequence[RunInfo],
    results: Sequence[StoredResult],
    *,
    source: str,
    policy: TrendPolicy = DEFAULT_POLICY,
    thresholds: GateThresholds = DEFAULT_THRESHOLDS,
) -> HistoryReport:
    """Summarise ``results`` (oldest run first, as :meth:`HistoryStore.results` returns them)."""
    latest_run = runs[-1] if runs else None
    latest = [s.result for s in results if latest_run is not None and s.run.run_id == latest_run.run_id]
    series = _series(runs, results, latest_run)
    latest_results = [_latest_result(r) for r in latest]
    return HistoryReport(
        source=source,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        runs=list(runs),
        latest_run=latest_run,
        latest_results=latest_results,
        trends=_trends(results, policy),
        quality_gates=_quality_gates(latest),
        series=series,
        score_distributions=_score_distributions(latest),
        policy=policy,
        thresholds=thresholds,
    )


def load_report(
    location: str | os.PathLike[str] | StoreURL,
    *,
    policy: TrendPolicy = DEFAULT_POLICY,
    thresholds: GateThresholds = DEFAULT_THRESHOLDS,
) -> HistoryReport:
    """Read the store at ``location`` (a path or URL) and build its report; refuses one that holds no store.

    Runs that recorded no test (``pytest --collect-only``, an interrupted run) are left out.
    """
    with HistoryStore(location, create=False) as store:
        source = str(store.location)  # a PostgreSQL password is never part of it
        runs = store.runs(with_results=True)
        return build_report(runs, store.results(), source=source, policy=policy, thresholds=thresholds)


def _latest_result(result: TestResult) -> LatestResult:
    return LatestResult(
        test_id=result.test_id,
        outcome=result.outcome,
        status=result.status,
        gate_status=result.gate_status,
        gate_message=result.gate_message,
        wall_s=result.wall_s,
        peak_rss_growth_mib=result.peak_rss_growth_mib,
        match_rate=result.quality.match_rate if result.quality else None,
    )


def _series(
    runs: Sequence[RunInfo], results: Sequence[StoredResult], latest_run: RunInfo | None
) -> dict[str, TestSeries]:
    """Each test's results on the latest run's machine class: the ones its gates compared."""
    if latest_run is None:
        return {}
    index = {run.run_id: i for i, run in enumerate(runs)}
    series: dict[str, TestSeries] = {}
    for stored in results:
        if stored.run.machine_class != latest_run.machine_class:
            continue
        result, one = stored.result, series.setdefault(stored.result.test_id, TestSeries())
        one.runs.append(index[stored.run.run_id])
        one.wall_s.append(result.wall_s)
        one.memory_mib.append(result.peak_rss_growth_mib)
        one.match_rate.append(result.quality.match_rate if result.quality else None)
        one.outcomes.append(result.outcome)
    return series


def _trends(results: Sequence[StoredResult], policy: TrendPolicy) -> list[Trend]:
    """Time, memory and (when reported) match-rate trends of every test on every machine class."""
    passed: dict[tuple[str, str], list[StoredResult]] = {}
    for stored in results:
        if stored.result.outcome == "passed":
            passed.setdefault((stored.result.test_id, stored.run.machine_class), []).append(stored)
    trends = []
    for (test_id, machine_class), series in sorted(passed.items()):
        recent = [s.result for s in series[-policy.window :]]
        trends.append(judge_trend(test_id, machine_class, "time", [r.wall_s for r in recent], policy))
        trends.append(judge_trend(test_id, machine_class, "memory", [r.peak_rss_growth_mib for r in recent], policy))
        rates = [r.quality.match_rate if r.quality else None for r in recent]
        if any(rate is not None for rate in rates):
            trends.append(judge_trend(test_id, machine_class, "match_rate", rates, policy))
    return trends


def _quality_gates(latest: Sequence[TestResult]) -> list[QualityGate]:
    """The recorded match-rate gate of each test of the latest run that reported a match rate."""
    gates = []
    for result in latest:
        rate = result.quality.match_rate if result.quality else None
        if rate is None:
            continue
        gate = next((g for g in result.gates if g.name == "match_rate"), None)
        if gate is not None:
            gates.append(QualityGate(result.test_id, rate, gate.baseline, gate.status, gate.message))
            continue
        why = (
            "no gate verdict recorded (an older pytest-sbir-validate recorded it)"
            if result.outcome == "passed"
            else f"not gated: the test {result.outcome}"
        )
        gates.append(QualityGate(result.test_id, rate, None, Status.SKIP, why))
    return gates


def _score_distributions(latest: Sequence[TestResult]) -> dict[str, dict[str, dict[str, int]]]:
    """Each test's latest score histogram by method (or its overall one, as "all methods")."""
    found = {}
    for result in latest:
        quality = result.quality
        if quality is None:
            continue
        if quality.score_histogram_by_method:
            found[result.test_id] = {m: dict(h) for m, h in quality.score_histogram_by_method.items()}
        elif quality.score_histogram:
            found[result.test_id] = {ALL_METHODS: dict(quality.score_histogram)}
    return found


# -- output ------------------------------------------------------------------------------------


def shorten_id(test_id: str, limit: int) -> str:
    """``test_id`` in at most ``limit`` characters: a long one loses its middle, so the start of
    its path and the test's name both stay readable."""
    if len(test_id) <= limit:
        return test_id
    head = limit // 3
    return test_id[:head] + "…" + test_id[-(limit - head - 1) :]


def render_json(report: HistoryReport) -> str:
    """The report as JSON (infinite changes, e.g. memory growth from zero, become ``null``)."""
    data = asdict(report)
    data["run_count"] = report.run_count
    for trend in data["trends"]:
        if trend["change"] == float("inf"):
            trend["change"] = None
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def render(report: HistoryReport, format: str) -> str:
    """``report`` in one of :data:`FORMATS`."""
    if format == "md":
        from sbir_etl.monitoring.report_markdown import render_markdown

        return render_markdown(report)
    if format == "html":
        from sbir_etl.monitoring.report_html import render_html

        return render_html(report)
    if format == "json":
        return render_json(report)
    raise ValueError(f"unknown report format {format!r}; choose one of {', '.join(FORMATS)}")


__all__ = [
    "FORMATS",
    "HistoryReport",
    "LatestResult",
    "QualityGate",
    "Attention",
    "shorten_id",
    "TestSeries",
    "build_report",
    "load_report",
    "render",
    "render_json",
]
