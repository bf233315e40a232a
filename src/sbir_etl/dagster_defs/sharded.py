"""`sbir_etl_sharded_job`: the enrichment in award shards, run by any Dagster executor.

    validated_sbir_awards ------------------+--> identified_award_names --+
                                            |                             v
    recipient_lookup --> recipient_index ---+-----------------> enriched_sbir_awards:
                                                                  enrich_shard_0 --+
                                                                  ...              +--> combine_award_shards
                                                                  enrich_shard_N-1-+

The ingest assets, the blocking gates and the quality report are those of `sbir_etl_job`; only
the enrichment differs. The recipient index is saved once (`recipient_index`, the file of
`sbir-etl index`, rebuilt only when recipient_lookup changes) and every shard memory-maps it, so workers on one machine share its pages. The
file-wide identified-names evidence is its own asset, computed once before any shard. `enriched_sbir_awards` is a graph-backed asset whose ops are one step per
shard and a combine step that checks that every award came out exactly once and writes the
same table the unsharded job writes. Its shard count is fixed when the job is built (a static
fan-out): the Dask executor cannot run Dagster's dynamic map/collect, and static partitions would
make every shard a run of its own (docs/scale-out.md says more).

Executors other than in-process run each step in another process (or on another machine), which
rebuilds the job by calling `sharded_job(**kwargs)` (`reconstructable_sharded_job`).
"""
# No `from __future__ import annotations` here: Dagster inspects the context annotations at runtime.

import importlib.util
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
from dagster._core.definitions.reconstruct import ReconstructableJob  # not exported by `dagster`

from sbir_etl.dagster_defs.assets import (
    ASSETS,
    ENRICHMENT_RETRIES,
    GROUP,
    enriched_metrics,
    enriched_sbir_awards,
    enriched_table_metadata,
    usage_metadata,
)
from sbir_etl.dagster_defs.checks import CHECKS
from sbir_etl.dagster_defs.resources import EnrichmentSettings, SbirEtlPaths
from sbir_etl.errors import ConfigError
from sbir_etl.monitoring.performance import measure
from sbir_etl.shards import (
    ShardResult,
    collect_identified_names,
    combine_shards,
    enrich_shard,
    load_identified_names,
    open_recipient_index,
    plan_shards,
    save_identified_names,
)

SHARDED_JOB_NAME = "sbir_etl_sharded_job"
SHARD_PART_PREFIX = "enriched_sbir_awards.shard-"
"""Shard i writes `<out_dir>/enriched_sbir_awards.shard-000i.parquet`; the combine step removes them."""
EXECUTORS = ("in_process", "multiprocess", "dask")
"""The executors `sbir-etl run --executor` offers (Kubernetes and Celery: docs/scale-out.md)."""


@dg.asset(
    group_name=GROUP,
    description="Normalised award names the award file itself ties to one recipient by UEI/DUNS, computed once "
    "for every shard (sbir_etl.linkage.support.IdentifiedNames).",
)
def identified_award_names(
    context: dg.AssetExecutionContext,
    validated_sbir_awards: str,
    recipient_index: str,
    paths: SbirEtlPaths,
    settings: EnrichmentSettings,
) -> dg.Output[str]:
    config, _ = settings.load()
    target = paths.table("identified_award_names")
    with measure() as usage:
        index = open_recipient_index(recipient_index, config)
        identified = collect_identified_names(validated_sbir_awards, index, config)
        save_identified_names(identified, target)
    context.log.info(f"{len(identified.names)} award names tied to one recipient by the file's identifiers")
    return dg.Output(
        str(target),
        metadata={**usage_metadata(usage, len(identified.names)), "table_path": str(target)},
    )


def shard_op(number: int, shards: int) -> dg.OpDefinition:
    """The op that enriches shard `number` of `shards` into its own part file."""

    @dg.op(
        name=f"enrich_shard_{number}",
        retry_policy=ENRICHMENT_RETRIES,
        description=f"Enrich award shard {number} of {shards} (a contiguous range of award rows).",
    )
    def enrich_one_shard(
        context: dg.OpExecutionContext,
        awards: str,
        index_path: str,
        identified: str,
        paths: SbirEtlPaths,
        settings: EnrichmentSettings,
    ) -> ShardResult:
        config, _ = settings.load()
        shard = plan_shards(pq.ParquetFile(awards).metadata.num_rows, shards)[number]
        index = open_recipient_index(index_path, config)
        target = paths.table(f"{SHARD_PART_PREFIX}{number:04d}")
        result = enrich_shard(awards, shard, index, load_identified_names(identified), target, config)
        context.log.info(f"{shard}: {result.rows} awards enriched in {result.wall_s:.1f} s, {result.methods}")
        return result

    return enrich_one_shard


def combine_op(shards: int) -> dg.OpDefinition:
    """The op that writes the `shards` parts in order as one table.

    Each shard is an input of its own (`shard_0`, ...), not one fan-in list: the Dask executor
    hands a fan-in input nothing (it plans each step alone, without its upstream outputs known).
    """

    @dg.op(
        name="combine_award_shards",
        ins={"awards": dg.In(str), **{f"shard_{number}": dg.In(ShardResult) for number in range(shards)}},
        required_resource_keys={"paths", "settings"},
        description="Write the shards' parts in order as one table, checking that every award came out exactly once.",
    )
    def combine_award_shards(
        context: dg.OpExecutionContext, awards: str, **shard_results: ShardResult
    ) -> dg.Output[str]:
        paths, settings = context.resources.paths, context.resources.settings
        config, _ = settings.load()
        parts = list(shard_results.values())
        target = paths.table("enriched_sbir_awards")
        with measure() as usage:
            summary = combine_shards(awards, parts, target, config)
        for stale in target.parent.glob(f"{SHARD_PART_PREFIX}*.parquet"):  # parts of an earlier, failed run
            stale.unlink()
        metrics = enriched_metrics(target)
        context.log.info(f"{len(parts)} shards combined; match rate {metrics['match_rate']:.3f}")
        return dg.Output(str(target), metadata=enriched_metadata(usage, summary, metrics, parts, config.as_dict()))

    return combine_award_shards


