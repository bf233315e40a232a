"""The deployment-readiness checklist behind `sbir-etl checklist`.

Three groups of items, each ending PASS, FAIL or SKIP with the reason:

* **smoke tests** - ``pytest -m smoke`` over the project's tests, in a subprocess (critical);
* **quality gates** - `sbir_etl_job` materialized on a scenario (the bundled real sample by
  default): the job itself and each of its asset checks; blocking (ERROR) checks are critical,
  warning checks are reported but block nothing;
* **baseline comparison** - the latest run of tests in a ``pytest --sbir-history`` metrics store:
  its outcomes and the regression gates it recorded (each test against the median of its earlier
  runs on the same machine class, with that run's thresholds; `sbir_etl.monitoring.regression`).
  Critical when ``--history`` is given; skipped (and not blocking) without it.

The checklist is *ready* only when every critical item passed; `sbir-etl checklist` then exits
0, otherwise 1. The judging functions (``judge_*``) are pure; running pytest, Dagster and reading
the store happen in the ``run_*`` functions at the edge.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sbir_etl.bundled import DEFAULT_SCENARIO, SMOKE_TESTS
from sbir_etl.monitoring.history import HistoryError, HistoryStore, StoredResult, StoreURL
from sbir_etl.monitoring.history_url import redact
from sbir_etl.outcomes import Outcome, Severity, Status

if TYPE_CHECKING:  # only sbir_etl.dagster_defs imports Dagster; it is imported when the gates run
    from sbir_etl.dagster_defs import JobRun

SMOKE_TIMEOUT_S = 900
SMOKE_ITEM = "smoke tests (pytest -m smoke)"
JOB_ITEM = "sbir_etl_job materializes"
BASELINE_ITEM = "baseline comparison (regression gates)"
_SUMMARY_LINE = re.compile(r"^=*\s*(?P<body>\d+ \w+.*) in [\d.]+s.*$", re.MULTILINE)


@dataclass(frozen=True)
class ItemResult(Outcome):
    """One checklist item: what was checked, its outcome and why, and whether it blocks deployment.

    ``details`` are extra lines for the report (failing tests, gate messages, ...).
    """

    critical: bool = field(default=True, kw_only=True)
    details: tuple[str, ...] = field(default=(), kw_only=True)

    @property
    def blocks(self) -> bool:
        """A critical item that did not pass (failed *or* skipped) blocks deployment; a warning passed."""
        return self.critical and not self.passed


@dataclass(frozen=True)
class ChecklistReport:
    """All items, in the order they ran."""

    items: tuple[ItemResult, ...]

    @property
    def ready(self) -> bool:
        return bool(self.items) and not any(item.blocks for item in self.items)

    @property
    def blocking(self) -> list[ItemResult]:
        return [item for item in self.items if item.blocks]

    def verdict(self) -> str:
        if self.ready:
            skipped = [i.name for i in self.items if i.status is Status.SKIP]
            return "READY: every critical item passed" + (f" (skipped: {', '.join(skipped)})" if skipped else "")
        return (
            f"NOT READY: {len(self.blocking)} critical item(s) not passing: {', '.join(i.name for i in self.blocking)}"
        )

    def render_text(self) -> str:
        width = max((len(i.name) for i in self.items), default=0)
        lines = ["deployment-readiness checklist"]
        for item in self.items:
            tag = "critical" if item.critical else "advisory"
            lines.append(f"  [{item.status.name}] {item.name:<{width}}  ({tag}) {item.message}")
            lines += [f"         {' ' * width}  - {' '.join(d.split())}" for d in item.details]  # one line per detail
        lines.append(self.verdict())
        return "\n".join(lines) + "\n"

    def render_markdown(self) -> str:
        lines = ["## Deployment-readiness checklist", "", "| status | item | critical | why |", "|---|---|---|---|"]
        for item in self.items:
            why = "<br>".join([item.message, *item.details]).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {item.status.name} | {item.name} | {'yes' if item.critical else 'no'} | {why} |")
        lines += ["", f"**{self.verdict()}**"]
        return "\n".join(lines) + "\n"


# -- smoke tests ---------------------------------------------------------------------------------


def smoke_command(tests_dir: Path) -> list[str]:
    """``pytest -m smoke`` over ``tests_dir`` with this interpreter; no cache writes into the checkout."""
    return [sys.executable, "-m", "pytest", "-m", "smoke", "-q", "-p", "no:cacheprovider", str(tests_dir)]


def judge_smoke(returncode: int, output: str) -> ItemResult:
    """PASS only when pytest exited 0 having run at least one test; the summary line says what ran."""
    name = SMOKE_ITEM
    summaries = _SUMMARY_LINE.findall(output)
    summary = summaries[-1].strip("= ") if summaries else "no pytest summary line in the output"
    failed = tuple(line.strip() for line in output.splitlines() if line.startswith(("FAILED ", "ERROR ")))
    if returncode == 0:
        return ItemResult(name, Status.PASS, summary)
    if returncode == 5:
        return ItemResult(
            name, Status.FAIL, "no smoke tests were collected; point --tests at a directory with smoke tests"
        )
    hint = "; rerun them with `pytest -m smoke` to see the failures"
    return ItemResult(name, Status.FAIL, f"pytest exited {returncode}: {summary}{hint}", details=failed[:20])


def run_smoke(tests_dir: Path, timeout_s: float = SMOKE_TIMEOUT_S) -> ItemResult:
    """Run the smoke tests in a subprocess (cwd: the directory above ``tests_dir``)."""
    if not tests_dir.is_dir():
        return ItemResult(
            SMOKE_ITEM,
            Status.FAIL,
            f"test directory {tests_dir} not found; pass --tests DIR of a checkout with the smoke tests",
        )
    try:
        done = subprocess.run(
            smoke_command(tests_dir), cwd=tests_dir.parent, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return ItemResult(SMOKE_ITEM, Status.FAIL, f"did not finish within {timeout_s:.0f} s")
    return judge_smoke(done.returncode, done.stdout + done.stderr)


# -- quality gates -------------------------------------------------------------------------------


def judge_job(run: JobRun) -> list[ItemResult]:
    """Items from a `sbir_etl.dagster_defs.JobRun`: the job itself, then one per asset check.

    A blocking (ERROR) check is critical; a warning check is advisory. A job that stopped before
    its checks ran fails the job item with the failing step's error.
    """
    where = f"on {run.out_dir}"
    if run.success:
        job = ItemResult(JOB_ITEM, Status.PASS, f"{len(run.materialized)} assets materialized {where}")
    else:
        details = tuple(f"step {f.step}: {f.error_type}: {f.message}" for f in run.failed_steps.values())
        details += (f"not run: {', '.join(run.untouched_steps)}",) if run.untouched_steps else ()
        job = ItemResult(
            JOB_ITEM, Status.FAIL, f"the job failed {where}; fix the input or the failing gate below", details=details
        )
    items = [job]
    for check in sorted(run.checks.values(), key=lambda c: c.name):
        name = f"gate {check.name} ({check.asset})"
        items.append(ItemResult(name, check.status, check.message, critical=check.severity is Severity.ERROR))
    return items


def run_quality_gates(awards: Path, recipients: Path, out_dir: Path, config: Path | None) -> list[ItemResult]:
    """Materialize `sbir_etl_job` in-process on the scenario and judge it."""
    from sbir_etl.dagster_defs import run_job

    missing = [str(p) for p in (awards, recipients) if not p.is_file()]
    if missing:
        return [
            ItemResult(
                JOB_ITEM,
                Status.FAIL,
                f"input file(s) not found: {', '.join(missing)}; pass --awards/--recipients",
            )
        ]
    return judge_job(run_job(awards, recipients, out_dir, config_path=config))


# -- baseline comparison -------------------------------------------------------------------------


def judge_baseline(latest: Sequence[StoredResult], source: str) -> ItemResult:
    """FAIL when a test of the latest recorded run failed, by itself or by a regression gate.

    The gate verdicts are the ones the test run recorded, decided with that run's thresholds
    (``--sbir-gate-*``): the checklist says what pytest said, and judges nothing again.
    """
    name = BASELINE_ITEM
    if not latest:
        return ItemResult(
            name,
            Status.FAIL,
            f"{source} holds no run that recorded a test; run `pytest --sbir-history` with this store first",
        )
    run = latest[0].run
    where = f"latest run {run.label}, started {run.started_at}"
    results = [s.result for s in latest]
    by_gate = {status: [r for r in results if r.gate_status == status.value] for status in Status}
    regressions, warnings = by_gate[Status.FAIL], by_gate[Status.WARN]
    failed_tests = [r for r in results if r.status is Status.FAIL and r.gate_status != Status.FAIL.value]
    gated = sum(len(found) for found in by_gate.values())
    details = tuple(f"FAIL {r.test_id}: {r.gate_message}" for r in regressions)
    details += tuple(f"WARN {r.test_id}: {r.gate_message}" for r in warnings)
    details += tuple(f"test {r.test_id} {r.outcome}" for r in failed_tests[:20])
    counts = (
        f"{gated} tests gated: {len(regressions)} fail, {len(warnings)} warn, "
        f"{len(by_gate[Status.BASELINE])} without a baseline yet"
    )
    if regressions or failed_tests:
        problems = ([f"{len(regressions)} regression(s)"] if regressions else []) + (
            [f"{len(failed_tests)} failed test(s)"] if failed_tests else []
        )
        return ItemResult(name, Status.FAIL, f"{where}: {' and '.join(problems)}; {counts}", details=details)
    return ItemResult(name, Status.PASS, f"{where}: {counts}", details=details)


def run_baseline(history: str | os.PathLike[str]) -> ItemResult:
    """The regression gates and outcomes the store's latest run of tests recorded.

    ``history`` is a path, ``sqlite:///PATH`` or ``postgresql://...`` (whose password is never shown).
    """
    name = BASELINE_ITEM
    try:
        location = StoreURL.parse(history)
    except HistoryError as error:
        return ItemResult(name, Status.FAIL, str(error))
    history = str(location)
    if location.path is not None and not location.path.is_file():
        return ItemResult(
            name, Status.FAIL, f"history store {history} not found; run `pytest --sbir-history {history}` first"
        )
    try:
        with HistoryStore(location, create=False) as store:
            runs = store.runs(with_results=True)
            latest = store.results(run_id=runs[-1].run_id) if runs else []
    except HistoryError as error:
        return ItemResult(name, Status.FAIL, f"cannot read {history}: {error}")
    return judge_baseline(latest, history)


def skipped_baseline() -> ItemResult:
    return ItemResult(
        BASELINE_ITEM,
        Status.SKIP,
        "no --history given; pass --history PATH (a pytest --sbir-history store) to compare with the baseline",
        critical=False,
    )


# -- the whole checklist -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistOptions:
    """What to check: the scenario for the quality gates, the tests, and the optional metrics store."""

    awards: Path = DEFAULT_SCENARIO / "awards.csv"
    recipients: Path = DEFAULT_SCENARIO / "recipients.csv"
    out_dir: Path = Path("out/checklist")
    config: Path | None = None
    tests_dir: Path = SMOKE_TESTS
    """The project's tests in a source checkout, else the smoke suite installed with the plugin."""
    history: str | Path | None = None
    """A path, ``sqlite:///PATH`` or ``postgresql://...``."""


