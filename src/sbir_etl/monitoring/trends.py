"""Trend verdicts that respect noise: a metric is "degrading" only when a statistical test says so.

The regression gates (:mod:`sbir_etl.monitoring.regression`) judge *one run* against a baseline;
a trend judges the *latest K runs* of a test as a whole. Timings of millisecond tests jitter by
tens of percent from run to run, so comparing two medians would call noise a regression. Here,
as airspeed velocity (asv) does when it compares benchmark samples, the older and the newer half
of the window are compared with a one-sided **Mann–Whitney U test** (rank-sum test; exact
distribution, ties get mid-ranks), and a metric is:

* ``degrading`` when the newer half is significantly worse (p <= ``alpha``) *and* its median moved
  by at least the minimum effect (a consistent 1 % drift is real but not worth a reader's time);
* ``improving`` likewise in the better direction;
* ``insufficient data`` when the window holds too few runs for any arrangement to reach ``alpha``
  (with ``alpha = 0.01`` that is fewer than 9 runs: 4 against 5 runs is the smallest split whose
  most extreme ordering has p = 1/126 < 0.01);
* ``stable`` otherwise.

With the defaults (K = 10 runs, alpha = 0.01) a test is called degrading when its 5 newest runs
are all (or all but one inversion) slower than its 5 runs before and the medians differ by 5 % or
more; one slow run among ten is never a trend. Under pure noise the chance of a "degrading"
verdict per metric is below alpha (0.79 % for a 5/5 split).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import numpy as np


class Direction(str, Enum):
    """What a trend verdict says about a metric (its value is the text reports show)."""

    DEGRADING = "degrading"
    IMPROVING = "improving"
    STABLE = "stable"
    INSUFFICIENT = "insufficient data"


#: The metrics a trend is computed for, and whether a lower value is better.
LOWER_IS_BETTER = {"time": True, "memory": True, "match_rate": False}


@dataclass(frozen=True)
class TrendPolicy:
    """When a trend is called a change; every figure is stated in the report it produces.

    ``window`` is K, the number of latest passed runs looked at; ``alpha`` the one-sided p-value at
    or below which the newer half counts as different from the older half. The minimum effects
    are the smallest median change worth reporting: percent for time and memory (memory also in
    MiB, since 0.1 -> 0.2 MiB is +100 % of nothing), percentage points for the match rate.
    """

    window: int = 10
    alpha: float = 0.01
    min_change_pct: float = 5.0
    min_change_mib: float = 1.0
    min_change_points: float = 1.0

    def __post_init__(self) -> None:
        if not 2 <= self.window <= 200:
            raise ValueError(f"the trend window must cover 2 to 200 runs, got {self.window}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"the trend significance level alpha must be in (0, 1), got {self.alpha}")

    @property
    def min_runs(self) -> int:
        """The fewest runs with which a verdict other than "insufficient data" is possible."""
        return next((n for n in range(2, 401) if 1 / math.comb(n, n - n // 2) <= self.alpha), 401)

    def describe(self) -> str:
        """One sentence for reports: how a verdict is reached."""
        return (
            f"A trend compares the older and the newer half of each test's latest {self.window} passed runs "
            f"with a one-sided Mann–Whitney U test: degrading or improving only when p ≤ {self.alpha:g} and "
            f"the median moved by at least {self.min_change_pct:g} % (memory also {self.min_change_mib:g} MiB; "
            f"match rate {self.min_change_points:g} points); fewer than {self.min_runs} runs is insufficient data."
        )


@dataclass(frozen=True)
class Trend:
    """How one metric of one test moved over its latest ``runs`` passed results.

    ``before``/``after`` are the medians of the older and the newer half of the window;
    ``change`` is in percent (time, memory) or percentage points (match rate); ``p_value`` is the
    one-sided Mann–Whitney p-value in the direction the medians moved (``None`` below 2 runs).
    """

    test_id: str
    machine_class: str
    metric: str
    runs: int
    before: float | None
    after: float | None
    change: float | None
    p_value: float | None
    direction: Direction

    @property
    def change_text(self) -> str:
        """``+12.5 %``, ``-3.0 points``, ``from zero`` (growth from nothing), ``–`` (too few runs)."""
        if self.change is None:
            return "–"
        if math.isinf(self.change):
            return "from zero"
        return f"{self.change:+.1f}" + (" points" if self.metric == "match_rate" else " %")


def judge_trend(
    test_id: str,
    machine_class: str,
    metric: str,
    values: Sequence[float | None],
    policy: TrendPolicy = TrendPolicy(),
) -> Trend:
    """The verdict on ``values`` (oldest first; ``None`` = not measured, left out) of one metric."""
    present = [float(v) for v in values if v is not None][-policy.window :]
    if len(present) < 2:
        latest = present[-1] if present else None
        return Trend(test_id, machine_class, metric, len(present), None, latest, None, None, Direction.INSUFFICIENT)
    older, newer = present[: len(present) // 2], present[len(present) // 2 :]
    before, after = statistics.median(older), statistics.median(newer)
    change = _change(metric, before, after)
    p_greater, p_less = rank_sum_p_values(older, newer)
    p_value = p_greater if after >= before else p_less
    direction = _direction(metric, len(present), before, after, change, p_greater, p_less, policy)
    return Trend(test_id, machine_class, metric, len(present), before, after, change, p_value, direction)


def rank_sum_p_values(older: Sequence[float], newer: Sequence[float]) -> tuple[float, float]:
    """One-sided exact Mann–Whitney p-values ``(P(newer tends larger), P(newer tends smaller))``.

    Exact under the permutation distribution of the rank sum of ``newer``, ties at mid-ranks; a
    tie-free window of a given size always has the same null distribution, which is cached.
    """
    pooled = np.concatenate([np.asarray(older, dtype=float), np.asarray(newer, dtype=float)])
    doubled_ranks = _doubled_mid_ranks(pooled)
    observed = int(doubled_ranks[len(older) :].sum())
    counts = _rank_sum_counts(tuple(sorted(doubled_ranks.tolist())), len(newer))
    total = counts.sum()
    return float(counts[observed:].sum() / total), float(counts[: observed + 1].sum() / total)


def _doubled_mid_ranks(values: np.ndarray) -> np.ndarray:
    """Twice the 1-based mid-ranks of ``values``: integers, so rank sums can index an array."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=np.int64)
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = start + end + 2  # (start+1 + end+1) = twice the mid-rank
        start = end + 1
    return ranks


