"""The shared-store CI recipe of docs/regression-gates.md is a workflow that would run: valid YAML,
the store URL only from a secret, one machine class per runner image, options pytest knows, and
its report step working on a real PostgreSQL store.

(The repository's own workflow is the cache recipe above it; tests/packaging/test_ci_workflow.py
keeps that one equal to .github/workflows/ci.yml.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from sbir_etl.monitoring.history import HistoryStore, RunInfo, TestResult
from tests.documented_workflows import ROOT, options_in, unknown_to_pytest, yaml_block_under
from tests.pg_server import PostgresServer

DOC = ROOT / "docs" / "regression-gates.md"
HEADING = "### A shared store on PostgreSQL"


def shared_store_recipe() -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(yaml_block_under(DOC, HEADING))
    return workflow


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_every_job_takes_the_store_from_a_secret_and_labels_its_machine_class() -> None:
    workflow = shared_store_recipe()
    [job] = workflow["jobs"].values()
    assert job["env"]["SBIR_HISTORY"] == "${{ secrets.SBIR_HISTORY_URL }}"
    assert len(job["strategy"]["matrix"]["runner"]) >= 2 and job["runs-on"] == "${{ matrix.runner }}"
    commands = [step["run"] for step in steps(workflow) if re.search("--(sbir-)?history", step.get("run", ""))]
    assert len(commands) == 3  # tests, benchmarks, report
    for command in commands:
        assert re.search(r'--(sbir-)?history "\$SBIR_HISTORY"', command), command
        assert "postgresql://" not in command  # no URL, and so no password, written into the workflow
        if command.startswith("pytest"):
            assert "--sbir-machine-class gha-${{ matrix.runner }}" in command


def test_the_recipe_uses_only_options_pytest_knows() -> None:
    commands = " ".join(
        step["run"] for step in steps(shared_store_recipe()) if step.get("run", "").startswith("pytest")
    )
    used = options_in(commands)
    assert {"--sbir-history", "--sbir-machine-class"} <= used
    assert unknown_to_pytest(used) == set()


def test_the_report_step_runs_as_written_on_a_postgres_store(
    postgres_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    with HistoryStore(postgres_url) as store:
        store.record_run(RunInfo("r1", "2026-01-01T00:00:00+00:00", "gha-ubuntu-24.04", "3.11"))
        store.record_result(TestResult("r1", "tests/test_a.py::test_x", "passed", wall_s=1.0))
    [report] = [step for step in steps(shared_store_recipe()) if step.get("name") == "report"]
    summary = tmp_path / "summary.md"
    bin_dir = str(Path(sys.executable).parent)  # where pip put sbir-etl
    environment = {**os.environ, "SBIR_HISTORY": postgres_url, "GITHUB_STEP_SUMMARY": str(summary)}
    environment["PATH"] = bin_dir + os.pathsep + environment.get("PATH", "")
    completed = subprocess.run(
        ["bash", "-c", report["run"]], env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    written = summary.read_text()
    assert "History `postgresql://sbir_test:***@127.0.0.1:" in written and "gha-ubuntu-24.04" in written
    assert postgres_server.password not in written + completed.stdout + completed.stderr
