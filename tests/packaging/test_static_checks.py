"""The linter, the formatter, the type checker and the dead-code finder, as tests of the suite the README's command runs.

As tests rather than separate steps: one command and one report (a finding is a failure in JUnit
XML like any other, its output the message), and selecting a subset (``scripts/test tests/core``)
skips them as it skips every other test. Settings live in pyproject.toml; mypy is strict on
``pytest_sbir_validate`` and runs a baseline over ``src/sbir_etl``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHECKS = {
    "ruff check": [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
    "ruff format --check": [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
    "mypy": [sys.executable, "-m", "mypy"],  # files and settings: [tool.mypy] in pyproject.toml
    "vulture": [sys.executable, "-m", "vulture"],  # paths and known-alive names: [tool.vulture]
}


@pytest.mark.parametrize("command", CHECKS.values(), ids=CHECKS.keys())
def test_code_is_clean(command: list[str]) -> None:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command[2:])} found problems:\n{done.stdout}{done.stderr}", pytrace=False)
