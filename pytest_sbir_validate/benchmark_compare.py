"""``pytest --benchmark-compare`` in CI, from the plugin alone.

pytest-benchmark on its own stops a ``--benchmark-compare-fail`` run with a usage error when
there is no saved run yet, compares with the latest saved run whatever machine saved it, and
reports a regression as a session error after every test "passed" (JUnit XML shows no failure).
While pytest-benchmark is installed this module changes that (``--sbir-benchmark-compare=off``
/ ini ``sbir_benchmark_compare = off`` leaves pytest-benchmark alone):

* **machine class**: every saved run records ``machine_info["sbir_machine_class"]`` (the
  :func:`~pytest_sbir_validate.hookspec.pytest_sbir_machine_class` hook).
  ``--benchmark-compare`` without a run number compares with the latest saved run *of this
  machine class*; naming a run of another class is a usage error, never a silent comparison.
* **cold cache**: with no saved run of this machine class (a new repository, an evicted CI
  cache, a new runner type) the run saves its results as the baseline, as
  ``--benchmark-autosave`` would, skips the comparison and says so in the terminal summary.
* **per-test verdicts**: each ``--benchmark-compare-fail`` rule is applied when a benchmark's
  test is reported; a regression fails *that test*, with the figures as its message
  (``median 61.2 ms vs 20.3 ms saved in 0003_…: +201 %, fail at +25 %``).
* **history**: each benchmark's statistics are handed to ``--sbir-history``, which records them
  with the test; the time it records and gates for a benchmark test is the median round.

The baseline is chosen in ``pytest_configure`` and handed to pytest-benchmark by rewriting its
``--benchmark-compare`` option to the chosen file before pytest-benchmark (whose own
``pytest_configure`` runs last) loads it, so its comparison table shows the same run.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_sbir_validate.budgets import format_duration
from pytest_sbir_validate.failure import FailureMessage
from pytest_sbir_validate.history_plugin import BENCHMARK_STATS_KEY
from pytest_sbir_validate.machine import machine_class
from pytest_sbir_validate.options import Setting
from sbir_etl.monitoring.history import BenchmarkStats

__all__ = ["BENCHMARK_COMPARE", "MACHINE_INFO_KEY", "BenchmarkCompare", "add_options", "configure"]

BENCHMARK_COMPARE = Setting(
    "--sbir-benchmark-compare",
    "on: --benchmark-compare saves a baseline on a cold cache, compares only with runs of this "
    "machine class and fails the regressed benchmark's test; off: pytest-benchmark's own behaviour",
    default="on",
)
MACHINE_INFO_KEY = "sbir_machine_class"
"""The key of the machine class in the ``machine_info`` of pytest-benchmark's saved runs."""
PYTEST_BENCHMARK = "benchmark"
"""The name pytest-benchmark's plugin module is registered under (its ``pytest11`` entry point)."""


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("sbir-benchmarks", "pytest-benchmark in CI (pytest-sbir-validate)")
    BENCHMARK_COMPARE.add_to(group, parser, choices=("on", "off"))


@dataclass(frozen=True)
class SavedRun:
    """A saved pytest-benchmark run: its file (relative to the storage) and statistics by test."""

    path: Path
    machine_class: str | None
    stats: dict[str, dict[str, Any]]

    @property
    def name(self) -> str:
        return self.path.stem


