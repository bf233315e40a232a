"""The HTML report in a real browser: Debian's Chromium (`scripts/test` installs it), driven by Playwright.

Playwright's own browser download is not used: it launches /usr/bin/chromium headless, with a
fresh profile and no background networking. The page must load with no console error or Vega
warning and without asking the network for anything; the screenshots it takes are the ones
docs/alerts-and-reports.md shows.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_histories import History, jittered, quality

from sbir_etl.monitoring.reporting import HistoryReport, build_report, render
from sbir_etl.outcomes import Status

CHROMIUM = Path(os.environ.get("SBIR_CHROMIUM", "/usr/bin/chromium"))  # e.g. /usr/bin/google-chrome on GitHub runners
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images"
TESTS = [f"tests/core/test_{name}.py::test_{name}_{i}" for name in ("enrich", "matching", "io") for i in range(14)]
LONG_ID = "tests/integration/" + "nested/" * 12 + "test_registry_variants.py::test_registry[" + "x" * 60 + "]"
SLOWED = TESTS[5]
RATE_DROPPED, RATE_STEADY = "tests/core/test_quality.py::test_match_rate_10k", "tests/core/test_quality.py::test_real"


def example_history() -> History:
    """12 runs of 42 jittery tests plus two quality tests; in the latest run three tests fail
    (one by its own assertion, one by its match-rate gate, one with a very long id), two warn,
    and SLOWED has run twice as slow for the last five runs."""
    history = jittered(TESTS, runs=12, seed=5, slow=lambda test, run: 2.0 if test == 5 and run >= 7 else 1.0)
    for i, run in enumerate(history.runs):
        last = i == len(history.runs) - 1
        history.add(run, RATE_STEADY, wall_s=0.8, peak_rss_growth_mib=60.0, quality=quality(0.91), gate_status="pass")
        history.add(
            run,
            RATE_DROPPED,
            "failed" if last else "passed",
            wall_s=1.4,
            peak_rss_growth_mib=120.0,
            quality=quality(0.79 if last else 0.86 + 0.002 * (i % 3)),
            gate_status="fail" if last else "pass",
            gate_message="match rate regression: 79.0% vs baseline 86.2% (median of 5 runs): -7.2 points, fail at -5 points"
            if last
            else None,
        )
        history.add(run, LONG_ID, "failed" if last else "passed", wall_s=0.05, gate_status=None if last else "pass")
    latest = history.runs[-1]
    results = {s.result.test_id: s for s in history.results if s.run is latest}
    for test_id, status, outcome, message in (
        (TESTS[2], "fail", "failed", None),
        (
            TESTS[9],
            "warn",
            "passed",
            "time regression: 13 ms vs baseline 11 ms (median of 5 runs): +18 %, warn at +10 %",
        ),
        (
            TESTS[20],
            "warn",
            "passed",
            "memory regression: 52.0 MiB vs baseline 40.0 MiB (median of 5 runs): +30 %, warn at +20 %",
        ),
    ):
        stored = results[test_id]
        result = dataclasses.replace(stored.result, outcome=outcome, gate_status=status, gate_message=message)
        history.results[history.results.index(stored)] = dataclasses.replace(stored, result=result)
    return history


@pytest.fixture(scope="module")
def report() -> HistoryReport:
    history = example_history()
    built = build_report(history.runs, history.results, source=".sbir/history.sqlite")
    return dataclasses.replace(built, generated_at="2026-01-12T12:00:00+00:00")  # stable screenshots


@pytest.fixture(scope="module")
def page_file(report: HistoryReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render(report, "html"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run the tests with scripts/test, which installs Debian's chromium, "
            "or point SBIR_CHROMIUM at a Chromium or Chrome executable"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=LAUNCH_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        yield context
        context.close()


@dataclasses.dataclass
class LoadedPage:
    page: object
    console: list[tuple[str, str]]
    errors: list[str]
    outside_requests: list[str]


@pytest.fixture
def loaded(browser, page_file: Path) -> Iterator[LoadedPage]:
    """The report opened at 1400 px, every chart drawn; what it logged and requested is kept."""
    page = browser.new_page()
    record = LoadedPage(page, [], [], [])
    page.on("console", lambda message: record.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: record.errors.append(str(error)))

    def only_the_file(route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            record.outside_requests.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_file)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(page_file.as_uri())
    page.wait_for_selector("body[data-charts-ready='true']", timeout=30_000)
    yield record
    page.close()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_page_loads_with_no_console_message_error_or_request(loaded: LoadedPage) -> None:
    noisy = [(kind, text) for kind, text in loaded.console if kind in ("error", "warning")]
    assert noisy == [] and loaded.errors == []  # Vega reports a bad specification as a warning
    assert loaded.outside_requests == []


def test_summary_names_every_failing_and_warning_test_with_its_message(loaded: LoadedPage, report) -> None:
    page = loaded.page
    failing = {r.test_id for r in report.with_status(Status.FAIL)}
    assert failing == {TESTS[2], RATE_DROPPED, LONG_ID}
    named = page.eval_on_selector_all("#summary .attention li.fail button.tid", "bs => bs.map(b => b.title)")
    assert set(named) == failing and len(named) == len(failing)
    warned = page.eval_on_selector_all("#summary .attention li.warn button.tid", "bs => bs.map(b => b.title)")
    assert set(warned) == {TESTS[9], TESTS[20]}
    degrading = page.eval_on_selector_all("#summary .attention li.degrading button.tid", "bs => bs.map(b => b.title)")
    assert degrading == [SLOWED]
    text = page.inner_text("#summary")
    assert "match rate regression: 79.0% vs baseline 86.2%" in text and "the test itself failed" in text
    assert page.inner_text("#summary .cards").split()[:2] == ["12", "runs"]


def visible_values(page, column: int) -> list[str]:
    """The sort values of one column of the visible rows (column 0: the full test id)."""
    key = "r.dataset.id" if column == 0 else f"r.cells[{column}].dataset.v"
    return page.eval_on_selector_all("#tests tbody tr:not([hidden])", f"rows => rows.map(r => {key})")


def test_columns_sort_both_ways_with_missing_values_last(loaded: LoadedPage) -> None:
    page = loaded.page
    page.click("#tests th:nth-child(3) button")  # time
    times = [float(v) for v in visible_values(page, 2)]
    assert times == sorted(times) and page.get_attribute("#tests th:nth-child(3)", "aria-sort") == "ascending"
    page.click("#tests th:nth-child(3) button")
    assert [float(v) for v in visible_values(page, 2)] == sorted(times, reverse=True)
    page.click("#tests th:nth-child(5) button")  # match rate: only two tests have one
    rates = visible_values(page, 4)
    assert [float(v) for v in rates[:2]] == [0.79, 0.91] and set(rates[2:]) == {""}
    page.click("#tests th:nth-child(1) button")  # test id, as text
    ids = visible_values(page, 0)
    assert ids == sorted(ids)  # localeCompare orders these ASCII ids as Python does


def test_filters_by_text_and_by_status(loaded: LoadedPage, report) -> None:
    page = loaded.page
    page.fill("#filter", "test_matching")
    shown = visible_values(page, 0)
    assert len(shown) == 14 and all("test_matching" in test_id for test_id in shown)
    assert page.inner_text("#shown-count") == f"showing 14 of {len(report.latest_results)}"
    page.fill("#filter", "")
    page.select_option("#status-filter", "fail")
    assert set(visible_values(page, 0)) == {r.test_id for r in report.with_status(Status.FAIL)}
    page.select_option("#status-filter", "attention")
    assert len(visible_values(page, 0)) == 5
    page.select_option("#status-filter", "degrading")
    assert visible_values(page, 0) == [SLOWED]


def test_every_chart_draws_one_mark_per_data_point(loaded: LoadedPage) -> None:
    page = loaded.page
    page.locator("#scores").scroll_into_view_if_needed()  # score charts are drawn when scrolled to
    page.wait_for_function("[...document.querySelectorAll('figure:not([hidden]) .chart')].every(c => c.dataset.points)")
    charts = page.eval_on_selector_all(
        "figure:not([hidden]) .chart",
        """els => els.map(el => ({
            kind: el.dataset.chart,
            points: Number(el.dataset.points),
            svg: el.querySelectorAll('svg').length,
            symbols: el.querySelectorAll('g.mark-symbol.role-mark path').length,
            bars: el.querySelectorAll('g.mark-rect.role-mark path').length,
            lines: el.querySelectorAll('g.mark-line.role-mark path').length,
        }))""",
    )
    kinds = sorted(c["kind"] for c in charts)
    # the summary's two match-rate trends; the first failing test's time, memory and match rate; two score charts
    assert kinds == ["match_rate"] * 3 + ["memory", "scores", "scores", "time"]
    for chart in charts:
        assert chart["svg"] == 1 and chart["points"] > 0, chart
        if chart["kind"] == "scores":
            assert chart["bars"] == chart["points"], chart
        else:
            assert chart["symbols"] == chart["points"] == 12, chart
            assert chart["lines"] >= 3, chart  # the runs' trace, the baseline and the thresholds


def test_history_baselines_are_the_gates_baselines(loaded: LoadedPage, report) -> None:
    rows = loaded.page.evaluate(f"window.sbirReport.historyRows({SLOWED!r}, 't')")
    series = report.series[SLOWED]
    passed = [v for v, outcome in zip(series.wall_s, series.outcomes) if outcome == "passed"]
    close = {"abs": 1e-6}  # the page carries times to the microsecond
    for i, row in enumerate(rows):
        previous = passed[:i][-report.thresholds.baseline_runs :]
        if previous:
            assert row["baseline"] == pytest.approx(statistics.median(previous), **close)
            assert row["lo"] == pytest.approx(min(previous), **close) and row["hi"] == pytest.approx(
                max(previous), **close
            )
        else:
            assert "baseline" not in row


def test_clicking_a_test_id_shows_its_history(loaded: LoadedPage) -> None:
    page = loaded.page
    page.click(f"#summary .attention li.degrading button.tid[title='{SLOWED}']")
    page.wait_for_function(f"document.getElementById('history-title').textContent === {SLOWED!r}")
    assert page.input_value("#test-picker") == SLOWED
    assert page.eval_on_selector("#history .chart[data-chart='time']", "el => el.dataset.points") == "12"
    page.select_option("#test-picker", RATE_DROPPED)
    page.wait_for_function(
        "document.querySelector(\"#history .chart[data-chart='match_rate']\").closest('figure').hidden === false"
    )


def test_readable_at_1400_and_390_pixels_with_screenshots_for_the_docs(loaded: LoadedPage) -> None:
    page = loaded.page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(SCREENSHOTS / "report-1400.png"))
    page.evaluate(f"window.sbirReport.showTest({SLOWED!r})")  # a test with a visible trend, for the docs
    page.locator("#history").screenshot(path=str(SCREENSHOTS / "report-history-1400.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)  # charts re-fit their width on resize
    assert no_horizontal_scroll(page)
    assert page.evaluate("document.querySelector('#tests thead').getBoundingClientRect().width") <= 390
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / "report-390.png"))
    for name in ("report-1400.png", "report-history-1400.png", "report-390.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000
