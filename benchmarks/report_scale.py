"""How the regression report scales: a 1,000-test x 50-run history, built, rendered and opened.

Prints, measured in one run on this machine (figures from a busy machine are upper bounds):

1. reading the history from a SQLite store (``--store``; else it is built in memory) and
   ``build_report`` (statistics, quality gates, series);
2. ``render(report, "html")`` with the Vega bundle already cached, and the page's size
   (target < 5 MB), plus the Markdown's size (target < 65,000 characters);
3. Chromium (Debian's, headless, via Playwright) opening the page until every chart is drawn
   (``body[data-charts-ready]``, target < 2 s), the median of ``--repeat`` loads.

    .venv/bin/python benchmarks/report_scale.py                 # 1,000 tests x 50 runs
    .venv/bin/python benchmarks/report_scale.py --tests 200 --runs 20 --store /tmp/h.sqlite

Exit 0 when every step ran; 1 with ``--strict`` when a target is missed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sbir_etl.monitoring.history import HistoryStore, QualityMetrics, RunInfo, StoredResult, TestResult
from sbir_etl.monitoring.report_html import vega_bundle
from sbir_etl.monitoring.reporting import build_report, render

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TARGET_SECONDS, TARGET_BYTES, TARGET_MD_CHARS = 2.0, 5_000_000, 65_000
SCORES = {
    "uei-exact": {"95-100": 300},
    "name-fuzzy-auto": {"85-90": 40, "90-95": 60},
    "name-fuzzy-candidate": {"75-80": 9},
}


def history(tests: int, runs: int, seed: int = 0) -> tuple[list[RunInfo], list[StoredResult]]:
    """Jittery tests (5 ms to 2 s), 2 % of them slowed for the last runs, 1 % failing, 5 quality tests."""
    rng = random.Random(seed)
    run_infos = [
        RunInfo(
            f"run-{i:04d}", f"2026-01-{1 + i // 24:02d}T{i % 24:02d}:00:00+00:00", "ci", "3.11", commit=f"{i:08x}cafe"
        )
        for i in range(runs)
    ]
    results = []
    for t in range(tests):
        test_id = f"tests/module_{t % 50:02d}/test_component_{t % 7}.py::test_behaviour_{t}[case-{t % 13}]"
        base = rng.choice([0.005, 0.02, 0.1, 0.5, 2.0])
        for i, run in enumerate(run_infos):
            slow = 2.0 if t % 50 == 3 and i >= runs - 5 else 1.0
            failed = t % 100 == 7 and i == runs - 1
            rate = 0.85 + rng.uniform(-0.004, 0.004) if t < 5 else None
            result = TestResult(
                run.run_id,
                test_id,
                "failed" if failed else "passed",
                wall_s=base * slow * rng.uniform(0.8, 1.25),
                peak_rss_growth_mib=rng.choice([0.0, 4.0, 40.0, 300.0]) * rng.uniform(0.98, 1.02),
                quality=None if rate is None else QualityMetrics(match_rate=rate, score_histogram_by_method=SCORES),
                gate_status=None if failed else ("pass" if i else "baseline established"),
            )
            results.append(StoredResult(result, run))
    return run_infos, results


def browser_seconds(page_path: Path, repeat: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    timings = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="report-bench-"), executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        for _ in range(repeat):
            page = context.new_page()
            page.set_viewport_size({"width": 1400, "height": 1000})
            started = time.perf_counter()
            page.goto(page_path.as_uri())
            page.wait_for_selector("body[data-charts-ready='true']", timeout=60_000)
            timings.append(time.perf_counter() - started)
            page.close()
        context.close()
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="browser loads; the median is reported")
    parser.add_argument("--store", type=Path, help="write the history to this SQLite store and read it back")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    runs, results = history(args.tests, args.runs)
    read_s = 0.0
    if args.store:
        with HistoryStore(args.store) as store:
            for run in runs:
                store.record_run(run)
            for stored in results:
                store.record_result(stored.result)
        started = time.perf_counter()
        with HistoryStore(args.store) as store:
            runs, results = store.runs(), store.results()
        read_s = time.perf_counter() - started
    vega_bundle()  # assembled once per machine and cached; not part of a report's cost
    started = time.perf_counter()
    report = build_report(runs, results, source=str(args.store or "memory"))
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    page = render(report, "html")
    render_s = time.perf_counter() - started
    markdown = render(report, "md")
    out = Path(tempfile.mkdtemp(prefix="report-bench-")) / "report.html"
    out.write_text(page, encoding="utf-8")
    size = len(page.encode("utf-8"))
    loads = browser_seconds(out, args.repeat)
    load_s = statistics.median(loads)

    print(f"history: {args.tests} tests x {args.runs} runs = {len(results):,} results")
    if args.store:
        print(f"read the store:           {read_s:6.2f} s")
    print(f"build_report:             {build_s:6.2f} s")
    print(f"render html:              {render_s:6.2f} s")
    print(f"html size:                {size / 1e6:6.2f} MB   (target < {TARGET_BYTES / 1e6:.0f} MB)")
    print(f"markdown size:            {len(markdown):6,d} chars (target < {TARGET_MD_CHARS:,})")
    print(
        f"chromium load -> charts:  {load_s:6.2f} s   (target < {TARGET_SECONDS:.0f} s; "
        f"loads {', '.join(f'{s:.2f}' for s in loads)})"
    )
    print(f"python build + render:    {build_s + render_s:6.2f} s")
    missed = load_s >= TARGET_SECONDS or size >= TARGET_BYTES or len(markdown) >= TARGET_MD_CHARS
    print("targets: " + ("MISSED" if missed else "met"))
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
