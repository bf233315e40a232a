"""Measuring what one test costs: wall time, CPU time and peak RSS growth.

Peak RSS is measured exactly on Linux: writing ``5`` to ``/proc/self/clear_refs`` resets the
kernel's RSS high-water mark (``VmHWM`` in ``/proc/self/status``) to the current RSS, so the
``VmHWM`` read after the test is the highest RSS the process reached during it, however briefly
and whether or not the GIL was held. Reset plus two reads cost about 40 us.

Where that reset is unavailable (macOS, a masked or read-only ``/proc``, kernels before 4.0) the
:class:`FallbackPeakRssMeter` combines ``ru_maxrss`` (exact, but only when the test set a new
process-wide high) with a thread sampling RSS every few milliseconds (misses short spikes, and
spikes made while the GIL is held). The plugin warns once, saying why.

Child processes: their CPU time is included once they have been waited for. Their peak RSS is
added when ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` rises during the test above both its earlier
value and this process's own peak of the span: a child's ``ru_maxrss`` starts at the parent's
high-water mark at fork, so only a value above that is certainly the child's own. Children that
use less memory than the pytest process, or less than an earlier child, are not counted. See
``docs/budgets.md``.
"""

from __future__ import annotations

import resource
import sys
import threading
import time
from dataclasses import dataclass
from typing import Literal, Protocol

import psutil
import pytest

from sbir_etl.monitoring import performance

SAMPLING_INTERVAL_S = 0.002
"""How often the fallback sampler reads RSS; shorter spikes are only seen through ``ru_maxrss``."""

# ru_maxrss is in kilobytes on Linux and in bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024

Method = Literal["vmhwm", "ru_maxrss", "sampling"]


@dataclass(frozen=True)
class Measurement:
    """What one test phase cost."""

    wall_s: float
    cpu_s: float
    """Process user+sys CPU, plus the CPU of child processes that were waited for."""
    peak_rss_growth_bytes: int
    """Peak RSS during the measured span minus RSS at its start (>= 0), plus the peak RSS of a
    child process of the span when it is certainly the child's own (see the module docstring)."""
    method: str
    """How the peak was found: "vmhwm" (exact), "ru_maxrss" (exact, a new process high) or
    "sampling" (RSS polled every few ms; short spikes can be missed)."""


MEASUREMENT_KEY = pytest.StashKey[Measurement]()
"""``item.stash``: set once the call phase (and setup if a budget includes it) has been measured,
before ``pytest_runtest_makereport`` runs for the call phase."""


class PeakRssMeter(Protocol):
    """Finds the peak RSS of this process between :meth:`start` and :meth:`stop`."""

    def start(self) -> int:
        """Begin a span; return the RSS in bytes at its start."""

    def stop(self, baseline_bytes: int) -> tuple[int, Method]:
        """End the span; return the peak growth over ``baseline_bytes`` (>= 0) and the method used."""


class HighWaterMarkMeter:
    """Exact peak RSS from the kernel's high-water mark, reset at the start of every span.

    Spans come from `sbir_etl.monitoring.performance`, so code under test that measures itself (such as
    `enrich_files`) does not hide the part of the test's peak reached before its own reset."""

    def __init__(self) -> None:
        self._span: performance.PeakSpan | None = None

    def start(self) -> int:
        self._span = performance.open_span()
        return self._span.start_bytes

    def stop(self, baseline_bytes: int) -> tuple[int, Method]:
        assert self._span is not None, "stop() without start()"
        peak, self._span = performance.close_span(self._span), None
        return max(0, peak - baseline_bytes), "vmhwm"


class FallbackPeakRssMeter:
    """Peak RSS without a resettable high-water mark: ``ru_maxrss`` when the test set a new
    process high, otherwise the highest RSS a background thread sampled."""

    def __init__(self, interval_s: float = SAMPLING_INTERVAL_S) -> None:
        self._interval_s = interval_s
        self._process = psutil.Process()
        self._maxrss_at_start = 0
        self._sampled_peak = 0
        self._stop_sampling = threading.Event()
        self._sampler: threading.Thread | None = None

    def start(self) -> int:
        self._halt_sampler()
        baseline: int = self._process.memory_info().rss
        self._maxrss_at_start = _ru_maxrss_bytes(resource.RUSAGE_SELF)
        self._sampled_peak = baseline
        self._stop_sampling = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="sbir-budget-rss-sampler", daemon=True)
        self._sampler.start()
        return baseline

    def stop(self, baseline_bytes: int) -> tuple[int, Method]:
        self._halt_sampler()
        self._sampled_peak = max(self._sampled_peak, self._process.memory_info().rss)
        maxrss = _ru_maxrss_bytes(resource.RUSAGE_SELF)
        if maxrss > self._maxrss_at_start:
            return max(0, maxrss - baseline_bytes), "ru_maxrss"
        return max(0, self._sampled_peak - baseline_bytes), "sampling"

    def _sample(self) -> None:
        while not self._stop_sampling.wait(self._interval_s):
            self._sampled_peak = max(self._sampled_peak, self._process.memory_info().rss)

    def _halt_sampler(self) -> None:
        if self._sampler is not None:
            self._stop_sampling.set()
            self._sampler.join()
            self._sampler = None


