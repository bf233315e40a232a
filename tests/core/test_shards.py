"""Enrichment in award shards (`shards.plan_shards`, `enrich_shard`, `combine_shards`), without Dagster.

The sharded output must be the unsharded one row for row, and the combine step must refuse
shards that do not account for every award exactly once.
"""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pytest_sbir_validate.scenarios import bundled_scenario
from sbir_etl.config import EnrichmentConfig
from sbir_etl.enrichment import enrich_files
from sbir_etl.errors import InvariantError
from sbir_etl.evaluation.synthetic import generate
from sbir_etl.io.tables import RejectSink, iter_parquet_rows, read_text_table
from sbir_etl.recipient_index import index_recipient_file
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

CONFIG = EnrichmentConfig()


@pytest.mark.parametrize(("rows", "shards"), [(0, 1), (0, 4), (3, 4), (10, 4), (235, 4), (1001, 7)])
def test_the_plan_covers_every_row_once_in_order(rows, shards):
    plan = plan_shards(rows, shards)
    assert [s.number for s in plan] == list(range(shards))
    covered = [row for s in plan for row in range(s.start, s.stop)]
    assert covered == list(range(rows))
    assert max(s.rows for s in plan) - min(s.rows for s in plan) <= 1


def test_the_plan_needs_a_shard():
    with pytest.raises(ValueError, match="at least 1"):
        plan_shards(10, 0)


def _parquet_copy(source, target, row_group_size):
    """The job's Parquet copy of an input (all text), with small row groups so shards straddle them."""
    table = read_text_table(source, RejectSink())
    pq.write_table(table, target, row_group_size=row_group_size)
    return target


def test_a_row_range_spans_row_groups(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"n": [str(i) for i in range(100)]}), path, row_group_size=7)
    chunks = list(iter_parquet_rows(path, 5, 38, chunk_rows=10))
    assert [v for c in chunks for v in c.column("n").to_pylist()] == [str(i) for i in range(5, 38)]
    assert all(c.num_rows <= 10 for c in chunks)


def _sharded(awards, index_path, out, shards, tmp_path):
    index = open_recipient_index(index_path, CONFIG)
    save_identified_names(collect_identified_names(awards, index, CONFIG), tmp_path / "identified.parquet")
    identified = load_identified_names(tmp_path / "identified.parquet")
    plan = plan_shards(pq.ParquetFile(awards).metadata.num_rows, shards)
    results = [enrich_shard(awards, s, index, identified, tmp_path / f"part-{s.number}.parquet", CONFIG) for s in plan]
    return results, index


@pytest.fixture(params=["good-real", "good-fuzzy-names", "edge-empty", "generated"])
def inputs(request, tmp_path):
    """(awards, recipients) as Parquet copies: three bundled scenarios and a generated set."""
    if request.param == "generated":
        data = generate(1200, 12_000, seed=7)
        pq.write_table(data.awards, tmp_path / "a.csv.parquet")
        pq.write_table(data.recipients, tmp_path / "r.csv.parquet")
        awards = _parquet_copy(tmp_path / "a.csv.parquet", tmp_path / "awards.parquet", 250)
        recipients = tmp_path / "r.csv.parquet"
    else:
        scenario = bundled_scenario(request.param)
        awards = _parquet_copy(scenario.awards_path, tmp_path / "awards.parquet", 50)
        recipients = _parquet_copy(scenario.recipients_path, tmp_path / "recipients.parquet", 10_000)
    return awards, recipients


def test_four_shards_write_the_unsharded_output_row_for_row(inputs, tmp_path):
    awards, recipients = inputs
    whole = enrich_files(awards, recipients, tmp_path / "whole.parquet", config=CONFIG)
    index_recipient_file(recipients, tmp_path / "r.idx", CONFIG, tmp_path / "r.rejects.csv")
    results, _ = _sharded(awards, tmp_path / "r.idx", tmp_path / "sharded.parquet", 4, tmp_path)
    summary = combine_shards(awards, list(reversed(results)), tmp_path / "sharded.parquet", CONFIG)
    expected, got = pq.read_table(tmp_path / "whole.parquet"), pq.read_table(tmp_path / "sharded.parquet")
    assert got.schema == expected.schema
    assert got.equals(expected), "the sharded output differs from the unsharded one"
    assert summary.rows_in == summary.rows_out == whole.rows_out
    assert summary.counts_by_method == whole.counts_by_method
    assert not list(tmp_path.glob("part-*.parquet")), "the parts stay behind after a combine"


