"""The ``scaling_check`` fixture: fail a test when work grows faster with input size than declared.

A budget catches "this takes 3 s at 10 000 rows"; it does not catch an algorithm that is fine at
the test size and hopeless at production size, like an enricher comparing every award with every
recipient (O(awards × recipients)). ``scaling_check`` runs a function at growing sizes (1×, 2×,
4× a base size by default), fits the slope of log(time) against log(size) and fails the test when
that exponent exceeds ``max_exponent``::

    def test_enrichment_is_near_linear(scaling_check):
        scaling_check(
            lambda data: enrich_frame(*data),
            setup=lambda n: make_awards_and_recipients(n),  # not timed
            base_size=2_000,
            max_exponent=1.2,
        )

Time is process CPU time by default: the exponent is about how much *work* grows, and CPU time
is far less disturbed than wall time by other processes on a shared CI runner. Pass
``timer=time.perf_counter`` for wall time (e.g. for I/O-bound code).

Choose sizes where the function runs for tens of milliseconds or more. Code that builds large
dicts or DataFrames looks super-linear while its data outgrows the CPU caches (measured here: a
dict join of 20 000 -> 80 000 keys fitted an exponent of 2.0, of 200 000 -> 800 000 keys 1.1).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_sbir_validate.budgets import format_duration

DEFAULT_FACTORS = (1, 2, 4)
DEFAULT_REPEATS = 3
#: Timings shorter than this are dominated by timer resolution and scheduling noise.
DEFAULT_MIN_TIME_S = 0.002


class ScalingUsageError(ValueError):
    """``scaling_check`` was called with arguments it cannot work with."""


@dataclass(frozen=True)
class ScalingResult:
    """Sizes, the median time at each size, and the fitted exponent (time ∝ size ** exponent)."""

    sizes: tuple[int, ...]
    times_s: tuple[float, ...]
    exponent: float
    max_exponent: float
    repeats: int
    clock: str

    @property
    def passed(self) -> bool:
        return self.exponent <= self.max_exponent

    def describe(self) -> str:
        """A table of sizes and times, and the verdict, for failure messages and logs."""
        verdict = (
            f"time grows as size^{self.exponent:.2f}, within max_exponent={self.max_exponent:g}"
            if self.passed
            else f"time grows as size^{self.exponent:.2f}, worse than the declared max_exponent={self.max_exponent:g}"
        )
        lines = [verdict, f"  {'size':>10}  {self.clock} time (median of {self.repeats})"]
        previous: tuple[int, float] | None = None
        for size, seconds in zip(self.sizes, self.times_s):
            step = ""
            if previous is not None and previous[1] > 0:
                step = f"   x{seconds / previous[1]:.2f} for x{size / previous[0]:g} size"
            lines.append(f"  {size:>10}  {format_duration(seconds):>10}{step}")
            previous = (size, seconds)
        lines.append(f"  fitted exponent {self.exponent:.2f} (least squares on log-log)")
        return "\n".join(lines)


def fit_exponent(sizes: Sequence[float], times_s: Sequence[float]) -> float:
    """The least-squares slope of log(time) against log(size)."""
    if len(sizes) != len(times_s) or len(sizes) < 2:
        raise ScalingUsageError("fitting an exponent needs at least two (size, time) points")
    if min(sizes) <= 0 or min(times_s) <= 0:
        raise ScalingUsageError("sizes and times must be positive to fit on a log scale")
    xs = [math.log(s) for s in sizes]
    ys = [math.log(t) for t in times_s]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        raise ScalingUsageError("the sizes must differ to fit an exponent")
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread


def measure_scaling(
    func: Callable[[Any], object],
    *,
    base_size: int,
    factors: Sequence[float] = DEFAULT_FACTORS,
    max_exponent: float,
    setup: Callable[[int], Any] | None = None,
    repeats: int = DEFAULT_REPEATS,
    timer: Callable[[], float] = time.process_time,
    min_time_s: float = DEFAULT_MIN_TIME_S,
) -> ScalingResult:
    """Time ``func`` at ``base_size × factor`` for each factor and fit the exponent.

    ``func`` receives ``setup(size)`` (not timed) or, without ``setup``, the size itself. Each
    size is timed ``repeats`` times and the median kept.
    """
    if base_size < 1:
        raise ScalingUsageError(f"base_size must be a positive integer, got {base_size!r}")
    sizes = sorted({max(1, round(base_size * f)) for f in factors})
    if len(sizes) < 2:
        raise ScalingUsageError(f"factors {tuple(factors)!r} give fewer than two distinct sizes")
    if repeats < 1:
        raise ScalingUsageError(f"repeats must be at least 1, got {repeats!r}")
    clock = "CPU" if timer is time.process_time else "wall"
    medians = []
    for size in sizes:
        samples = []
        for _ in range(repeats):
            argument = setup(size) if setup is not None else size
            start = timer()
            func(argument)
            samples.append(timer() - start)
        medians.append(statistics.median(samples))
    if medians[0] < min_time_s:
        raise ScalingUsageError(
            f"at size {sizes[0]} the function took {format_duration(medians[0])} ({clock}), too "
            f"short to fit reliably (minimum {format_duration(min_time_s)}); raise base_size"
        )
    return ScalingResult(
        sizes=tuple(sizes),
        times_s=tuple(medians),
        exponent=fit_exponent(sizes, medians),
        max_exponent=max_exponent,
        repeats=repeats,
        clock=clock,
    )


class ScalingFixture:
    """Holds the ``scaling_check`` fixture (registered by the plugin)."""

    @pytest.fixture
    def scaling_check(self) -> Callable[..., ScalingResult]:
        """Run a function at growing sizes; fail the test when time grows faster than
        ``size ** max_exponent``. Same arguments as :func:`measure_scaling`; returns the
        :class:`ScalingResult` when the check passes."""

        def check(func: Callable[[Any], object], **kwargs: Any) -> ScalingResult:
            if "max_exponent" not in kwargs:
                raise ScalingUsageError(
                    "scaling_check needs max_exponent=..., the worst growth you accept "
                    "(1.0 linear, 1.2 n·log n with margin, 2.0 quadratic)"
                )
            try:
                result = measure_scaling(func, **kwargs)
            except ScalingUsageError as error:
                pytest.fail(f"scaling_check: {error}", pytrace=False)
            if not result.passed:
                pytest.fail(f"scaling check failed: {result.describe()}", pytrace=False)
            return result

        return check


def configure(config: pytest.Config) -> None:
    """Register the ``scaling_check`` fixture (called from the plugin's ``pytest_configure``)."""
    config.pluginmanager.register(ScalingFixture(), "sbir_scaling")


__all__ = [
    "DEFAULT_FACTORS",
    "ScalingFixture",
    "ScalingResult",
    "ScalingUsageError",
    "configure",
    "fit_exponent",
    "measure_scaling",
]
