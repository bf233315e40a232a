"""The assets of `sbir_etl_job`: thin wrappers over the enrichment core.

    raw_sbir_awards ----------> validated_sbir_awards ---------------------\
                                                                            +--> enriched_sbir_awards --> enrichment_quality_report
    raw_usaspending_recipients -> recipient_lookup --> recipient_index ----/

`recipient_index` is the saved index of `sbir_etl.recipient_index`, rebuilt only when the
recipient lookup's content (or a setting the index depends on) changed; the enrichment
memory-maps it instead of building the index again.

Tables pass between assets as Parquet paths (strings), written chunk by chunk through the core's
readers and moved into place atomically, so a failed step never leaves a partial table behind.
Every asset reports duration, peak RSS growth, records/s and row counts as plain Python numbers.
"""
# No `from __future__ import annotations` here: Dagster inspects the context annotations at runtime.

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from sbir_etl.dagster_defs.checks import IDENTIFIER_VALIDITY, identifier_validity_result
from sbir_etl.dagster_defs.resources import EnrichmentSettings, SbirEtlPaths
from sbir_etl.enrichment import EnrichmentSummary, enrich_files
from sbir_etl.evaluation.gates import identifier_counts
from sbir_etl.evaluation.quality import match_metrics
from sbir_etl.io.outputs import atomic_path, check_output_paths, default_rejects_path
from sbir_etl.io.tables import (
    RejectSink,
    TableWriter,
    iter_text_chunks,
    read_header,
)
from sbir_etl.monitoring.performance import Usage, measure
from sbir_etl.monitoring.report_scores import ScoreDistribution
from sbir_etl.recipient_index import index_is_current, index_recipient_file, saved_recipients

GROUP = "sbir_etl"


def usage_metadata(usage: Usage, rows: int) -> dict[str, Any]:
    """Duration, peak RSS growth, records/s and rows of one asset, as plain Python numbers."""
    return {
        "duration_s": round(float(usage.wall_s), 4),
        "cpu_s": round(float(usage.cpu_s), 4),
        "peak_rss_growth_mib": round(float(usage.peak_rss_growth_mib), 2),
        "peak_rss_mib": round(float(usage.peak_rss_mib), 2),
        "records_per_s": round(rows / usage.wall_s, 1) if usage.wall_s else 0.0,
        "rows": int(rows),
    }


def copy_to_parquet(source: Path, target: Path, chunk_rows: int, log: Any) -> tuple[int, int]:
    """Copy a CSV/Parquet file to Parquet as text, chunk by chunk, atomically.

    Unreadable rows go to `<target stem>.rejects.csv`. Returns (rows written, rows rejected).
    """
    rejects, rejects_path = RejectSink(), default_rejects_path(target)
    check_output_paths({"input file": source}, {"table": target, "rejects file": rejects_path})
    header = read_header(source)
    rows = 0
    with atomic_path(target) as tmp:
        writer = TableWriter(tmp, "parquet")
        for chunk in iter_text_chunks(source, chunk_rows, rejects):
            writer.write(chunk)
            rows += chunk.num_rows
            log.info(f"{source.name}: {rows} rows copied")
        writer.close(pa.schema([(name, pa.string()) for name in header]))
    written = rejects.flush(rejects_path)
    if written:
        log.warning(f"{source}: {len(rejects.rows)} unreadable rows written to {written}")
    return rows, len(rejects.rows)


def raw_table(context: dg.AssetExecutionContext, paths: SbirEtlPaths, which: str, chunk_rows: int) -> dg.Output[str]:
    """The body of both raw_* assets: the `which` input file copied into the asset's own Parquet table."""
    source, target = paths.input_file(which), paths.table(context.asset_key.to_user_string())
    with measure() as usage:
        rows, rejected = copy_to_parquet(source, target, chunk_rows, context.log)
    return dg.Output(
        str(target),
        metadata={
            **usage_metadata(usage, rows),
            "rows_rejected": rejected,
            "source": str(source),
            "table_path": str(target),
        },
    )


@dg.asset(
    group_name=GROUP, description="The SBIR.gov award file, as text, in Parquet (unreadable rows to a rejects file)."
)
def raw_sbir_awards(
    context: dg.AssetExecutionContext, paths: SbirEtlPaths, settings: EnrichmentSettings
) -> dg.Output[str]:
    return raw_table(context, paths, "awards", settings.load_and_log(context.log).chunk_size)


