"""The plugin's markers: one function per marker, whose signature and docstring are its help.

``time_budget`` and ``memory_budget`` parse their arguments into a budget; a marker's arguments
are checked when the test is collected, so a typo such as
``@pytest.mark.memory_budget("800 MB/s")`` is a collection error naming the test rather than a
surprise at the end of a long run. ``pytest --markers`` shows each marker as
``name(signature): docstring`` — generated from the functions below, so the help cannot drift
from what the parser accepts.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

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

__all__ = [
    "BUDGETS_KEY",
    "MARKERS",
    "BudgetMarkerError",
    "budgets_of",
    "marker_help",
    "memory_budget",
    "register_markers",
    "smoke",
    "time_budget",
]

BUDGETS_KEY = pytest.StashKey[Budgets]()
"""``item.stash``: the parsed budgets of every item that has a budget marker (set at collection)."""


class BudgetMarkerError(Exception):
    """A budget marker with arguments that cannot be read; the message names the test and the fix."""


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return value


def time_budget(limit: object, *, cpu: object = False, include_setup: object = False) -> TimeBudget:
    """fail the test when its call (plus fixture setup if include_setup=True) takes longer than
    limit; cpu=True judges process CPU time instead of wall time. Scaled by --budget-scale."""
    return TimeBudget(
        limit_s=parse_duration(limit),
        cpu=_flag("cpu", cpu),
        include_setup=_flag("include_setup", include_setup),
    )


def memory_budget(limit: object, *, include_setup: object = False) -> MemoryBudget:
    """fail the test when its peak RSS grows by more than limit over the RSS at the start of the
    call (or of fixture setup if include_setup=True)."""
    limit_bytes, unit = parse_size(limit)
    return MemoryBudget(limit_bytes=limit_bytes, unit=unit, include_setup=_flag("include_setup", include_setup))


def smoke() -> None:
    """end-to-end smoke test of the Dagster sbir_etl_job (run with -m smoke)"""


#: Every marker the plugin registers, and what its ``limit`` accepts (None: takes no limit).
MARKERS: dict[Callable[..., Any], str | None] = {
    time_budget: DURATION_FORMS,
    memory_budget: SIZE_FORMS,
    smoke: None,
}


def _signature(marker: Callable[..., Any]) -> str:
    """``name(parameters)`` without annotations, or the bare name of a marker without parameters."""
    signature = inspect.signature(marker)
    if not signature.parameters:
        return marker.__name__
    plain = signature.replace(
        parameters=[p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()],
        return_annotation=inspect.Signature.empty,
    )
    return f"{marker.__name__}{plain}"


def marker_help(marker: Callable[..., Any]) -> str:
    """The ``markers`` ini line of a marker: signature, docstring, and the accepted limits."""
    text = " ".join((inspect.getdoc(marker) or "").split())
    forms = MARKERS[marker]
    if forms is not None:
        text = f"{text.rstrip('.')}; limit is {forms}."
    return f"{_signature(marker)}: {text}"


def register_markers(config: pytest.Config) -> None:
    """Declare the markers so ``--strict-markers`` accepts them and ``pytest --markers`` documents them."""
    for marker in MARKERS:
        config.addinivalue_line("markers", marker_help(marker))


def budgets_of(item: pytest.Item) -> Budgets | None:
    """The budgets the closest budget markers of ``item`` declare, or None when it has none.

    Raises :class:`BudgetMarkerError` naming the item and the accepted forms when an argument is
    wrong.
    """
    time_mark = item.get_closest_marker(time_budget.__name__)
    memory_mark = item.get_closest_marker(memory_budget.__name__)
    if time_mark is None and memory_mark is None:
        return None
    return Budgets(
        time=None if time_mark is None else _parse(item, time_mark, time_budget),
        memory=None if memory_mark is None else _parse(item, memory_mark, memory_budget),
    )


def _parse(item: pytest.Item, mark: pytest.Mark, marker: Callable[..., Any]) -> Any:
    try:
        return marker(*mark.args, **mark.kwargs)
    except (TypeError, BudgetValueError) as error:
        arguments = ", ".join([repr(a) for a in mark.args] + [f"{k}={v!r}" for k, v in mark.kwargs.items()])
        raise BudgetMarkerError(
            f"{item.nodeid}: invalid @pytest.mark.{mark.name}({arguments}): {error}.\n"
            f"  accepted form: @pytest.mark.{_signature(marker)}, where limit is {MARKERS[marker]}."
        ) from error
