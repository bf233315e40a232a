"""Exceptions of the enrichment core. Each says what went wrong and what to do about it."""

from collections.abc import Iterable
from pathlib import Path


class EnrichmentError(Exception):
    """Base class of every error the core raises on purpose."""


class InputSchemaError(EnrichmentError):
    """An input file lacks columns the core needs."""

    def __init__(self, path: str | Path, missing: Iterable[str], found: Iterable[str], hint: str = "") -> None:
        self.path = str(path)
        self.missing = list(missing)
        self.found = list(found)
        message = (
            f"{self.path}: missing required column(s) {', '.join(map(repr, self.missing))}; "
            f"columns found: {', '.join(map(repr, self.found)) or '(none)'}"
        )
        if hint:
            message += f". {hint}"
        super().__init__(message)


class InputFormatError(EnrichmentError):
    """An input file cannot be read at all (unknown extension, not CSV/Parquet, unreadable)."""


class InvariantError(EnrichmentError):
    """The run lost or duplicated awards: rows in != rows out + rows rejected, or a key is off."""


class ConfigError(EnrichmentError):
    """A configuration value is missing, of the wrong type or out of range."""


__all__ = [
    "ConfigError",
    "EnrichmentError",
    "InputFormatError",
    "InputSchemaError",
    "InvariantError",
]
