"""Wall time, CPU time and peak resident memory of a block of code.

On Linux the kernel's RSS high-water mark (VmHWM) is reset by writing "5" to
/proc/self/clear_refs, which gives the exact peak RSS of a span for ~30 µs, including spikes no
sampling thread sees. Spans nest: before an inner span resets the mark, the peak reached so far
is credited to every enclosing span, so a budgeted test that calls `enrich_files` (which
measures itself) still sees the whole test's peak. Where the mark cannot be reset, `measure()`
reports the process-lifetime peak (`ru_maxrss`) and says so in `method`.

The pytest plugin's budget markers use these same primitives.
"""

import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

CLEAR_REFS_PATH = "/proc/self/clear_refs"
"""Writing "5" here resets VmHWM; tests point it elsewhere to simulate a system without it."""
STATUS_PATH = "/proc/self/status"
STATM_PATH = "/proc/self/statm"
MIB = 1 << 20
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def reset_high_water_mark() -> None:
    """Reset VmHWM (and ru_maxrss) of this process to its current RSS; OSError where impossible."""
    with open(CLEAR_REFS_PATH, "w") as clear_refs:
        clear_refs.write("5")


def high_water_mark_bytes() -> int:
    """VmHWM: the highest RSS of this process since start or the last reset (ValueError if absent)."""
    with open(STATUS_PATH, "rb") as status:
        text = status.read()
    start = text.index(b"VmHWM:") + len(b"VmHWM:")
    return int(text[start : text.index(b"kB", start)]) * 1024


def current_rss_bytes() -> int:
    """Resident set size of this process now."""
    try:
        with open(STATM_PATH, "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss


@dataclass
class PeakSpan:
    """A span of code whose exact peak RSS is wanted (see `open_span`)."""

    start_bytes: int
    peak_bytes: int


_open_spans: list[PeakSpan] = []


def open_span() -> PeakSpan:
    """Start an exact peak-RSS span; raises OSError/ValueError where VmHWM cannot be reset or read."""
    peak_so_far = high_water_mark_bytes()
    reset_high_water_mark()
    for outer in _open_spans:
        outer.peak_bytes = max(outer.peak_bytes, peak_so_far)
    span = PeakSpan(start_bytes=current_rss_bytes(), peak_bytes=0)
    span.peak_bytes = span.start_bytes
    _open_spans.append(span)
    return span


def close_span(span: PeakSpan) -> int:
    """End `span` and return its peak RSS in bytes (enclosing spans keep accumulating)."""
    peak = high_water_mark_bytes()
    for open_one in _open_spans:
        open_one.peak_bytes = max(open_one.peak_bytes, peak)
    if span in _open_spans:
        _open_spans.remove(span)
    return span.peak_bytes


def lifetime_peak_rss_bytes() -> int:
    """The process's peak RSS as `getrusage` reports it."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@dataclass
class Usage:
    """Filled in when the `measure()` block exits."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    start_rss_bytes: int = 0
    peak_rss_bytes: int = 0
    method: str = "vmhwm"
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def peak_rss_growth_mib(self) -> float:
        return max(0, self.peak_rss_bytes - self.start_rss_bytes) / MIB

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_bytes / MIB


@contextmanager
def measure() -> Iterator[Usage]:
    """Measure the enclosed block: `with measure() as usage: ...; usage.wall_s`."""
    usage = Usage()
    try:
        span: PeakSpan | None = open_span()
    except (OSError, ValueError):
        span, usage.method = None, "ru_maxrss"
    usage.start_rss_bytes = span.start_bytes if span else current_rss_bytes()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        yield usage
    finally:
        usage.wall_s = time.perf_counter() - wall0
        usage.cpu_s = time.process_time() - cpu0
        peak = close_span(span) if span else lifetime_peak_rss_bytes()
        usage.peak_rss_bytes = max(peak, usage.start_rss_bytes)


__all__ = [
    "MIB",
    "PeakSpan",
    "Usage",
    "close_span",
    "current_rss_bytes",
    "high_water_mark_bytes",
    "lifetime_peak_rss_bytes",
    "measure",
    "open_span",
    "reset_high_water_mark",
]
