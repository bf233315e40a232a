"""The score distribution by match method, as one table that every view of it shares.

The HTML report draws it (stacked bars, one colour per method) and prints it as a table, and the
Dagster enrichment asset shows it as metadata (a table with a schema, and Markdown), all from
:class:`ScoreDistribution`, so the UI and the report tell the same story with the same numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sbir_etl.columns import MATCH_METHODS

#: The method label of a distribution recorded without a split by method.
ALL_METHODS = "all methods"


def bucket_order(label: str) -> tuple[float, str]:
    """Score buckets such as ``"70-75"`` sort by their lower bound, not as text."""
    match = re.match(r"\s*(-?\d+(?:\.\d+)?)", label)
    return (float(match.group(1)) if match else float("inf"), label)


def method_order(method: str) -> tuple[int, str]:
    """Methods in cascade order (uei-exact first); unknown labels after them, alphabetically."""
    return (MATCH_METHODS.index(method) if method in MATCH_METHODS else len(MATCH_METHODS), method)


@dataclass(frozen=True)
class ScoreDistribution:
    """Counts of awards per score bucket, per match method; buckets and methods in display order."""

    buckets: tuple[str, ...]
    counts: dict[str, dict[str, int]]

    @classmethod
    def of(cls, by_method: Mapping[str, Mapping[str, int]]) -> ScoreDistribution:
        """From ``{method: {bucket: count}}``; methods without any scored award are left out."""
        buckets = tuple(sorted({b for histogram in by_method.values() for b in histogram}, key=bucket_order))
        counts = {
            method: {b: int(by_method[method].get(b, 0)) for b in buckets}
            for method in sorted(by_method, key=method_order)
            if sum(by_method[method].values()) > 0
        }
        return cls(buckets, counts)

    @property
    def total(self) -> int:
        return sum(sum(row.values()) for row in self.counts.values())

    def rows(self) -> list[dict[str, str | int]]:
        """One row per method: ``method``, ``awards`` (scored), then one column per bucket."""
        return [{"method": method, "awards": sum(row.values()), **row} for method, row in self.counts.items()]

    def points(self) -> list[dict[str, str | int | float]]:
        """Long form for a chart: one point per method and bucket, with its share of all awards."""
        total = self.total or 1
        return [
            {"method": method, "bucket": bucket, "lo": bucket_order(bucket)[0], "count": count, "share": count / total}
            for method, row in self.counts.items()
            for bucket, count in row.items()
        ]

    def markdown(self) -> str:
        """A GitHub-flavoured Markdown table of :meth:`rows`."""
        header = ["method", "awards", *self.buckets]
        lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        lines += ["| " + " | ".join(str(row[column]) for column in header) + " |" for row in self.rows()]
        return "\n".join(lines)


__all__ = ["ALL_METHODS", "ScoreDistribution", "bucket_order", "method_order"]
