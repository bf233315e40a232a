"""`sbir-etl checklist`: the judging rules, real runs of the fast items, and the command's exit codes."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sbir_etl import BUNDLED_FIXTURES, checklist, cli
from sbir_etl.checklist import ChecklistOptions, ChecklistReport, ItemResult
from sbir_etl.monitoring.history import HistoryStore, QualityMetrics, RunInfo, TestResult
from sbir_etl.monitoring.regression import GateThresholds, Sample
from sbir_etl.outcomes import Status

TEST_ID = "tests/test_enrich.py::test_enrich_10k"


def item(status: Status, critical: bool = True, name: str = "x") -> ItemResult:
    return ItemResult(name, status, "because", critical=critical)


# -- judging ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "ready"),
    [
        ((item(Status.PASS), item(Status.PASS, critical=False)), True),
        ((item(Status.PASS), item(Status.FAIL, critical=False)), True),  # an advisory failure blocks nothing
        ((item(Status.PASS), item(Status.SKIP, critical=False)), True),
        ((item(Status.PASS), item(Status.FAIL)), False),
        ((item(Status.PASS), item(Status.SKIP)), False),  # a skipped critical item has not passed
        ((item(Status.PASS), item(Status.WARN)), True),  # a warning passed: worth a look, blocks nothing
        ((), False),  # nothing checked is not ready
    ],
)
def test_ready_only_when_every_critical_item_passed(items, ready) -> None:
    assert ChecklistReport(items).ready is ready


def test_report_names_the_blocking_items_and_why() -> None:
    report = ChecklistReport(
        (
            ItemResult("smoke", Status.PASS, "23 passed"),
            ItemResult("gate match_rate", Status.FAIL, "match rate 0.41 is below 0.70", details=("detail\nline",)),
            ItemResult("gate validity", Status.FAIL, "warn only", critical=False),
        )
    )
    text = report.render_text()
    assert "[FAIL] gate match_rate" in text and "match rate 0.41 is below 0.70" in text and "- detail line" in text
    assert text.rstrip().endswith("NOT READY: 1 critical item(s) not passing: gate match_rate")
    markdown = report.render_markdown()
    assert "| FAIL | gate match_rate | yes | match rate 0.41 is below 0.70<br>detail line |" in markdown
    assert "| FAIL | gate validity | no |" in markdown


def test_smoke_verdicts_from_pytest_exit_code_and_output() -> None:
    passed = checklist.judge_smoke(0, "....\n23 passed, 275 deselected in 9.10s\n")
    assert passed.status is Status.PASS and passed.message == "23 passed, 275 deselected"
    failed = checklist.judge_smoke(
        1, "F.\nFAILED tests/smoke/test_x.py::test_a - assert 0\n1 failed, 1 passed in 2.00s\n"
    )
    assert failed.status is Status.FAIL and failed.critical
    assert "1 failed, 1 passed" in failed.message and failed.details == (
        "FAILED tests/smoke/test_x.py::test_a - assert 0",
    )
    nothing = checklist.judge_smoke(5, "no tests ran in 0.01s\n")
    assert nothing.status is Status.FAIL and "no smoke tests were collected" in nothing.message


# -- real runs of the fast items -------------------------------------------------------------------


def test_smoke_item_really_runs_pytest_on_a_suite(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "tests" / "test_smoke.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.smoke\ndef test_ok():\n    pass\n\n"
        "@pytest.mark.smoke\ndef test_broken():\n    assert 1 == 2\n\n"
        "def test_not_smoke():\n    assert False\n"
    )
    result = checklist.run_smoke(project / "tests")
    assert result.status is Status.FAIL
    assert "1 failed, 1 passed, 1 deselected" in result.message
    assert any("test_broken" in line for line in result.details)
    missing = checklist.run_smoke(tmp_path / "nowhere")
    assert missing.status is Status.FAIL and "not found" in missing.message


@pytest.mark.parametrize(
    ("scenario", "failing"),
    [
        ("good-identifiers", set()),
        ("bad-low-match-rate", {"sbir_etl_job materializes", "gate match_rate (enriched_sbir_awards)"}),
    ],
)
def test_quality_gates_materialize_the_job_on_a_scenario(tmp_path: Path, scenario: str, failing: set[str]) -> None:
    directory = BUNDLED_FIXTURES / scenario
    items = checklist.run_quality_gates(directory / "awards.csv", directory / "recipients.csv", tmp_path, None)
    names = {i.name for i in items}
    assert {
        "sbir_etl_job materializes",
        "gate match_rate (enriched_sbir_awards)",
        "gate completeness (enriched_sbir_awards)",
        "gate identifier_validity (validated_sbir_awards)",
    } <= names
    assert {i.name for i in items if i.status is Status.FAIL} == failing
    validity = next(i for i in items if i.name.startswith("gate identifier_validity"))
    assert not validity.critical  # a WARN check is advisory


def test_quality_gates_on_a_broken_schema_fail_the_job_with_the_error(tmp_path: Path) -> None:
    directory = BUNDLED_FIXTURES / "bad-schema"
    [job] = checklist.run_quality_gates(directory / "awards.csv", directory / "recipients.csv", tmp_path, None)
    assert job.status is Status.FAIL and job.critical
    assert any("InputSchemaError" in line and "Company" in line for line in job.details)


# -- baseline comparison against a real metrics store ----------------------------------------------


def record(
    store: HistoryStore,
    day: int,
    wall_s: float,
    outcome: str = "passed",
    match_rate: float = 0.80,
    thresholds: GateThresholds | None = None,
) -> None:
    """Record a run of TEST_ID as the plugin does: gated when it passed, failed by a failing gate."""
    run = RunInfo(
        run_id=f"run{day}",
        started_at=f"2026-11-{day:02d}T00:00:00+00:00",
        machine_class="ci-2cpu",
        python_version="3.11",
        commit=f"c{day:09d}",
    )
    store.record_run(run)
    sample = Sample(wall_s, 100.0, match_rate)
    verdict = (
        store.judge(
            TEST_ID,
            sample,
            machine_class=run.machine_class,
            thresholds=thresholds or GateThresholds(),
            exclude_run_id=run.run_id,
        )
        if outcome == "passed"
        else None
    )
    store.record_result(
        TestResult(
            run_id=run.run_id,
            test_id=TEST_ID,
            outcome="failed" if verdict and verdict.status is Status.FAIL else outcome,
            wall_s=wall_s,
            peak_rss_growth_mib=100.0,
            quality=QualityMetrics(match_rate=match_rate),
            gate_status=verdict and verdict.status.value,
            gate_message=verdict and verdict.summary,
            gates=verdict.gates if verdict else (),
        )
    )


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.sqlite"
    with HistoryStore(path) as store:
        for day in range(1, 6):
            record(store, day, wall_s=1.0)
    return path


@pytest.mark.parametrize(
    ("wall_s", "outcome", "match_rate", "status", "says"),
    [
        (1.02, "passed", 0.80, Status.PASS, "1 tests gated: 0 fail, 0 warn"),
        (1.50, "passed", 0.80, Status.FAIL, "1 regression(s); 1 tests gated: 1 fail"),
        (1.50, "passed", 0.80, Status.FAIL, "time regression: 1.50 s vs baseline 1.00 s"),
        (1.00, "passed", 0.70, Status.FAIL, "match rate regression"),
        (1.00, "failed", 0.80, Status.FAIL, "1 failed test(s); 0 tests gated"),
    ],
)
def test_baseline_comparison_gates_the_latest_run(history: Path, wall_s, outcome, match_rate, status, says) -> None:
    with HistoryStore(history) as store:
        record(store, 6, wall_s=wall_s, outcome=outcome, match_rate=match_rate)
    result = checklist.run_baseline(history)
    assert result.status is status and result.critical
    assert says in result.message + " ".join(result.details)


def test_baseline_comparison_lists_each_failed_test_with_its_outcome(history: Path) -> None:
    with HistoryStore(history) as store:
        record(store, 6, wall_s=1.0, outcome="failed")
    result = checklist.run_baseline(history)
    assert result.status is Status.FAIL
    assert result.details == (f"test {TEST_ID} failed",)


def test_baseline_comparison_without_a_store_or_runs_fails_with_what_to_do(tmp_path: Path) -> None:
    missing = checklist.run_baseline(tmp_path / "none.sqlite")
    assert missing.status is Status.FAIL and "pytest --sbir-history" in missing.message
    HistoryStore(tmp_path / "empty.sqlite").close()
    empty = checklist.run_baseline(tmp_path / "empty.sqlite")
    assert empty.status is Status.FAIL and "holds no run that recorded a test" in empty.message


# -- the command -------------------------------------------------------------------------------------


@pytest.fixture
def fake_slow_items(monkeypatch: pytest.MonkeyPatch) -> dict[str, ItemResult]:
    """Replace the smoke run (about 10 s) and the Dagster run with canned results."""
    outcomes = {"smoke": ItemResult("smoke tests (pytest -m smoke)", Status.PASS, "23 passed")}
    monkeypatch.setattr(checklist, "run_smoke", lambda tests_dir: outcomes["smoke"])
    monkeypatch.setattr(
        checklist, "run_quality_gates", lambda *args: [ItemResult("gate match_rate", Status.PASS, "0.89")]
    )
    return outcomes


def test_command_exits_1_until_the_critical_items_pass(fake_slow_items, history: Path, tmp_path: Path, capsys) -> None:
    markdown = tmp_path / "summary.md"
    fake_slow_items["smoke"] = ItemResult("smoke tests (pytest -m smoke)", Status.FAIL, "1 failed, 22 passed")
    assert cli.main(["checklist", "--history", str(history), "--markdown", str(markdown)]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] smoke tests (pytest -m smoke)" in out and "[PASS] baseline comparison" in out
    assert "NOT READY" in markdown.read_text()

    fake_slow_items["smoke"] = ItemResult("smoke tests (pytest -m smoke)", Status.PASS, "23 passed")
    assert cli.main(["checklist", "--history", str(history)]) == 0
    assert "READY: every critical item passed" in capsys.readouterr().out


def test_command_without_history_skips_the_comparison(fake_slow_items, capsys) -> None:
    assert cli.main(["checklist"]) == 0
    out = capsys.readouterr().out
    assert "[SKIP] baseline comparison" in out and "pass --history PATH" in out


def test_baseline_comparison_shows_the_verdicts_of_the_run_with_its_own_thresholds(history: Path) -> None:
    """+50 % fails the default time gate (+25 %); a run made with --sbir-gate-time-fail=60 warned."""
    with HistoryStore(history) as store:
        record(store, 6, wall_s=1.5, thresholds=GateThresholds(time_fail_pct=60))
    result = checklist.run_baseline(history)
    assert result.status is Status.PASS and "1 warn" in result.message
    assert result.details == (
        f"WARN {TEST_ID}: time regression: 1.50 s vs baseline 1.00 s (median of 5 runs): +50 %, warn at +10 %",
    )


def test_options_default_to_the_bundled_scenario_and_the_checkout_tests() -> None:
    options = ChecklistOptions()
    assert options.awards == BUNDLED_FIXTURES / "good-real" / "awards.csv"
    assert (options.tests_dir / "smoke").is_dir()
    parser = argparse.ArgumentParser()
    checklist.add_checklist_arguments(parser)
    args = parser.parse_args([])
    assert args.history is None
    assert (Path(args.awards), Path(args.recipients), Path(args.out), Path(args.tests)) == (
        options.awards,
        options.recipients,
        options.out_dir,
        options.tests_dir,
    )
