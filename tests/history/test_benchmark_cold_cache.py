"""benchmarks/conftest.py: the first --benchmark-compare run establishes the baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

# pytest-benchmark's own "Can't compare" warning leaks from the in-process runs; it is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Can't compare")

CONFTEST = Path(__file__).parents[2] / "benchmarks" / "conftest.py"
COMPARE = ("--benchmark-compare", "--benchmark-compare-fail=median:25%", "--benchmark-max-time=0.01")


@pytest.fixture
def bench(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_bench="def test_sum(benchmark):\n    benchmark(sum, range(1000))\n")
    return pytester


def test_without_the_conftest_a_cold_cache_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """The pytest-benchmark behaviour the conftest works around (if this starts passing, the
    workaround may be unnecessary)."""
    pytester.makepyfile(test_bench="def test_sum(benchmark):\n    benchmark(sum, range(1000))\n")
    result = pytester.runpytest(*COMPARE)
    result.stderr.fnmatch_lines(["*--benchmark-compare-fail requires valid --benchmark-compare*"])


def test_cold_cache_saves_the_baseline_then_the_next_run_compares(bench: pytest.Pytester) -> None:
    first = bench.runpytest(*COMPARE)
    first.assert_outcomes(passed=1)
    assert first.ret == pytest.ExitCode.OK
    first.stdout.fnmatch_lines(["*no saved benchmark run in * (cold cache): this run was saved as the baseline*"])
    assert len(list((bench.path / ".benchmarks").rglob("*.json"))) == 1

    second = bench.runpytest(*COMPARE)
    second.assert_outcomes(passed=1)
    assert "cold cache" not in second.stdout.str()
    assert "Comparing against benchmarks from" in second.stdout.str() + second.stderr.str()
