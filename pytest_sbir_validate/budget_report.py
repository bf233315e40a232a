"""What the budget plugin reports: per-test records, the terminal table, the JSON file, suggestions.

A :class:`BudgetRecord` is made on the process that ran the test and travels to the pytest-xdist
controller as a plain dict attribute of the call-phase ``TestReport`` (xdist serialises report
attributes), so the controller builds its table and JSON from the same records a single process
would.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_sbir_validate.budgets import MIB, Verdict, format_duration, format_number, format_size

REPORT_ATTRIBUTE = "sbir_budget"
"""Name of the ``TestReport`` attribute holding :meth:`BudgetRecord.as_dict`."""

JSON_FORMAT_VERSION = 1

SUGGEST_TIME_FLOOR_S = 0.05
"""Smallest suggested time budget: shorter ones fail on scheduler noise."""
SUGGEST_MEMORY_FLOOR_BYTES = 16 * MIB
"""Smallest suggested memory budget: allocator arenas and import caches move RSS by a few MiB."""
_NICE_STEPS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


@dataclass(frozen=True)
class BudgetUse:
    """One budget of one test, judged."""

    budget: str
    """The marker arguments as a user would write them, e.g. '"3s", cpu=True'."""
    limit: float
    """Allowed seconds (after ``--budget-scale``) or bytes."""
    used: float
    """Spent seconds or bytes."""
    percent: float
    exceeded: bool
    message: str

    @classmethod
    def judged(cls, budget: str, verdict: Verdict) -> BudgetUse:
        """The use of the budget described as ``budget``, from the verdict on it."""
        return cls(budget, verdict.limit, verdict.used, verdict.percent, verdict.exceeded, verdict.message)


@dataclass(frozen=True)
class BudgetRecord:
    """What one test cost and, when it has budgets, how that compares with them."""

    nodeid: str
    wall_s: float
    cpu_s: float
    peak_rss_growth_bytes: int
    method: str
    time: BudgetUse | None = None
    memory: BudgetUse | None = None
    outcome: str = ""
    """The test's final outcome ("passed", "failed", ...), known once the report is logged."""

    @property
    def budgeted(self) -> bool:
        """True when the test has at least one budget."""
        return self.time is not None or self.memory is not None

    @property
    def percent(self) -> float:
        """The larger share of its budgets the test used, in percent (0 without budgets)."""
        return max((use.percent for use in (self.time, self.memory) if use is not None), default=0.0)

    @property
    def exceeded(self) -> bool:
        """True when any budget was exceeded."""
        return any(use.exceeded for use in (self.time, self.memory) if use is not None)

    @property
    def peak_rss_mib(self) -> float:
        """Peak RSS growth in MiB (2**20 bytes)."""
        return self.peak_rss_growth_bytes / MIB

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-safe types, for xdist transport and the JSON report."""
        # Shallow by hand: dataclasses.asdict's recursive deep copy is a third of the per-test cost.
        data = dict(vars(self))
        for kind in ("time", "memory"):
            if data[kind] is not None:
                data[kind] = dict(vars(data[kind]))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, outcome: str | None = None) -> BudgetRecord:
        """Rebuild a record from :meth:`as_dict`, optionally setting the test's final outcome."""
        fields = dict(data)
        for kind in ("time", "memory"):
            if fields.get(kind) is not None:
                fields[kind] = BudgetUse(**fields[kind])
        if outcome is not None:
            fields["outcome"] = outcome
        return cls(**fields)

    def junit_properties(self) -> list[tuple[str, object]]:
        """The JUnit XML ``<property>`` pairs of a budgeted test."""
        properties: list[tuple[str, object]] = [
            ("wall_s", round(self.wall_s, 6)),
            ("cpu_s", round(self.cpu_s, 6)),
            ("peak_rss_mib", round(self.peak_rss_mib, 3)),
            ("peak_rss_method", self.method),
        ]
        if self.time is not None:
            properties += [("time_budget", self.time.budget), ("time_budget_percent", round(self.time.percent, 1))]
        if self.memory is not None:
            properties += [
                ("memory_budget", self.memory.budget),
                ("memory_budget_percent", round(self.memory.percent, 1)),
            ]
        return properties


