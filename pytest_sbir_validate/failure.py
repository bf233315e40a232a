"""A test failure that is a message, not a traceback (a budget overrun, a benchmark regression)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["FailureMessage"]


@dataclass(frozen=True)
class _Crash:
    message: str


class FailureMessage:
    """A ``TestReport.longrepr`` holding a message: the "-ra" summary and JUnit XML show its first line."""

    def __init__(self, text: str, *, red: Callable[[str], bool] = lambda line: True) -> None:
        self.text = text
        self.reprcrash = _Crash(text.splitlines()[0])
        self._red = red

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line, red=self._red(line))

    def __str__(self) -> str:
        return self.text
