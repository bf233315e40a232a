"""The matching rules added for real names, by name, each of which can be switched off.

Every rule here was added for a kind of miss seen on real data (docs/real-data.md) and is kept
only if it costs no precision there. `rules_disabled` turns rules off inside a block so that the
benchmarks (`benchmarks/matching_tradeoffs.py`, `benchmarks/real_data.py`) measure what each buys
and costs on its own; a normal run has them all on.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

NORMALISATION_RULES: tuple[str, ...] = (
    "mojibake",
    "remarks and second names",
    "glued designators",
    "abbreviations",
    "plurals",
    "misspelt designators",
    "dangling and",
)
CASCADE_RULES: tuple[str, ...] = (
    "second names",
    "cross-state metro areas",
    "truncated names",
    "distinctive names",
)
RULES: tuple[str, ...] = NORMALISATION_RULES + CASCADE_RULES

_DISABLED: ContextVar[frozenset[str]] = ContextVar("disabled_matching_rules", default=frozenset())


@contextmanager
def rules_disabled(*names: str) -> Iterator[None]:
    """Match without the named rules inside the block (for ablation benchmarks)."""
    unknown = set(names) - set(RULES)
    if unknown:
        raise ValueError(f"unknown matching rule(s) {sorted(unknown)}; known: {list(RULES)}")
    token = _DISABLED.set(_DISABLED.get() | frozenset(names))
    try:
        yield
    finally:
        _DISABLED.reset(token)


def enabled(name: str) -> bool:
    """Is the named rule on? (Every rule is, outside `rules_disabled`.)"""
    return name not in _DISABLED.get()
