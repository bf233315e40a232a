"""Reports from the metrics store: trends per test, match rate over time, the latest scores.

``build_report`` turns stored runs and results into a :class:`HistoryReport` (pure); the
renderers write it as Markdown (for a CI job summary or a PR comment), JSON, or a self-contained
HTML page whose plots are PNGs embedded as base64 (matplotlib, no network access needed to view
it). ``sbir-etl report --history PATH --format md|json|html [--out FILE]`` is wired through
:func:`add_report_arguments` and :func:`run_report`.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import re
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sbir_etl.monitoring.history import HistoryError, HistoryStore, RunInfo, StoredResult
from sbir_etl.monitoring.regression import format_seconds

FORMATS = ("md", "json", "html")

#: How many of a test's latest results its trend looks at.
DEFAULT_WINDOW = 10
#: Changes smaller than this (percent for time/memory, points for match rate) are "stable".
DEFAULT_STABLE_PCT = 5.0
DEFAULT_STABLE_POINTS = 1.0

#: Pixel size of every plot (width, height); tests check the embedded PNGs have it.
PLOT_SIZE_PX = (800, 320)
_PLOT_DPI = 100
#: At most this many tests get a line in the time-trend plot, the slowest first.
_MAX_PLOTTED_TESTS = 8


@dataclass(frozen=True)
class Trend:
    """How one metric of one test moved over its latest ``runs`` results.

    ``before``/``after`` are the medians of the older and the newer half of the window;
    ``change`` is in percent (time, memory) or percentage points (match rate).
    ``direction`` is ``improving``, ``degrading``, ``stable`` or ``insufficient data``.
    """

    test_id: str
    machine_class: str
    metric: str
    runs: int
    before: float | None
    after: float | None
    change: float | None
    direction: str


@dataclass(frozen=True)
class LatestResult:
    """One test of the latest run, as shown in the report's first table."""

    test_id: str
    outcome: str
    gate_status: str | None
    gate_message: str | None
    wall_s: float | None
    peak_rss_growth_mib: float | None
    match_rate: float | None


@dataclass(frozen=True)
class MatchRatePoint:
    """The match rate a test reported in one run."""

    test_id: str
    run_id: str
    started_at: str
    commit: str | None
    match_rate: float


@dataclass(frozen=True)
class HistoryReport:
    """Everything the renderers show; plain data, serialisable with ``dataclasses.asdict``."""

    source: str
    generated_at: str
    run_count: int
    latest_run: RunInfo | None
    latest_results: list[LatestResult]
    trends: list[Trend]
    match_rates: list[MatchRatePoint]
    score_histograms: dict[str, dict[str, int]] = field(default_factory=dict)
    window: int = DEFAULT_WINDOW
    time_series: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


def build_report(
    runs: Sequence[RunInfo],
    results: Sequence[StoredResult],
    *,
    source: str,
    window: int = DEFAULT_WINDOW,
    stable_pct: float = DEFAULT_STABLE_PCT,
    stable_points: float = DEFAULT_STABLE_POINTS,
) -> HistoryReport:
    """Summarise ``results`` (oldest run first, as :meth:`HistoryStore.results` returns them)."""
    if window < 2:
        raise ValueError(f"the trend window must cover at least 2 runs, got {window}")
    latest_run = runs[-1] if runs else None
    latest = [s for s in results if latest_run is not None and s.run.run_id == latest_run.run_id]

    by_test: dict[tuple[str, str], list[StoredResult]] = {}
    for stored in results:
        if stored.result.outcome == "passed":
            by_test.setdefault((stored.result.test_id, stored.run.machine_class), []).append(stored)
    trends = []
    for (test_id, machine_class), series in sorted(by_test.items()):
        recent = series[-window:]
        trends.append(
            _trend(test_id, machine_class, "time", [s.result.wall_s for s in recent], stable_pct, lower_is_better=True)
        )
        trends.append(
            _trend(
                test_id,
                machine_class,
                "memory",
                [s.result.peak_rss_growth_mib for s in recent],
                stable_pct,
                lower_is_better=True,
            )
        )
        rates = [s.result.quality.match_rate if s.result.quality else None for s in recent]
        if any(rate is not None for rate in rates):
            trends.append(_trend(test_id, machine_class, "match_rate", rates, stable_points, lower_is_better=False))

    match_rates = [
        MatchRatePoint(s.result.test_id, s.run.run_id, s.run.started_at, s.run.commit, s.result.quality.match_rate)
        for s in results
        if s.result.quality is not None and s.result.quality.match_rate is not None
    ]
    time_series: dict[str, list[tuple[str, float]]] = {}
    for stored in results:
        if stored.result.wall_s is not None and stored.result.outcome == "passed":
            time_series.setdefault(stored.result.test_id, []).append((stored.run.started_at, stored.result.wall_s))
    return HistoryReport(
        source=source,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        run_count=len(runs),
        latest_run=latest_run,
        latest_results=[
            LatestResult(
                test_id=s.result.test_id,
                outcome=s.result.outcome,
                gate_status=s.result.gate_status,
                gate_message=s.result.gate_message,
                wall_s=s.result.wall_s,
                peak_rss_growth_mib=s.result.peak_rss_growth_mib,
                match_rate=s.result.quality.match_rate if s.result.quality else None,
            )
            for s in latest
        ],
        trends=trends,
        match_rates=match_rates,
        score_histograms={
            s.result.test_id: dict(sorted(s.result.quality.score_histogram.items(), key=_bucket_order))
            for s in latest
            if s.result.quality is not None and s.result.quality.score_histogram
        },
        window=window,
        time_series=time_series,
    )


