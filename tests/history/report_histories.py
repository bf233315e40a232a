"""Histories for the report tests: runs and results built in memory, or written to a store."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sbir_etl.monitoring.history import HistoryStore, QualityMetrics, RunInfo, StoredResult, TestResult

SCORES_BY_METHOD = {
    "uei-exact": {"95-100": 300},
    "duns-exact": {"95-100": 80},
    "name-fuzzy-auto": {"85-90": 40, "90-95": 60, "95-100": 20},
    "name-fuzzy-candidate": {"75-80": 25, "80-85": 22, "70-75": 30},
}


@dataclass
class History:
    """Runs (oldest first) and their results, as :meth:`HistoryStore.results` returns them."""

    runs: list[RunInfo] = field(default_factory=list)
    results: list[StoredResult] = field(default_factory=list)

    def add_runs(self, count: int, machine_class: str = "ci") -> list[RunInfo]:
        start = len(self.runs)
        new = [
            RunInfo(
                run_id=f"r{i}",
                started_at=f"2026-01-01T{i // 60:02d}:{i % 60:02d}:00+00:00",
                machine_class=machine_class,
                python_version="3.11",
                commit=f"{i:04d}abcdef0123456789",
                branch="main",
                dirty=False,
            )
            for i in range(start, start + count)
        ]
        self.runs += new
        return new

    def add(self, run: RunInfo, test_id: str, outcome: str = "passed", **fields) -> None:
        self.results.append(StoredResult(TestResult(run.run_id, test_id, outcome, **fields), run))

    def write(self, path: Path) -> Path:
        with HistoryStore(path) as store:
            for run in self.runs:
                store.record_run(run)
            for stored in self.results:
                store.record_result(stored.result)
        return path


def jittered(
    tests: Sequence[str],
    runs: int,
    *,
    seed: int = 0,
    base_s: Callable[[int], float] = lambda i: 0.005 + 0.001 * (i % 20),
    slow: Callable[[int, int], float] = lambda test, run: 1.0,
    jitter: float = 0.25,
    memory_mib: float = 40.0,
) -> History:
    """Millisecond tests whose time varies by up to ``jitter`` (+-) around a base, run after run.

    ``slow(test, run)`` multiplies a test's time in a run (2.0 = twice as slow).
    """
    rng = random.Random(seed)
    history = History()
    for run_index, run in enumerate(history.add_runs(runs)):
        for test_index, test_id in enumerate(tests):
            factor = slow(test_index, run_index) * (1 + rng.uniform(-jitter, jitter))
            history.add(
                run,
                test_id,
                wall_s=base_s(test_index) * factor,
                peak_rss_growth_mib=memory_mib * (1 + rng.uniform(-0.02, 0.02)),
                gate_status="pass" if run_index else "baseline established",
            )
    return history


def quality(match_rate: float, by_method: dict | None = None) -> QualityMetrics:
    return QualityMetrics(match_rate=match_rate, score_histogram_by_method=by_method or SCORES_BY_METHOD)