def summary_lines(records: Sequence[BudgetRecord], *, max_rows: int | None) -> list[str]:
    """The terminal table of budgeted tests, most budget used first."""
    budgeted = sorted((r for r in records if r.budgeted), key=lambda r: r.percent, reverse=True)
    header = ("used", "result", "wall", "cpu", "peak RSS", "time budget", "memory budget", "test")
    rows = [
        (
            f"{record.percent:.0f}%",
            ("OVER" if record.exceeded else "ok")
            + ("" if record.outcome in ("passed", "") else f" ({record.outcome})"),
            format_duration(record.wall_s),
            format_duration(record.cpu_s),
            f"+{format_size(record.peak_rss_growth_bytes)}",
            record.time.budget if record.time else "-",
            record.memory.budget if record.memory else "-",
            record.nodeid,
        )
        for record in budgeted
    ]
    shown = rows if max_rows is None else rows[:max_rows]
    widths = [max(len(row[i]) for row in [header, *shown]) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in [header, *shown]
    ]
    if len(shown) < len(rows):
        lines.append(f"... {len(rows) - len(shown)} more budgeted tests (-v shows all, --budget-report writes all)")
    return lines


def write_json(path: Path, records: Iterable[BudgetRecord], *, settings: dict[str, Any]) -> None:
    """Write the budgeted tests (and, with ``--budget-suggest``, every measured test) as JSON."""
    records = sorted(records, key=lambda r: r.percent, reverse=True)
    document = {
        "format_version": JSON_FORMAT_VERSION,
        "settings": settings,
        "tests": [r.as_dict() | {"percent": r.percent, "exceeded": r.exceeded} for r in records if r.budgeted],
    }
    if settings.get("suggest"):
        document["suggestions"] = [
            dataclasses.asdict(s) for s in suggest(records, margin=settings["suggest_margin"], scale=settings["scale"])
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Suggestion:
    """A budget a developer can paste above one test function (all its parametrized cases)."""

    test: str
    """The test function's node id without parameters."""
    cases: int
    observed_wall_s: float
    observed_peak_rss_growth_bytes: int
    time_budget: str
    memory_budget: str

    def lines(self) -> list[str]:
        """The decorators to paste, commented with what was observed."""
        cases = f" ({self.cases} cases, worst shown)" if self.cases > 1 else ""
        return [
            f"{self.test}{cases}",
            f'    @pytest.mark.time_budget("{self.time_budget}")  # observed wall {format_duration(self.observed_wall_s)}',
            f'    @pytest.mark.memory_budget("{self.memory_budget}")  '
            f"# observed peak RSS +{format_size(self.observed_peak_rss_growth_bytes)}",
        ]


def suggest(records: Iterable[BudgetRecord], *, margin: float, scale: float) -> list[Suggestion]:
    """One suggestion per test function: the worst case observed x ``margin``, rounded up.

    Observed wall time is divided by ``scale`` first, so a suggestion made on a CI runner with
    ``--budget-scale 2`` is still right on a developer machine (and vice versa).
    """
    worst: dict[str, list[BudgetRecord]] = {}
    for record in records:
        worst.setdefault(_function_id(record.nodeid), []).append(record)
    suggestions = []
    for test, cases in worst.items():
        wall = max(r.wall_s for r in cases) / scale
        growth = max(r.peak_rss_growth_bytes for r in cases)
        suggestions.append(
            Suggestion(
                test=test,
                cases=len(cases),
                observed_wall_s=wall,
                observed_peak_rss_growth_bytes=growth,
                time_budget=_suggest_duration(wall * margin),
                memory_budget=_suggest_size(growth * margin),
            )
        )
    return suggestions


def _function_id(nodeid: str) -> str:
    return re.sub(r"\[.*\]$", "", nodeid)


def _round_up_nicely(value: float) -> float:
    if value <= 0:
        return 0.0
    exponent = math.floor(math.log10(value))
    scale = 10.0**exponent
    mantissa = value / scale
    step = next(s for s in _NICE_STEPS if s >= mantissa - 1e-9)
    return step * scale


def _suggest_duration(seconds: float) -> str:
    seconds = max(_round_up_nicely(seconds), SUGGEST_TIME_FLOOR_S)
    if seconds < 1:
        return f"{format_number(seconds * 1000)}ms"
    if seconds < 120:
        return f"{format_number(seconds)}s"
    return f"{format_number(_round_up_nicely(seconds / 60))}min"


def _suggest_size(size_bytes: float) -> str:
    mib = max(_round_up_nicely(size_bytes / MIB), SUGGEST_MEMORY_FLOOR_BYTES / MIB)
    if mib < 1024:
        return f"{format_number(mib)} MiB"
    return f"{format_number(_round_up_nicely(mib / 1024))} GiB"


__all__ = [
    "REPORT_ATTRIBUTE",
    "BudgetRecord",
    "BudgetUse",
    "Suggestion",
    "suggest",
    "summary_lines",
    "write_json",
]