def load_report(path: str | Path, *, window: int = DEFAULT_WINDOW) -> HistoryReport:
    """Read the store at ``path`` and build its report; refuses a path that does not exist."""
    path = Path(path)
    if not path.is_file():
        raise HistoryError(f"no metrics store at {path}; run the tests with --sbir-history {path} first")
    with HistoryStore(path) as store:
        return build_report(store.runs(), store.results(), source=str(path), window=window)


def _trend(
    test_id: str,
    machine_class: str,
    metric: str,
    values: Sequence[float | None],
    stable: float,
    *,
    lower_is_better: bool,
) -> Trend:
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return Trend(
            test_id,
            machine_class,
            metric,
            len(present),
            None,
            present[-1] if present else None,
            None,
            "insufficient data",
        )
    half = len(present) // 2
    before = statistics.median(present[:half])
    after = statistics.median(present[half:] if len(present) % 2 == 0 else present[half + 1 :])
    if metric == "match_rate":
        change = (after - before) * 100
    elif before > 0:
        change = (after - before) / before * 100
    else:
        change = 0.0 if after == before else float("inf")
    if abs(change) < stable:
        direction = "stable"
    elif (change > 0) == lower_is_better:
        direction = "degrading"
    else:
        direction = "improving"
    return Trend(test_id, machine_class, metric, len(present), before, after, change, direction)


def _bucket_order(item: tuple[str, int]) -> tuple[float, str]:
    """Score buckets such as "70-75" sort by their lower bound, not as text."""
    match = re.match(r"\s*(-?\d+(?:\.\d+)?)", item[0])
    return (float(match.group(1)) if match else float("inf"), item[0])


# -- formatting helpers ----------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    return "–" if value is None else format_seconds(value)


def _mib(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} MiB"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _change(trend: Trend) -> str:
    if trend.change is None:
        return "–"
    if trend.change == float("inf"):
        return "from zero"
    unit = " points" if trend.metric == "match_rate" else " %"
    return f"{trend.change:+.1f}{unit}"


def _value(metric: str, value: float | None) -> str:
    return {"time": _seconds, "memory": _mib, "match_rate": _rate}[metric](value)


def _run_line(report: HistoryReport) -> str:
    run = report.latest_run
    if run is None:
        return f"History `{report.source}`: no runs recorded yet."
    commit = (run.commit or "unknown")[:10]
    dirty = " (dirty)" if run.dirty else ""
    return (
        f"History `{report.source}`: {report.run_count} run(s). Latest: `{commit}`{dirty} on "
        f"`{run.branch or 'unknown branch'}`, machine class `{run.machine_class}`, "
        f"started {run.started_at}."
    )


# -- Markdown ---------------------------------------------------------------------------------


