"""Reports from a history: trends, match rate, histograms; Markdown, JSON and self-contained HTML."""

from __future__ import annotations

import argparse
import base64
import json
import re
import struct
from pathlib import Path

import pytest

from sbir_etl.monitoring.history import HistoryStore, QualityMetrics, RunInfo, TestResult
from sbir_etl.monitoring.reporting import (
    PLOT_SIZE_PX,
    add_report_arguments,
    build_report,
    load_report,
    render_markdown,
    run_report,
)

SLOW = "tests/test_enrich.py::test_enrich_10k"
STEADY = "tests/test_enrich.py::test_steady"


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Six runs: SLOW gets slower and worse at matching, STEADY does not move."""
    path = tmp_path / "history.sqlite"
    with HistoryStore(path) as store:
        for i in range(6):
            run = RunInfo(
                run_id=f"r{i}",
                started_at=f"2026-01-0{i + 1}T00:00:00+00:00",
                machine_class="ci",
                python_version="3.11",
                commit=f"{i}abcdef0123456",
                branch="main",
                dirty=False,
            )
            store.record_run(run)
            store.record_result(
                TestResult(
                    run.run_id,
                    SLOW,
                    "passed",
                    wall_s=1.0 + 0.2 * i,
                    peak_rss_growth_mib=200.0,
                    quality=QualityMetrics(
                        match_rate=0.90 - 0.01 * i,
                        by_method={"uei-exact": 0.5},
                        score_histogram={"100-105": 1, "85-90": 5, "90-95": 9},
                    ),
                    gate_status="warn" if i == 5 else "pass",
                    gate_message="time regression: 2.00 s vs baseline 1.60 s" if i == 5 else None,
                )
            )
            store.record_result(TestResult(run.run_id, STEADY, "passed", wall_s=0.5, peak_rss_growth_mib=10.0))
    return path


def trend(report, test_id, metric):
    [found] = [t for t in report.trends if t.test_id == test_id and t.metric == metric]
    return found


def test_trends_compare_the_older_and_newer_half_of_the_window(history: Path) -> None:
    report = load_report(history)
    slow_time = trend(report, SLOW, "time")
    # older half 1.0, 1.2, 1.4 -> median 1.2; newer half 1.6, 1.8, 2.0 -> median 1.8
    assert (slow_time.before, slow_time.after) == pytest.approx((1.2, 1.8))
    assert slow_time.change == pytest.approx(50.0) and slow_time.direction == "degrading"
    rate = trend(report, SLOW, "match_rate")
    assert rate.change == pytest.approx(-3.0) and rate.direction == "degrading"
    assert trend(report, STEADY, "time").direction == "stable"
    assert trend(report, SLOW, "memory").direction == "stable"


def test_window_limits_the_runs_a_trend_sees(history: Path) -> None:
    report = load_report(history, window=2)
    slow_time = trend(report, SLOW, "time")
    assert slow_time.runs == 2 and slow_time.change == pytest.approx((2.0 - 1.8) / 1.8 * 100)


def test_a_single_run_has_no_trend_but_a_latest_table(tmp_path: Path) -> None:
    run = RunInfo(run_id="only", started_at="2026-01-01", machine_class="ci", python_version="3")
    from sbir_etl.monitoring.history import StoredResult

    report = build_report([run], [StoredResult(TestResult("only", STEADY, "passed", wall_s=0.5), run)], source="mem")
    assert {t.direction for t in report.trends} == {"insufficient data"}
    assert [r.test_id for r in report.latest_results] == [STEADY]


def test_markdown_summarises_latest_run_trends_match_rate_and_scores(history: Path) -> None:
    text = render_markdown(load_report(history))
    assert "Latest: `5abcdef012` on `main`, machine class `ci`" in text
    assert f"| `{SLOW}` | passed | **warn**: time regression: 2.00 s vs baseline 1.60 s | 2.00 s |" in text
    assert f"| `{SLOW}` | time | degrading | +50.0 % | 1.20 s → 1.80 s |" in text
    assert f"| `{SLOW}` | match_rate | degrading | -3.0 points | 89.0% → 86.0% |" in text
    assert "| 2026-01-06T00:00:00+00:00 | `5abcdef012` |" in text
    # score buckets in numeric order, not text order
    assert text.index("| 85-90 | 5 |") < text.index("| 90-95 | 9 |") < text.index("| 100-105 | 1 |")


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    return run_report(parser.parse_args(argv))


def test_json_output_is_machine_readable(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    assert run_cli("--history", str(history), "--format", "json", "--out", str(out)) == 0
    data = json.loads(out.read_text())
    assert data["run_count"] == 6 and data["latest_run"]["commit"] == "5abcdef0123456"
    assert data["score_histograms"][SLOW] == {"85-90": 5, "90-95": 9, "100-105": 1}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_html_is_self_contained_with_valid_png_plots(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert run_cli("--history", str(history), "--format", "html", "--out", str(out)) == 0
    page = out.read_text()
    # nothing to fetch: no scripts, stylesheets or remote/relative images
    assert "<script" not in page and "<link" not in page
    sources = re.findall(r"src='([^']*)'", page)
    assert len(sources) == 3  # match-rate trend, score histogram, time trend
    for source in sources:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        png = base64.b64decode(source[len(prefix) :], validate=True)
        assert png_size(png) == PLOT_SIZE_PX
        from PIL import Image  # decodes every chunk, so a truncated PNG fails here

        with Image.open(__import__("io").BytesIO(png)) as image:
            image.load()
            assert image.size == PLOT_SIZE_PX
    assert "Match rate over time" in page and "Score distribution (latest run)" in page


def test_html_without_quality_metrics_explains_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as store:
        store.record_run(RunInfo("r", "2026-01-01", "ci", "3"))
        store.record_result(TestResult("r", STEADY, "passed", wall_s=0.1))
    out = tmp_path / "r.html"
    assert run_cli("--history", str(path), "--format", "html", "--out", str(out)) == 0
    assert "use the <code>record_quality</code> fixture" in out.read_text()


def test_missing_store_and_html_to_terminal_are_errors(tmp_path: Path, capsys) -> None:
    assert run_cli("--history", str(tmp_path / "nope.sqlite")) == 2
    assert "run the tests with --sbir-history" in capsys.readouterr().err
    (tmp_path / "h.sqlite").touch()
    assert run_cli("--history", str(tmp_path / "h.sqlite"), "--format", "html") == 2
    assert "needs --out" in capsys.readouterr().err


def test_sbir_etl_report_command(history: Path, capsys) -> None:
    from sbir_etl.cli import main

    assert main(["report", "--history", str(history), "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("## SBIR enrichment regression report")
