"""Trend verdicts: a one-sided exact Mann–Whitney U test over the latest K runs, not two medians."""

from __future__ import annotations

import itertools
import random
import statistics

import pytest
from report_histories import jittered

from sbir_etl.monitoring.reporting import build_report
from sbir_etl.monitoring.trends import Direction, TrendPolicy, judge_trend, rank_sum_p_values

TESTS = [f"tests/core/test_fast.py::test_{i}" for i in range(30)]


def brute_force_p_greater(older: list[float], newer: list[float]) -> float:
    """P(rank sum of `newer` >= observed) over every way of choosing which values are newer."""
    pooled = older + newer
    ordered = sorted(pooled)
    mid_rank = {v: statistics.mean(i + 1 for i, w in enumerate(ordered) if w == v) for v in pooled}
    ranks = [mid_rank[v] for v in pooled]
    observed = sum(ranks[len(older) :])
    sums = [sum(c) for c in itertools.combinations(ranks, len(newer))]
    return sum(s >= observed - 1e-9 for s in sums) / len(sums)


def test_fully_separated_halves_have_the_smallest_exact_p_value() -> None:
    p_greater, p_less = rank_sum_p_values([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert p_greater == pytest.approx(1 / 252) and p_less == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(20))
def test_exact_p_values_match_enumeration_including_ties(seed: int) -> None:
    rng = random.Random(seed)
    n_old, n_new = rng.randint(1, 6), rng.randint(1, 6)
    values = [float(rng.choice([1, 2, 2, 3, 5, 8, 8, 13])) for _ in range(n_old + n_new)]
    older, newer = values[:n_old], values[n_old:]
    p_greater, p_less = rank_sum_p_values(older, newer)
    assert p_greater == pytest.approx(brute_force_p_greater(older, newer))
    assert p_less == pytest.approx(brute_force_p_greater([-v for v in older], [-v for v in newer]))


def test_all_equal_values_are_no_evidence_either_way() -> None:
    assert rank_sum_p_values([0.5] * 5, [0.5] * 5) == (1.0, 1.0)


def test_three_runs_of_jittery_millisecond_tests_give_no_degrading_verdict() -> None:
    history = jittered(TESTS, runs=3, jitter=0.4, seed=3)
    report = build_report(history.runs, history.results, source="mem")
    assert {t.direction for t in report.trends} == {Direction.INSUFFICIENT}


def test_a_test_slowed_twice_for_five_runs_is_degrading_and_its_neighbours_are_not() -> None:
    # 5 normal runs, then test 7 takes twice as long for 5 runs; every test jitters by +-25 %.
    history = jittered(TESTS, runs=10, slow=lambda test, run: 2.0 if test == 7 and run >= 5 else 1.0, seed=1)
    report = build_report(history.runs, history.results, source="mem")
    degrading = [(t.test_id, t.metric) for t in report.trends if t.direction is Direction.DEGRADING]
    assert degrading == [(TESTS[7], "time")]
    [slowed] = [t for t in report.trends if t.test_id == TESTS[7] and t.metric == "time"]
    assert slowed.p_value is not None and slowed.p_value <= 0.01 and slowed.change == pytest.approx(100, abs=30)


def test_noise_alone_rarely_looks_like_a_trend() -> None:
    """200 tests x 10 runs of pure +-25 % jitter: false "degrading" verdicts stay near alpha (1 %)."""
    tests = [f"t{i}" for i in range(200)]
    history = jittered(tests, runs=10, seed=11)
    report = build_report(history.runs, history.results, source="mem")
    time_trends = [t for t in report.trends if t.metric == "time"]
    assert len(time_trends) == 200
    assert sum(t.direction is Direction.DEGRADING for t in time_trends) <= 4


def test_one_slow_run_is_not_a_trend() -> None:
    values = [0.010, 0.011, 0.0105, 0.0098, 0.0102, 0.0101, 0.0099, 0.0103, 0.0100, 0.035]
    assert judge_trend("t", "ci", "time", values).direction is Direction.STABLE


def test_a_significant_but_tiny_drift_is_stable() -> None:
    values = [1.00, 1.001, 1.002, 1.003, 1.004, 1.02, 1.021, 1.022, 1.023, 1.024]  # +2 %, perfectly ordered
    trend = judge_trend("t", "ci", "time", values)
    assert trend.p_value == pytest.approx(1 / 252) and trend.direction is Direction.STABLE


def test_directions_follow_what_is_better_for_each_metric() -> None:
    faster = [0.2] * 5 + [0.1] * 5
    assert judge_trend("t", "ci", "time", faster).direction is Direction.IMPROVING
    lower_rate = [0.86, 0.861, 0.859, 0.86, 0.862, 0.84, 0.841, 0.839, 0.84, 0.842]
    trend = judge_trend("t", "ci", "match_rate", lower_rate)
    assert trend.direction is Direction.DEGRADING and trend.change == pytest.approx(-2.0)


def test_memory_changes_need_a_mebibyte_as_well_as_five_percent() -> None:
    tiny = [0.1] * 5 + [0.3] * 5  # +200 %, but 0.2 MiB
    assert judge_trend("t", "ci", "memory", tiny).direction is Direction.STABLE
    real = [100.0] * 5 + [130.0] * 5
    assert judge_trend("t", "ci", "memory", real).direction is Direction.DEGRADING


def test_policy_states_its_window_threshold_and_minimum_runs() -> None:
    policy = TrendPolicy()
    assert (policy.window, policy.alpha, policy.min_runs) == (10, 0.01, 9)
    text = policy.describe()
    assert "latest 10 passed runs" in text and "p ≤ 0.01" in text and "fewer than 9 runs" in text
    assert TrendPolicy(window=20, alpha=0.05).min_runs == 6  # 3 vs 3: 1/20 = 0.05
    assert judge_trend("t", "ci", "time", [0.1] * 4 + [0.2] * 4).direction is Direction.INSUFFICIENT  # 8 < 9


@pytest.mark.parametrize(("window", "alpha"), [(1, 0.01), (201, 0.01), (10, 0.0), (10, 1.0)])
def test_policy_refuses_meaningless_settings(window: int, alpha: float) -> None:
    with pytest.raises(ValueError):
        TrendPolicy(window=window, alpha=alpha)


def test_the_window_keeps_only_the_latest_runs() -> None:
    values = [5.0] * 10 + [1.0] * 10  # an old slowdown, long gone, is outside a 10-run window
    assert judge_trend("t", "ci", "time", values).direction is Direction.STABLE
    assert judge_trend("t", "ci", "time", values, TrendPolicy(window=20)).direction is Direction.IMPROVING