def choose_peak_rss_meter() -> tuple[PeakRssMeter, str | None]:
    """The exact meter when the high-water mark can be reset here, else the fallback and why."""
    try:
        performance.reset_high_water_mark()
        performance.high_water_mark_bytes()
    except OSError as error:
        reason = (
            f"the peak-RSS high-water mark cannot be reset on this system ({type(error).__name__}: {error}); "
            "peak RSS falls back to ru_maxrss (exact only when a test sets a new process high) and "
            f"RSS sampling every {SAMPLING_INTERVAL_S * 1000:g} ms, which can miss short spikes"
        )
        return FallbackPeakRssMeter(), reason
    except ValueError as error:  # /proc/self/status without VmHWM (e.g. gVisor)
        reason = (
            f"{performance.STATUS_PATH} has no readable VmHWM line ({error}); peak RSS falls back to ru_maxrss "
            f"and RSS sampling every {SAMPLING_INTERVAL_S * 1000:g} ms, which can miss short spikes"
        )
        return FallbackPeakRssMeter(), reason
    return HighWaterMarkMeter(), None


def _ru_maxrss_bytes(who: int) -> int:
    return resource.getrusage(who).ru_maxrss * _MAXRSS_UNIT


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class TestCostRecorder:
    """Measures the setup and call phases of one test into one :class:`Measurement`.

    Time counts the call, plus setup when ``time_includes_setup``. Peak RSS growth is measured
    from the start of setup when ``memory_includes_setup``, else from the start of the call.
    """

    __test__ = False  # not a test class, despite the name

    def __init__(self, meter: PeakRssMeter, *, time_includes_setup: bool, memory_includes_setup: bool) -> None:
        self._meter = meter
        self._time_includes_setup = time_includes_setup
        self._memory_phase = "setup" if memory_includes_setup else "call"
        self._baseline_rss: int | None = None
        self._children_maxrss_at_start = 0
        self._wall_s = 0.0
        self._cpu_s = 0.0
        self._phase_start = (0.0, 0.0, 0.0)

    def begin(self, when: Literal["setup", "call"]) -> None:
        """Start measuring phase ``when``."""
        if when == self._memory_phase:
            self._children_maxrss_at_start = _ru_maxrss_bytes(resource.RUSAGE_CHILDREN)
            self._baseline_rss = self._meter.start()
        self._phase_start = (time.perf_counter(), time.process_time(), _children_cpu_s())

    def end(self, when: Literal["setup", "call"]) -> Measurement | None:
        """Stop measuring phase ``when``; after the call phase, return the whole measurement."""
        wall0, cpu0, children_cpu0 = self._phase_start
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0 + _children_cpu_s() - children_cpu0
        if when == "call" or self._time_includes_setup:
            self._wall_s += wall
            self._cpu_s += cpu
        if when != "call" or self._baseline_rss is None:
            return None
        growth, method = self._meter.stop(self._baseline_rss)
        children_maxrss = _ru_maxrss_bytes(resource.RUSAGE_CHILDREN)
        # A child's ru_maxrss starts at this process's high-water mark when it forked (the kernel
        # copies it), so only a value above our own peak of this span must be the child's own.
        if children_maxrss > max(self._children_maxrss_at_start, self._baseline_rss + growth):
            growth += children_maxrss
        self._baseline_rss = None
        return Measurement(wall_s=self._wall_s, cpu_s=self._cpu_s, peak_rss_growth_bytes=growth, method=method)

    def abandon(self) -> None:
        """Stop a span that will never reach the end of its call phase (setup failed or was skipped)."""
        if self._baseline_rss is not None:
            self._meter.stop(self._baseline_rss)
            self._baseline_rss = None


__all__ = [
    "MEASUREMENT_KEY",
    "FallbackPeakRssMeter",
    "HighWaterMarkMeter",
    "Measurement",
    "PeakRssMeter",
    "TestCostRecorder",
    "choose_peak_rss_meter",
]
