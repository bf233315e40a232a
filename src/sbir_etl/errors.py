"""Exceptions of the enrichment core. Each says what went wrong and what to do about it.

Every class carries the exit code `sbir-etl` ends with when it escapes a command: 2 when the
user's files, paths or settings are wrong (fix them and rerun), 1 when the environment or the
run itself failed (disk full, read-only file system, another run on the same output, a broken
invariant).

An error that wraps a library's exception is raised `from None`: its message carries the cause,
and a failed Dagster step then reports this class, whose exit code `sbir-etl run` returns.
"""

import errno
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

BAD_INPUT_EXIT = 2
FAILURE_EXIT = 1


class EnrichmentError(Exception):
    """Base class of every error the core raises on purpose."""

    exit_code: ClassVar[int] = FAILURE_EXIT


class BadInputError(EnrichmentError):
    """The user's input files, output paths or settings are wrong; fixing them is the remedy."""

    exit_code = BAD_INPUT_EXIT


class InputSchemaError(BadInputError):
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


class InputFormatError(BadInputError):
    """An input file cannot be read at all (unknown extension, not CSV/Parquet, unreadable)."""


class ConfigError(BadInputError):
    """A configuration value is missing, of the wrong type or out of range; `options` names the option(s)."""

    def __init__(self, message: str, options: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.options = options


class IndexMismatchError(BadInputError):
    """A saved recipient index does not fit this run: built from another recipient file, with
    other settings, or by another version of the code. Rebuilding it (`sbir-etl index`) is the remedy."""


class OutputPathError(BadInputError):
    """An output path cannot be used: it is one of the inputs, another output, a directory, or under a file."""


class OutputWriteError(EnrichmentError):
    """The file system refused an output (full disk, read-only file system, no permission)."""

    HINTS: ClassVar[dict[int, str]] = {
        errno.ENOSPC: "free space on its disk and rerun (with --resume, finished chunks are kept)",
        errno.EDQUOT: "free space within your quota and rerun (with --resume, finished chunks are kept)",
        errno.EROFS: "write it to a writable file system",
        errno.EACCES: "write it where you have write permission",
        errno.EPERM: "write it where you have write permission",
    }

    def __init__(self, path: str | Path, error: OSError) -> None:
        self.path = str(path)
        self.errno = error.errno
        reason = error.strerror or str(error)
        if "Detail: " in reason:  # pyarrow: "Error writing bytes to file. Detail: [errno 28] No space left on device"
            reason = reason.split("Detail: ", 1)[1].split("] ", 1)[-1]
        hint = self.HINTS.get(error.errno or 0)
        super().__init__(f"cannot write {self.path}: {reason}" + (f"; {hint}" if hint else ""))


class OutputBusyError(EnrichmentError):
    """Another run holds the lock of the same output."""

    def __init__(self, path: str | Path, pid: int | None) -> None:
        self.path, self.pid = str(path), pid
        holder = f"pid {pid}" if pid else "pid unknown"
        super().__init__(
            f"output {self.path} is being written by another run ({holder}); "
            "wait for it to finish or choose another output path"
        )


class InvariantError(EnrichmentError):
    """The run lost or duplicated awards: rows in != rows out + rows rejected, or a key is off."""


def exit_code_of(error_type: str) -> int:
    """The exit code of an error class known by name (as a Dagster step failure reports it); 1 if unknown."""
    pending: list[type[EnrichmentError]] = [EnrichmentError]
    while pending:
        cls = pending.pop()
        if cls.__name__ == error_type:
            return cls.exit_code
        pending += cls.__subclasses__()
    return FAILURE_EXIT


__all__ = [
    "BAD_INPUT_EXIT",
    "FAILURE_EXIT",
    "BadInputError",
    "ConfigError",
    "EnrichmentError",
    "InputFormatError",
    "InputSchemaError",
    "IndexMismatchError",
    "InvariantError",
    "OutputBusyError",
    "OutputPathError",
    "OutputWriteError",
    "exit_code_of",
]
