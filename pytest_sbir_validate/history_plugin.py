"""Regression gates in the test run: record every test in the metrics store and gate it.

Opt in with ``--sbir-history PATH|URL`` (or ini ``sbir_history``): a SQLite file, or a
``postgresql://`` store shared by many machines. Each test's call phase is then
measured by the budget plugin (:mod:`pytest_sbir_validate.measurement`), compared with the median
of its last K passed runs on the same machine class (:mod:`sbir_etl.monitoring.regression`), and recorded
(:mod:`sbir_etl.monitoring.history`). A failing gate fails *that test*, so it shows in JUnit XML; warnings
and "baseline established" are listed in the terminal summary; failed gates are posted to the
webhook in ``$SBIR_ALERT_WEBHOOK`` / ini ``sbir_alert_webhook`` (:mod:`sbir_etl.monitoring.alerts`).

Under pytest-xdist the controller records the run and hands its id to the workers, which write
their results directly to the store (it is safe under concurrent writers) and attach their gate
verdicts to the reports they send back, from which the controller writes the summary.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from pytest_sbir_validate.budgets import MIB
from pytest_sbir_validate.machine import machine_class
from pytest_sbir_validate.marks import BUDGETS_KEY
from pytest_sbir_validate.measurement import Measurement
from pytest_sbir_validate.options import Setting, SettingValue
from sbir_etl.monitoring.history import (
    BenchmarkStats,
    HistoryError,
    HistoryStore,
    QualityMetrics,
    RunInfo,
    StoreURL,
    TestResult,
)
from sbir_etl.monitoring.regression import GateThresholds, Sample, TestVerdict, ThresholdError
from sbir_etl.outcomes import Status

if TYPE_CHECKING:  # urllib.request and email: imported when a run with history sends or configures an alert
    from sbir_etl.monitoring.alerts import DeliveryResult

#: A benchmark test's statistics, set by the pytest-benchmark integration when its call ends;
#: its median is the time recorded and gated for that test.
BENCHMARK_STATS_KEY = pytest.StashKey[BenchmarkStats]()

#: The quality metrics a test reported through ``record_quality``.
QUALITY_KEY = pytest.StashKey[QualityMetrics]()

#: Keys in ``workerinput`` (the controller's message to pytest-xdist workers).
_WORKER_RUN_ID = "sbir_history_run_id"
_WORKER_MACHINE_CLASS = "sbir_history_machine_class"

#: Name of the report attribute carrying a test's gate verdict (survives xdist serialisation).
_REPORT_ATTR = "sbir_history"


@dataclasses.dataclass(frozen=True)
class _Threshold:
    """A :class:`GateThresholds` field exposed as a setting (an option and an ini key)."""

    field: str
    setting: Setting


_THRESHOLDS = (
    _Threshold(
        "baseline_runs",
        Setting("--sbir-baseline-runs", "number of previous runs whose median is the baseline (default 5)"),
    ),
    _Threshold(
        "time_warn_pct",
        Setting(
            "--sbir-gate-time-warn",
            "warn when time grows by this many percent (default 10; 'off' disables)",
        ),
    ),
    _Threshold(
        "time_fail_pct",
        Setting(
            "--sbir-gate-time-fail",
            "fail when time grows by this many percent (default 25; 'off' disables)",
        ),
    ),
    _Threshold(
        "memory_warn_pct",
        Setting(
            "--sbir-gate-memory-warn",
            "warn when peak RSS growth rises by this many percent (default 20)",
        ),
    ),
    _Threshold(
        "memory_fail_pct",
        Setting(
            "--sbir-gate-memory-fail",
            "fail when peak RSS growth rises by this many percent (default 50)",
        ),
    ),
    _Threshold(
        "match_rate_warn_points",
        Setting(
            "--sbir-gate-match-rate-warn",
            "warn when the match rate drops by this many points (default off)",
        ),
    ),
    _Threshold(
        "match_rate_fail_points",
        Setting(
            "--sbir-gate-match-rate-fail",
            "fail when the match rate drops by this many points (default 5)",
        ),
    ),
    _Threshold(
        "time_noise_floor_s",
        Setting(
            "--sbir-gate-time-noise-floor",
            "seconds; time changes of tests faster than this are noise unless the change exceeds the noise delta (default 0.05)",
        ),
    ),
    _Threshold(
        "time_noise_delta_s",
        Setting("--sbir-gate-time-noise-delta", "seconds; see the time noise floor (default 0.02)"),
    ),
    _Threshold(
        "memory_noise_floor_mib",
        Setting(
            "--sbir-gate-memory-noise-floor",
            "MiB; memory changes of tests below this are noise unless the change exceeds the noise delta (default 16)",
        ),
    ),
    _Threshold(
        "memory_noise_delta_mib",
        Setting("--sbir-gate-memory-noise-delta", "MiB; see the memory noise floor (default 8)"),
    ),
)


HISTORY = Setting(
    "--sbir-history",
    "record every test's time, memory and quality in this metrics store and gate them against the "
    "previous runs: a SQLite file (an ini path is relative to the ini file), sqlite:///PATH, or "
    "postgresql://USER:PASSWORD@HOST/DB for a store many machines share",
)


def add_options(parser: pytest.Parser) -> None:
    """Register the history options and ini keys (called from the plugin's ``pytest_addoption``)."""
    group = parser.getgroup("sbir-history", "sbir-validate metrics history and regression gates")
    HISTORY.add_to(group, parser, metavar="PATH|URL")
    group.addoption(
        "--sbir-dataset",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="label recorded with the run, e.g. --sbir-dataset awards=100000 (repeatable)",
    )
    parser.addini("sbir_dataset", "KEY=VALUE labels recorded with every run", type="linelist")
    parser.addini(
        "sbir_alert_webhook",
        "Slack-compatible webhook URL to POST failed regression gates to ($SBIR_ALERT_WEBHOOK wins over this)",
    )
    for threshold in _THRESHOLDS:
        threshold.setting.add_to(group, parser, metavar="N")


def configure(config: pytest.Config) -> None:
    """Register the ``record_quality`` fixture, and the recorder when a metrics store is set.

    The recorder implements ``pytest_sbir_test_measured``, so the budget plugin measures every
    test while it is registered.
    """
    config.pluginmanager.register(QualityFixture(), "sbir_quality")
    location = history_location(config)
    if location is None:
        return
    config.pluginmanager.register(HistoryRecorder.from_config(config, location), "sbir_history")


def history_location(config: pytest.Config) -> StoreURL | None:
    """The metrics store: ``--sbir-history``, else ini ``sbir_history``. A SQLite path given on
    the command line is relative to the current directory, one in the ini file to the ini file (so
    it does not depend on where pytest is run)."""
    value = HISTORY.value(config)
    if value is None:
        return None
    try:
        location = StoreURL.parse(str(value.raw))
    except HistoryError as error:
        raise pytest.UsageError(f"--sbir-history: {error}") from error
    if location.path is None:
        return location
    return StoreURL(path=dataclasses.replace(value, raw=str(location.path)).path(config))


def thresholds_from_config(config: pytest.Config) -> GateThresholds:
    """The gate thresholds: command line, else ini, else the :class:`GateThresholds` default."""
    overrides: dict[str, Any] = {}
    for threshold in _THRESHOLDS:
        value = threshold.setting.value(config)
        if value is not None:
            overrides[threshold.field] = _parse_threshold(threshold.field, value)
    try:
        return GateThresholds(**overrides)
    except ThresholdError as error:
        # The error names GateThresholds fields; name the options and ini keys that set them.
        settings = [
            f"{t.setting.flag} / ini {t.setting.name}"
            for field in error.fields
            for t in _THRESHOLDS
            if t.field == field
        ]
        where = f" (set with {' and '.join(settings)})" if settings else ""
        raise pytest.UsageError(f"sbir-validate regression gates: {error}{where}") from error


def _parse_threshold(field: str, value: SettingValue) -> float | int | None:
    raw = str(value.raw)
    text = raw.strip().removesuffix("%").strip()
    if text.lower() in ("off", "none"):
        if field == "baseline_runs" or "noise" in field:
            raise pytest.UsageError(f"{value.describe()}: this setting cannot be turned off; give a number")
        return None
    try:
        number = int(text) if field == "baseline_runs" else float(text)
    except ValueError:
        kind = "a whole number" if field == "baseline_runs" else "a number or 'off'"
        raise pytest.UsageError(f"{value.describe()} is not {kind}") from None
    if not math.isfinite(number) or number < 0:
        raise pytest.UsageError(f"{value.describe()} must be a non-negative number")
    return number


def _parse_labels(values: list[str], source: str) -> dict[str, str]:
    labels = {}
    for value in values:
        key, sep, label = value.partition("=")
        if not sep or not key.strip():
            raise pytest.UsageError(f"{source} {value!r}: expected KEY=VALUE, e.g. awards=100000")
        labels[key.strip()] = label.strip()
    return labels


class QualityFixture:
    """Holds the ``record_quality`` fixture; registered whether or not history is recorded, so
    tests that report quality also run without ``--sbir-history``."""

    @pytest.fixture
    def record_quality(self, request: pytest.FixtureRequest) -> Callable[..., None]:
        """Report match-quality metrics of this test to the metrics store and its gates.

        ``record_quality(match_rate=0.82, by_method={"uei-exact": 0.61}, score_histogram={"90-100": 40})``;
        ``match_rate`` is a fraction in [0, 1]. ``score_histogram_by_method`` (``{"uei-exact": {"95-100": 40}}``,
        as ``match_metrics`` returns it) is what the report's score-distribution chart draws.
        Calling it again replaces the earlier values.
        """
        node = request.node

        def record(
            *,
            match_rate: float | None = None,
            by_method: Mapping[str, float] | None = None,
            score_histogram: Mapping[str, int] | None = None,
            score_histogram_by_method: Mapping[str, Mapping[str, int]] | None = None,
        ) -> None:
            if match_rate is not None and not 0.0 <= float(match_rate) <= 1.0:
                raise ValueError(
                    f"record_quality(match_rate={match_rate!r}): the match rate is a fraction in "
                    "[0, 1]; pass 0.82 for 82 %"
                )
            node.stash[QUALITY_KEY] = QualityMetrics(
                match_rate=None if match_rate is None else float(match_rate),
                by_method={str(k): float(v) for k, v in (by_method or {}).items()},
                score_histogram={str(k): int(v) for k, v in (score_histogram or {}).items()},
                score_histogram_by_method={
                    str(method): {str(k): int(v) for k, v in histogram.items()}
                    for method, histogram in (score_histogram_by_method or {}).items()
                },
            )

        return record


class HistoryRecorder:
    """Records and gates each test; one instance per process (controller and each xdist worker)."""

    def __init__(
        self,
        *,
        location: StoreURL,
        thresholds: GateThresholds,
        run: RunInfo | None,
        run_id: str,
        machine_class: str,
        webhook: str | None,
    ) -> None:
        self.location = location
        self.thresholds = thresholds
        self.run = run  # None in xdist workers: the controller owns the run
        self.run_id = run_id
        self.machine_class = machine_class
        self.webhook = webhook
        self._store: HistoryStore | None = None
        self.verdicts: dict[str, dict[str, Any]] = {}
        self.delivery: DeliveryResult | None = None

    @classmethod
    def from_config(cls, config: pytest.Config, location: StoreURL) -> HistoryRecorder:
        thresholds = thresholds_from_config(config)
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None:
            # The controller owns the run: its id and machine class, and the alert.
            recorder = cls(
                location=location,
                thresholds=thresholds,
                run=None,
                run_id=workerinput[_WORKER_RUN_ID],
                machine_class=workerinput[_WORKER_MACHINE_CLASS],
                webhook=None,
            )
        else:
            dataset = _parse_labels(config.getini("sbir_dataset"), "ini sbir_dataset")
            dataset.update(_parse_labels(config.getoption("sbir_dataset"), "--sbir-dataset"))
            run = RunInfo.collect(machine_class=machine_class(config), dataset=dataset, cwd=config.rootpath)
            from sbir_etl.monitoring.alerts import webhook_url

            webhook = webhook_url(config.getini("sbir_alert_webhook") or None)
            recorder = cls(
                location=location,
                thresholds=thresholds,
                run=run,
                run_id=run.run_id,
                machine_class=run.machine_class,
                webhook=webhook,
            )
        try:
            recorder._store = HistoryStore(location)
            if recorder.run is not None:
                recorder._store.record_run(recorder.run)
        except HistoryError as error:
            raise pytest.UsageError(f"--sbir-history: {error}") from error
        return recorder

    # -- xdist: hand the run to the workers ----------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_WORKER_RUN_ID] = self.run_id
        node.workerinput[_WORKER_MACHINE_CLASS] = self.machine_class

    # -- per test ------------------------------------------------------------------------------

    def pytest_sbir_test_measured(self, item: pytest.Item, report: pytest.TestReport, measurement: Measurement) -> None:
        """Gate the test against its baseline (a failing gate fails it) and record it."""
        quality = item.stash.get(QUALITY_KEY, None)
        benchmark = item.stash.get(BENCHMARK_STATS_KEY, None)
        sample = Sample(
            wall_s=measurement.wall_s if benchmark is None else benchmark.median_s,
            peak_rss_growth_mib=measurement.peak_rss_growth_bytes / MIB,
            match_rate=None if quality is None else quality.match_rate,
        )
        gated = report.passed and not hasattr(report, "wasxfail")
        assert self._store is not None
        try:
            verdict = None
            if gated:
                verdict = self._store.judge(
                    item.nodeid,
                    sample,
                    machine_class=self.machine_class,
                    thresholds=self.thresholds,
                    exclude_run_id=self.run_id,
                )
                if verdict.status is Status.FAIL:
                    report.outcome = "failed"
                    report.longrepr = _failure_text(verdict)
            time_budget_s, memory_budget_mib = _budget_values(item)
            self._store.record_result(
                TestResult(
                    run_id=self.run_id,
                    test_id=item.nodeid,
                    outcome=report.outcome,
                    wall_s=sample.wall_s,
                    cpu_s=measurement.cpu_s,
                    peak_rss_growth_mib=sample.peak_rss_growth_mib,
                    time_budget_s=time_budget_s,
                    memory_budget_mib=memory_budget_mib,
                    quality=quality,
                    gate_status=None if verdict is None else verdict.status.value,
                    gate_message=None if verdict is None else verdict.summary,
                    benchmark=benchmark,
                    gates=() if verdict is None else verdict.gates,
                )
            )
        except HistoryError as error:
            # A store that cannot be written must not pass silently: fail the test, saying why.
            message = f"could not record this test in the metrics store: {error}"
            if report.passed:
                report.outcome = "failed"
                report.longrepr = f"{message}\n(the test itself passed; fix the store or drop --sbir-history)"
            else:
                report.sections.append(("sbir-validate history", message))
            setattr(report, _REPORT_ATTR, {"status": "error", "messages": [message]})
            return
        if verdict is not None:
            setattr(
                report,
                _REPORT_ATTR,
                {
                    "status": verdict.status.value,
                    "messages": verdict.messages(Status.WARN),
                    "summary": verdict.summary,
                },
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # In the controller this sees the reports of every worker (and in-process without xdist).
        payload = getattr(report, _REPORT_ATTR, None)
        if report.when == "call" and payload is not None:
            self.verdicts[report.nodeid] = payload

    # -- end of the run --------------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.run is None or self.webhook is None:
            return
        from sbir_etl.monitoring.alerts import FailedGate, build_payload, send_alert

        failures = [
            FailedGate(test_id, tuple(v["messages"]))
            for test_id, v in self.verdicts.items()
            if v["status"] == Status.FAIL.value
        ]
        if not failures:
            return
        warnings = sum(v["status"] == Status.WARN.value for v in self.verdicts.values())
        self.delivery = send_alert(self.webhook, build_payload(failures, run_label=self.run.label, warnings=warnings))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.run is None:
            return
        tr = terminalreporter
        tr.section("sbir-validate regression gates")
        by_status: dict[str, list[str]] = {}
        for test_id, verdict in self.verdicts.items():
            by_status.setdefault(verdict["status"], []).append(test_id)
        counts = ", ".join(f"{len(ids)} {status}" for status, ids in sorted(by_status.items()))
        tr.write_line(
            f"history: {self.location} (machine class {self.machine_class}, baseline = median of "
            f"last {self.thresholds.baseline_runs} runs)"
        )
        tr.write_line(f"gated tests: {counts or 'none'}")
        for status, markup in (("error", {"red": True}), ("fail", {"red": True}), ("warn", {"yellow": True})):
            for test_id in by_status.get(status, []):
                for message in self.verdicts[test_id]["messages"]:
                    tr.write_line(f"{status.upper()} {test_id}: {message}", **markup)
        established = by_status.get(Status.BASELINE.value, [])
        if established:
            tr.write_line(
                f"baseline established for {len(established)} test(s) with no earlier run on "
                f"this machine class: {', '.join(established[:10])}" + (" …" if len(established) > 10 else "")
            )
        if self.delivery is not None:
            tr.write_line(self.delivery.describe(), **({} if self.delivery.ok else {"red": True}))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _failure_text(verdict: TestVerdict) -> str:
    """The failed gates first (the short summary shows the first line), then what to do."""
    failed = verdict.messages(Status.FAIL)
    warnings = [m for m in verdict.messages(Status.WARN) if m not in failed]
    lines = [*failed, *(f"also: {m}" for m in warnings)]
    lines.append(
        "(sbir-validate regression gate. If the change is intended, rerun with a higher "
        "threshold, e.g. --sbir-gate-time-fail=off: passing runs are recorded and become the "
        "baseline once they are the median of the last runs.)"
    )
    return "\n".join(lines)


def _budget_values(item: pytest.Item) -> tuple[float | None, float | None]:
    """``(time limit s, memory limit MiB)`` of the test's budget markers (as written, before
    ``--budget-scale``), for the record."""
    budgets = item.stash.get(BUDGETS_KEY, None)
    if budgets is None:
        return None, None
    memory_bytes = budgets.memory_limit_bytes
    return budgets.time_limit_s, None if memory_bytes is None else memory_bytes / MIB


__all__ = [
    "BENCHMARK_STATS_KEY",
    "HISTORY",
    "QUALITY_KEY",
    "HistoryRecorder",
    "QualityFixture",
    "add_options",
    "configure",
    "history_location",
    "thresholds_from_config",
]