@dg.asset(
    group_name=GROUP,
    check_specs=[IDENTIFIER_VALIDITY],
    description="Raw awards whose schema the core accepts: required columns present (the table itself is not rewritten).",
)
def validated_sbir_awards(
    context: dg.AssetExecutionContext, raw_sbir_awards: str, paths: SbirEtlPaths, settings: EnrichmentSettings
) -> Iterator[Any]:
    config, _ = settings.load()
    with measure() as usage:
        header = read_header(raw_sbir_awards)
        # Name the user's file, not the job's Parquet copy, in a schema error.
        columns = config.award_columns.resolve(header, paths.awards_path)
        counts = identifier_counts(raw_sbir_awards, columns.uei, columns.duns, config.chunk_size)
        rows = pq.ParquetFile(raw_sbir_awards).metadata.num_rows
    context.log.info(
        f"award columns: company={columns.company!r} uei={columns.uei!r} duns={columns.duns!r} key={list(columns.key)}"
    )
    yield dg.Output(
        raw_sbir_awards,
        metadata={
            **usage_metadata(usage, rows),
            "table_path": raw_sbir_awards,
            "award_key": list(columns.key),
            "identifiers_present": counts["present"],
            "identifiers_valid": counts["valid"],
            "invalid_identifiers": counts["invalid_by_reason"],
        },
    )
    yield identifier_validity_result(counts, config.identifier_validity_threshold)


@dg.asset(
    group_name=GROUP,
    description="The USAspending recipient file, as text, in Parquet (unreadable rows to a rejects file).",
)
def raw_usaspending_recipients(
    context: dg.AssetExecutionContext, paths: SbirEtlPaths, settings: EnrichmentSettings
) -> dg.Output[str]:
    return raw_table(context, paths, "recipients", settings.load()[0].chunk_size)


@dg.asset(group_name=GROUP, description="The recipient columns the matcher uses, schema-checked, in Parquet.")
def recipient_lookup(
    context: dg.AssetExecutionContext,
    raw_usaspending_recipients: str,
    paths: SbirEtlPaths,
    settings: EnrichmentSettings,
) -> dg.Output[str]:
    config, _ = settings.load()
    target = paths.table("recipient_lookup")
    with measure() as usage:
        resolved = config.recipient_columns.resolve(read_header(raw_usaspending_recipients), paths.recipients_path)
        wanted = [name for name in resolved.values() if name is not None]
        table = pq.read_table(raw_usaspending_recipients, columns=wanted)
        with atomic_path(target) as tmp:
            pq.write_table(table, tmp)
        hashes = table.column(config.recipient_columns.recipient_hash)
        distinct = len(hashes.unique())
    context.log.info(f"recipient lookup: {table.num_rows} rows, {distinct} distinct recipient hashes, columns {wanted}")
    return dg.Output(
        str(target),
        metadata={
            **usage_metadata(usage, table.num_rows),
            "table_path": str(target),
            "columns": wanted,
            "distinct_recipient_hashes": int(distinct),
            "duplicate_rows": int(table.num_rows - distinct),
        },
    )


@dg.asset(
    group_name=GROUP,
    description="The recipient index saved as a memory-mappable file; rebuilt only when recipient_lookup changes.",
)
def recipient_index(
    context: dg.AssetExecutionContext, recipient_lookup: str, paths: SbirEtlPaths, settings: EnrichmentSettings
) -> dg.Output[str]:
    config, _ = settings.load()
    target = paths.table("recipient_index", ".arrow")
    with measure() as usage:
        current = index_is_current(target, recipient_lookup, config)
        if not current:
            index_recipient_file(recipient_lookup, target, config, paths.table("recipient_index", ".rejects.csv"))
    context.log.info(f"recipient index {target}: {'kept, recipient_lookup unchanged' if current else 'rebuilt'}")
    return dg.Output(
        str(target),
        metadata={
            **usage_metadata(usage, saved_recipients(target)),
            "table_path": str(target),
            "rebuilt": not current,
            "size_mib": round(target.stat().st_size / 2**20, 1),
        },
    )


def enriched_metrics(path: str | Path) -> dict[str, Any]:
    """`quality.match_metrics` of an enriched Parquet table, reading only the match columns it uses."""
    return match_metrics(pq.read_table(path, columns=["match_method", "match_confidence", "match_score"]).to_pandas())


def score_distribution_metadata(metrics: dict[str, Any]) -> dict[str, dg.MetadataValue]:
    """The match rate and score distribution by method as the regression report shows them.

    The same `ScoreDistribution` table the HTML report draws: a table with a schema (sortable in
    the Dagster UI) and Markdown with the match rate above it.
    """
    distribution = ScoreDistribution.of(metrics["score_histogram_by_method"])
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("method", "string"),
            dg.TableColumn("awards", "int", description="awards with a score"),
            *(dg.TableColumn(bucket, "int", description=f"awards scoring {bucket}") for bucket in distribution.buckets),
        ]
    )
    summary = (
        f"**Match rate {metrics['match_rate']:.1%}** of {metrics['rows']} awards (candidates are not matches).\n\n"
    )
    return {
        "score_distribution_by_method": dg.MetadataValue.table(
            [dg.TableRecord(row) for row in distribution.rows()], schema=schema
        ),
        "quality_summary": dg.MetadataValue.md(summary + "Score distribution by method:\n\n" + distribution.markdown()),
    }


