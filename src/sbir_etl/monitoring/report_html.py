"""The report as one self-contained, interactive HTML page (no network needed to open it).

Summary first — runs, tests, what failed or warned and why, degrading trends, quality gates and
the match-rate trend — then the details: the time/memory/match-rate history of any test with its
baseline band and warn/fail lines, a sortable, filterable table of every test, and the score
distribution by match method.

Charts are Vega-Lite (specifications from :mod:`~sbir_etl.monitoring.report_charts`) drawn by
Vega's own JavaScript, which is inlined: ``vl-convert-python`` ships Vega, Vega-Lite and
vega-embed as one bundle (~0.9 MB), so the file opens offline, e.g. as a CI artifact. The page's
own CSS and script live beside this module in ``report_page/``. The tables are HTML written here,
so the summary reads even with scripts off; the script sorts, filters and draws.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from sbir_etl.monitoring.regression import METRICS, GateThresholds, format_value
from sbir_etl.monitoring.report_charts import VEGA_LITE_VERSION, history_spec, score_spec
from sbir_etl.monitoring.report_scores import ScoreDistribution, method_order
from sbir_etl.monitoring.reporting import Attention, HistoryReport, LatestResult, shorten_id
from sbir_etl.monitoring.trends import Direction, Trend
from sbir_etl.outcomes import Status

#: Test ids longer than this are shortened in the middle on the page (the full id is the tooltip).
MAX_SHOWN_ID = 90
#: How many match-rate charts the summary draws (lowest latest match rate first); the picker has all.
MAX_SUMMARY_RATE_CHARTS = 6
#: How many score-distribution charts the page draws (the tests of the latest run that report one).
MAX_SCORE_CHARTS = 12

#: One letter per outcome in the page's data (the script spells them out again).
_OUTCOME_CODES = {"passed": "p", "failed": "f", "skipped": "s"}

#: Each status as the page names it, also its CSS class (statuses are `sbir_etl.outcomes.Status`).
LABELS = {
    Status.FAIL: "fail",
    Status.WARN: "warn",
    Status.BASELINE: "baseline",
    Status.PASS: "pass",
    Status.SKIP: "skipped",
}

_STATUS_FILTERS = (
    ("all", "all tests"),
    ("attention", "needs attention"),
    ("fail", "failing"),
    ("warn", "warnings"),
    ("degrading", "degrading trend"),
    ("baseline", "baseline established"),
    ("pass", "passed"),
    ("skipped", "skipped"),
)


def render_html(report: HistoryReport) -> str:
    """The page: inline CSS, data, Vega bundle and script; nothing fetched when it is opened."""
    parts = [
        _head(report),
        "<main class='page'>",
        _header(report),
        _summary(report),
        _history(report),
        _tests_table(report),
        _scores(report),
        _method(report),
        "</main>",
        _script_json("report-data", _page_data(report)),
        f"<script>{_safe_script(vega_bundle())}</script>",
        f"<script>{_safe_script(_asset('page.js'))}</script>",
        "</body></html>\n",
    ]
    return "\n".join(parts)


#: What the bundle exposes to the page's script (vl-convert names its imports ``vegaEmbed``, ``vega``).
_BUNDLE_SNIPPET = "window.vegaEmbed = vegaEmbed; window.vega = vega;"


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script, for the Vega-Lite version the charts are written for.

    vl-convert assembles it in a few seconds; the result is kept in the user's cache directory
    (``$XDG_CACHE_HOME/sbir-etl``, default ``~/.cache/sbir-etl``) under the versions it was built
    from, so later reports reuse it. A cache that cannot be written only costs that time again.
    """
    import vl_convert

    key = hashlib.sha256(_BUNDLE_SNIPPET.encode()).hexdigest()[:8]
    cached = bundle_cache_dir() / f"vega-bundle-{metadata.version('vl-convert-python')}-{VEGA_LITE_VERSION}-{key}.js"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle(_BUNDLE_SNIPPET, vl_version=VEGA_LITE_VERSION)
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(bundle, encoding="utf-8")
        partial.replace(cached)  # atomic: a concurrent reader sees the whole bundle or none
    except OSError:
        partial.unlink(missing_ok=True)
    return bundle