@lru_cache(maxsize=4096)
def _rank_sum_counts(doubled_ranks: tuple[int, ...], take: int) -> np.ndarray:
    """``counts[s]``: how many ways to pick ``take`` of ``doubled_ranks`` whose sum is ``s``.

    Float counts: C(200, 100) overflows int64, and p-values need no more than float precision.
    """
    by_size = np.zeros((take + 1, sum(doubled_ranks) + 1))
    by_size[0, 0] = 1.0
    for rank in doubled_ranks:
        # Largest subset size first, so each rank is used at most once per subset.
        by_size[1:, rank:] += by_size[:-1, : by_size.shape[1] - rank].copy()
    return by_size[take]


def _change(metric: str, before: float, after: float) -> float:
    if metric == "match_rate":
        return (after - before) * 100
    if before > 0:
        return (after - before) / before * 100
    return 0.0 if after == before else math.inf


def _direction(
    metric: str,
    runs: int,
    before: float,
    after: float,
    change: float,
    p_greater: float,
    p_less: float,
    policy: TrendPolicy,
) -> Direction:
    if runs < policy.min_runs:
        return Direction.INSUFFICIENT
    if metric == "match_rate":
        large_enough = abs(change) >= policy.min_change_points
    else:
        large_enough = abs(change) >= policy.min_change_pct
        if metric == "memory":
            large_enough = large_enough and abs(after - before) >= policy.min_change_mib
    rose = after > before and p_greater <= policy.alpha
    fell = after < before and p_less <= policy.alpha
    if not large_enough or not (rose or fell):
        return Direction.STABLE
    return Direction.DEGRADING if rose == LOWER_IS_BETTER[metric] else Direction.IMPROVING


__all__ = ["Direction", "LOWER_IS_BETTER", "Trend", "TrendPolicy", "judge_trend", "rank_sum_p_values"]