@pytest.fixture
def four_shards(tmp_path):
    scenario = bundled_scenario("good-real")
    awards = _parquet_copy(scenario.awards_path, tmp_path / "awards.parquet", 50)
    recipients = _parquet_copy(scenario.recipients_path, tmp_path / "recipients.parquet", 10_000)
    index_recipient_file(recipients, tmp_path / "r.idx", CONFIG, tmp_path / "r.rejects.csv")
    results, _ = _sharded(awards, tmp_path / "r.idx", tmp_path / "out.parquet", 4, tmp_path)
    return awards, results


def _refused(awards, results, out, match):
    with pytest.raises(InvariantError, match=match):
        combine_shards(awards, results, out, CONFIG)
    assert not out.exists(), "a refused combine left an output behind"


def test_a_missing_shard_is_refused(four_shards, tmp_path):
    awards, results = four_shards
    _refused(awards, results[:2] + results[3:], tmp_path / "out.parquet", "do not cover the 235 awards exactly once")


def test_a_shard_twice_is_refused(four_shards, tmp_path):
    awards, results = four_shards
    _refused(awards, [*results, results[1]], tmp_path / "out.parquet", "do not cover the 235 awards exactly once")


def test_a_part_that_lost_rows_is_refused_naming_the_shard(four_shards, tmp_path):
    awards, results = four_shards
    part = pq.read_table(results[2].path)
    pq.write_table(part.slice(1), results[2].path)
    _refused(
        awards, results, tmp_path / "out.parquet", r"shard 2 \(award rows 117-176\): 59 awards in, 59 enriched, 58 rows"
    )


def test_a_part_with_another_award_is_refused(four_shards, tmp_path):
    awards, results = four_shards
    part = pq.read_table(results[0].path)
    pq.write_table(pa.concat_tables([part.slice(1), part.slice(1, 1)]), results[0].path)  # lost one, doubled one
    _refused(awards, results, tmp_path / "out.parquet", "lost or duplicated awards")


def test_a_result_that_miscounts_is_refused(four_shards, tmp_path):
    awards, results = four_shards
    lying = ShardResult(**{**results[1].__dict__, "rows": results[1].rows + 1})
    _refused(awards, [results[0], lying, *results[2:]], tmp_path / "out.parquet", "shard 1")


def test_evidence_from_a_shard_alone_would_change_awards(tmp_path):
    """Why `identified_award_names` is computed once over the file: a shard's own identified awards
    tie fewer names, and awards of that shard then end differently (2 of 1,200 when this was written)."""
    data = generate(1200, 12_000, seed=7)
    pq.write_table(data.awards, tmp_path / "awards.parquet", row_group_size=250)
    pq.write_table(data.recipients, tmp_path / "recipients.parquet")
    index_recipient_file(tmp_path / "recipients.parquet", tmp_path / "r.idx", CONFIG, tmp_path / "r.rejects.csv")
    index = open_recipient_index(tmp_path / "r.idx", CONFIG)
    whole_file = collect_identified_names(tmp_path / "awards.parquet", index, CONFIG)
    changed = 0
    for shard in plan_shards(1200, 4):
        rows = pa.concat_tables(iter_parquet_rows(tmp_path / "awards.parquet", shard.start, shard.stop, 10_000))
        pq.write_table(rows, tmp_path / "own.parquet")
        own = collect_identified_names(tmp_path / "own.parquet", index, CONFIG)
        assert len(own.names) < len(whole_file.names)
        methods = []
        for name, evidence in (("file", whole_file), ("own", own)):
            result = enrich_shard(
                tmp_path / "awards.parquet", shard, index, evidence, tmp_path / f"{name}.parquet", CONFIG
            )
            methods.append(pq.read_table(result.path, columns=["match_method"]).column("match_method").to_pylist())
        changed += sum(a != b for a, b in zip(*methods))
    assert changed > 0, "evidence from each shard alone changed no award: the file-wide pass would be moot"
