"""Regression gates: thresholds, the median baseline, noise floors and messages."""

from __future__ import annotations

import pytest

from sbir_etl.monitoring.regression import GateThresholds, Sample, judge_regression
from sbir_etl.outcomes import Status


def history(*wall_s: float, mib: float | None = None, rate: float | None = None) -> list[Sample]:
    return [Sample(wall_s=w, peak_rss_growth_mib=mib, match_rate=rate) for w in wall_s]


def gate(verdict, metric):
    [found] = [g for g in verdict.gates if g.name == metric]
    return found


def test_no_history_establishes_the_baseline_and_never_fails() -> None:
    verdict = judge_regression("t", Sample(wall_s=100.0, peak_rss_growth_mib=1e6, match_rate=0.0), [])
    assert verdict.status is Status.BASELINE
    assert "baseline established" in verdict.summary


@pytest.mark.parametrize(
    ("current", "expected"),
    [(1.09, Status.PASS), (1.10, Status.WARN), (1.24, Status.WARN), (1.25, Status.FAIL)],
)
def test_time_thresholds_are_10_percent_warn_25_percent_fail(current, expected) -> None:
    verdict = judge_regression("t", Sample(wall_s=current), history(1.0, 1.0, 1.0))
    assert gate(verdict, "time").status is expected


def test_baseline_is_the_median_of_the_last_k_runs() -> None:
    # newest first; only the first 5 count, median 1.0 despite the 9.0 outlier and old 0.1 runs
    previous = history(1.0, 9.0, 0.9, 1.1, 1.0, 0.1, 0.1, 0.1)
    verdict = judge_regression("t", Sample(wall_s=1.3), previous)
    time_gate = gate(verdict, "time")
    assert time_gate.baseline == 1.0
    assert time_gate.status is Status.FAIL
    assert verdict.baseline_runs == 5


def test_failure_message_says_what_how_much_and_the_limit() -> None:
    verdict = judge_regression("t", Sample(wall_s=1.92), history(1.41, 1.41, 1.41, 1.41, 1.41))
    assert verdict.status is Status.FAIL
    assert verdict.messages() == ["time regression: 1.92 s vs baseline 1.41 s (median of 5 runs): +36 %, fail at +25 %"]


def test_memory_thresholds_are_20_percent_warn_50_percent_fail() -> None:
    previous = history(1.0, 1.0, mib=100.0)
    assert gate(judge_regression("t", Sample(peak_rss_growth_mib=119), previous), "memory").status is Status.PASS
    assert gate(judge_regression("t", Sample(peak_rss_growth_mib=130), previous), "memory").status is Status.WARN
    failed = gate(judge_regression("t", Sample(peak_rss_growth_mib=150), previous), "memory")
    assert failed.status is Status.FAIL
    assert failed.message == (
        "memory regression: 150.0 MiB vs baseline 100.0 MiB (median of 2 runs): +50 %, fail at +50 %"
    )


def test_match_rate_drop_of_5_points_fails_and_gains_pass() -> None:
    previous = history(1.0, rate=0.85)
    dropped = gate(judge_regression("t", Sample(match_rate=0.79), previous), "match_rate")
    assert dropped.status is Status.FAIL
    assert "-6.0 points, fail at -5 points" in dropped.message
    assert gate(judge_regression("t", Sample(match_rate=0.81), previous), "match_rate").status is Status.PASS
    assert gate(judge_regression("t", Sample(match_rate=0.95), previous), "match_rate").status is Status.PASS


def test_tiny_timings_below_the_noise_floor_are_not_regressions() -> None:
    # +100 % but 10 ms -> 20 ms: baseline under 50 ms and delta under 20 ms
    assert judge_regression("t", Sample(wall_s=0.020), history(0.010)).status is Status.PASS
    # a tiny baseline that grows by a lot is still caught
    assert judge_regression("t", Sample(wall_s=0.200), history(0.010)).status is Status.FAIL


def test_memory_growth_from_zero_is_caught_above_the_noise_floor() -> None:
    previous = history(1.0, mib=0.0)
    assert judge_regression("t", Sample(peak_rss_growth_mib=4.0), previous).status is Status.PASS
    grown = gate(judge_regression("t", Sample(peak_rss_growth_mib=64.0), previous), "memory")
    assert grown.status is Status.FAIL and "from zero" in grown.message


def test_a_metric_new_to_this_test_is_its_own_baseline() -> None:
    verdict = judge_regression("t", Sample(wall_s=1.0, match_rate=0.5), history(1.0))
    assert gate(verdict, "match_rate").status is Status.BASELINE
    assert verdict.status is Status.PASS


def test_thresholds_are_configurable_and_none_disables_a_level() -> None:
    lenient = GateThresholds(time_warn_pct=None, time_fail_pct=100.0, baseline_runs=1)
    assert judge_regression("t", Sample(wall_s=1.9), history(1.0, 0.1), lenient).status is Status.PASS
    assert judge_regression("t", Sample(wall_s=2.0), history(1.0, 0.1), lenient).status is Status.FAIL


def test_inconsistent_thresholds_are_rejected() -> None:
    with pytest.raises(ValueError, match="time_warn_pct=30"):
        GateThresholds(time_warn_pct=30, time_fail_pct=25)
    with pytest.raises(ValueError, match="baseline_runs"):
        GateThresholds(baseline_runs=0)


def test_sample_of_a_stored_result_takes_time_memory_and_match_rate() -> None:
    from sbir_etl.monitoring.history import QualityMetrics, TestResult

    with_quality = TestResult(
        "r", "t", "passed", wall_s=1.5, peak_rss_growth_mib=40.0, quality=QualityMetrics(match_rate=0.82)
    )
    assert Sample.of(with_quality) == Sample(wall_s=1.5, peak_rss_growth_mib=40.0, match_rate=0.82)
    assert Sample.of(TestResult("r", "t", "passed", wall_s=0.5)) == Sample(wall_s=0.5)


def test_match_rate_warning_names_its_threshold() -> None:
    warned = gate(
        judge_regression(
            "t", Sample(match_rate=0.82), history(1.0, rate=0.85), GateThresholds(match_rate_warn_points=2.0)
        ),
        "match_rate",
    )
    assert warned.status is Status.WARN
    assert warned.message == (
        "match rate regression: 82.0% vs baseline 85.0% (median of 1 run): -3.0 points, warn at -2 points"
    )
