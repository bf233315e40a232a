"""``--benchmark-compare`` owned by the plugin, on pytest-benchmark's real storage.

Durations come from a fake clock (``--benchmark-timer=fakeclock.now``) that only the benchmarked
function advances, so "3x slower" is exact and no test depends on how busy the machine is.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sbir_etl.monitoring.history import HistoryStore

# pytest-benchmark's own "Can't compare" warning leaks from the in-process runs; it is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Can't compare")

FAKE_CLOCK = """
import os

_now = [0.0]


def now():
    return _now[0]


def work(name):
    # One benchmarked call "takes" $COST_<name> milliseconds of fake time.
    _now[0] += float(os.environ.get(f"COST_{name}", "20")) / 1000
"""

BENCHMARKS = """
import fakeclock


def test_load(benchmark):
    benchmark.pedantic(fakeclock.work, args=("load",), rounds=5, iterations=1)


def test_match(benchmark):
    benchmark.pedantic(fakeclock.work, args=("match",), rounds=5, iterations=1)
"""

COMPARE = ("--benchmark-compare", "--benchmark-compare-fail=median:25%", "--benchmark-timer=fakeclock.now")


@pytest.fixture
def bench(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.syspathinsert()
    pytester.makepyfile(fakeclock=FAKE_CLOCK, test_bench=BENCHMARKS)
    for name in ("load", "match"):
        monkeypatch.delenv(f"COST_{name}", raising=False)
    return pytester


def saved_runs(pytester: pytest.Pytester) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((pytester.path / ".benchmarks").rglob("*.json"))]


def junit_failures(path: Path) -> dict[str, str]:
    return {
        case.get("name"): failure.get("message")
        for case in ET.parse(path).iter("testcase")
        for failure in case.iter("failure")
    }


def test_with_the_integration_off_a_cold_cache_is_pytest_benchmarks_usage_error(bench: pytest.Pytester) -> None:
    """The pytest-benchmark behaviour the plugin replaces."""
    result = bench.runpytest(*COMPARE, "--sbir-benchmark-compare=off")
    result.stderr.fnmatch_lines(["*--benchmark-compare-fail requires valid --benchmark-compare*"])


def test_cold_cache_saves_the_baseline_then_the_next_run_compares(bench: pytest.Pytester) -> None:
    first = bench.runpytest(*COMPARE, "--sbir-machine-class=box-a")
    first.assert_outcomes(passed=2)
    assert first.ret == pytest.ExitCode.OK
    first.stdout.fnmatch_lines(
        ["*no saved benchmark run of machine class box-a in * (cold cache): this run was saved as the baseline*"]
    )
    [run] = saved_runs(bench)
    assert run["machine_info"]["sbir_machine_class"] == "box-a"

    second = bench.runpytest(*COMPARE, "--sbir-machine-class=box-a")
    second.assert_outcomes(passed=2)
    assert "cold cache" not in second.stdout.str()
    assert "Comparing against benchmarks from" in second.stdout.str() + second.stderr.str()
    assert len(saved_runs(bench)) == 1  # a warm run saves nothing unless asked to


def test_a_regression_fails_that_benchmarks_test_with_the_figures(
    bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench.runpytest(*COMPARE, "--sbir-machine-class=box-a").assert_outcomes(passed=2)
    [saved] = [p.stem for p in (bench.path / ".benchmarks").rglob("*.json")]
    monkeypatch.setenv("COST_match", "60")  # 3x slower
    result = bench.runpytest(*COMPARE, "--sbir-machine-class=box-a", "--junitxml=junit.xml")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1)
    message = f"median 60 ms vs 20 ms saved in {saved}: +200 %, fail at +25 %"
    assert junit_failures(bench.path / "junit.xml") == {"test_match": message}
    result.stdout.fnmatch_lines([message, "FAILED test_bench.py::test_match - median 60 ms vs 20 ms*"])
    assert "Performance has regressed" not in result.stdout.str() + result.stderr.str()


def test_a_difference_rule_reports_seconds(bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    bench.runpytest(*COMPARE).assert_outcomes(passed=2)
    monkeypatch.setenv("COST_load", "35")
    result = bench.runpytest(
        "--benchmark-compare", "--benchmark-compare-fail=mean:0.01", "--benchmark-timer=fakeclock.now"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["mean 35 ms vs 20 ms saved in 0001_*: +15 ms, fail at +10 ms", "FAILED test_bench.py::test_load*"]
    )


def test_only_runs_of_the_same_machine_class_are_compared(
    bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench.runpytest(*COMPARE, "--sbir-machine-class=box-a").assert_outcomes(passed=2)
    monkeypatch.setenv("COST_match", "60")
    # Another class, slower: not compared with box-a's run; its own first run becomes its baseline.
    other = bench.runpytest(*COMPARE, "--sbir-machine-class=box-b")
    other.assert_outcomes(passed=2)
    other.stdout.fnmatch_lines(["*no saved benchmark run of machine class box-b in * (cold cache)*"])
    # box-a is compared with box-a's run, not with the later run of box-b.
    again = bench.runpytest(*COMPARE, "--sbir-machine-class=box-a")
    again.assert_outcomes(passed=1, failed=1)
    again.stdout.fnmatch_lines(["*median 60 ms vs 20 ms saved in 0001_*"])


def test_naming_a_run_of_another_machine_class_is_a_usage_error(bench: pytest.Pytester) -> None:
    bench.runpytest(*COMPARE, "--sbir-machine-class=box-a").assert_outcomes(passed=2)
    result = bench.runpytest(
        "--benchmark-compare=0001", "--benchmark-timer=fakeclock.now", "--sbir-machine-class=box-b"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--benchmark-compare=0001: 0001_* was saved on machine class box-a, this run is box-b;*"]
    )


def test_the_machine_class_comes_from_the_hook(bench: pytest.Pytester) -> None:
    bench.makeconftest("def pytest_sbir_machine_class(config):\n    return 'runner-from-hook'\n")
    bench.runpytest(*COMPARE).assert_outcomes(passed=2)
    [run] = saved_runs(bench)
    assert run["machine_info"]["sbir_machine_class"] == "runner-from-hook"


def test_benchmark_statistics_are_recorded_in_the_history(
    bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COST_load", "30")
    db = bench.path / "history.sqlite"
    bench.runpytest(f"--sbir-history={db}", "--benchmark-timer=fakeclock.now").assert_outcomes(passed=2)
    with HistoryStore(db) as store:
        results = {stored.result.test_id: stored.result for stored in store.results()}
    load = results["test_bench.py::test_load"]
    assert load.benchmark is not None and load.benchmark.rounds == 5
    assert load.benchmark.median_s == pytest.approx(0.030) and load.wall_s == pytest.approx(0.030)
    assert results["test_bench.py::test_match"].benchmark.median_s == pytest.approx(0.020)
