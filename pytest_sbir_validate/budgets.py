"""Time and memory budgets: parsing the limits users write, and judging a measurement against them.

A budget is what a test may spend; a :class:`~pytest_sbir_validate.measurement.Measurement` is
what it did spend. This module turns ``"250ms"`` or ``"512 MiB"`` into numbers, and a
measurement plus a budget into a :class:`Verdict` whose message tells the user what was exceeded
and by how much.

Units (documented in ``docs/budgets.md``):

* durations: a positive number of seconds (``0.5``) or a string ``"<number> <unit>"`` with unit
  ``us``, ``ms``, ``s`` or ``min`` (``"250ms"``, ``"3s"``, ``"1.5 s"``, ``"2min"``);
* sizes: a string ``"<number> <unit>"``; decimal units ``B kB MB GB TB`` are powers of 10
  (1 MB = 10**6 bytes) and binary units ``KiB MiB GiB TiB`` are powers of 2
  (1 MiB = 2**20 bytes). A bare number is rejected: "800" could mean bytes or megabytes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from sbir_etl.outcomes import Outcome, Status

DURATION_FORMS = 'a positive number of seconds (0.5) or a string such as "250ms", "3s", "1.5 s", "2min"'
SIZE_FORMS = (
    'a string such as "512 MiB", "1.5GiB", "800MB"; binary units KiB/MiB/GiB/TiB are powers of 2, '
    "decimal units kB/MB/GB/TB are powers of 10"
)

_DURATION_UNITS: dict[str, float] = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "min": 60.0}
_SIZE_UNITS: dict[str, int] = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_CANONICAL_SIZE_UNIT = {
    "b": "B",
    "kb": "kB",
    "mb": "MB",
    "gb": "GB",
    "tb": "TB",
    "kib": "KiB",
    "mib": "MiB",
    "gib": "GiB",
    "tib": "TiB",
}
_QUANTITY = re.compile(r"^\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[A-Za-zµ]+)\s*$")

MIB = 2**20


class BudgetValueError(ValueError):
    """A duration or size that cannot be read; the message names the accepted forms."""


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds: a positive number of seconds or a string with a unit."""
    if isinstance(value, bool):
        raise BudgetValueError(f"{value!r} is not a duration; use {DURATION_FORMS}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        match = _QUANTITY.match(value)
        unit = match["unit"].lower() if match else ""
        if not match or unit not in _DURATION_UNITS:
            raise BudgetValueError(f"{value!r} is not a duration; use {DURATION_FORMS}")
        seconds = float(match["number"]) * _DURATION_UNITS[unit]
    else:
        raise BudgetValueError(f"{value!r} is not a duration; use {DURATION_FORMS}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise BudgetValueError(f"{value!r} is not a positive, finite duration; use {DURATION_FORMS}")
    return seconds


def parse_size(value: object) -> tuple[int, str]:
    """Return ``value`` as ``(bytes, canonical unit)``, e.g. ``"1.5GiB"`` -> ``(1610612736, "GiB")``.

    The unit is kept so that messages speak the user's unit: a budget written in MB is reported
    in MB, one written in MiB in MiB.
    """
    if not isinstance(value, str):
        raise BudgetValueError(f"{value!r} is not a size: a size needs a unit; use {SIZE_FORMS}")
    match = _QUANTITY.match(value)
    unit = match["unit"].lower() if match else ""
    if not match or unit not in _SIZE_UNITS:
        raise BudgetValueError(f"{value!r} is not a size; use {SIZE_FORMS}")
    size = round(float(match["number"]) * _SIZE_UNITS[unit])
    if size <= 0:
        raise BudgetValueError(f"{value!r} is not a positive size; use {SIZE_FORMS}")
    return size, _CANONICAL_SIZE_UNIT[unit]


def format_number(value: float) -> str:
    """Up to three significant digits, never in exponent notation: 0.1234 -> "0.123", 1234.5 -> "1234"."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_duration(seconds: float) -> str:
    """A human duration: "250 ms", "3 s", "2.5 min"."""
    if seconds < 1e-3:
        return f"{format_number(seconds * 1e6)} us"
    if seconds < 1:
        return f"{format_number(seconds * 1e3)} ms"
    if seconds < 120:
        return f"{format_number(seconds)} s"
    return f"{format_number(seconds / 60)} min"


def format_size(size_bytes: float, unit: str = "MiB") -> str:
    """``size_bytes`` expressed in ``unit`` (one of the canonical units) with one decimal: "912.4 MiB"."""
    return f"{size_bytes / _SIZE_UNITS[unit.lower()]:.1f} {unit}"


@dataclass(frozen=True)
class TimeBudget:
    """What ``@pytest.mark.time_budget(limit, cpu=False, include_setup=False)`` allows."""

    limit_s: float
    """The limit as written, in seconds, before ``--budget-scale`` is applied."""
    cpu: bool = False
    """Judge CPU time (user + system, children included) instead of wall time."""
    include_setup: bool = False
    """Count fixture setup as well as the test call."""

    @property
    def clock(self) -> Literal["wall", "CPU"]:
        """The name of the clock this budget is judged on, as used in messages."""
        return "CPU" if self.cpu else "wall"


@dataclass(frozen=True)
class MemoryBudget:
    """What ``@pytest.mark.memory_budget(limit, include_setup=False)`` allows."""

    limit_bytes: int
    """The largest allowed peak-RSS growth over the RSS at the start of the measured span."""
    unit: str = "MiB"
    """The unit the limit was written in; messages use it."""
    include_setup: bool = False
    """Measure from the start of fixture setup instead of the start of the test call."""


@dataclass(frozen=True)
class Budgets:
    """The budgets of one test item (stored on ``item.stash[BUDGETS_KEY]``)."""

    time: TimeBudget | None = None
    memory: MemoryBudget | None = None

    @property
    def time_limit_s(self) -> float | None:
        """The time limit in seconds (unscaled), or None when the test has no time budget."""
        return self.time.limit_s if self.time else None

    @property
    def cpu(self) -> bool:
        """True when the time budget is judged on CPU time rather than wall time."""
        return bool(self.time and self.time.cpu)

    @property
    def memory_limit_bytes(self) -> int | None:
        """The peak-RSS-growth limit in bytes, or None when the test has no memory budget."""
        return self.memory.limit_bytes if self.memory else None

    @property
    def time_include_setup(self) -> bool:
        """True when the time budget counts fixture setup."""
        return bool(self.time and self.time.include_setup)

    @property
    def memory_include_setup(self) -> bool:
        """True when the memory budget measures from the start of fixture setup."""
        return bool(self.memory and self.memory.include_setup)


@dataclass(frozen=True)
class Verdict(Outcome):
    """One budget judged against one measurement; its name is the budget's kind, "time" or "memory",
    and its message a one-line summary that starts with "... budget exceeded" when it failed."""

    used: float = field(kw_only=True)
    """Seconds (time) or bytes (memory) spent."""
    limit: float = field(kw_only=True)
    """Seconds (time, after scaling) or bytes (memory) allowed."""

    @classmethod
    def judged(cls, kind: Literal["time", "memory"], used: float, limit: float, message: str) -> Verdict:
        return cls(kind, Status.of(used <= limit), message, used=used, limit=limit)

    @property
    def percent(self) -> float:
        """How much of the budget was used, in percent (may exceed 100)."""
        return 100.0 * self.used / self.limit

    @property
    def exceeded(self) -> bool:
        """True when more was spent than allowed."""
        return self.status is Status.FAIL


def judge_time(budget: TimeBudget, wall_s: float, cpu_s: float, scale: float = 1.0) -> Verdict:
    """Judge wall (or CPU) seconds against ``budget`` after multiplying its limit by ``scale``."""
    used = cpu_s if budget.cpu else wall_s
    limit = budget.limit_s * scale
    limit_text = format_duration(limit)
    if scale != 1.0:
        limit_text += f" ({format_duration(budget.limit_s)} x budget scale {format_number(scale)})"
    percent = 100.0 * used / limit
    setup = " (setup + call)" if budget.include_setup else ""
    if used > limit:
        message = (
            f"time budget exceeded: {budget.clock} {format_duration(used)}{setup} > budget {limit_text} "
            f"({percent:.0f}%)"
        )
    else:
        message = f"time budget: {budget.clock} {format_duration(used)}{setup} of {limit_text} ({percent:.0f}%)"
    return Verdict.judged("time", used, limit, message)


def judge_memory(budget: MemoryBudget, peak_rss_growth_bytes: int) -> Verdict:
    """Judge peak-RSS growth against ``budget``."""
    used = peak_rss_growth_bytes
    percent = 100.0 * used / budget.limit_bytes
    limit_text = _format_limit(budget)
    setup = " (setup + call)" if budget.include_setup else ""
    growth = format_size(used, budget.unit)
    if used > budget.limit_bytes:
        message = f"memory budget exceeded: peak RSS +{growth}{setup} > budget {limit_text} ({percent:.0f}%)"
    else:
        message = f"memory budget: peak RSS +{growth}{setup} of {limit_text} ({percent:.0f}%)"
    return Verdict.judged("memory", used, budget.limit_bytes, message)


def _format_limit(budget: MemoryBudget) -> str:
    """The limit in its own unit without a useless ".0": "800 MiB", "1.5 GiB"."""
    amount = budget.limit_bytes / _SIZE_UNITS[budget.unit.lower()]
    return f"{format_number(amount)} {budget.unit}"


def describe_time_budget(budget: TimeBudget) -> str:
    """The budget as a marker argument list a user can read: '"3 s", cpu=True'."""
    text = f'"{format_duration(budget.limit_s).replace(" ", "")}"'
    if budget.cpu:
        text += ", cpu=True"
    if budget.include_setup:
        text += ", include_setup=True"
    return text


def describe_memory_budget(budget: MemoryBudget) -> str:
    """The budget as a marker argument list a user can read: '"800 MiB"'."""
    text = f'"{_format_limit(budget)}"'
    if budget.include_setup:
        text += ", include_setup=True"
    return text


__all__ = [
    "DURATION_FORMS",
    "MIB",
    "SIZE_FORMS",
    "BudgetValueError",
    "Budgets",
    "MemoryBudget",
    "TimeBudget",
    "Verdict",
    "describe_memory_budget",
    "describe_time_budget",
    "format_duration",
    "format_number",
    "format_size",
    "judge_memory",
    "judge_time",
    "parse_duration",
    "parse_size",
]
