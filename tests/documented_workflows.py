"""The CI workflows the docs show, read as the tests that keep them true need them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def yaml_block_under(doc: Path, heading: str) -> str:
    """The first ```yaml block after `heading` in `doc`."""
    text = doc.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    match = re.search(r"^```yaml\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    assert match, f"{doc}: no ```yaml block under {heading!r}"
    return match.group(1)


def options_in(commands: str) -> set[str]:
    """The long options (``--name``) that shell commands pass."""
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", commands))


def unknown_to_pytest(options: set[str]) -> set[str]:
    """The options that ``pytest --help`` (with this project's plugins) does not list."""
    help_text = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {option for option in options if not re.search(rf"(?<![\w-]){option}\b", help_text)}