def run_checklist(
    options: ChecklistOptions,
    *,
    smoke: Callable[[Path], ItemResult] | None = None,
    quality_gates: Callable[[Path, Path, Path, Path | None], list[ItemResult]] | None = None,
    baseline: Callable[[str | Path], ItemResult] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> ChecklistReport:
    """Run every item (none stops the others) and collect the report.

    ``smoke``, ``quality_gates`` and ``baseline`` default to `run_smoke`, `run_quality_gates` and
    `run_baseline` (looked up when called, so tests can replace a slow one).
    """
    smoke = smoke or run_smoke
    quality_gates = quality_gates or run_quality_gates
    baseline = baseline or run_baseline
    progress(f"smoke tests: pytest -m smoke {options.tests_dir} ...")
    items = [smoke(options.tests_dir)]
    progress(f"quality gates: sbir_etl_job on {options.awards} x {options.recipients} ...")
    items += quality_gates(options.awards, options.recipients, options.out_dir, options.config)
    if options.history is None:
        items.append(skipped_baseline())
    else:
        progress(f"baseline comparison: {redact(str(options.history))} ...")
        items.append(baseline(options.history))
    return ChecklistReport(tuple(items))


def add_checklist_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `sbir-etl checklist`; their defaults are :class:`ChecklistOptions`'."""
    defaults = ChecklistOptions()
    parser.add_argument(
        "--awards",
        default=str(defaults.awards),
        help="awards of the quality-gate scenario (default: the bundled real sample)",
    )
    parser.add_argument(
        "--recipients", default=str(defaults.recipients), help="recipients of the quality-gate scenario"
    )
    parser.add_argument("--config", help="YAML/TOML configuration for the quality-gate run (thresholds)")
    parser.add_argument("--out", default=str(defaults.out_dir), help="directory for the quality-gate run's tables")
    parser.add_argument("--tests", default=str(defaults.tests_dir), help="test directory holding the smoke tests")
    parser.add_argument("--history", help="pytest --sbir-history store to compare the latest run with its baseline")
    parser.add_argument("--markdown", help="also write the report as Markdown here (e.g. $GITHUB_STEP_SUMMARY)")


def checklist_command(options: ChecklistOptions, markdown: Path | None = None) -> int:
    """`sbir-etl checklist`: print the report; 0 when ready, 1 while a critical item does not pass.

    Progress goes to stderr; ``markdown`` (e.g. $GITHUB_STEP_SUMMARY) gets the report appended.
    """
    report = run_checklist(options, progress=lambda line: print(line, file=sys.stderr, flush=True))
    sys.stdout.write(report.render_text())
    if markdown:
        with open(markdown, "a", encoding="utf-8") as out:  # append: GITHUB_STEP_SUMMARY is shared
            out.write(report.render_markdown())
    return 0 if report.ready else 1
