"""The history plugin as a user's suite sees it: gates fail the test, warn, establish baselines.

Costs are not timed: a stand-in for the budget plugin sets each test's
:class:`~pytest_sbir_validate.measurement.Measurement` from ``$FAKE_COSTS``, through the same
``item.stash[MEASUREMENT_KEY]`` contract the real budget plugin fulfils.
"""

from __future__ import annotations

import json
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from sbir_etl.monitoring.history import HistoryStore, QualityMetrics, RunInfo, TestResult
from tests.fake_measurement import FAKE_MEASUREMENT_CONFTEST

TESTS = """
def test_slow():
    pass

def test_fast():
    pass

def test_quality(record_quality):
    record_quality(match_rate=float(__import__("os").environ.get("FAKE_RATE", "0.85")),
                   by_method={"uei-exact": 0.6}, score_histogram={"90-100": 7})
"""

MACHINE = "--sbir-machine-class=test-box"


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("SBIR_ALERT_WEBHOOK", raising=False)
    pytester.makeconftest(FAKE_MEASUREMENT_CONFTEST)
    pytester.makepyfile(test_gate=TESTS)
    return pytester


def seed(path: Path, runs: int, *, wall_s: float = 1.0, mib: float = 100.0, rate: float = 0.85) -> None:
    """Store ``runs`` earlier passed runs of the suite's tests on the test machine class."""
    with HistoryStore(path) as store:
        for i in range(runs):
            run = RunInfo(
                run_id=f"seed{i}",
                started_at=f"2026-01-0{i + 1}T00:00:00+00:00",
                machine_class="test-box",
                python_version="3",
            )
            store.record_run(run)
            for name in ("test_slow", "test_fast", "test_quality"):
                store.record_result(
                    TestResult(
                        run.run_id,
                        f"test_gate.py::{name}",
                        "passed",
                        wall_s=wall_s,
                        peak_rss_growth_mib=mib,
                        quality=QualityMetrics(match_rate=rate) if name == "test_quality" else None,
                    )
                )


def costs(monkeypatch: pytest.MonkeyPatch, **per_test: tuple[float, float]) -> None:
    monkeypatch.setenv("FAKE_COSTS", json.dumps(per_test))


def test_cold_start_establishes_the_baseline(suite: pytest.Pytester) -> None:
    db = suite.path / "history.sqlite"
    suite.makeini("[pytest]\nsbir_dataset =\n    source = synthetic\n    awards = 10\n")
    result = suite.runpytest(f"--sbir-history={db}", MACHINE, "--sbir-dataset", "awards=1000")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*sbir-validate regression gates*",
            "gated tests: 3 baseline established",
            "baseline established for 3 test(s) with no earlier run on this machine class:*",
        ]
    )
    with HistoryStore(db) as store:
        [run] = store.runs()
        results = store.results(run_id=run.run_id)
    assert run.machine_class == "test-box"
    assert run.dataset == {"source": "synthetic", "awards": "1000"}  # the option wins over ini
    assert run.python_version and "pytest" in run.packages
    assert {r.result.gate_status for r in results} == {"baseline established"}
    quality = next(r.result.quality for r in results if r.result.test_id.endswith("test_quality"))
    assert quality == QualityMetrics(0.85, {"uei-exact": 0.6}, {"90-100": 7})


def test_time_regression_fails_that_test_in_junit(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    db = suite.path / "history.sqlite"
    seed(db, runs=3)
    costs(monkeypatch, test_slow=(1.5, 100.0))
    junit = suite.path / "junit.xml"
    result = suite.runpytest(f"--sbir-history={db}", MACHINE, f"--junitxml={junit}")
    result.assert_outcomes(passed=2, failed=1)
    expected = "time regression: 1.50 s vs baseline 1.00 s (median of 3 runs): +50 %, fail at +25 %"
    result.stdout.fnmatch_lines([f"FAIL test_gate.py::test_slow: {expected}"])

    suite_xml = ET.parse(junit).getroot().find("testsuite")
    assert suite_xml.get("failures") == "1"
    [failed] = [case for case in suite_xml.iter("testcase") if case.find("failure") is not None]
    assert failed.get("name") == "test_slow"
    assert expected in failed.find("failure").get("message")

    with HistoryStore(db) as store:
        latest = [r.result for r in store.results() if r.run.run_id not in {"seed0", "seed1", "seed2"}]
    slow = next(r for r in latest if r.test_id.endswith("test_slow"))
    assert (slow.outcome, slow.gate_status, slow.wall_s) == ("failed", "fail", 1.5)


def test_warning_level_does_not_fail(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    db = suite.path / "history.sqlite"
    seed(db, runs=5)
    costs(monkeypatch, test_slow=(1.15, 125.0))
    result = suite.runpytest(f"--sbir-history={db}", MACHINE)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "WARN test_gate.py::test_slow: time regression: 1.15 s vs baseline 1.00 s (median of 5 runs): +15 %, warn at +10 %",
            "WARN test_gate.py::test_slow: memory regression: 125.0 MiB *: +25 %, warn at +20 %",
        ]
    )


