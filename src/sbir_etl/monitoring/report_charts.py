"""Vega-Lite specifications of the HTML report's charts.

Each chart is a *template* over a named dataset (``points``): the page fills it in for the test a
reader picks, so a 1,000-test history needs four specifications, not 3,000 charts. They are plain
Vega-Lite (JSON as Python dicts): building them costs nothing, and the browser tests render each
one in Chromium and fail on any Vega warning, which is where a wrong specification shows.

The warn/fail lines are computed by the chart from each run's baseline with the rule the
regression gates apply (:mod:`sbir_etl.monitoring.regression`), noise floors included, so a line
shows exactly where a point would have warned or failed.

Rows of a history dataset: ``run`` (1-based position in the report's runs), ``started``,
``commit``, ``value`` (seconds, MiB or a match-rate fraction), ``passed``, ``outcome``, and where
the run had a baseline: ``baseline``, ``lo``, ``hi`` (median, min and max of the previous K passed
runs on the same machine class, the ones the gate compared with).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sbir_etl.columns import MATCH_METHODS
from sbir_etl.monitoring.regression import GateThresholds, MetricLevels
from sbir_etl.monitoring.report_scores import ALL_METHODS

#: The Vega-Lite version the specifications are written for (vl-convert's name for it).
VEGA_LITE_VERSION = "v6_4"
HISTORY_DATA = "points"
CHART_HEIGHT = 220
_BASELINE = "#4c78a8"
_LINE_COLOURS = {"baseline": _BASELINE, "warn": "#f58518", "fail": "#d62728"}
_LINE_DASHES = {"baseline": [1, 0], "warn": [6, 3], "fail": [2, 2]}
_POINT, _POINT_FAILED = "#1f3b63", "#d62728"
#: One colour per match method, in cascade order (Vega's Tableau-10 palette).
METHOD_COLOURS = dict(zip(MATCH_METHODS, ("#4c78a8", "#72b7b2", "#54a24b", "#eeca3b", "#f58518", "#9d755d"))) | {
    ALL_METHODS: "#79706e"
}

#: Vega expressions formatting a value of each metric (``x`` is the value) for axes and tooltips.
_FORMATS = {
    "time": "{x} < 1 ? format({x} * 1000, '.3~r') + ' ms' : format({x}, '.3~r') + ' s'",
    "memory": "format({x}, '.3~r') + ' MiB'",
    "match_rate": "format({x}, '.1%')",
}
_TITLES = {"time": "wall time", "memory": "peak RSS growth", "match_rate": "match rate"}
_RUN_TICKS = (
    "sequence(ceil(domain('x')[0]), floor(domain('x')[1]) + 1, max(1, ceil((domain('x')[1] - domain('x')[0]) / 10)))"
)
_RUN_AXIS = {
    "field": "run",
    "type": "quantitative",
    "title": "run (oldest → newest)",
    # Whole runs only, at most ~10 labels: d3 would put ticks at 1.5, 2.5 for a 3-run domain.
    "axis": {"format": "d", "values": {"expr": _RUN_TICKS}},
}


def history_spec(metric: str, thresholds: GateThresholds) -> dict[str, Any]:
    """One metric of one test over the runs, with its baseline band and warn/fail lines."""
    value_axis = {
        "field": "value",
        "type": "quantitative",
        "title": _TITLES[metric],
        "axis": {"labelExpr": _FORMATS[metric].format(x="datum.value")},
        "scale": {"zero": metric != "match_rate"},
    }
    levels = thresholds.levels(metric)
    limits = _limit_expressions(levels)
    names = ["baseline", *limits]
    legend = {"orient": "bottom", "title": None, "labelExpr": _legend_labels(levels)}
    band = {
        "transform": [{"filter": "isValid(datum.baseline)"}],
        "mark": {"type": "area", "opacity": 0.15, "color": _BASELINE},
        "encoding": {"x": _RUN_AXIS, "y": {"field": "lo", "type": "quantitative"}, "y2": {"field": "hi"}},
    }
    lines = {
        "transform": [
            {"filter": "isValid(datum.baseline)"},
            *({"calculate": expression, "as": name} for name, expression in limits.items()),
            {"fold": names, "as": ["line", "limit"]},
        ],
        "mark": {"type": "line", "strokeWidth": 1.5},
        "encoding": {
            "x": _RUN_AXIS,
            "y": {"field": "limit", "type": "quantitative"},
            "color": {
                "field": "line",
                "type": "nominal",
                "scale": {"domain": names, "range": [_LINE_COLOURS[n] for n in names]},
                "legend": legend,
            },
            "strokeDash": {
                "field": "line",
                "type": "nominal",
                "scale": {"domain": names, "range": [_LINE_DASHES[n] for n in names]},
                "legend": legend,
            },
        },
    }
    trace = {
        "mark": {"type": "line", "color": "#9aa4b1", "strokeWidth": 1},
        "encoding": {"x": _RUN_AXIS, "y": value_axis},
    }
    points = {
        "transform": [{"calculate": _FORMATS[metric].format(x="datum.value"), "as": "label"}],
        "mark": {"type": "point", "filled": True, "size": 45, "opacity": 1},
        "encoding": {
            "x": _RUN_AXIS,
            "y": value_axis,
            "color": {"condition": {"test": "datum.passed", "value": _POINT}, "value": _POINT_FAILED},
            "tooltip": [
                {"field": "run", "type": "quantitative", "title": "run"},
                {"field": "started", "type": "nominal", "title": "started"},
                {"field": "commit", "type": "nominal", "title": "commit"},
                {"field": "label", "type": "nominal", "title": _TITLES[metric]},
                {"field": "outcome", "type": "nominal", "title": "outcome"},
            ],
        },
    }
    return _chart({"layer": [band, lines, trace, points]})


def score_spec(methods: Sequence[str]) -> dict[str, Any]:
    """Awards per score bucket, stacked by match method (rows of :meth:`ScoreDistribution.points`).

    ``methods`` are those present, in display order: each keeps its cascade colour, and the legend
    lists only them.
    """
    return _chart(
        {
            "transform": [{"calculate": f"indexof({json.dumps(list(methods))}, datum.method)", "as": "method_rank"}],
            "mark": {"type": "bar"},
            "encoding": {
                "x": {
                    "field": "bucket",
                    "type": "nominal",
                    "title": "match score",
                    "sort": {"field": "lo", "op": "min"},
                    "axis": {"labelAngle": {"expr": "width < 500 ? -45 : 0"}},  # level when there is room
                },
                "y": {"field": "count", "type": "quantitative", "stack": "zero", "title": "awards"},
                "color": {
                    "field": "method",
                    "type": "nominal",
                    "scale": {"domain": list(methods), "range": [METHOD_COLOURS.get(m, "#b279a2") for m in methods]},
                    "legend": {"orient": "bottom", "title": None, "columns": 2},  # fits a phone
                },
                "order": {"field": "method_rank", "type": "quantitative"},
                "tooltip": [
                    {"field": "method", "type": "nominal"},
                    {"field": "bucket", "type": "nominal", "title": "score"},
                    {"field": "count", "type": "quantitative", "title": "awards", "format": ","},
                    {"field": "share", "type": "quantitative", "format": ".1%"},
                ],
            },
        }
    )


def _chart(body: dict[str, Any]) -> dict[str, Any]:
    """A top-level specification over the named dataset, as wide as its container."""
    return {
        "data": {"name": HISTORY_DATA},
        "width": "container",
        "height": CHART_HEIGHT,
        "autosize": {"type": "fit-x", "contains": "padding"},
        **body,
    }


def _limit_expressions(levels: MetricLevels) -> dict[str, str]:
    """Vega expressions of each enabled threshold line, from the row's baseline."""
    limits = {}
    for name, level in (("warn", levels.warn), ("fail", levels.fail)):
        if level is None:
            continue
        if levels.unit == "points":
            limits[name] = f"datum.baseline - {level / 100!r}"
            continue
        relative = f"datum.baseline * {1 + level / 100!r}"
        # Below the noise floor a change must also exceed the noise delta to count (regression._relative_gate).
        limits[name] = (
            f"datum.baseline < {levels.noise_floor!r} ? max({relative}, datum.baseline + {levels.noise_delta!r})"
            f" : {relative}"
        )
    return limits


def _legend_labels(levels: MetricLevels) -> str:
    """A Vega expression naming each line of the legend with its threshold."""
    expression = "'baseline'"
    for name, level in (("warn", levels.warn), ("fail", levels.fail)):
        if level is not None:
            expression = f"datum.label == '{name}' ? '{name} {levels.limit_text(level)}' : {expression}"
    return expression


__all__ = ["CHART_HEIGHT", "HISTORY_DATA", "METHOD_COLOURS", "VEGA_LITE_VERSION", "history_spec", "score_spec"]
