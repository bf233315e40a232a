"""The report as Markdown for a PR comment or ``$GITHUB_STEP_SUMMARY``: what needs attention, only.

GitHub refuses a comment body over 65,536 characters, so the text is built within a budget
(:data:`MAX_CHARS`): the summary, then the failing tests, the warnings, the degrading trends and
the quality gates, each section reserving room for the ones after it. Rows that do not fit are
counted ("… and 412 more failing tests"), never silently dropped; the HTML report lists them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sbir_etl.monitoring.regression import format_value
from sbir_etl.monitoring.reporting import HistoryReport, shorten_id
from sbir_etl.monitoring.trends import Trend

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
    seen = report.attention()
    tests = len(report.latest_results)
    if seen.any:
        verdict = (
            f"**{len(seen.failing)} failing · {len(seen.warnings)} warning{_s(seen.warnings)} · "
            f"{len(seen.degrading)} degrading trend{_s(seen.degrading)}** among {tests} tests ({seen.gated} gated)."
        )
    elif tests:
        verdict = f"**All {tests} tests passed their gates** ({seen.gated} gated); no degrading trend."
    else:
        verdict = "No test results recorded yet."
    return f"## SBIR enrichment regression report\n\n{_run_line(report)}\n\n{verdict}\n\n"


def _sections(report: HistoryReport) -> list[_Section]:
    seen = report.attention()
    return [
        _Section(
            "Failing",
            ("| test | why |", "|---|---|"),
            [f"| {_test(r.test_id)} | {_cell(r.message)} |" for r in seen.failing],
            "failing tests",
        ),
        _Section(
            "Warnings",
            ("| test | why |", "|---|---|"),
            [f"| {_test(r.test_id)} | {_cell(r.message)} |" for r in seen.warnings],
            "warnings",
        ),
        _Section(
            "Degrading trends",
            ("| test | metric | change | before → after | p |", "|---|---|---:|---|---:|"),
            [_trend_row(t) for t in seen.degrading],
            "degrading trends",
        ),
        _Section(
            "Quality gates",
            ("| test | match rate | baseline | gate |", "|---|---:|---:|---|"),
            [
                f"| {_test(g.test_id)} | {format_value('match_rate', g.match_rate)} "
                f"| {format_value('match_rate', g.baseline)} | {_cell(g.message)} |"
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
    return (
        f"History `{_clip(report.source, 200)}`: {report.run_count} run{'s' if report.run_count != 1 else ''}. "
        f"Latest: `{_clip(run.label, 200)}`, started {run.started_at}."
    )


def _trend_row(trend: Trend) -> str:
    p = "–" if trend.p_value is None else f"{trend.p_value:.3f}"
    before, after = format_value(trend.metric, trend.before), format_value(trend.metric, trend.after)
    return f"| {_test(trend.test_id)} | {trend.metric} | {trend.change_text} | {before} → {after} | {p} |"


def _test(test_id: str) -> str:
    return "`" + shorten_id(test_id, MAX_ID_CHARS).replace("`", "'").replace("|", "\\|") + "`"


def _cell(text: str) -> str:
    return _clip(" ".join(text.split()), MAX_MESSAGE_CHARS).replace("|", "\\|")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _s(items: Sequence[object]) -> str:
    return "" if len(items) == 1 else "s"


__all__ = ["MAX_CHARS", "render_markdown"]
