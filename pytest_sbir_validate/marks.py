"""The ``time_budget`` and ``memory_budget`` markers: their registration and argument parsing.

Arguments are checked when the test is collected, so a typo such as
``@pytest.mark.memory_budget("800 MB/s")`` is a collection error naming the test rather than a
surprise at the end of a long run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from pytest_sbir_validate.budgets import (
    DURATION_FORMS,
    SIZE_FORMS,
    Budgets,
    BudgetValueError,
    MemoryBudget,
    TimeBudget,
    parse_duration,
    parse_size,
)

_B = TypeVar("_B", TimeBudget, MemoryBudget)

BUDGETS_KEY = pytest.StashKey[Budgets]()
"""``item.stash``: the parsed budgets of every item that has a budget marker (set at collection)."""

TIME_BUDGET = "time_budget"
MEMORY_BUDGET = "memory_budget"

TIME_BUDGET_SIGNATURE = "time_budget(limit, *, cpu=False, include_setup=False)"
MEMORY_BUDGET_SIGNATURE = "memory_budget(limit, *, include_setup=False)"

MARKER_DOCS = (
    f"{TIME_BUDGET_SIGNATURE}: fail the test when its call (plus fixture setup if "
    f"include_setup=True) takes longer than limit, {DURATION_FORMS}; cpu=True judges process CPU "
    "time instead of wall time. Scaled by --budget-scale.",
    f"{MEMORY_BUDGET_SIGNATURE}: fail the test when its peak RSS grows by more than limit over the "
    f"RSS at the start of the call (or of fixture setup if include_setup=True); limit is {SIZE_FORMS}.",
)


class BudgetMarkerError(Exception):
    """A budget marker with arguments that cannot be read; the message names the test and the fix."""


def register_markers(config: pytest.Config) -> None:
    """Declare the markers so ``--strict-markers`` accepts them and ``pytest --markers`` documents them."""
    for line in MARKER_DOCS:
        config.addinivalue_line("markers", line)


def budgets_of(item: pytest.Item) -> Budgets | None:
    """The budgets the closest budget markers of ``item`` declare, or None when it has none.

    Raises :class:`BudgetMarkerError` naming the item and the accepted forms when an argument is
    wrong.
    """
    time_mark = item.get_closest_marker(TIME_BUDGET)
    memory_mark = item.get_closest_marker(MEMORY_BUDGET)
    if time_mark is None and memory_mark is None:
        return None
    time_budget = None
    memory_budget = None
    if time_mark is not None:
        time_budget = _parse(item, time_mark, _time_budget, TIME_BUDGET_SIGNATURE, DURATION_FORMS)
    if memory_mark is not None:
        memory_budget = _parse(item, memory_mark, _memory_budget, MEMORY_BUDGET_SIGNATURE, SIZE_FORMS)
    return Budgets(time=time_budget, memory=memory_budget)


def _parse(item: pytest.Item, mark: pytest.Mark, parser: Callable[..., _B], signature: str, forms: str) -> _B:
    try:
        return parser(*mark.args, **mark.kwargs)
    except (TypeError, BudgetValueError) as error:
        arguments = ", ".join([repr(a) for a in mark.args] + [f"{k}={v!r}" for k, v in mark.kwargs.items()])
        raise BudgetMarkerError(
            f"{item.nodeid}: invalid @pytest.mark.{mark.name}({arguments}): {error}.\n"
            f"  accepted form: @pytest.mark.{signature}, where limit is {forms}."
        ) from error


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return value


def _time_budget(limit: object, *, cpu: object = False, include_setup: object = False) -> TimeBudget:
    return TimeBudget(
        limit_s=parse_duration(limit),
        cpu=_flag("cpu", cpu),
        include_setup=_flag("include_setup", include_setup),
    )


def _memory_budget(limit: object, *, include_setup: object = False) -> MemoryBudget:
    limit_bytes, unit = parse_size(limit)
    return MemoryBudget(limit_bytes=limit_bytes, unit=unit, include_setup=_flag("include_setup", include_setup))
