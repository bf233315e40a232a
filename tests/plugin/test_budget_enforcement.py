"""Budgets measured and enforced in a user's suite (in-process pytester runs)."""

import json
import xml.etree.ElementTree as ET

import hypothesis  # noqa: F401  (see below)
import pytest

# pytester removes modules first imported inside an inline run; hypothesis's pytest plugin imports
# hypothesis at terminal summary, so without this import every inline run would pay ~1 s for it.

ALLOCATE_300_MIB = """
import pytest

@pytest.mark.memory_budget("100 MiB")
def test_big():
    # one C-level call holding the GIL: a sampling thread could not see it
    data = b"x" * (300 * 2**20)
    del data
"""

SLEEP = """
import time
import pytest

@pytest.mark.time_budget(0.1)
def test_slow():
    time.sleep(0.3)
"""


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """Keep "-ra" summary lines whole: pytester's terminal is 80 columns wide otherwise."""
    monkeypatch.setenv("COLUMNS", "250")


def test_transient_300_mib_allocation_fails_a_100_mib_budget(pytester):
    pytester.makepyfile(ALLOCATE_300_MIB)
    result = pytester.runpytest("-ra")
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines(
        [
            r"memory budget exceeded: peak RSS \+[23]\d\d\.\d MiB > budget 100 MiB \([23]\d\d%\)",
            r".*rerun with --budget-memray to see the allocation sites.*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["FAILED test_transient_300_mib_allocation_fails_a_100_mib_budget.py::test_big - memory budget exceeded*"]
    )


def test_small_allocation_passes_a_100_mib_budget(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.memory_budget("100 MiB")
        def test_small():
            data = b"x" * (20 * 2**20)
            assert len(data)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_sleeping_test_fails_a_tenth_of_a_second_budget(pytester):
    pytester.makepyfile(SLEEP)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines([r"time budget exceeded: wall 3\d\d ms > budget 100 ms \(3\d\d%\)"])


def test_cpu_budget_ignores_sleeping_but_counts_busy_work(pytester):
    pytester.makepyfile(
        """
        import time
        import pytest

        @pytest.mark.time_budget(0.1, cpu=True)
        def test_sleeps():
            time.sleep(0.3)

        @pytest.mark.time_budget(0.05, cpu=True)
        def test_spins():
            end = time.process_time() + 0.25
            while time.process_time() < end:
                pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_spins*", "time budget exceeded: CPU * > budget 50 ms*"])


def test_setup_counts_only_with_include_setup(pytester):
    pytester.makepyfile(
        """
        import time
        import pytest

        @pytest.fixture
        def slow_and_big():
            data = b"x" * (200 * 2**20)
            time.sleep(0.3)
            yield
            del data

        @pytest.mark.time_budget(0.1)
        @pytest.mark.memory_budget("50 MiB")
        def test_call_only(slow_and_big):
            pass

        @pytest.mark.time_budget(0.1, include_setup=True)
        def test_time_with_setup(slow_and_big):
            pass

        @pytest.mark.memory_budget("50 MiB", include_setup=True)
        def test_memory_with_setup(slow_and_big):
            pass
        """
    )
    result = pytester.runpytest("-ra")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "FAILED *::test_time_with_setup - time budget exceeded: wall * (setup + call) > budget 100 ms*",
            "FAILED *::test_memory_with_setup - memory budget exceeded: peak RSS +* (setup + call) > budget 50 MiB*",
        ],
        consecutive=False,
    )


def test_report_mode_never_fails_but_reports(pytester):
    pytester.makepyfile(SLEEP + ALLOCATE_300_MIB)
    result = pytester.runpytest("--budget-mode=report")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*budgets (report): 2 budgeted, 2 over budget*",
            "used*result*wall*cpu*peak RSS*time budget*memory budget*test",
            "3??%*OVER*",
            "3??%*OVER*",
        ]
    )


def test_mode_from_ini_and_off_measures_nothing(pytester):
    pytester.makeini("[pytest]\nbudget_mode = off\n")
    pytester.makepyfile(SLEEP)
    result = pytester.runpytest("--junitxml=out.xml")
    result.assert_outcomes(passed=1)
    assert "budgets" not in result.stdout.str()
    assert list(ET.parse(pytester.path / "out.xml").iter("property")) == []  # nothing measured or judged


def test_invalid_ini_mode_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\nbudget_mode = strict\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*budget_mode = 'strict'*not one of enforce, report, off*"])


def test_budget_scale_multiplies_time_budgets_only(pytester):
    pytester.makepyfile(SLEEP + ALLOCATE_300_MIB)
    result = pytester.runpytest("--budget-scale", "10", "-ra")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*budgets (enforce, time budgets x10)*", "FAILED *::test_big - memory budget*"])


def test_budget_scale_from_ini_shows_in_the_failure(pytester):
    pytester.makeini("[pytest]\nbudget_scale = 1.5\n")
    pytester.makepyfile(SLEEP)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["time budget exceeded: wall * > budget 150 ms (100 ms x budget scale 1.5) (*%)"])


def test_own_failures_and_xfails_keep_their_outcome(pytester):
    pytester.makepyfile(
        """
        import time
        import pytest

        @pytest.mark.time_budget(0.05)
        def test_assertion():
            time.sleep(0.1)
            assert 1 == 2

        @pytest.mark.xfail(reason="known")
        @pytest.mark.time_budget(0.05)
        def test_expected_failure():
            time.sleep(0.1)
            assert False
        """
    )
    result = pytester.runpytest("-ra")
    result.assert_outcomes(failed=1, xfailed=1)
    result.stdout.fnmatch_lines(["E       assert 1 == 2", "*- budget -*", "time budget exceeded*"], consecutive=False)
    result.stdout.fnmatch_lines(["FAILED *::test_assertion - assert 1 == 2"])


def test_junit_xml_has_budget_properties_for_passing_and_failing_tests(pytester):
    pytester.makepyfile(
        SLEEP
        + """
@pytest.mark.time_budget("10s")
@pytest.mark.memory_budget("64 MiB")
def test_fine():
    pass

def test_unbudgeted():
    pass
"""
    )
    pytester.runpytest("--junitxml=out.xml").assert_outcomes(passed=2, failed=1)
    cases = {case.get("name"): case for case in ET.parse(pytester.path / "out.xml").iter("testcase")}
    fine = {p.get("name"): p.get("value") for p in cases["test_fine"].iter("property")}
    assert set(fine) == {
        "wall_s",
        "cpu_s",
        "peak_rss_mib",
        "peak_rss_method",
        "time_budget",
        "time_budget_percent",
        "memory_budget",
        "memory_budget_percent",
    }
    assert fine["time_budget"] == '"10s"' and fine["memory_budget"] == '"64 MiB"'
    assert fine["peak_rss_method"] == "vmhwm"
    slow = {p.get("name"): p.get("value") for p in cases["test_slow"].iter("property")}
    assert float(slow["wall_s"]) >= 0.3 and float(slow["time_budget_percent"]) >= 300
    assert list(cases["test_unbudgeted"].iter("property")) == []


def test_json_report_and_table_are_sorted_by_percent_used(pytester):
    pytester.makepyfile(
        """
        import time
        import pytest

        @pytest.mark.time_budget(10)
        def test_light():
            pass

        @pytest.mark.time_budget(2)
        def test_half():
            time.sleep(0.3)

        @pytest.mark.memory_budget("100 MiB")
        def test_heavy():
            data = b"x" * (80 * 2**20)
        """
    )
    result = pytester.runpytest("--budget-report", "reports/budgets.json")
    result.assert_outcomes(passed=3)
    result.stdout.re_match_lines(
        [r"^[89]\d%\s+ok.*test_heavy$", r"^[1-7]\d%\s+ok.*test_half$", r"^0%\s+ok.*test_light$"]
    )
    document = json.loads((pytester.path / "reports" / "budgets.json").read_text())
    assert document["settings"]["mode"] == "enforce"
    tests = document["tests"]
    assert [t["nodeid"].split("::")[1] for t in tests] == ["test_heavy", "test_half", "test_light"]
    heavy = tests[0]
    assert heavy["memory"]["budget"] == '"100 MiB"' and heavy["time"] is None
    assert 75 * 2**20 <= heavy["peak_rss_growth_bytes"] < 100 * 2**20
    assert heavy["outcome"] == "passed" and heavy["exceeded"] is False


def test_suggest_prints_pasteable_budgets_for_every_test(pytester):
    pytester.makepyfile(
        """
        import time
        import pytest

        @pytest.mark.parametrize("n", [1, 2])
        def test_unbudgeted(n):
            data = b"x" * (n * 40 * 2**20)
            time.sleep(0.1 * n)
        """
    )
    result = pytester.runpytest("--budget-suggest")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*suggested budgets (observed x 1.5, rounded up)*",
            "test_suggest_prints_pasteable_budgets_for_every_test.py::test_unbudgeted (2 cases, worst shown)",
            '    @pytest.mark.time_budget("*")  # observed wall *',
            '    @pytest.mark.memory_budget("150 MiB")  # observed peak RSS +[78]?.? MiB',
        ]
    )


def test_measurement_contract_for_other_features(pytester):
    """Implementing pytest_sbir_test_measured makes every test measured; the hook gets the measurement."""
    pytester.makeconftest(
        """
        def pytest_sbir_test_measured(item, report, measurement):
            m = measurement
            print(f"\\nMEASURED {item.name} {m.method} {m.wall_s >= 0.2} {m.cpu_s < m.wall_s - 0.15} "
                  f"{m.peak_rss_growth_bytes // 2**20 >= 60}")
        """
    )
    pytester.makepyfile(
        """
        import time

        def test_unbudgeted():
            data = b"x" * (64 * 2**20)
            time.sleep(0.2)
        """
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*MEASURED test_unbudgeted vmhwm True True True"])
    assert "budgets (" not in result.stdout.str()  # unbudgeted tests are not in the table


def test_hypothesis_given_budget_covers_all_examples(pytester):
    pytester.makepyfile(
        """
        import time
        import pytest
        from hypothesis import given, settings, strategies as st

        @pytest.mark.time_budget(0.1)
        @settings(max_examples=20, deadline=None, database=None)
        @given(st.integers())
        def test_many_examples(n):
            time.sleep(0.02)

        @pytest.mark.memory_budget("64 MiB")
        @settings(max_examples=10, database=None)
        @given(st.integers(min_value=1, max_value=4))
        def test_small_examples(n):
            assert len(b"x" * (n * 2**20)) == n * 2**20
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["time budget exceeded: wall * > budget 100 ms*"])


def test_works_beside_pytest_benchmark(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.time_budget("30s")
        @pytest.mark.memory_budget("64 MiB")
        def test_benchmarked(benchmark):
            assert benchmark(sum, range(100)) == 4950
        """
    )
    result = pytester.runpytest("--benchmark-max-time=0.05", "--benchmark-columns=min")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*budgets (enforce): 1 budgeted, 0 over budget*"])
    result.stdout.fnmatch_lines(["*benchmark: 1 tests*", "test_benchmarked*"])


def test_works_beside_pytest_memray(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.limit_memory("400 MB")
        @pytest.mark.memory_budget("100 MiB")
        def test_both_limits():
            data = b"x" * (300 * 2**20)

        @pytest.mark.limit_memory("100 MB")
        @pytest.mark.memory_budget("100 MiB")
        def test_within_both():
            data = b"x" * (10 * 2**20)
        """
    )
    result = pytester.runpytest("--memray", "--budget-memray", "-ra")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*MEMRAY REPORT*",
            "FAILED *::test_both_limits - memory budget exceeded*",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(["*not tracked by --budget-memray: pytest-memray is tracking this test*"])


def test_budget_memray_shows_allocation_sites_and_pins_the_arrow_pool(pytester):
    pytester.makepyfile(
        """
        import os
        import pytest

        def build_big_buffer():
            return b"x" * (300 * 2**20)

        @pytest.mark.memory_budget("100 MiB")
        def test_big():
            assert os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "system"
            data = build_big_buffer()
        """
    )
    result = pytester.runpytest("--budget-memray")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "memory budget exceeded: peak RSS +* MiB > budget 100 MiB*",
            "*budget: largest allocation sites at the peak*",
            "memray peak 3* MiB (allocator view*",
            "*300.0 MiB*build_big_buffer*test_budget_memray_shows_allocation_sites_and_pins_the_arrow_pool.py:5*",
        ],
        consecutive=False,
    )


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        (["--budget-scale=0"], "", "*the budget scale must be a positive number, got 0.0*"),
        ([], "budget_scale = fast", "*budget_scale = 'fast' in the ini file is not a number*"),
        (["--budget-suggest-margin=0.5"], "", "*--budget-suggest-margin must be at least 1, got 0.5*"),
    ],
)
def test_invalid_scale_and_margin_are_usage_errors(pytester, args, ini, expected):
    pytester.makeini(f"[pytest]\n{ini}\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


def test_setup_failures_and_skips_do_not_leave_a_sampler_running(pytester, monkeypatch):
    """With include_setup the span starts in setup; a setup that never reaches the call must end it."""
    import threading

    from sbir_etl.monitoring import performance

    monkeypatch.setattr(performance, "CLEAR_REFS_PATH", str(pytester.path / "no-such-dir" / "clear_refs"))
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("fixture broke")

        @pytest.fixture
        def unavailable():
            pytest.skip("not here")

        @pytest.mark.memory_budget("100 MiB", include_setup=True)
        def test_broken(broken):
            pass

        @pytest.mark.memory_budget("100 MiB", include_setup=True)
        def test_unavailable(unavailable):
            pass
        """
    )
    threads_before = threading.active_count()
    result = pytester.runpytest("-W", "ignore::pytest_sbir_validate.budget_plugin.BudgetMeasurementWarning")
    result.assert_outcomes(errors=1, skipped=1)
    assert threading.active_count() == threads_before


def test_code_under_test_that_measures_itself_does_not_hide_the_peak(pytester):
    """`enrich_files` resets the high-water mark for its own figures; the budget still sees
    a peak the test reached before that reset."""
    pytester.makepyfile(
        """
        import pytest
        from sbir_etl.monitoring.performance import measure

        @pytest.mark.memory_budget("100 MiB")
        def test_peak_then_inner_measurement():
            block = bytearray(300 * 2**20)
            block[::4096] = b"x" * len(block[::4096])
            del block
            with measure():
                pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*memory budget exceeded: peak RSS +*MiB > budget 100 MiB*"])