def test_memory_and_match_rate_regressions_fail(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    db = suite.path / "history.sqlite"
    seed(db, runs=2)
    costs(monkeypatch, test_fast=(1.0, 160.0))
    monkeypatch.setenv("FAKE_RATE", "0.79")
    result = suite.runpytest(f"--sbir-history={db}", MACHINE)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "*test_fast: memory regression: 160.0 MiB vs baseline 100.0 MiB*+60 %, fail at +50 %",
            "*test_quality: match rate regression: 79.0% vs baseline 85.0%*-6.0 points, fail at -5 points",
        ]
    )


def test_thresholds_come_from_ini_and_the_command_line(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    db = suite.path / "history.sqlite"
    seed(db, runs=3)
    costs(monkeypatch, test_slow=(1.5, 100.0))
    suite.makeini("[pytest]\nsbir_gate_time_fail = 60\nsbir_gate_time_warn = 40\n")
    suite.runpytest(f"--sbir-history={db}", MACHINE).assert_outcomes(passed=3)
    result = suite.runpytest(f"--sbir-history={db}", MACHINE, "--sbir-gate-time-fail=off")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["WARN test_gate.py::test_slow: time regression*warn at +40 %"])


def test_other_machine_classes_are_not_a_baseline(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    db = suite.path / "history.sqlite"
    seed(db, runs=3)
    costs(monkeypatch, test_slow=(9.0, 100.0))
    result = suite.runpytest(f"--sbir-history={db}", "--sbir-machine-class=bigger-box")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["gated tests: 3 baseline established"])


def test_invalid_threshold_is_a_usage_error(suite: pytest.Pytester) -> None:
    result = suite.runpytest(f"--sbir-history={suite.path / 'h.sqlite'}", "--sbir-gate-time-fail=fast")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--sbir-gate-time-fail='fast' is not a number or 'off'*"])


def test_warn_threshold_above_fail_threshold_is_a_usage_error_naming_both_options(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nsbir_gate_time_warn = 40\n")
    result = suite.runpytest(f"--sbir-history={suite.path / 'h.sqlite'}", "--sbir-gate-time-fail=30")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*time_warn_pct=40.0 is above time_fail_pct=30.0*"
            "(set with --sbir-gate-time-warn / ini sbir_gate_time_warn and "
            "--sbir-gate-time-fail / ini sbir_gate_time_fail)*"
        ]
    )


def test_store_from_a_newer_version_is_a_usage_error(suite: pytest.Pytester) -> None:
    import sqlite3

    db = suite.path / "h.sqlite"
    HistoryStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    result = suite.runpytest(f"--sbir-history={db}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*schema version 999*Upgrade pytest-sbir-validate*"])


