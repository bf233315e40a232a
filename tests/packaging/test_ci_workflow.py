"""The GitHub Actions workflow is the CI recipe docs/regression-gates.md documents, and it only
uses options that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
RECIPE_DOC = ROOT / "docs" / "regression-gates.md"


def documented_recipe() -> str:
    """The YAML block under "### GitHub Actions" in the regression-gates doc."""
    text = RECIPE_DOC.read_text(encoding="utf-8")
    section = text[text.index("### GitHub Actions") :]
    match = re.search(r"^```yaml\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    assert match, f"{RECIPE_DOC}: no ```yaml block under '### GitHub Actions'"
    return match.group(1)


def test_the_workflow_is_the_documented_recipe() -> None:
    assert yaml.safe_load(documented_recipe()) == yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_the_recipe_uses_only_options_pytest_knows() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    commands = " ".join(
        step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "pytest" in step.get("run", "")
    )
    used = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", commands))
    assert {"--sbir-history", "--benchmark-compare", "--sbir-machine-class"} <= used
    help_text = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert {option for option in used if not re.search(rf"(?<![\w-]){option}\b", help_text)} == set()
