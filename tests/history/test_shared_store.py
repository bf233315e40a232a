"""``--sbir-history postgresql://...`` as a team uses it: several machines writing one store at once,
each gated only against its own machine class, and the report and checklist reading it.

"Machines" are separate pytest processes with their own ``--sbir-machine-class`` labels, writing
to the session's real PostgreSQL server. Costs are not timed: as in test_history_plugin.py, a
stand-in for the budget plugin sets each test's measurement from ``$FAKE_COSTS``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from sbir_etl.checklist import run_baseline
from sbir_etl.monitoring.history import HistoryStore
from sbir_etl.outcomes import Status
from tests.fake_measurement import FAKE_MEASUREMENT_CONFTEST
from tests.pg_server import PostgresServer

TESTS_PER_RUN = 20


@dataclass
class Machine:
    """A pytest process standing for one CI machine of a machine class."""

    label: str
    wall_s: float
    slowed: dict[str, float] | None = None

    def start(self, suite: Path, url: str) -> subprocess.Popen[str]:
        costs: dict[str, list[float]] = {"*": [self.wall_s, 100.0]}
        costs.update({name: [wall_s, 100.0] for name, wall_s in (self.slowed or {}).items()})
        return subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--sbir-history={url}"]
            + [f"--sbir-machine-class={self.label}"],
            cwd=suite,
            env={**os.environ, "FAKE_COSTS": json.dumps(costs)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def run_at_once(machines: list[Machine], suite: Path, url: str) -> list[tuple[int, str]]:
    """Start every machine's pytest together; their exit codes and outputs."""
    processes = [m.start(suite, url) for m in machines]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    return [(p.returncode, out) for p, out in zip(processes, outputs)]


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SBIR_ALERT_WEBHOOK", raising=False)
    pytester.makeconftest(FAKE_MEASUREMENT_CONFTEST)
    pytester.makepyfile(test_shared="\n".join(f"def test_{i:02d}():\n    pass\n" for i in range(TESTS_PER_RUN)))
    return pytester.path


def test_machines_share_one_store_and_each_is_gated_against_its_own_class(
    suite: Path, postgres_url: str, postgres_server: PostgresServer
) -> None:
    password = postgres_server.password
    shown = "postgresql://sbir_test:***@" + postgres_url.split("@", 1)[1]

    # Four machines, two classes, one store, all at once: 4 x 20 results and none lost.
    first = run_at_once(
        [Machine("box-a", 1.0), Machine("box-a", 1.0), Machine("box-b", 0.4), Machine("box-b", 0.4)],
        suite,
        postgres_url,
    )
    for code, output in first:
        assert code == 0, output
        assert f"history: {shown} (machine class box-" in output
    with HistoryStore(postgres_url) as store:
        runs = store.runs()
        results = store.results()
    assert len(runs) == 4 and len(results) == 4 * TESTS_PER_RUN
    assert Counter(s.run.run_id for s in results) == {run.run_id: TESTS_PER_RUN for run in runs}
    assert Counter(run.machine_class for run in runs) == {"box-a": 2, "box-b": 2}

    # The other class and a new class, at once: box-b's baseline is box-b's own runs only.
    second = run_at_once([Machine("box-b", 0.4), Machine("box-c", 3.0)], suite, postgres_url)
    (box_b_code, box_b), (box_c_code, box_c) = second
    assert box_b_code == 0 and "gated tests: 20 pass" in box_b, box_b
    assert box_c_code == 0 and "gated tests: 20 baseline established" in box_c, box_c

    # box-a, one test slowed: failed against the median of the two box-a runs other processes
    # wrote; box-b's 0.4 s runs would have made it "median of 5 runs" (and box-c's 3.0 s a pass).
    [(code, output)] = run_at_once([Machine("box-a", 1.0, slowed={"test_07": 1.5})], suite, postgres_url)
    assert code == 1, output
    assert (
        "FAIL test_shared.py::test_07: time regression: 1.50 s vs baseline 1.00 s (median of 2 runs): "
        "+50 %, fail at +25 %" in output
    ), output
    assert "gated tests: 1 fail, 19 pass" in output
    assert all(password not in out for _, out in [*first, *second, (code, output)])

    with HistoryStore(postgres_url) as store:
        latest = store.runs()[-1]
        failed = [s.result for s in store.results(run_id=latest.run_id) if s.result.outcome == "failed"]
    assert latest.machine_class == "box-a"
    assert [(r.test_id, r.gate_status, r.wall_s) for r in failed] == [("test_shared.py::test_07", "fail", 1.5)]

    # The readers: `sbir-etl report` and the checklist's baseline item, on the same URL.
    report = subprocess.run(
        [sys.executable, "-m", "sbir_etl.cli", "report", "--history", postgres_url, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["run_count"] == 7 and data["source"] == shown
    assert {r["test_id"]: r["gate_status"] for r in data["latest_results"]}["test_shared.py::test_07"] == "fail"
    markdown = subprocess.run(
        [sys.executable, "-m", "sbir_etl.cli", "report", "--history", postgres_url, "--format", "md"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "test_shared.py::test_07" in markdown and shown in markdown
    assert password not in report.stdout + report.stderr + markdown

    item = run_baseline(postgres_url)
    assert item.status is Status.FAIL and "1 regression(s)" in item.message and "box-a" in item.message
    assert password not in item.message + "".join(item.details)


def test_the_store_url_can_come_from_the_ini_file(pytester: pytest.Pytester, postgres_url: str) -> None:
    pytester.makeini(f"[pytest]\nsbir_history = {postgres_url}\n")
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest("--sbir-machine-class=box-a")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["history: postgresql://sbir_test:***@127.0.0.1:*/store_* (machine class box-a*"])
    with HistoryStore(postgres_url) as store:
        assert [s.result.test_id for s in store.results()] == ["test_one.py::test_one"]


def test_an_unreachable_store_is_a_usage_error_without_the_password(
    pytester: pytest.Pytester, postgres_server: PostgresServer
) -> None:
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    url = postgres_server.url("store_that_does_not_exist")
    result = pytester.runpytest(f"--sbir-history={url}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            '*--sbir-history: cannot connect to the metrics store postgresql://sbir_test:***@*database "store_that_does_not_exist" does not exist*'
        ]
    )
    assert postgres_server.password not in result.stdout.str() + result.stderr.str()


def test_report_of_an_empty_database_says_to_run_the_tests_first(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sbir_etl.cli import main

    assert main(["report", "--history", postgres_url]) == 2
    error = capsys.readouterr().err
    assert "no metrics store at postgresql://sbir_test:***@" in error and "run the tests with --sbir-history" in error


def test_a_sqlite_url_in_the_ini_file_is_relative_to_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nsbir_history = sqlite:///perf/history.sqlite\n")
    (pytester.path / "perf").mkdir()
    sub = pytester.mkdir("sub")
    sub.joinpath("test_sub.py").write_text("def test_here():\n    pass\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sub)
        pytester.runpytest(str(sub)).assert_outcomes(passed=1)
    with HistoryStore(pytester.path / "perf" / "history.sqlite", create=False) as store:
        assert [s.result.test_id for s in store.results()] == ["sub/test_sub.py::test_here"]
