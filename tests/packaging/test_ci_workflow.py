"""The GitHub Actions workflow is the CI recipe docs/regression-gates.md documents, and it only
uses options that exist."""

from __future__ import annotations

import yaml

from tests.documented_workflows import ROOT, options_in, unknown_to_pytest, yaml_block_under

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
RECIPE_DOC = ROOT / "docs" / "regression-gates.md"


def documented_recipe() -> str:
    """The YAML block under "### GitHub Actions" in the regression-gates doc."""
    return yaml_block_under(RECIPE_DOC, "### GitHub Actions")


def test_the_workflow_is_the_documented_recipe() -> None:
    assert yaml.safe_load(documented_recipe()) == yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_the_recipe_uses_only_options_pytest_knows() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    commands = " ".join(
        step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "pytest" in step.get("run", "")
    )
    used = options_in(commands)
    assert {"--sbir-history", "--benchmark-compare", "--sbir-machine-class"} <= used
    assert unknown_to_pytest(used) == set()
