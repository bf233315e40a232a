"""The report as Markdown for a PR comment or ``$GITHUB_STEP_SUMMARY``: what needs attention, only.

GitHub refuses a comment body over 65,536 characters, so the text is built within a budget
(:data:`MAX_CHARS`): the summary, then the failing tests, the warnings, the degrading trends and
the quality gates, each section reserving room for the ones after it. Rows that do not fit are
counted ("… and 412 more failing tests"), never silently dropped; the HTML report lists them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sbir_etl.monitoring.regression import format_seconds
from sbir_etl.monitoring.reporting import HistoryReport
from sbir_etl.monitoring.trends import Direction, Trend
from sbir_etl.outcomes import Status

#: The most characters :func:`render_markdown` writes, well under GitHub's 65,536 limit.
MAX_CHARS = 60_000
#: Longer test ids are shortened in the middle, longer messages at the end.
MAX_ID_CHARS = 120
MAX_MESSAGE_CHARS = 400
_HTML_HINT = "the HTML report (`sbir-etl report --format html --out report.html`) lists them all"


@dataclass(frozen=True)
class _Section:
    """A titled table whose rows are cut to fit a budget, counting what was cut."""

    title: str
    header: tuple[str, str]
    rows: Sequence[str]
    noun: str

    def reserve(self) -> int:
        """What the section needs at least: its title, header and a "… and N more" line."""
        return len(self._top()) + len(self._more(len(self.rows))) + 2

    def render(self, budget: int) -> str:
        if not self.rows:
            return ""
        text, shown = self._top(), 0
        for row in self.rows:
            if len(text) + len(row) + 1 + len(self._more(len(self.rows) - shown - 1)) > budget:
                break
            text += row + "\n"
            shown += 1
        if shown < len(self.rows):
            text += self._more(len(self.rows) - shown)
        return text + "\n"

    def _top(self) -> str:
        return f"### {self.title} ({len(self.rows)})\n\n{self.header[0]}\n{self.header[1]}\n"

    def _more(self, hidden: int) -> str:
        return f"\n… and {hidden} more {self.noun}; {_HTML_HINT}.\n" if hidden else ""


def render_markdown(report: HistoryReport, *, max_chars: int = MAX_CHARS) -> str:
    """The summary and the tests that need attention, in at most ``max_chars`` characters."""
    head, foot = _head(report), _foot(report)
    sections = _sections(report)
    remaining = max_chars - len(head) - len(foot)
    body = []
    for i, section in enumerate(sections):
        later = sum(s.reserve() for s in sections[i + 1 :])
        text = section.render(remaining - later)
        remaining -= len(text)
        body.append(text)
    return head + "".join(body) + foot


def _head(report: HistoryReport) -> str:
    failing, warnings = report.with_status(Status.FAIL), report.with_status(Status.WARN)
    degrading = report.moving(Direction.DEGRADING)
    gated = sum(r.gate_status is not None for r in report.latest_results)
    tests = len(report.latest_results)
    if failing or warnings or degrading:
        verdict = (
            f"**{len(failing)} failing · {len(warnings)} warning{_s(warnings)} · "
            f"{len(degrading)} degrading trend{_s(degrading)}** among {tests} tests ({gated} gated)."
        )
    elif tests:
        verdict = f"**All {tests} tests passed their gates** ({gated} gated); no degrading trend."
    else:
        verdict = "No test results recorded yet."
    return f"## SBIR enrichment regression report\n\n{_run_line(report)}\n\n{verdict}\n\n"


def _sections(report: HistoryReport) -> list[_Section]:
    return [
        _Section(
            "Failing",
            ("| test | why |", "|---|---|"),
            [f"| {_test(r.test_id)} | {_cell(r.message)} |" for r in report.with_status(Status.FAIL)],
            "failing tests",
        ),
        _Section(
            "Warnings",
            ("| test | why |", "|---|---|"),
            [f"| {_test(r.test_id)} | {_cell(r.message)} |" for r in report.with_status(Status.WARN)],
            "warnings",
        ),
        _Section(
            "Degrading trends",
            ("| test | metric | change | before → after | p |", "|---|---|---:|---|---:|"),
            [_trend_row(t) for t in report.moving(Direction.DEGRADING)],
            "degrading trends",
        ),
        _Section(
            "Quality gates",
            ("| test | match rate | baseline | gate |", "|---|---:|---:|---|"),
            [
                f"| {_test(g.test_id)} | {g.match_rate:.1%} | {_rate(g.baseline)} | {_cell(g.message)} |"
                for g in report.quality_gates
            ],
            "quality gates",
        ),
    ]


def _foot(report: HistoryReport) -> str:
    return f"<sub>{report.policy.describe()} Generated {report.generated_at}.</sub>\n"


def _run_line(report: HistoryReport) -> str:
    run = report.latest_run
    if run is None:
        return f"History `{_clip(report.source, 200)}`: no runs recorded yet."
    commit = (run.commit or "unknown")[:10]
    dirty = " (dirty)" if run.dirty else ""
    return (
        f"History `{_clip(report.source, 200)}`: {report.run_count} run{'s' if report.run_count != 1 else ''}. "
        f"Latest: `{commit}`{dirty} on `{_clip(run.branch or 'unknown branch', 80)}`, "
        f"machine class `{_clip(run.machine_class, 80)}`, started {run.started_at}."
    )


def _trend_row(trend: Trend) -> str:
    change = (
        "from zero"
        if trend.change == float("inf")
        else f"{trend.change:+.1f}" + (" points" if trend.metric == "match_rate" else " %")
    )
    p = "–" if trend.p_value is None else f"{trend.p_value:.3f}"
    return (
        f"| {_test(trend.test_id)} | {trend.metric} | {change} "
        f"| {_value(trend.metric, trend.before)} → {_value(trend.metric, trend.after)} | {p} |"
    )


def _value(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    if metric == "time":
        return format_seconds(value)
    return f"{value:.1f} MiB" if metric == "memory" else f"{value:.1%}"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _test(test_id: str) -> str:
    shown = test_id if len(test_id) <= MAX_ID_CHARS else test_id[:30] + "…" + test_id[-(MAX_ID_CHARS - 31) :]
    shown = shown.replace("`", "'").replace("|", "\\|")
    return f"`{shown}`"


def _cell(text: str) -> str:
    return _clip(" ".join(text.split()), MAX_MESSAGE_CHARS).replace("|", "\\|")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _s(items: Sequence[object]) -> str:
    return "" if len(items) == 1 else "s"


__all__ = ["MAX_CHARS", "render_markdown"]