def render_markdown(report: HistoryReport) -> str:
    """GitHub-flavoured Markdown, for ``$GITHUB_STEP_SUMMARY`` or a PR comment."""
    lines = ["## SBIR enrichment regression report", "", _run_line(report), ""]
    if report.latest_results:
        lines += [
            "### Latest run",
            "",
            "| test | outcome | gate | time | peak RSS growth | match rate |",
            "|---|---|---|---:|---:|---:|",
        ]
        for r in report.latest_results:
            gate = r.gate_status or "–"
            if r.gate_status in ("fail", "warn") and r.gate_message:
                gate = f"**{r.gate_status}**: {r.gate_message}"
            lines.append(
                f"| `{r.test_id}` | {r.outcome} | {_md_cell(gate)} | {_seconds(r.wall_s)} "
                f"| {_mib(r.peak_rss_growth_mib)} | {_rate(r.match_rate)} |"
            )
        lines.append("")
    moving = [t for t in report.trends if t.direction in ("degrading", "improving")]
    lines += [f"### Trends (latest {report.window} passed runs per test)", ""]
    if moving:
        lines += ["| test | metric | trend | change | before → after |", "|---|---|---|---:|---|"]
        for t in sorted(moving, key=lambda t: (t.direction != "degrading", t.test_id, t.metric)):
            lines.append(
                f"| `{t.test_id}` | {t.metric} | {t.direction} | {_change(t)} "
                f"| {_value(t.metric, t.before)} → {_value(t.metric, t.after)} |"
            )
    else:
        lines.append("No metric moved beyond the stable band.")
    stable = sum(t.direction == "stable" for t in report.trends)
    short = sum(t.direction == "insufficient data" for t in report.trends)
    lines += ["", f"{stable} stable, {short} with too few runs for a trend.", ""]
    if report.match_rates:
        lines += ["### Match rate over time", "", "| run started | commit | test | match rate |", "|---|---|---|---:|"]
        for point in report.match_rates[-20:]:
            lines.append(
                f"| {point.started_at} | `{(point.commit or 'unknown')[:10]}` | `{point.test_id}` "
                f"| {_rate(point.match_rate)} |"
            )
        lines.append("")
    if report.score_histograms:
        lines += ["### Score distribution (latest run)", ""]
        for test_id, histogram in report.score_histograms.items():
            total = sum(histogram.values()) or 1
            lines += [f"`{test_id}`", "", "| score | count | share |", "|---|---:|---:|"]
            lines += [f"| {bucket} | {count} | {count / total:.1%} |" for bucket, count in histogram.items()]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- JSON -------------------------------------------------------------------------------------


def render_json(report: HistoryReport) -> str:
    """The report as JSON (infinite changes, e.g. memory growth from zero, become ``null``)."""
    data = asdict(report)
    for trend in data["trends"]:
        if trend["change"] == float("inf"):
            trend["change"] = None
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


# -- HTML -------------------------------------------------------------------------------------


def render_html(report: HistoryReport) -> str:
    """One self-contained HTML page: inline CSS, plots as base64 PNG, no scripts, no links."""
    sections = [f"<p>{_inline_code(_run_line(report))}</p>"]
    if report.latest_results:
        rows = "".join(
            f"<tr class='{html.escape(r.gate_status or '')}'><td><code>{html.escape(r.test_id)}</code></td>"
            f"<td>{html.escape(r.outcome)}</td>"
            f"<td>{html.escape(r.gate_status or '–')}{_gate_detail(r)}</td>"
            f"<td>{_seconds(r.wall_s)}</td><td>{_mib(r.peak_rss_growth_mib)}</td>"
            f"<td>{_rate(r.match_rate)}</td></tr>"
            for r in report.latest_results
        )
        sections.append(
            "<h2>Latest run</h2><table><tr><th>test</th><th>outcome</th><th>gate</th><th>time</th>"
            f"<th>peak RSS growth</th><th>match rate</th></tr>{rows}</table>"
        )
    sections.append("<h2>Match rate over time</h2>")
    sections.append(
        _figure(_plot_match_rates(report), "Match rate of each test over the recorded runs")
        if report.match_rates
        else "<p>No test has reported a match rate yet (use the <code>record_quality</code> fixture).</p>"
    )
    sections.append("<h2>Score distribution (latest run)</h2>")
    sections.append(
        _figure(_plot_histograms(report), "Score histogram of the latest run")
        if report.score_histograms
        else "<p>The latest run reported no score histogram.</p>"
    )
    sections.append("<h2>Time per test</h2>")
    sections.append(
        _figure(_plot_times(report), "Wall time of the slowest tests over the recorded runs")
        if report.time_series
        else "<p>No timings recorded yet.</p>"
    )
    trend_rows = "".join(
        f"<tr class='{t.direction.replace(' ', '-')}'><td><code>{html.escape(t.test_id)}</code></td>"
        f"<td>{t.metric}</td><td>{t.direction}</td><td>{html.escape(_change(t))}</td>"
        f"<td>{_value(t.metric, t.before)} → {_value(t.metric, t.after)}</td></tr>"
        for t in report.trends
    )
    sections.append(
        f"<h2>Trends (latest {report.window} passed runs per test)</h2><table><tr><th>test</th>"
        f"<th>metric</th><th>trend</th><th>change</th><th>before → after</th></tr>{trend_rows}</table>"
    )
    return _HTML_PAGE.format(generated=html.escape(report.generated_at), body="\n".join(sections))


_HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>SBIR enrichment regression report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; font-size: 14px; }}
tr.fail td, tr.degrading td {{ background: #fde2e2; }}
tr.warn td {{ background: #fff4d6; }}
tr.improving td {{ background: #e3f6e3; }}
figure {{ margin: 1em 0; }} figcaption {{ color: #555; font-size: 13px; }}
</style></head><body>
<h1>SBIR enrichment regression report</h1>
<p>Generated {generated}.</p>
{body}
</body></html>
"""


def _inline_code(text: str) -> str:
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _gate_detail(result: LatestResult) -> str:
    if result.gate_status in ("fail", "warn") and result.gate_message:
        return f"<br><small>{html.escape(result.gate_message)}</small>"
    return ""


def _figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f"<figure><img alt='{html.escape(caption)}' width='{PLOT_SIZE_PX[0]}' "
        f"height='{PLOT_SIZE_PX[1]}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _new_axes():
    # matplotlib's object API with the Agg canvas: no pyplot global state, no display needed.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(PLOT_SIZE_PX[0] / _PLOT_DPI, PLOT_SIZE_PX[1] / _PLOT_DPI), dpi=_PLOT_DPI)
    return figure, figure.subplots()


def _label_runs(axes) -> None:
    """Runs are counted, not measured: whole-number ticks only."""
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("run (oldest to newest)")


def _png(figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_PLOT_DPI)
    return buffer.getvalue()


def _short(test_id: str) -> str:
    return test_id.rsplit("::", 1)[-1]


def _plot_match_rates(report: HistoryReport) -> bytes:
    figure, axes = _new_axes()
    runs = sorted({p.started_at for p in report.match_rates})
    position = {started: i for i, started in enumerate(runs)}
    for test_id in sorted({p.test_id for p in report.match_rates}):
        points = [p for p in report.match_rates if p.test_id == test_id]
        axes.plot(
            [position[p.started_at] for p in points],
            [p.match_rate * 100 for p in points],
            marker="o",
            label=_short(test_id),
        )
    _label_runs(axes)
    axes.set_ylabel("match rate (%)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    return _png(figure)


def _plot_histograms(report: HistoryReport) -> bytes:
    figure, axes = _new_axes()
    tests = list(report.score_histograms)
    buckets = sorted({b for h in report.score_histograms.values() for b in h}, key=lambda b: _bucket_order((b, 0)))
    width = 0.8 / len(tests)
    for i, test_id in enumerate(tests):
        counts = [report.score_histograms[test_id].get(b, 0) for b in buckets]
        axes.bar([x + i * width for x in range(len(buckets))], counts, width=width, label=_short(test_id))
    axes.set_xticks([x + 0.4 - width / 2 for x in range(len(buckets))], buckets, rotation=45, fontsize=8)
    axes.set_xlabel("match score")
    axes.set_ylabel("awards")
    axes.legend(fontsize=8)
    return _png(figure)


def _plot_times(report: HistoryReport) -> bytes:
    figure, axes = _new_axes()
    slowest = sorted(report.time_series, key=lambda t: report.time_series[t][-1][1], reverse=True)
    runs = sorted({started for series in report.time_series.values() for started, _ in series})
    position = {started: i for i, started in enumerate(runs)}
    for test_id in slowest[:_MAX_PLOTTED_TESTS]:
        series = report.time_series[test_id]
        axes.plot([position[s] for s, _ in series], [v for _, v in series], marker=".", label=_short(test_id))
    _label_runs(axes)
    axes.set_ylabel("wall time (s)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    return _png(figure)


# -- command line -----------------------------------------------------------------------------

_RENDERERS = {"md": render_markdown, "json": render_json, "html": render_html}


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``sbir-etl report``."""
    parser.add_argument("--history", required=True, help="metrics store written by pytest --sbir-history")
    parser.add_argument("--format", choices=FORMATS, default="md", help="output format (default md)")
    parser.add_argument("--out", help="write here instead of standard output (required for html)")
    parser.add_argument(
        "--window",
        type=int,
        default=DEFAULT_WINDOW,
        help=f"passed runs per test that trends look at (default {DEFAULT_WINDOW})",
    )


def run_report(args: argparse.Namespace) -> int:
    """Write the report; 0 on success, 2 when the store cannot be read or the arguments are wrong."""
    if args.format == "html" and not args.out:
        print(
            "sbir-etl report: --format html needs --out FILE (an HTML page is not meant for a terminal)",
            file=sys.stderr,
        )
        return 2
    try:
        report = load_report(args.history, window=args.window)
    except (HistoryError, ValueError) as error:
        print(f"sbir-etl report: error: {error}", file=sys.stderr)
        return 2
    text = _RENDERERS[args.format](report)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.format} report to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


__all__ = [
    "FORMATS",
    "HistoryReport",
    "LatestResult",
    "MatchRatePoint",
    "Trend",
    "add_report_arguments",
    "build_report",
    "load_report",
    "render_html",
    "render_json",
    "render_markdown",
    "run_report",
]
