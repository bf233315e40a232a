"""The budget feature's pytest hooks: options, measuring budgeted tests, failing them, reporting.

Flow for one test with a budget marker:

1. collection: :func:`~pytest_sbir_validate.marks.budgets_of` parses its markers into
   ``item.stash[BUDGETS_KEY]``; bad arguments make a collection error naming the test;
2. setup/call: :class:`~pytest_sbir_validate.measurement.TestCostRecorder` measures the call
   (and setup if the budget includes it) into ``item.stash[MEASUREMENT_KEY]``;
3. report: the measurement is judged against the budgets; in ``enforce`` mode a passing test over
   budget becomes a failure whose message says by how much; every budgeted test gets JUnit XML
   properties and a record attached to its report (which is how pytest-xdist workers hand their
   measurements to the controller); then the ``pytest_sbir_test_measured`` hook is called with
   the report and the measurement (while anything implements it, every test is measured);
4. session end: the terminal table, ``--budget-report`` JSON and ``--budget-suggest`` output are
   built from those records on the process that owns the terminal.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_sbir_validate import budget_report
from pytest_sbir_validate.budget_report import REPORT_ATTRIBUTE, BudgetRecord, BudgetUse
from pytest_sbir_validate.budgets import (
    Budgets,
    describe_memory_budget,
    describe_time_budget,
    format_number,
    format_size,
    judge_memory,
    judge_time,
)
from pytest_sbir_validate.failure import FailureMessage
from pytest_sbir_validate.marks import BUDGETS_KEY, BudgetMarkerError, budgets_of
from pytest_sbir_validate.measurement import (
    MEASUREMENT_KEY,
    Measurement,
    PeakRssMeter,
    TestCostRecorder,
    choose_peak_rss_meter,
)
from pytest_sbir_validate.options import Setting

MODES = ("enforce", "report", "off")
PLUGIN_NAME = "sbir-budgets"
FAILED_BY_BUDGET_ATTRIBUTE = "sbir_budget_failed"
"""``TestReport`` attribute set to True when the plugin turned a passing test into a failure."""
MEMRAY_TOP_SITES = 5

_RECORDER_KEY = pytest.StashKey[TestCostRecorder]()
_MEMRAY_FILE_KEY = pytest.StashKey[Path]()

Mode = Literal["enforce", "report", "off"]


class BudgetMeasurementWarning(pytest.PytestWarning):
    """Peak RSS cannot be measured exactly here; the message says why and what is used instead."""


MODE = Setting(
    "--budget-mode",
    "enforce: fail tests over budget (default); report: measure and report only; off: do nothing",
    default="enforce",
)
SCALE = Setting("--budget-scale", "multiply every time budget by FACTOR, e.g. 2 on a slower CI runner", default="1.0")


def add_options(parser: pytest.Parser) -> None:
    """Register the budget command-line options and ini keys."""
    group = parser.getgroup("sbir-budgets", "time and memory budgets (pytest-sbir-validate)")
    MODE.add_to(group, parser, choices=MODES)
    SCALE.add_to(group, parser, type=float, metavar="FACTOR")
    group.addoption("--budget-report", default=None, metavar="PATH", help="write budget measurements as JSON to PATH.")
    group.addoption(
        "--budget-suggest",
        action="store_true",
        default=False,
        help="measure every test and print a budget to paste for each (observed x margin).",
    )
    group.addoption(
        "--budget-suggest-margin",
        type=float,
        default=1.5,
        metavar="FACTOR",
        help="safety factor of --budget-suggest (default 1.5).",
    )
    group.addoption(
        "--budget-memray",
        action="store_true",
        default=False,
        help="track memory-budgeted tests with memray and show the top allocation sites when one exceeds its "
        "budget (sets ARROW_DEFAULT_MEMORY_POOL=system for the session).",
    )


@dataclass(frozen=True)
class BudgetSettings:
    """The budget options of one run, options taking precedence over ini values."""

    mode: Mode
    scale: float
    report_path: Path | None
    suggest: bool
    suggest_margin: float
    memray: bool

    @classmethod
    def from_config(cls, config: pytest.Config) -> BudgetSettings:
        """Read and validate the options; raise ``pytest.UsageError`` saying which value is wrong."""
        mode = MODE.get(config)
        if mode.raw not in MODES:
            raise pytest.UsageError(f"{mode.describe()} is not one of {', '.join(MODES)}")
        scale_value = SCALE.get(config)
        try:
            scale = float(scale_value.raw)
        except ValueError as error:
            raise pytest.UsageError(f"{scale_value.describe()} is not a number") from error
        if not scale > 0 or scale == float("inf"):
            raise pytest.UsageError(f"the budget scale must be a positive number, got {scale!r}")
        margin = config.getoption("budget_suggest_margin")
        if not margin >= 1:
            raise pytest.UsageError(f"--budget-suggest-margin must be at least 1, got {margin!r}")
        report = config.getoption("budget_report")
        return cls(
            mode=mode.raw,
            scale=scale,
            report_path=Path(config.invocation_params.dir, report) if report else None,
            suggest=config.getoption("budget_suggest"),
            suggest_margin=margin,
            memray=config.getoption("budget_memray"),
        )


def _budget_failure(text: str) -> FailureMessage:
    """The ``longrepr`` of a test that only failed its budget: the messages plus what to do."""
    return FailureMessage(text, red=lambda line: line.endswith("%)"))


class BudgetPlugin:
    """Hooks of the budget feature, registered by ``pytest_sbir_validate.plugin`` as "sbir-budgets"."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.settings = BudgetSettings.from_config(config)
        self.records: list[BudgetRecord] = []
        self._meter: PeakRssMeter | None = None
        self.fallback_reason: str | None = None
        self._saved_arrow_pool: str | None = None
        if self.settings.memray:
            self._pin_arrow_system_pool()

    # -- collection ----------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        """Parse the budget markers of the items a collector made; bad ones fail its collection."""
        report = yield
        if not report.passed:
            return report
        problems = _stash_budgets(node for node in report.result if isinstance(node, pytest.Item))
        if problems:
            report.outcome = "failed"
            report.longrepr = "\n".join(problems)
            report.result = []
        return report

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Re-read markers that other plugins or conftest files added after collection."""
        problems = _stash_budgets(items)
        if problems:
            raise pytest.UsageError("\n".join(problems))

    # -- measuring -----------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        recorder = self._recorder_for(item)
        if recorder is None:
            return (yield)
        item.stash[_RECORDER_KEY] = recorder
        recorder.begin("setup")
        try:
            return (yield)
        finally:
            recorder.end("setup")

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        recorder = item.stash.get(_RECORDER_KEY, None)
        if recorder is None:
            return (yield)
        tracker = self._start_memray(item)
        recorder.begin("call")
        try:
            return (yield)
        finally:
            measurement = recorder.end("call")
            if tracker is not None:
                tracker.__exit__(None, None, None)
            if measurement is not None:
                item.stash[MEASUREMENT_KEY] = measurement

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        recorder = item.stash.get(_RECORDER_KEY, None)
        if recorder is not None:
            recorder.abandon()
            del item.stash[_RECORDER_KEY]
        memray_file = item.stash.get(_MEMRAY_FILE_KEY, None)
        if memray_file is not None:
            memray_file.unlink(missing_ok=True)
            del item.stash[_MEMRAY_FILE_KEY]

    def _budgets(self, item: pytest.Item) -> Budgets | None:
        """The budgets to judge ``item`` by: none in ``off`` mode, whatever its markers say."""
        return item.stash.get(BUDGETS_KEY, None) if self.settings.mode != "off" else None

    def _recorder_for(self, item: pytest.Item) -> TestCostRecorder | None:
        budgets = self._budgets(item)
        if budgets is None and not (self.settings.suggest or _measurement_wanted(item)):
            return None
        return TestCostRecorder(
            self._peak_rss_meter(),
            time_includes_setup=bool(budgets and budgets.time_include_setup),
            memory_includes_setup=bool(budgets and budgets.memory_include_setup),
        )

    def _peak_rss_meter(self) -> PeakRssMeter:
        if self._meter is None:
            self._meter, self.fallback_reason = choose_peak_rss_meter()
            if self.fallback_reason is not None:
                warnings.warn(BudgetMeasurementWarning(self.fallback_reason), stacklevel=1)
        return self._meter

    # -- judging -------------------------------------------------------------------------------

    # tryfirst: the outermost wrapper, so the verdict and the pytest_sbir_test_measured hook see
    # the report as every other plugin (e.g. xfail handling) left it.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        measurement = item.stash.get(MEASUREMENT_KEY, None) if call.when == "call" else None
        record = None
        if measurement is not None and _RECORDER_KEY in item.stash:
            record = self._record(item.nodeid, measurement, self._budgets(item))
            if record.budgeted:
                item.user_properties.extend(record.junit_properties())
        report = yield
        if record is None:
            return report
        setattr(report, REPORT_ATTRIBUTE, record.as_dict())
        if record.exceeded and self.settings.mode == "enforce":
            self._fail(item, report, record)
        item.ihook.pytest_sbir_test_measured(item=item, report=report, measurement=item.stash[MEASUREMENT_KEY])
        return report

    def _record(self, nodeid: str, measurement: Measurement, budgets: Budgets | None) -> BudgetRecord:
        time_use = memory_use = None
        if budgets is not None and budgets.time is not None:
            time_use = BudgetUse.judged(
                describe_time_budget(budgets.time),
                judge_time(budgets.time, measurement.wall_s, measurement.cpu_s, self.settings.scale),
            )
        if budgets is not None and budgets.memory is not None:
            memory_use = BudgetUse.judged(
                describe_memory_budget(budgets.memory),
                judge_memory(budgets.memory, measurement.peak_rss_growth_bytes),
            )
        return BudgetRecord(
            nodeid=nodeid,
            wall_s=measurement.wall_s,
            cpu_s=measurement.cpu_s,
            peak_rss_growth_bytes=measurement.peak_rss_growth_bytes,
            method=measurement.method,
            time=time_use,
            memory=memory_use,
        )

    def _fail(self, item: pytest.Item, report: pytest.TestReport, record: BudgetRecord) -> None:
        exceeded = [use for use in (record.time, record.memory) if use is not None and use.exceeded]
        messages = [use.message for use in exceeded]
        if record.method == "sampling" and record.memory is not None:
            messages.append(f"(peak RSS found by sampling: {self.fallback_reason})")
        if report.failed or report.skipped or hasattr(report, "wasxfail"):
            # The test's own outcome stands; the budget overrun is shown next to it.
            report.sections.append(("budget", "\n".join(messages)))
            return
        hints = []
        if record.time is not None and record.time.exceeded:
            hints.append(
                "Make the test faster, raise its time_budget if the cost is expected, or give slower machines "
                "more time with --budget-scale / ini budget_scale."
            )
        if record.memory is not None and record.memory.exceeded:
            hints.append(
                "Reduce what the test keeps in memory, raise its memory_budget if the growth is expected"
                + (", or rerun with --budget-memray to see the allocation sites." if not self.settings.memray else ".")
            )
        report.outcome = "failed"
        report.longrepr = _budget_failure("\n".join(messages + hints))  # type: ignore[assignment]
        setattr(report, FAILED_BY_BUDGET_ATTRIBUTE, True)
        if record.memory is not None and record.memory.exceeded:
            sites = self._memray_sites(item)
            if sites:
                report.sections.append(("budget: largest allocation sites at the peak", sites))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, REPORT_ATTRIBUTE, None) if report.when == "call" else None
        if data is not None:
            self.records.append(BudgetRecord.from_dict(data, outcome=report.outcome))
        if getattr(report, FAILED_BY_BUDGET_ATTRIBUTE, False) and isinstance(report.longrepr, str):
            # An xdist worker's report arrives with the failure flattened to text; restore the
            # one-line message the "-ra" summary shows.
            report.longrepr = _budget_failure(report.longrepr)  # type: ignore[assignment]

    # -- memray attribution --------------------------------------------------------------------

    def _pin_arrow_system_pool(self) -> None:
        # mimalloc/jemalloc reserve large regions that memray counts as allocations (pyarrow's
        # first string column shows as ~1 GiB); the system pool makes memray see what RSS sees.
        self._saved_arrow_pool = os.environ.get("ARROW_DEFAULT_MEMORY_POOL")
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
        if "pyarrow" in sys.modules:
            import pyarrow

            pyarrow.set_memory_pool(pyarrow.system_memory_pool())

    def _memray_is_tracking(self, item: pytest.Item) -> bool:
        """True when pytest-memray already tracks ``item`` (memray allows one tracker at a time)."""
        if self.config.getoption("memray", default=False):
            return True
        return any(item.get_closest_marker(name) for name in ("limit_memory", "limit_leaks", "limit_leaked_objects"))

    def _start_memray(self, item: pytest.Item) -> Any:
        budgets = self._budgets(item)
        if not self.settings.memray or budgets is None or budgets.memory is None:
            return None
        if self._memray_is_tracking(item):
            return None
        import memray

        handle, name = tempfile.mkstemp(prefix="sbir-budget-", suffix=".memray")
        os.close(handle)
        path = Path(name)
        path.unlink()
        item.stash[_MEMRAY_FILE_KEY] = path
        tracker = memray.Tracker(path, file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS)
        tracker.__enter__()
        return tracker

    def _memray_sites(self, item: pytest.Item) -> str:
        path = item.stash.get(_MEMRAY_FILE_KEY, None)
        if path is None:
            if self.settings.memray and self._memray_is_tracking(item):
                return "not tracked by --budget-memray: pytest-memray is tracking this test (see its report)"
            return ""
        import memray

        reader = memray.FileReader(path)
        records = reader.get_high_watermark_allocation_records(merge_threads=True)
        largest = sorted(records, key=lambda r: r.size, reverse=True)[:MEMRAY_TOP_SITES]
        # pytest's own bookkeeping shows up as a few bytes; keep the sites that matter.
        largest = [r for r in largest if r.size >= largest[0].size / 100] if largest else []
        lines = [
            f"memray peak {format_size(reader.metadata.peak_memory)} "
            "(allocator view; RSS can differ, see docs/budgets.md):"
        ]
        for record in largest:
            frames = record.stack_trace(max_stacks=3)
            where = " <- ".join(f"{function} {file}:{line}" for function, file, line in frames) or "<unknown frame>"
            lines.append(f"  {format_size(record.size):>12}  {record.n_allocations:>6} allocs  {where}")
        return "\n".join(lines)

    # -- session end ---------------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.settings.report_path is None or _is_xdist_worker(self.config):
            return
        budget_report.write_json(self.settings.report_path, self.records, settings=self._settings_for_report())

    def _settings_for_report(self) -> dict[str, Any]:
        return {
            "mode": self.settings.mode,
            "scale": self.settings.scale,
            "suggest": self.settings.suggest,
            "suggest_margin": self.settings.suggest_margin,
            "peak_rss_fallback_reason": self.fallback_reason,
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if _is_xdist_worker(self.config) or self.settings.mode == "off" and not self.settings.suggest:
            return
        budgeted = [r for r in self.records if r.budgeted]
        if budgeted:
            over = sum(r.exceeded for r in budgeted)
            scale = f", time budgets x{format_number(self.settings.scale)}" if self.settings.scale != 1 else ""
            terminalreporter.write_sep(
                "-", f"budgets ({self.settings.mode}{scale}): {len(budgeted)} budgeted, {over} over budget"
            )
            max_rows = None if self.config.get_verbosity() > 0 else 20
            for line in budget_report.summary_lines(budgeted, max_rows=max_rows):
                terminalreporter.write_line(line)
            methods = {r.method for r in budgeted}
            if methods - {"vmhwm"}:
                terminalreporter.write_line(
                    "peak RSS measured by " + ", ".join(sorted(methods)) + " (not the exact VmHWM reset); see warnings"
                )
        if self.settings.suggest and self.records:
            terminalreporter.write_sep(
                "-", f"suggested budgets (observed x {format_number(self.settings.suggest_margin)}, rounded up)"
            )
            for suggestion in budget_report.suggest(
                self.records, margin=self.settings.suggest_margin, scale=self.settings.scale
            ):
                for line in suggestion.lines():
                    terminalreporter.write_line(line)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.settings.memray:
            if self._saved_arrow_pool is None:
                os.environ.pop("ARROW_DEFAULT_MEMORY_POOL", None)
            else:
                os.environ["ARROW_DEFAULT_MEMORY_POOL"] = self._saved_arrow_pool


def _stash_budgets(items: Iterable[pytest.Item]) -> list[str]:
    """Parse the budget markers of ``items`` into their stash; return the errors of the bad ones."""
    problems = []
    for item in items:
        try:
            budgets = budgets_of(item)
        except BudgetMarkerError as error:
            problems.append(str(error))
            continue
        if budgets is not None:
            item.stash[BUDGETS_KEY] = budgets
    return problems


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _measurement_wanted(item: pytest.Item) -> bool:
    """True when a plugin or conftest.py that applies to ``item`` implements pytest_sbir_test_measured."""
    return bool(item.ihook.pytest_sbir_test_measured.get_hookimpls())


def configure(config: pytest.Config) -> None:
    """Register the :class:`BudgetPlugin`, unless a plugin of that name exists."""
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(BudgetPlugin(config), PLUGIN_NAME)


__all__ = [
    "FAILED_BY_BUDGET_ATTRIBUTE",
    "MODE",
    "SCALE",
    "BudgetMeasurementWarning",
    "BudgetPlugin",
    "BudgetSettings",
    "add_options",
    "configure",
]
