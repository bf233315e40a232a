"""Reading budget limits, judging measurements and rounding suggestions (pure functions)."""

import pytest

from pytest_sbir_validate.budget_report import BudgetRecord, suggest
from pytest_sbir_validate.budgets import (
    BudgetValueError,
    MemoryBudget,
    TimeBudget,
    format_duration,
    judge_memory,
    judge_time,
    parse_duration,
    parse_size,
)

MIB = 2**20


@pytest.mark.parametrize(
    ("written", "seconds"),
    [(0.5, 0.5), (3, 3.0), ("250ms", 0.25), ("3s", 3.0), ("1.5 s", 1.5), ("2min", 120.0), ("500us", 0.0005)],
)
def test_durations_read_as_seconds(written, seconds):
    assert parse_duration(written) == pytest.approx(seconds)


@pytest.mark.parametrize("written", ["3 hours", "fast", "", "-1s", 0, -2, True, None, "1e3s", float("nan")])
def test_unreadable_durations_name_the_accepted_forms(written):
    with pytest.raises(BudgetValueError, match='"250ms", "3s"'):
        parse_duration(written)


@pytest.mark.parametrize(
    ("written", "size", "unit"),
    [
        ("512 MiB", 512 * 2**20, "MiB"),
        ("1.5GiB", int(1.5 * 2**30), "GiB"),
        ("800MB", 800 * 10**6, "MB"),
        ("64 kB", 64_000, "kB"),
        ("2 KiB", 2048, "KiB"),
        ("1 mib", 2**20, "MiB"),
    ],
)
def test_sizes_are_decimal_with_mb_and_binary_with_mib(written, size, unit):
    assert parse_size(written) == (size, unit)


@pytest.mark.parametrize("written", [800, "800", "800 M", "lots", "0 MiB", "-5MiB", 1.5])
def test_unreadable_sizes_name_the_accepted_forms(written):
    with pytest.raises(BudgetValueError, match="MiB"):
        parse_size(written)


def test_memory_message_speaks_the_budget_unit_and_percent():
    verdict = judge_memory(MemoryBudget(800 * MIB, "MiB"), int(912.4 * MIB))
    assert verdict.exceeded
    assert verdict.message == "memory budget exceeded: peak RSS +912.4 MiB > budget 800 MiB (114%)"
    decimal = judge_memory(MemoryBudget(800 * 10**6, "MB"), 900 * 10**6)
    assert decimal.message == "memory budget exceeded: peak RSS +900.0 MB > budget 800 MB (112%)"


def test_memory_within_budget_is_not_exceeded():
    verdict = judge_memory(MemoryBudget(100 * MIB, "MiB"), 40 * MIB)
    assert not verdict.exceeded
    assert verdict.percent == pytest.approx(40.0)


def test_time_is_judged_on_wall_or_cpu_after_scaling():
    wall_budget = TimeBudget(0.1)
    assert judge_time(wall_budget, wall_s=0.3, cpu_s=0.0).message == (
        "time budget exceeded: wall 300 ms > budget 100 ms (300%)"
    )
    scaled = judge_time(wall_budget, wall_s=0.3, cpu_s=0.0, scale=4)
    assert not scaled.exceeded
    assert "100 ms x budget scale 4" in scaled.message
    cpu_budget = TimeBudget(0.1, cpu=True)
    assert not judge_time(cpu_budget, wall_s=5.0, cpu_s=0.05).exceeded
    assert judge_time(cpu_budget, wall_s=0.05, cpu_s=0.2).message.startswith("time budget exceeded: CPU 200 ms")


def test_durations_format_readably():
    assert [format_duration(s) for s in (0.00005, 0.25, 3, 150)] == ["50 us", "250 ms", "3 s", "2.5 min"]


def _record(nodeid, wall_s, growth):
    return BudgetRecord(nodeid=nodeid, wall_s=wall_s, cpu_s=wall_s, peak_rss_growth_bytes=growth, method="vmhwm")


def test_suggestions_take_the_worst_case_per_function_and_round_up():
    records = [
        _record("t.py::test_a[1]", 0.30, 90 * MIB),
        _record("t.py::test_a[2]", 0.10, 200 * MIB),
        _record("t.py::test_b", 0.0001, 0),
    ]
    a, b = suggest(records, margin=1.5, scale=1.0)
    assert (a.test, a.cases, a.time_budget, a.memory_budget) == ("t.py::test_a", 2, "500ms", "300 MiB")
    assert (b.time_budget, b.memory_budget) == ("50ms", "16 MiB")  # the floors


def test_suggestions_undo_the_budget_scale():
    (suggestion,) = suggest([_record("t.py::test_a", 4.0, 0)], margin=1.0, scale=2.0)
    assert suggestion.time_budget == "2s"
