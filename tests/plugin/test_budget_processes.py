"""Budgets across processes: pytest-xdist workers, and the fallback when VmHWM cannot be reset.

These run pytest in a subprocess (slow: about 2-4 s each), so there are only a few.
"""

import json
import xml.etree.ElementTree as ET

import pytest

from pytest_sbir_validate import measurement
from sbir_etl.monitoring import performance

SUITE = """
import time
import pytest

@pytest.mark.time_budget(0.1)
def test_slow():
    time.sleep(0.3)

@pytest.mark.memory_budget("100 MiB")
def test_big():
    data = b"x" * (300 * 2**20)

@pytest.mark.time_budget("10s")
@pytest.mark.memory_budget("100 MiB")
def test_fine():
    pass

def test_unbudgeted():
    pass
"""


def test_xdist_workers_measure_and_the_controller_merges(pytester, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # keep "-ra" lines whole
    pytester.makepyfile(SUITE)
    result = pytester.runpytest_subprocess(
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        "--budget-report=budgets.json",
        "--budget-suggest",
        "--junitxml=out.xml",
        "-rf",
    )
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["FAILED *::test_big - memory budget exceeded: peak RSS +* > budget 100 MiB (*%)"])
    result.stdout.fnmatch_lines(["FAILED *::test_slow - time budget exceeded: wall * > budget 100 ms (*%)"])
    result.stdout.fnmatch_lines(
        [
            "*budgets (enforce): 3 budgeted, 2 over budget*",
            "used*result*test",
            "*%*OVER (failed)*",
            "*%*OVER (failed)*",
            "*%*ok*::test_fine",
            "*suggested budgets*",
        ]
    )
    for name in ("test_slow", "test_big", "test_fine", "test_unbudgeted"):
        result.stdout.fnmatch_lines([f"*::{name}"])  # a suggestion for every test, from both workers
    document = json.loads((pytester.path / "budgets.json").read_text())
    assert sorted(t["nodeid"].split("::")[1] for t in document["tests"]) == ["test_big", "test_fine", "test_slow"]
    assert {t["method"] for t in document["tests"]} == {"vmhwm"}
    assert len(document["suggestions"]) == 4
    cases = {case.get("name"): case for case in ET.parse(pytester.path / "out.xml").iter("testcase")}
    big = {p.get("name"): p.get("value") for p in cases["test_big"].iter("property")}
    assert float(big["peak_rss_mib"]) > 250 and float(big["memory_budget_percent"]) > 250


def test_fallback_when_the_high_water_mark_cannot_be_reset(pytester):
    """Simulates macOS / a masked /proc by pointing the reset at a path that does not exist."""
    pytester.makeconftest(
        """
        from sbir_etl.monitoring import performance

        performance.CLEAR_REFS_PATH = "/nonexistent/proc/self/clear_refs"
        """
    )
    pytester.makepyfile(
        """
        import time
        import pytest

        @pytest.mark.memory_budget("100 MiB")
        def test_first_big():
            data = b"x" * (250 * 2**20)
            time.sleep(0.1)

        @pytest.mark.memory_budget("100 MiB")
        def test_below_earlier_high_seen_by_sampling():
            data = b"x" * (180 * 2**20)
            time.sleep(0.1)

        @pytest.mark.memory_budget("100 MiB")
        def test_small():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--budget-report=budgets.json", "-rf")
    result.assert_outcomes(passed=1, failed=2)
    output = result.stdout.str()
    assert output.count("BudgetMeasurementWarning: the peak-RSS") == 1, "the fallback is announced exactly once"
    result.stdout.fnmatch_lines(
        [
            "*BudgetMeasurementWarning: the peak-RSS high-water mark cannot be reset on this system "
            "(FileNotFoundError: *nonexistent*",
            "*peak RSS measured by *sampling (not the exact VmHWM reset)*",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(["*(peak RSS found by sampling: the peak-RSS high-water mark cannot be reset*"])
    methods = {
        t["nodeid"].split("::")[1]: t["method"]
        for t in json.loads((pytester.path / "budgets.json").read_text())["tests"]
    }
    # ru_maxrss is inherited from the parent at fork, so the first test may or may not set a new high.
    assert methods["test_first_big"] in ("ru_maxrss", "sampling")
    assert methods["test_below_earlier_high_seen_by_sampling"] == "sampling"


def test_child_process_memory_counts_but_not_the_peak_it_inherits_at_fork(pytester):
    """In a fresh process, because ru_maxrss of children is a session-wide maximum."""
    pytester.makepyfile(
        """
        import subprocess
        import sys
        import pytest

        @pytest.mark.memory_budget("300 MiB")
        def test_big_parent_small_child():
            # the child's ru_maxrss starts at this process's peak (~ +200 MiB): not the child's own
            data = b"x" * (200 * 2**20)
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        @pytest.mark.memory_budget("100 MiB")
        def test_spawns_big_child():
            subprocess.run([sys.executable, "-c", "data = b'x' * (400 * 2**20)"], check=True)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.re_match_lines([r"memory budget exceeded: peak RSS \+4\d\d\.\d MiB > budget 100 MiB"])
    result.stdout.re_match_lines([r"^\d+%\s+ok .*\+[12]\d\d\.\d MiB.*test_big_parent_small_child$"])


@pytest.mark.skipif(measurement.choose_peak_rss_meter()[1] is not None, reason="needs a resettable VmHWM")
def test_fallback_meter_uses_ru_maxrss_when_a_test_sets_a_new_high():
    performance.reset_high_water_mark()  # so that ru_maxrss is the current RSS and can rise
    meter = measurement.FallbackPeakRssMeter()
    baseline = meter.start()
    spike = b"x" * (64 * 2**20)  # one GIL-holding call: the sampler cannot see it, ru_maxrss does
    del spike
    growth, method = meter.stop(baseline)
    assert method == "ru_maxrss"
    assert 60 * 2**20 <= growth < 80 * 2**20


def test_fallback_is_chosen_and_explained_when_reset_fails(monkeypatch, tmp_path):
    monkeypatch.setattr(performance, "CLEAR_REFS_PATH", str(tmp_path / "missing" / "clear_refs"))
    meter, reason = measurement.choose_peak_rss_meter()
    assert isinstance(meter, measurement.FallbackPeakRssMeter)
    assert "FileNotFoundError" in reason and "sampling" in reason


@pytest.mark.skipif(measurement.choose_peak_rss_meter()[1] is not None, reason="needs a resettable VmHWM")
def test_high_water_mark_meter_sees_a_spike_already_freed():
    meter = measurement.HighWaterMarkMeter()
    baseline = meter.start()
    spike = b"x" * (64 * 2**20)
    del spike
    growth, method = meter.stop(baseline)
    assert method == "vmhwm"
    assert 60 * 2**20 <= growth < 80 * 2**20