def bundle_cache_dir() -> Path:
    """Where :func:`vega_bundle` keeps the assembled script."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sbir-etl"


def _asset(name: str) -> str:
    return resources.files("sbir_etl.monitoring").joinpath("report_page", name).read_text(encoding="utf-8")


def _safe_script(code: str) -> str:
    """Code that cannot end its <script> element early."""
    return code.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def _script_json(element_id: str, data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return f"<script type='application/json' id='{element_id}'>{text}</script>"


# -- page sections ------------------------------------------------------------------------------


def _head(report: HistoryReport) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>SBIR enrichment regression report</title>"
        f"<style>{_asset('page.css')}</style></head><body>"
    )


def _header(report: HistoryReport) -> str:
    run = report.latest_run
    if run is None:
        line = f"History <code>{_e(report.source)}</code>: no runs recorded yet."
    else:
        line = (
            f"History <code>{_e(report.source)}</code> · latest run <code>{_e(run.label)}</code>"
            f" · started {_e(run.started_at)}"
        )
    return (
        "<header><h1>SBIR enrichment regression report</h1>"
        f"<p class='run-line'>{line}</p><p class='run-line'>Generated {_e(report.generated_at)}.</p></header>"
    )


def _summary(report: HistoryReport) -> str:
    seen = report.attention()
    below_gate = [g for g in report.quality_gates if g.status in (Status.FAIL, Status.WARN)]
    cards = [
        _card(report.run_count, "runs recorded"),
        _card(len(report.latest_results), f"tests in the latest run ({seen.gated} gated)"),
        _card(len(seen.failing), "failing", "fail" if seen.failing else "ok"),
        _card(len(seen.warnings), "warnings", "warn" if seen.warnings else "ok"),
        _card(len(seen.degrading), "degrading trends", "fail" if seen.degrading else "ok"),
    ]
    if len(report.quality_gates) == 1:
        gate = report.quality_gates[0]
        rate = format_value("match_rate", gate.match_rate)
        cards.append(_card(rate, f"match rate (gate: {LABELS[gate.status]})", _tone(gate.status)))
    elif report.quality_gates:
        cards.append(
            _card(
                len(below_gate), f"of {len(report.quality_gates)} quality gates below", "fail" if below_gate else "ok"
            )
        )
    return (
        "<section id='summary' aria-labelledby='summary-title'><h2 id='summary-title'>Summary</h2>"
        f"<div class='cards'>{''.join(cards)}</div>"
        f"{_attention(report, seen)}{_quality(report)}</section>"
    )


def _card(number: object, label: str, tone: str = "") -> str:
    return f"<div class='card {tone}'><span class='n'>{_e(str(number))}</span><span class='l'>{_e(label)}</span></div>"


def _tone(status: Status) -> str:
    return {Status.FAIL: "fail", Status.WARN: "warn", Status.PASS: "ok"}.get(status, "")


def _attention(report: HistoryReport, seen: Attention) -> str:
    if not report.latest_results:
        return "<p class='all-clear'>No test results recorded yet.</p>"
    if not seen.any:
        return f"<h3>Needs attention</h3><p class='all-clear'>All {len(report.latest_results)} tests passed their gates; no degrading trend.</p>"
    items = [_attention_item(LABELS[r.status], r.test_id, r.message) for r in seen.failing + seen.warnings]
    items += [_attention_item("degrading", t.test_id, _trend_sentence(t)) for t in seen.degrading]
    return f"<h3>Needs attention</h3><ul class='attention' id='attention'>{''.join(items)}</ul>"


def _attention_item(css: str, test_id: str, message: str) -> str:
    label = {"fail": "failing", "warn": "warning", "degrading": "degrading"}[css]
    return (
        f"<li class='{css}'><span class='badge {css}'>{label}</span> {_test_button(test_id)}"
        f"<p class='msg'>{_e(message)}</p></li>"
    )


def _trend_sentence(trend: Trend) -> str:
    return (
        f"{_metric_name(trend.metric)} trend over {trend.runs} runs: {format_value(trend.metric, trend.before)} → "
        f"{format_value(trend.metric, trend.after)} ({trend.change_text}, Mann–Whitney p = {trend.p_value:.3g})"
    )


def _quality(report: HistoryReport) -> str:
    if not report.quality_gates:
        return (
            "<h3>Quality gates</h3><p class='note'>No test of the latest run reported a match rate "
            "(use the <code>record_quality</code> fixture).</p>"
        )
    rows = "".join(
        f"<tr class='{LABELS[g.status]}' data-id='{_e(g.test_id)}'><td class='cell-test' data-label='test'>{_test_button(g.test_id)}</td>"
        + _num_cell("match rate", "match_rate", g.match_rate)
        + _num_cell("baseline", "match_rate", g.baseline)
        + f"<td class='wrap' data-label='gate'><span class='badge {LABELS[g.status]}'>{LABELS[g.status]}</span> {_e(g.message)}</td></tr>"
        for g in report.quality_gates
    )
    charted = sorted(report.quality_gates, key=lambda g: g.match_rate)[:MAX_SUMMARY_RATE_CHARTS]
    charts = "".join(_figure("match_rate", f"match rate of {g.test_id}", key="q", test_id=g.test_id) for g in charted)
    return (
        "<h3>Quality gates and the match-rate trend</h3>"
        "<table class='quality sortable'><colgroup><col class='col-test'><col class='col-num'><col class='col-num'><col></colgroup>"
        "<thead><tr>"
        + _th("test", by_row_id=True)
        + _th("match rate", numeric=True)
        + _th("baseline", numeric=True)
        + _th("gate")
        + f"</tr></thead><tbody>{rows}</tbody></table>"
        f"<div class='chart-grid'>{charts}</div>"
    )


def _history(report: HistoryReport) -> str:
    options = "".join(
        f"<option value='{_e(r.test_id)}'>{_e(shorten_id(r.test_id, MAX_SHOWN_ID))}</option>"
        for r in sorted(report.latest_results, key=_urgency)
    )
    charts = "".join(
        _figure(metric, caption, key=key)
        for metric, key, caption in (
            ("time", "t", "wall time per run"),
            ("memory", "m", "peak RSS growth per run"),
            ("match_rate", "q", "match rate per run"),
        )
    )
    t = report.thresholds
    return (
        "<section id='history'><h2>Test history</h2>"
        "<div class='picker'><label for='test-picker'>Test</label>"
        f"<select id='test-picker'>{options}</select></div>"
        "<p class='note'><strong id='history-title'></strong></p>"
        f"<div class='chart-grid'>{charts}</div>"
        f"<p class='note'>Each point is one run (red: the test failed or was skipped). The shaded band is the range of "
        f"the previous {t.baseline_runs} passed runs and the solid line their median, the baseline that run was gated "
        f"against; dashed lines are the warn and fail thresholds ({_threshold_text(t)}), noise floors included. "
        "Click a test id anywhere on the page to show it here.</p></section>"
    )


def _tests_table(report: HistoryReport) -> str:
    trends = report.latest_trends()
    rows = "".join(_test_row(r, trends) for r in sorted(report.latest_results, key=_urgency))
    filters = "".join(f"<option value='{value}'>{label}</option>" for value, label in _STATUS_FILTERS)
    return (
        "<section id='all-tests'><h2>All tests of the latest run</h2>"
        "<div class='table-tools'><input type='search' id='filter' placeholder='filter by test id' "
        "aria-label='filter by test id'>"
        f"<select id='status-filter' aria-label='filter by status'>{filters}</select>"
        "<span class='count' id='shown-count'></span></div>"
        "<table id='tests' class='sortable'><colgroup><col class='col-test'><col class='col-status'>"
        "<col class='col-num'><col class='col-num'><col class='col-num'><col class='col-trend'><col class='col-trend'>"
        "</colgroup><thead><tr>"
        + _th("test", by_row_id=True)
        + _th("status", numeric=True)
        + _th("time", numeric=True)
        + _th("memory", numeric=True)
        + _th("match rate", numeric=True)
        + _th("time trend", numeric=True)
        + _th("memory trend", numeric=True)
        + f"</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _test_row(result: LatestResult, trends: dict[tuple[str, str], Trend]) -> str:
    time_trend, memory_trend = trends.get((result.test_id, "time")), trends.get((result.test_id, "memory"))
    moving = [t for t in (time_trend, memory_trend, trends.get((result.test_id, "match_rate"))) if t]
    degrading = any(t.direction is Direction.DEGRADING for t in moving)
    status = LABELS[result.status]
    return (
        f"<tr class='{status}' data-id='{_e(result.test_id)}' data-status='{status}' "
        f"data-trend='{'degrading' if degrading else ''}'>"
        f"<td class='cell-test' data-label='test'>{_test_button(result.test_id)}</td>"
        f"<td data-label='status' data-v='{-result.status.severity}'>"
        f"<span class='badge {status}' title='{_e(result.message)}'>{status}</span></td>"
        + _num_cell("time", "time", result.wall_s)
        + _num_cell("memory", "memory", result.peak_rss_growth_mib)
        + _num_cell("match rate", "match_rate", result.match_rate)
        + _trend_cell("time trend", time_trend)
        + _trend_cell("memory trend", memory_trend)
        + "</tr>"
    )


def _num_cell(label: str, metric: str, value: float | None) -> str:
    """A sortable cell: the value in ``data-v``, formatted as ``metric`` in the text."""
    return (
        f"<td class='num' data-label='{label}' data-v='{'' if value is None else value}'>"
        f"{format_value(metric, value)}</td>"
    )


def _trend_cell(label: str, trend: Trend | None) -> str:
    if trend is None:
        return f"<td class='trend' data-label='{label}' data-v=''>–</td>"
    too_few = trend.direction is Direction.INSUFFICIENT
    word, css = ("too few runs", "insufficient") if too_few else (trend.direction.value, trend.direction.value)
    change = "" if trend.change is None or too_few else trend.change_text
    title = f"{trend.runs} runs: {format_value(trend.metric, trend.before)} → {format_value(trend.metric, trend.after)}"
    if trend.p_value is not None:
        title += f", p = {trend.p_value:.3g}"
    # Sorts by how strongly a metric degrades: degrading first (descending), then by change.
    rank = {Direction.DEGRADING: 3, Direction.STABLE: 1, Direction.IMPROVING: 0}.get(trend.direction, -1)
    sort_value = rank * 10_000 + max(-9_999.0, min(9_999.0, trend.change or 0.0))
    return (
        f"<td class='trend' data-label='{label}' data-v='{sort_value}' title='{_e(title)}'>"
        f"<span><span class='badge {css}'>{_e(word)}</span> {_e(change)}</span></td>"
    )


def _scores(report: HistoryReport) -> str:
    if not report.score_distributions:
        return (
            "<section id='scores'><h2>Score distribution by method</h2><p class='note'>The latest run reported no "
            "score histogram (<code>record_quality(score_histogram_by_method=...)</code>).</p></section>"
        )
    blocks = []
    for test_id, by_method in list(report.score_distributions.items())[:MAX_SCORE_CHARTS]:
        distribution = ScoreDistribution.of(by_method)
        blocks.append(
            _figure("scores", f"score distribution of {test_id}", test_id=test_id) + _score_table(distribution)
        )
    hidden = len(report.score_distributions) - MAX_SCORE_CHARTS
    more = f"<p class='note'>{hidden} more tests reported scores; see the JSON report.</p>" if hidden > 0 else ""
    return f"<section id='scores'><h2>Score distribution by method (latest run)</h2>{''.join(blocks)}{more}</section>"


def _score_table(distribution: ScoreDistribution) -> str:
    header = "".join(_th(column, numeric=i > 0) for i, column in enumerate(["method", "awards", *distribution.buckets]))
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td class='{'num' if column != 'method' else ''}' data-label='{_e(column)}' data-v='{_e(str(value))}'>"
            f"{_e(f'{value:,}' if isinstance(value, int) else str(value))}</td>"
            for column, value in row.items()
        )
        + "</tr>"
        for row in distribution.rows()
    )
    return (
        "<table class='scores sortable'><colgroup><col class='col-method'></colgroup>"
        f"<thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _method(report: HistoryReport) -> str:
    return (
        "<section id='method'><h2>How the verdicts are reached</h2>"
        f"<p class='note'><strong>Gates</strong> (per run, recorded by the test run): baseline = median of the last "
        f"{report.thresholds.baseline_runs} passed runs on the same machine class; {_threshold_text(report.thresholds)}. "
        f"<strong>Trends</strong>: {_e(report.policy.describe())}</p></section>"
    )


# -- data for the script ------------------------------------------------------------------------


def _page_data(report: HistoryReport) -> dict[str, Any]:
    scores = {test_id: ScoreDistribution.of(by_method) for test_id, by_method in report.score_distributions.items()}
    methods = sorted({m for d in scores.values() for m in d.counts}, key=method_order)
    return {
        "runs": [[run.started_at[:16].replace("T", " "), run.short_commit] for run in report.runs],
        "series": {
            test_id: {
                "r": s.runs,
                "t": [_round(v, 6) for v in s.wall_s],
                "m": [_round(v, 2) for v in s.memory_mib],
                **({"q": [_round(v, 5) for v in s.match_rate]} if any(v is not None for v in s.match_rate) else {}),
                "o": "".join(_OUTCOME_CODES.get(o, "s") for o in s.outcomes),
            }
            for test_id, s in report.series.items()
        },
        "scores": {test_id: d.points() for test_id, d in list(scores.items())[:MAX_SCORE_CHARTS]},
        "specs": {
            "time": history_spec("time", report.thresholds),
            "memory": history_spec("memory", report.thresholds),
            "match_rate": history_spec("match_rate", report.thresholds),
            "scores": score_spec(methods),
        },
        "baselineRuns": report.thresholds.baseline_runs,
        "initial": min(report.latest_results, key=_urgency).test_id if report.latest_results else None,
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# -- small formatting helpers -------------------------------------------------------------------


def _urgency(result: LatestResult) -> tuple[int, float, str]:
    """Most severe status first; within a status, the slowest first."""
    return (-result.status.severity, -(result.wall_s or 0.0), result.test_id)


def _figure(chart: str, caption: str, *, key: str = "", test_id: str | None = None) -> str:
    """A chart placeholder the script fills: ``data-chart`` names the spec, ``data-key`` the metric."""
    attrs = (f" data-key='{key}'" if key else "") + (f" data-test='{_e(test_id)}'" if test_id else "")
    return (
        f"<figure><div class='chart' data-chart='{chart}'{attrs} role='img' aria-label='{_e(caption)}'></div>"
        f"<figcaption title='{_e(caption)}'>{_e(caption)}</figcaption></figure>"
    )


def _th(label: str, *, numeric: bool = False, by_row_id: bool = False) -> str:
    """A sortable column header: by the cells' ``data-v`` (or text), or by the rows' full test id."""
    kind = "id" if by_row_id else "number" if numeric else "text"
    css = " class='num'" if numeric else ""
    return f"<th scope='col' data-type='{kind}'{css}><button type='button'>{_e(label)}</button></th>"


def _test_button(test_id: str) -> str:
    shown = _e(shorten_id(test_id, MAX_SHOWN_ID)).replace("/", "/<wbr>").replace("::", "::<wbr>").replace("[", "<wbr>[")
    return f"<button type='button' class='tid' title='{_e(test_id)}'>{shown}</button>"


def _threshold_text(t: GateThresholds) -> str:
    return ", ".join(f"{levels.label} {levels.describe()}" for levels in map(t.levels, METRICS))


def _metric_name(metric: str) -> str:
    return {"time": "time", "memory": "memory", "match_rate": "match-rate"}[metric]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


__all__ = ["MAX_SHOWN_ID", "render_html", "vega_bundle"]