class BenchmarkCompare:
    """The pytest-benchmark integration, registered as "sbir-benchmarks"."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.machine_class = machine_class(config)
        self.checks: list[Any] = []
        """pytest-benchmark's ``--benchmark-compare-fail`` rules, applied here per test."""
        self.baseline: SavedRun | None = None
        self.cold_cache_in: str | None = None
        """The storage that held no run of this machine class, when the cache was cold."""
        self.regressions: list[str] = []

    # -- choosing the baseline (pytest_configure, before pytest-benchmark's) ---------------------

    def choose_baseline(self) -> None:
        """Rewrite pytest-benchmark's compare options: a run of this machine class, or a cold cache."""
        option = self.config.option
        compare = option.benchmark_compare
        if not compare:
            return
        self.checks, option.benchmark_compare_fail = list(option.benchmark_compare_fail or []), None
        storage = _storage(self.config)
        if compare is True:
            runs = [run for run in _saved_runs(storage) if run.machine_class == self.machine_class]
        else:
            runs = _saved_runs(storage, compare)
            if not runs:
                raise pytest.UsageError(f"--benchmark-compare={compare}: no saved benchmark run matches in {storage}")
            foreign = [run for run in runs if run.machine_class != self.machine_class]
            if foreign:
                raise pytest.UsageError(
                    f"--benchmark-compare={compare}: {foreign[0].name} was saved on machine class "
                    f"{foreign[0].machine_class or '(none recorded)'}, this run is {self.machine_class}; "
                    "timings of different machine classes are not compared. Compare with a run of this class, "
                    "set --sbir-machine-class, or use --sbir-benchmark-compare=off for pytest-benchmark's own rules"
                )
        if not runs:
            self._cold_cache(storage)
            return
        self.baseline = runs[-1]
        option.benchmark_compare = str(storage.path / self.baseline.path)

    def _cold_cache(self, storage: object) -> None:
        """Nothing to compare with: compare nothing, fail nothing, save this run as the baseline."""
        from pytest_benchmark.utils import get_tag

        option = self.config.option
        option.benchmark_compare = []
        if not (option.benchmark_save or option.benchmark_autosave):
            option.benchmark_autosave = get_tag(getattr(option, "benchmark_project_name", None))  # type: ignore[no-untyped-call]
        self.cold_cache_in = str(storage)

    # -- per test ------------------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_machine_info(self, config: pytest.Config, machine_info: dict[str, Any]) -> None:
        machine_info[MACHINE_INFO_KEY] = self.machine_class

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Hand a benchmark's statistics to the history; fail a passed benchmark that regressed."""
        report = yield
        metadata = _benchmark_metadata(item) if call.when == "call" else None
        if metadata is None:
            return report
        item.stash[BENCHMARK_STATS_KEY] = _stats(metadata)
        failures = self._regressions(item.nodeid, metadata)
        if failures and report.passed and not hasattr(report, "wasxfail"):
            self.regressions.append(f"{item.nodeid}: {'; '.join(failures)}")
            report.outcome = "failed"
            report.longrepr = FailureMessage("\n".join(failures))  # type: ignore[assignment]
        return report

    def _regressions(self, nodeid: str, current: Any) -> list[str]:
        """A message for every ``--benchmark-compare-fail`` rule the benchmark breaks."""
        from pytest_benchmark.utils import PercentageRegressionCheck

        saved = self.baseline.stats.get(nodeid) if self.baseline is not None else None
        if saved is None or self.baseline is None:
            return []
        messages = []
        for check in self.checks:
            change = check.compute(current, saved)
            if change <= check.threshold:
                continue
            figures = (
                f"{check.field} {format_duration(current[check.field])} vs "
                f"{format_duration(saved[check.field])} saved in {self.baseline.name}"
            )
            if isinstance(check, PercentageRegressionCheck):
                messages.append(f"{figures}: {change:+.0f} %, fail at +{check.threshold} %")
            else:
                messages.append(f"{figures}: +{format_duration(change)}, fail at +{format_duration(check.threshold)}")
        return messages

    # -- end of the run ------------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        session = self.config.pluginmanager.get_plugin("pytest-benchmark")
        if session is None or session.disabled or (self.cold_cache_in is None and not self.regressions):
            return
        terminalreporter.section("benchmark baseline")
        if self.cold_cache_in is not None:
            cold = (
                f"no saved benchmark run of machine class {self.machine_class} in {self.cold_cache_in} to compare with"
            )
            outcome = (
                "this run was saved as the baseline; the next --benchmark-compare run compares against it"
                if session.benchmarks
                else "no benchmark ran, so nothing was saved"
            )
            terminalreporter.write_line(f"{cold} (cold cache): {outcome}", yellow=True)
        elif self.baseline is not None:
            terminalreporter.write_line(
                f"compared with {self.baseline.name} (machine class {self.machine_class}); regressions:"
            )
            for line in self.regressions:
                terminalreporter.write_line(f"  {line}", red=True)


def _storage(config: pytest.Config) -> Any:
    """pytest-benchmark's storage, opened as pytest-benchmark opens it (a directory of JSON files)."""
    from pytest_benchmark.logger import Logger
    from pytest_benchmark.storage.file import FileStorage
    from pytest_benchmark.utils import get_machine_id, load_storage

    # pytest-benchmark's functions carry no annotations.
    storage = load_storage(  # type: ignore[no-untyped-call]
        config.getoption("benchmark_storage"),
        logger=Logger(Logger.QUIET, config=config),  # type: ignore[no-untyped-call]
        default_machine_id=get_machine_id(),  # type: ignore[no-untyped-call]
        netrc=config.getoption("benchmark_netrc"),
    )
    if not isinstance(storage, FileStorage):
        raise pytest.UsageError(
            f"--sbir-benchmark-compare handles pytest-benchmark's file storage, not {storage}; "
            "use --sbir-benchmark-compare=off to compare with pytest-benchmark's own rules"
        )
    return storage


def _saved_runs(storage: Any, *globs: str) -> list[SavedRun]:
    """The saved runs matching ``globs`` (default: every numbered run), oldest first."""
    return [
        SavedRun(
            path=Path(path),
            machine_class=data.get("machine_info", {}).get(MACHINE_INFO_KEY),
            stats={bench["fullname"]: bench["stats"] for bench in data["benchmarks"]},
        )
        for path, data in storage.load(*globs)
    ]


def _benchmark_metadata(item: pytest.Item) -> Any:
    """The statistics of the test's ``benchmark`` fixture, or None when it measured nothing."""
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    metadata = getattr(fixture, "stats", None)
    if fixture is None or getattr(fixture, "has_error", True) or not metadata:
        return None
    return metadata


def _stats(metadata: Any) -> BenchmarkStats:
    return BenchmarkStats(
        min_s=float(metadata["min"]),
        max_s=float(metadata["max"]),
        mean_s=float(metadata["mean"]),
        median_s=float(metadata["median"]),
        stddev_s=float(metadata["stddev"]),
        iqr_s=float(metadata["iqr"]),
        rounds=int(metadata["rounds"]),
        iterations=int(metadata["iterations"]),
    )


def configure(config: pytest.Config) -> None:
    """Register the integration when pytest-benchmark is loaded and the setting is on.

    Called from the plugin's ``pytest_configure``, which runs before pytest-benchmark's
    (``trylast``), so the baseline is chosen before pytest-benchmark loads it.
    """
    if not config.pluginmanager.has_plugin(PYTEST_BENCHMARK):
        return
    setting = BENCHMARK_COMPARE.get(config)
    if setting.raw not in ("on", "off"):
        raise pytest.UsageError(f"{setting.describe()} is not on or off")
    if setting.raw == "off":
        return
    compare = BenchmarkCompare(config)
    compare.choose_baseline()
    config.pluginmanager.register(compare, "sbir-benchmarks")