class _Progress:
    """Logs records done, rate and ETA as the core reports finished chunks."""

    def __init__(self, log: Any, total: int) -> None:
        self.log, self.total, self.done, self.started = log, total, 0, time.perf_counter()

    def __call__(self, rows: int) -> None:
        self.done += rows
        elapsed = time.perf_counter() - self.started
        rate = self.done / elapsed if elapsed else 0.0
        eta = (self.total - self.done) / rate if rate else 0.0
        self.log.info(f"enriched {self.done}/{self.total} awards ({rate:.0f}/s, ETA {eta:.0f} s)")


ENRICHMENT_RETRIES = dg.RetryPolicy(max_retries=2, delay=1, backoff=dg.Backoff.EXPONENTIAL)
"""A failed enrichment (killed worker, full disk, lost mount) is retried; each retry resumes
after the last chunk the failed attempt completed instead of starting over."""


@dg.asset(
    group_name=GROUP,
    retry_policy=ENRICHMENT_RETRIES,
    description="Awards with the recipient each was matched to (sbir_etl.enrichment.enrich_files), resumable, "
    "or incremental when the settings resource says so.",
)
def enriched_sbir_awards(
    context: dg.AssetExecutionContext,
    validated_sbir_awards: str,
    recipient_lookup: str,
    recipient_index: str,
    paths: SbirEtlPaths,
    settings: EnrichmentSettings,
) -> dg.Output[str]:
    config = settings.load_and_log(context.log)
    target = paths.table("enriched_sbir_awards")
    rejects = paths.table("enriched_sbir_awards", ".rejects.csv")
    total = pq.ParquetFile(validated_sbir_awards).metadata.num_rows
    with measure() as usage:
        summary = enrich_files(
            validated_sbir_awards,
            recipient_lookup,
            target,
            config=config,
            rejects_path=rejects,
            progress=_Progress(context.log, total),
            resume=not settings.incremental,
            index_path=recipient_index,
            incremental=settings.incremental,
        )
    if summary.resumed_rows:
        context.log.info(
            f"attempt {context.retry_number + 1} resumed after {summary.resumed_rows} awards enriched by the previous attempt"
        )
    metrics = enriched_metrics(target)
    context.log.info(f"match rate {metrics['match_rate']:.3f}; by method {metrics['counts_by_method']}")
    return dg.Output(
        str(target),
        metadata={
            **enriched_table_metadata(usage, summary, metrics),
            "rejects_path": summary.rejects_path or "",
            "attempt": context.retry_number + 1,
            "resumed_rows": summary.resumed_rows,
            **{f"incremental_{k}": v for k, v in summary.incremental.items()},
            "enrichment_summary": {k: v for k, v in summary.as_dict().items() if v is not None},
            "config": config.as_dict(),
        },
    )


def enriched_table_metadata(usage: Usage, summary: EnrichmentSummary, metrics: dict[str, Any]) -> dict[str, Any]:
    """What the UI shows of an enriched table, sharded or not: rows, match rate, methods, scores."""
    return {
        **usage_metadata(usage, summary.rows_in),
        "table_path": str(summary.out_path),
        "rows_in": summary.rows_in,
        "rows_out": summary.rows_out,
        "rows_rejected": summary.rows_rejected,
        "match_rate": float(metrics["match_rate"]),
        "candidate_rate": float(metrics["candidate_rate"]),
        "counts_by_method": metrics["counts_by_method"],
        "rates_by_method": metrics["rates_by_method"],
        "confidence": metrics["confidence"],
        "score_histogram": metrics["score_histogram"],
        **score_distribution_metadata(metrics),
        "invalid_identifiers": summary.invalid_identifiers,
    }


@dg.asset(
    group_name=GROUP,
    description="Match-quality report of the enriched awards (JSON). Only built when the blocking gates pass.",
)
def enrichment_quality_report(
    context: dg.AssetExecutionContext, enriched_sbir_awards: str, paths: SbirEtlPaths
) -> dg.Output[str]:
    target = paths.table("enrichment_quality_report", ".json")
    with measure() as usage:
        metrics = enriched_metrics(enriched_sbir_awards)
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps({"enriched": enriched_sbir_awards, **metrics}, indent=2), encoding="utf-8")
    context.log.info(f"quality report written to {target}")
    return dg.Output(
        str(target),
        metadata={
            **usage_metadata(usage, metrics["rows"]),
            "table_path": str(target),
            "match_rate": float(metrics["match_rate"]),
            "counts_by_method": metrics["counts_by_method"],
        },
    )


ASSETS = [
    raw_sbir_awards,
    validated_sbir_awards,
    raw_usaspending_recipients,
    recipient_lookup,
    recipient_index,
    enriched_sbir_awards,
    enrichment_quality_report,
]

# The names other layers rely on (the pytest plugin reads these tables back), derived from the assets.
RAW_AWARDS = raw_sbir_awards.key.to_user_string()
ENRICHED = enriched_sbir_awards.key.to_user_string()
REPORT = enrichment_quality_report.key.to_user_string()
