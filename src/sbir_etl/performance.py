"""Wall time, CPU time and peak resident memory of a block of code.

On Linux the kernel's high-water mark (VmHWM) is reset by writing "5" to /proc/self/clear_refs,
which gives the exact peak RSS of a block for ~30 µs, including spikes no sampling thread sees.
Where that is unavailable, the process-lifetime peak (`ru_maxrss`) is reported instead and
`method` says so.
"""

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")
MIB = 1 << 20


def _status_kib(field_name: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_bytes() -> int:
    """Resident set size of this process now."""
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib * 1024
    import psutil

    return psutil.Process().memory_info().rss


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark; False where the platform does not allow it."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int:
    """Peak RSS since the last reset (Linux) or over the process lifetime."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
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
    usage.method = "vmhwm" if reset_peak_rss() else "ru_maxrss"
    usage.start_rss_bytes = current_rss_bytes()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        yield usage
    finally:
        usage.wall_s = time.perf_counter() - wall0
        usage.cpu_s = time.process_time() - cpu0
        usage.peak_rss_bytes = max(peak_rss_bytes(), usage.start_rss_bytes)