def enriched_metadata(
    usage: Any, summary: Any, metrics: dict[str, Any], parts: list[ShardResult], config: dict[str, Any]
) -> dict[str, Any]:
    """The metadata of the unsharded `enriched_sbir_awards`, plus each shard's range, wall time and peak RSS."""
    return {
        **enriched_table_metadata(usage, summary, metrics),
        "shards": [
            {
                "shard": p.shard.number,
                "award_rows": [p.shard.start, p.shard.stop],
                "wall_s": round(p.wall_s, 3),
                "peak_rss_mib": round(p.peak_rss_mib, 1),
            }
            for p in sorted(parts, key=lambda p: p.shard.number)
        ],
        "config": config,
    }


def sharded_enrichment(shards: int) -> dg.AssetsDefinition:
    """`enriched_sbir_awards` as a graph of `shards` shard steps and the combine step."""
    shard_ops = [shard_op(number, shards) for number in range(shards)]
    combine = combine_op(shards)

    @dg.graph_asset(
        name=enriched_sbir_awards.key.to_user_string(),
        group_name=GROUP,
        description=f"Awards with the recipient each was matched to, enriched in {shards} award shards.",
    )
    def sharded_enriched_sbir_awards(validated_sbir_awards: str, recipient_index: str, identified_award_names: str):
        parts = {
            f"shard_{n}": op(validated_sbir_awards, recipient_index, identified_award_names)
            for n, op in enumerate(shard_ops)
        }
        return combine(awards=validated_sbir_awards, **parts)

    return sharded_enriched_sbir_awards


def sharded_assets(shards: int) -> list[dg.AssetsDefinition]:
    """The assets of `sbir_etl_job`, with the enrichment in shards and the identified names before it."""
    unsharded = [asset for asset in ASSETS if asset is not enriched_sbir_awards]
    return [*unsharded, identified_award_names, sharded_enrichment(shards)]


def check_executor(executor: str) -> None:
    """`ConfigError` unless `executor` is one of `EXECUTORS` and its library is installed."""
    if executor not in EXECUTORS:
        raise ConfigError(f"executor: {executor!r} is not one of {', '.join(EXECUTORS)}")
    if executor == "dask" and importlib.util.find_spec("dagster_dask") is None:
        raise ConfigError("executor dask: dagster-dask is not installed; pip install 'pytest-sbir-validate[dask]'")


def executor_definition(executor: str | dg.ExecutorDefinition) -> dg.ExecutorDefinition:
    """The Dagster executor named `executor` (one of `EXECUTORS`), or the one given (e.g. Kubernetes, Celery)."""
    if isinstance(executor, dg.ExecutorDefinition):
        return executor
    check_executor(executor)
    if executor == "dask":
        from dagster_dask import dask_executor

        return dask_executor
    return dg.multiprocess_executor if executor == "multiprocess" else dg.in_process_executor


def build_sharded_definitions(
    shards: int,
    executor: str | dg.ExecutorDefinition = "in_process",
    paths: SbirEtlPaths | None = None,
    settings: EnrichmentSettings | None = None,
) -> dg.Definitions:
    """Definitions of `sbir_etl_sharded_job` in `shards` shards on the executor, named or given
    (`dagster_k8s.k8s_job_executor`, `dagster_celery.celery_executor`: docs/scale-out.md)."""
    assets = sharded_assets(shards)
    job = dg.define_asset_job(
        SHARDED_JOB_NAME,
        selection=dg.AssetSelection.assets(*assets),
        executor_def=executor_definition(executor),
        description=f"sbir_etl_job with the enrichment in {shards} award shards.",
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=CHECKS,
        jobs=[job],
        resources={"paths": paths or SbirEtlPaths(), "settings": settings or EnrichmentSettings()},
    )


def sharded_job(
    shards: int,
    executor: str,
    awards_path: str,
    recipients_path: str,
    out_dir: str,
    config_path: str | None = None,
    overrides: dict[str, str] | None = None,
    use_environment: bool = True,
) -> dg.JobDefinition:
    """The job, built from plain values: what a worker process calls to rebuild it."""
    defs = build_sharded_definitions(
        shards,
        executor,
        SbirEtlPaths(awards_path=awards_path, recipients_path=recipients_path, out_dir=out_dir),
        EnrichmentSettings(config_path=config_path, overrides=dict(overrides or {}), use_environment=use_environment),
    )
    return defs.resolve_job_def(SHARDED_JOB_NAME)


def reconstructable_sharded_job(**kwargs: Any) -> ReconstructableJob:
    """`sharded_job(**kwargs)` as a job other processes rebuild from its module, name and arguments."""
    return dg.build_reconstructable_job(__name__, sharded_job.__name__, reconstructable_kwargs=kwargs)
