"""Reports from a history: what needs attention, quality gates, trends; Markdown, JSON and HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from mounts import remount_read_only, tmpfs
from report_histories import History, jittered, quality

from sbir_etl.monitoring.history import HistoryStore, QualityMetrics, RunInfo, TestResult
from sbir_etl.monitoring.regression import GateVerdict
from sbir_etl.monitoring.report_markdown import MAX_CHARS, render_markdown
from sbir_etl.monitoring.report_scores import ScoreDistribution
from sbir_etl.monitoring.reporting import build_report, load_report, render, render_json
from sbir_etl.monitoring.trends import Direction
from sbir_etl.outcomes import Status

SLOW = "tests/test_enrich.py::test_enrich_10k"
STEADY = "tests/test_enrich.py::test_steady"
BROKEN = "tests/test_enrich.py::test_broken"
RATE = "tests/test_enrich.py::test_quality"
RATE_GATE = GateVerdict(
    "match_rate",
    Status.FAIL,
    "match rate regression: 79.0% vs baseline 86.0% (median of 5 runs): -7.0 points, fail at -5 points",
    current=0.79,
    baseline=0.86,
    change=-7.0,
)


@pytest.fixture
def history() -> History:
    """Ten runs: SLOW doubles for the last five and warns, BROKEN fails in the last run, RATE
    drops 7 points in the last run (its gate failed), STEADY does not move."""
    history = History()
    runs = history.add_runs(10)
    for i, run in enumerate(runs):
        last = i == len(runs) - 1
        history.add(
            run,
            SLOW,
            wall_s=1.0 * (2 if i >= 5 else 1) * (1 + 0.01 * i),
            peak_rss_growth_mib=200.0,
            gate_status="warn" if last else "pass",
            gate_message="time regression: 2.09 s vs baseline 2.05 s (median of 5 runs): +12 %, warn at +10 %"
            if last
            else None,
        )
        history.add(run, STEADY, wall_s=0.5, peak_rss_growth_mib=10.0, gate_status="pass")
        history.add(run, BROKEN, "failed" if last else "passed", wall_s=0.2, gate_status=None if last else "pass")
        history.add(
            run,
            RATE,
            "failed" if last else "passed",
            wall_s=0.3,
            quality=quality(0.79 if last else 0.86),
            gate_status="fail" if last else "pass",
            gate_message=RATE_GATE.message if last else None,
            gates=(RATE_GATE,) if last else (),
        )
    return history


def report_of(history: History):
    return build_report(history.runs, history.results, source="history.sqlite")


def test_latest_results_say_what_needs_attention_and_why(history: History) -> None:
    report = report_of(history)
    status = {r.test_id: r.status for r in report.latest_results}
    assert status == {SLOW: Status.WARN, STEADY: Status.PASS, BROKEN: Status.FAIL, RATE: Status.FAIL}
    [broken] = [r for r in report.latest_results if r.test_id == BROKEN]
    assert "the test itself failed" in broken.message
    assert [r.test_id for r in report.with_status(Status.FAIL)] == [BROKEN, RATE]


def test_quality_gate_is_the_one_the_run_recorded(history: History) -> None:
    [gate] = report_of(history).quality_gates
    assert (gate.test_id, gate.match_rate, gate.baseline, gate.status) == (RATE, 0.79, 0.86, Status.FAIL)
    assert "fail at -5 points" in gate.message


@pytest.mark.parametrize(
    ("outcome", "says"),
    [("failed", "not gated: the test failed"), ("passed", "no gate verdict recorded")],
)
def test_a_match_rate_without_a_recorded_gate_is_shown_as_not_gated(outcome: str, says: str) -> None:
    history = History()
    [run] = history.add_runs(1)
    history.add(run, RATE, outcome, quality=quality(0.8))
    [gate] = report_of(history).quality_gates
    assert (gate.status, gate.baseline) == (Status.SKIP, None) and says in gate.message


def test_a_run_is_named_by_branch_commit_and_machine_class_everywhere() -> None:
    run = RunInfo("r", "2026-01-01", "ci-2cpu", "3.11", commit="3f2c9a1b0d77e", branch="main", dirty=True)
    assert run.label == "main@3f2c9a1b0d (dirty) on ci-2cpu"
    assert RunInfo("r", "2026-01-01", "ci-2cpu", "3.11").label == "unknown branch@unknown commit on ci-2cpu"


def test_trends_find_the_doubled_test_only(history: History) -> None:
    report = report_of(history)
    assert [(t.test_id, t.metric) for t in report.moving(Direction.DEGRADING)] == [(SLOW, "time")]
    [slow] = [t for t in report.trends if t.test_id == SLOW and t.metric == "time"]
    assert slow.runs == 10 and slow.change == pytest.approx((2.14 - 1.02) / 1.02 * 100, abs=1)
    # BROKEN and RATE failed once: only their 9 passed runs count, all alike; no memory was measured
    others = {(t.test_id, t.metric): t.direction for t in report.trends if t.test_id != SLOW}
    assert {k: d for k, d in others.items() if k[1] != "memory"} == {
        (STEADY, "time"): Direction.STABLE,
        (BROKEN, "time"): Direction.STABLE,
        (RATE, "time"): Direction.STABLE,
        (RATE, "match_rate"): Direction.STABLE,
    }
    assert others[(BROKEN, "memory")] is Direction.INSUFFICIENT


def test_series_keep_every_outcome_of_the_latest_machine_class(history: History) -> None:
    other = history.add_runs(1, machine_class="laptop")[0]
    history.add(other, SLOW, wall_s=9.0)
    history.runs.append(history.runs.pop(-1))  # the laptop run is not the latest
    history.runs[-1], history.runs[-2] = history.runs[-2], history.runs[-1]
    report = report_of(history)
    assert report.latest_run is not None and report.latest_run.machine_class == "ci"
    series = report.series[SLOW]
    assert 9.0 not in series.wall_s and len(series.runs) == 10
    assert report.series[BROKEN].outcomes[-1] == "failed"


def test_score_distribution_by_method_and_the_overall_fallback(history: History) -> None:
    run = history.add_runs(1)[0]
    history.add(run, RATE, quality=quality(0.86))
    history.add(run, STEADY, quality=QualityMetrics(match_rate=0.5, score_histogram={"90-95": 3, "85-90": 1}))
    distributions = report_of(history).score_distributions
    assert distributions[RATE]["name-fuzzy-auto"] == {"85-90": 40, "90-95": 60, "95-100": 20}
    assert distributions[STEADY] == {"all methods": {"90-95": 3, "85-90": 1}}


def test_score_distribution_orders_methods_by_cascade_and_buckets_by_score() -> None:
    distribution = ScoreDistribution.of(
        {"name-fuzzy-auto": {"95-100": 2, "90-95": 1}, "uei-exact": {"95-100": 5}, "unmatched": {"95-100": 0}}
    )
    assert list(distribution.counts) == ["uei-exact", "name-fuzzy-auto"]  # unmatched has no scored award
    assert distribution.buckets == ("90-95", "95-100")
    assert distribution.rows()[1] == {"method": "name-fuzzy-auto", "awards": 3, "90-95": 1, "95-100": 2}
    assert distribution.markdown().splitlines() == [
        "| method | awards | 90-95 | 95-100 |",
        "|---|---:|---:|---:|",
        "| uei-exact | 5 | 0 | 5 |",
        "| name-fuzzy-auto | 3 | 1 | 2 |",
    ]


# -- Markdown -----------------------------------------------------------------------------------


def test_markdown_is_the_summary_and_the_tests_that_need_attention(history: History) -> None:
    text = render_markdown(report_of(history))
    assert "Latest: `main@0009abcdef on ci`, started 2026-01-01T00:09:00+00:00." in text
    assert "**2 failing · 1 warning · 1 degrading trend** among 4 tests (3 gated)." in text
    assert "### Failing (2)" in text and f"| `{BROKEN}` | the test itself failed" in text
    assert f"| `{RATE}` | match rate regression: 79.0% vs baseline 86.0%" in text
    assert f"### Warnings (1)\n\n| test | why |\n|---|---|\n| `{SLOW}` | time regression" in text
    assert f"| `{SLOW}` | time | +" in text and "| 0.004 |" in text  # the trend with its p-value
    assert "### Quality gates (1)" in text and "| 79.0% | 86.0% |" in text
    assert STEADY not in text  # passing tests are not listed
    assert "one-sided Mann–Whitney U test" in text and "latest 10 passed runs" in text


def test_markdown_says_so_when_all_is_well() -> None:
    history = jittered(["a", "b"], runs=2)
    text = render_markdown(report_of(history))
    assert "**All 2 tests passed their gates** (2 gated); no degrading trend." in text
    assert "### Failing" not in text


def test_markdown_stays_under_the_pr_comment_limit_whatever_the_history() -> None:
    history = History()
    run = history.add_runs(1)[0]
    long_id = "tests/" + "deep/" * 60 + "test_x.py::test_case"
    for i in range(3_000):
        status, outcome = ("warn", "passed") if i % 3 == 0 else ("fail", "failed")
        history.add(
            run, f"{long_id}[{i}]", outcome, wall_s=1.0, gate_status=status, gate_message="time regression " * 80
        )
    report = report_of(history)
    text = render_markdown(report)
    assert len(text) <= MAX_CHARS < 65_000
    assert "**2000 failing · 1000 warnings" in text
    hidden = re.search(r"… and (\d+) more failing tests", text)
    shown = text.count("| `tests/deep/") - text.split("### Warnings")[1].count("| `tests/deep/")
    assert hidden and shown + int(hidden.group(1)) == 2000 and shown > 20
    assert re.search(r"… and (\d+) more warnings", text)  # the later section kept its place
    assert max(len(line) for line in text.splitlines()) < 700  # ids and messages are shortened


# -- JSON ---------------------------------------------------------------------------------------


def test_json_output_is_machine_readable(history: History) -> None:
    data = json.loads(render_json(report_of(history)))
    assert data["run_count"] == 10 and data["latest_run"]["commit"] == "0009abcdef0123456789"
    assert data["policy"] == {
        "alpha": 0.01,
        "min_change_mib": 1.0,
        "min_change_pct": 5.0,
        "min_change_points": 1.0,
        "window": 10,
    }
    [slow] = [t for t in data["trends"] if t["test_id"] == SLOW and t["metric"] == "time"]
    assert slow["direction"] == "degrading" and slow["p_value"] == pytest.approx(1 / 252)
    assert data["quality_gates"][0]["status"] == "fail"
    assert data["score_distributions"][RATE]["uei-exact"] == {"95-100": 300}


def test_json_writes_an_infinite_change_as_null() -> None:
    history = History()
    for run in history.add_runs(10):
        history.add(run, STEADY, wall_s=0.1, peak_rss_growth_mib=0.0 if run.run_id < "r5" else 5.0)
    data = json.loads(render_json(report_of(history)))
    [memory] = [t for t in data["trends"] if t["metric"] == "memory"]
    assert memory["change"] is None and memory["direction"] == "degrading"


# -- HTML (content; the browser tests check it renders and behaves) ------------------------------


def test_html_is_one_offline_file_with_data_charts_and_the_summary_first(history: History) -> None:
    page = render(report_of(history), "html")
    assert "<link" not in page and not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert page.index("id='summary'") < page.index("id='history'") < page.index("id='all-tests'")
    summary = page[page.index("id='summary'") : page.index("id='history'")]
    for test_id in (BROKEN, RATE, SLOW):
        assert f"title='{test_id}'" in summary
    assert STEADY not in summary
    data = json.loads(re.search(r"<script type='application/json' id='report-data'>(.*?)</script>", page).group(1))
    assert data["series"][SLOW]["o"] == "p" * 10 and data["series"][BROKEN]["o"].endswith("f")
    assert set(data["specs"]) == {"time", "memory", "match_rate", "scores"}
    assert data["initial"] == RATE  # the slowest failing test is shown first
    assert "window.vegaEmbed" in page  # the Vega bundle is inlined


def test_html_shortens_long_ids_but_keeps_the_full_id_on_hover() -> None:
    long_id = "tests/" + "a/" * 80 + "test_long.py::test_name[param]"
    history = History()
    history.add(history.add_runs(1)[0], long_id, "failed", wall_s=0.1)
    page = render(report_of(history), "html")
    assert f"title='{long_id}'" in page
    shown = re.search(rf"title='{re.escape(long_id)}'>(.*?)</button>", page).group(1).replace("<wbr>", "")
    assert len(shown) == 90 and shown.startswith("tests/a/") and shown.endswith("test_long.py::test_name[param]")


def test_html_of_a_thousand_tests_by_fifty_runs_stays_under_five_megabytes() -> None:
    tests = [f"tests/core/test_module_{i % 40}.py::test_case_{i}[param-{i}]" for i in range(1_000)]
    history = jittered(tests, runs=50, seed=2)
    page = render(report_of(history), "html")
    size = len(page.encode("utf-8"))
    assert size < 5_000_000, f"{size / 1e6:.2f} MB"


# -- command line -------------------------------------------------------------------------------


def test_the_report_command_writes_each_format(history: History, tmp_path: Path, capsys) -> None:
    from sbir_etl.cli import main

    store = history.write(tmp_path / "h.sqlite")
    for fmt in ("md", "json", "html"):
        out = tmp_path / "new-dir" / f"report.{fmt}"  # a missing directory is created, as for every output
        assert main(["report", "--history", str(store), "--format", fmt, "--out", str(out)]) == 0
        assert f"wrote {fmt} report to {out}" in capsys.readouterr().err
    assert json.loads((tmp_path / "new-dir" / "report.json").read_text())["run_count"] == 10
    assert (tmp_path / "new-dir" / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in (tmp_path / "new-dir").iterdir()) == ["report.html", "report.json", "report.md"]
    assert main(["report", "--history", str(store)]) == 0
    assert capsys.readouterr().out.startswith("## SBIR enrichment regression report")


@pytest.mark.parametrize(
    ("arguments", "code", "says"),
    [
        (
            ["--history", "{tmp}/nope.sqlite"],
            2,
            "sbir-etl: error: no metrics store at {tmp}/nope.sqlite; run the tests",
        ),
        (["--history", "mysql://u@h/db"], 2, "sbir-etl: error: --history: unsupported metrics store URL"),
        (["--history", "{store}", "--format", "html"], 2, "sbir-etl: error: --format html needs --out FILE"),
        (["--history", "{store}", "--window", "1"], 2, "sbir-etl: error: --window: the trend window must cover"),
        (["--history", "{store}", "--out", "{store}"], 2, "sbir-etl: error: "),
        (["--history", "postgresql://u:pw@127.0.0.1:1/x"], 1, "sbir-etl: failed: cannot connect to the metrics store"),
    ],
    ids=["missing-store", "unsupported-url", "html-to-terminal", "window", "out-is-the-store", "connection-refused"],
)
def test_report_errors_end_at_the_cli_boundary_with_the_documented_code(
    tmp_path: Path, capsys, arguments: list[str], code: int, says: str
) -> None:
    """Bad input exits 2, the environment (a server refusing the connection) 1: one stderr line each."""
    from sbir_etl.cli import main

    store = tmp_path / "h.sqlite"
    with HistoryStore(store) as created:
        created.record_run(RunInfo("r", "2026-01-01", "ci", "3"))
    given = [a.format(tmp=tmp_path, store=store) for a in arguments]
    assert main(["report", *given]) == code
    err = capsys.readouterr().err
    assert err.startswith(says.format(tmp=tmp_path)) and err.count("\n") == 1, err
    assert "pw" not in err


def test_a_report_that_cannot_be_written_is_an_environment_failure(history: History, tmp_path: Path, capsys) -> None:
    from sbir_etl.cli import main

    store = history.write(tmp_path / "h.sqlite")
    with tmpfs(tmp_path / "ro") as mount:
        remount_read_only(mount)
        assert main(["report", "--history", str(store), "--out", str(mount / "r.md")]) == 1
        assert list(mount.iterdir()) == []
    err = capsys.readouterr().err
    assert err.startswith("sbir-etl: failed: ") and "r.md" in err and "Read-only file system" in err, err


def test_render_refuses_an_unknown_format(history: History) -> None:
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        render(report_of(history), "pdf")


def test_load_report_of_an_empty_store(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite"):
        pass
    report = load_report(tmp_path / "h.sqlite")
    assert report.run_count == 0 and "no runs recorded yet" in render_markdown(report)
    assert "no runs recorded yet" in render(report, "html")


def test_sbir_etl_report_command(history: History, tmp_path: Path, capsys) -> None:
    from sbir_etl.cli import main

    store = history.write(tmp_path / "h.sqlite")
    assert main(["report", "--history", str(store), "--format", "md", "--window", "20"]) == 0
    assert "latest 20 passed runs" in capsys.readouterr().out


# -- runs that recorded no test -------------------------------------------------------------------


def test_a_collect_only_run_after_a_real_one_is_not_the_latest_run(pytester: pytest.Pytester) -> None:
    """pytest records its run when it starts, so ``--collect-only`` (or ``-k nomatch``, or a run
    interrupted before its first test) leaves a run without results; the readers skip it."""
    from sbir_etl.checklist import run_baseline

    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    store = pytester.path / "h.sqlite"
    pytester.runpytest(f"--sbir-history={store}").assert_outcomes(passed=1)
    assert pytester.runpytest(f"--sbir-history={store}", "--collect-only").ret == pytest.ExitCode.OK
    assert pytester.runpytest(f"--sbir-history={store}", "-k", "nomatch").ret == pytest.ExitCode.NO_TESTS_COLLECTED

    report = load_report(store)
    assert report.run_count == 1 and [r.test_id for r in report.latest_results] == ["test_one.py::test_one"]
    assert "recorded no test" not in render_markdown(report)
    item = run_baseline(store)
    assert item.status is Status.PASS, item.message


# -- the verdicts are the test run's ---------------------------------------------------------------


def test_report_and_checklist_show_the_gates_the_test_run_applied(pytester: pytest.Pytester) -> None:
    """A 7-point drop fails the default match-rate gate (5 points) but passes the run's own
    ``--sbir-gate-match-rate-fail=10``: the report and the checklist say what pytest said."""
    from sbir_etl.checklist import run_baseline

    store = pytester.path / "h.sqlite"
    with HistoryStore(store) as seeded:
        for i in range(5):
            seeded.record_run(RunInfo(f"seed{i}", f"2026-01-0{i + 1}T00:00:00+00:00", "box", "3"))
            seeded.record_result(TestResult(f"seed{i}", "test_rate.py::test_rate", "passed", quality=quality(0.85)))
    pytester.makepyfile(test_rate="def test_rate(record_quality):\n    record_quality(match_rate=0.78)\n")
    result = pytester.runpytest(f"--sbir-history={store}", "--sbir-machine-class=box", "--sbir-gate-match-rate-fail=10")
    result.assert_outcomes(passed=1)

    [gate] = load_report(store).quality_gates
    assert gate.status is Status.PASS and gate.baseline == pytest.approx(0.85)
    assert gate.message == "match rate: 78.0% vs baseline 85.0% (median of 5 runs): -7.0 points"
    item = run_baseline(store)
    assert item.status is Status.PASS, item.message + " ".join(item.details)