def test_record_quality_works_without_history_and_checks_its_input(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_ok(record_quality):
            record_quality(match_rate=0.5)

        def test_percent_instead_of_fraction(record_quality):
            with pytest.raises(ValueError, match="pass 0.82 for 82 %"):
                record_quality(match_rate=82)
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_xdist_workers_write_every_row_and_gate(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("xdist")
    suite.makepyfile(test_many="\n".join(f"def test_{i}():\n    pass\n" for i in range(8)))
    db = suite.path / "history.sqlite"
    seed(db, runs=3)  # test_gate.py has a baseline, test_many.py does not
    costs(monkeypatch, test_slow=(1.5, 100.0))
    result = suite.runpytest(f"--sbir-history={db}", MACHINE, "-n", "2")
    result.assert_outcomes(passed=10, failed=1)
    result.stdout.fnmatch_lines(
        ["gated tests: 8 baseline established, 1 fail, 2 pass", "FAIL test_gate.py::test_slow: time regression*"]
    )
    result.stdout.fnmatch_lines(["FAILED test_gate.py::test_slow - time regression: 1.50 s vs baseline 1.00 s*"])

    with HistoryStore(db) as store:
        [run] = [r for r in store.runs() if not r.run_id.startswith("seed")]
        results = store.results(run_id=run.run_id)
    assert sorted(s.result.test_id for s in results) == sorted(
        [f"test_gate.py::test_{n}" for n in ("slow", "fast", "quality")] + [f"test_many.py::test_{i}" for i in range(8)]
    )


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        _Webhook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Webhook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook/secret"
    server.shutdown()
    server.server_close()


def test_failed_gate_is_posted_to_the_webhook(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, webhook: str
) -> None:
    db = suite.path / "history.sqlite"
    seed(db, runs=3)
    costs(monkeypatch, test_slow=(1.5, 100.0))
    monkeypatch.setenv("SBIR_ALERT_WEBHOOK", webhook)
    result = suite.runpytest(f"--sbir-history={db}", MACHINE)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["regression alert delivered to http://127.0.0.1:*/… (HTTP 200)"])
    [payload] = _Webhook.received
    assert "1 regression gate failure" in payload["text"]
    assert "test_gate.py::test_slow" in payload["blocks"][1]["text"]["text"]


def test_webhook_down_still_completes_and_reports(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = suite.path / "history.sqlite"
    seed(db, runs=3)
    costs(monkeypatch, test_slow=(1.5, 100.0))
    suite.makeini(f"[pytest]\nsbir_alert_webhook = http://127.0.0.1:{port}/hook\n")
    result = suite.runpytest(f"--sbir-history={db}", MACHINE)
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["regression alert NOT delivered to http://127.0.0.1:*/…: cannot connect*"])


def test_real_budget_plugin_measures_every_test_and_budgets_are_recorded(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_real="""
        import pytest

        @pytest.mark.time_budget("10s")
        @pytest.mark.memory_budget("1 GiB")
        def test_budgeted():
            bytearray(8 * 2**20)

        def test_unbudgeted():
            pass
        """
    )
    db = pytester.path / "history.sqlite"
    pytester.runpytest(f"--sbir-history={db}").assert_outcomes(passed=2)
    with HistoryStore(db) as store:
        results = {s.result.test_id.split("::")[1]: s.result for s in store.results()}
    budgeted, unbudgeted = results["test_budgeted"], results["test_unbudgeted"]
    assert (budgeted.time_budget_s, budgeted.memory_budget_mib) == (10.0, 1024.0)
    assert (unbudgeted.time_budget_s, unbudgeted.memory_budget_mib) == (None, None)
    for measured in (budgeted, unbudgeted):
        assert measured.wall_s is not None and measured.wall_s >= 0
        assert measured.cpu_s is not None and measured.peak_rss_growth_mib is not None


def test_over_budget_test_is_recorded_as_failed_and_not_gated(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_budget="""
        import pytest

        @pytest.mark.memory_budget("1 MiB")
        def test_hungry():
            block = bytearray(64 * 2**20)
            block[::4096] = b"x" * len(block[::4096])
        """
    )
    db = pytester.path / "history.sqlite"
    pytester.runpytest(f"--sbir-history={db}").assert_outcomes(failed=1)
    with HistoryStore(db) as store:
        [stored] = store.results()
    assert (stored.result.outcome, stored.result.gate_status) == ("failed", None)
    assert stored.result.memory_budget_mib == 1.0


def test_unwritable_store_fails_the_test_with_the_reason(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sbir_etl.monitoring.history import HistoryError

    def broken(self, result):
        raise HistoryError("disk full")

    monkeypatch.setattr(HistoryStore, "record_result", broken)
    result = suite.runpytest(f"--sbir-history={suite.path / 'h.sqlite'}")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        ["ERROR test_gate.py::test_slow: could not record this test in the metrics store: disk full"]
    )


def test_ini_history_path_is_relative_to_the_ini_file(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nsbir_history = perf/history.sqlite\n")
    (suite.path / "perf").mkdir()
    sub = suite.mkdir("sub")
    sub.joinpath("test_sub.py").write_text("def test_here():\n    pass\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sub)
        suite.runpytest(str(sub)).assert_outcomes(passed=1)
    assert (suite.path / "perf" / "history.sqlite").is_file()
    assert not (sub / "perf").exists()


def test_the_plugin_loads_the_alert_sender_only_for_a_run_with_history() -> None:
    """Every pytest run loads the plugin; the HTTP client comes in only to send an alert (``email``
    is not checked: pytest's own importlib.metadata loads it)."""
    import subprocess
    import sys

    probe = (
        "import sys, pytest_sbir_validate.plugin\n"
        "print(sorted(m for m in ('sbir_etl.monitoring.alerts', 'urllib.request') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
