"""`sbir-etl run --shards 4 --executor E`: the sharded job on each executor writes the unsharded job's output.

One scenario per executor keeps the suite short (a multiprocess or Dask run starts a process per
step or worker, each importing Dagster): in-process and Dask on a small generated set,
multiprocess on the bundled real sample. The row-for-row equality across many scenarios, and
the combine step's refusals, are tested on the core in tests/core/test_shards.py.
"""

import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from pytest_sbir_validate.scenarios import bundled_scenario
from sbir_etl.cli import SHARD_EXECUTORS, main
from sbir_etl.dagster_defs import ASSET_NAMES, run_job
from sbir_etl.dagster_defs.sharded import EXECUTORS, SHARDED_JOB_NAME, sharded_job
from sbir_etl.evaluation.synthetic import generate, write

ENRICHED = "enriched_sbir_awards"


@pytest.fixture(scope="module")
def input_sets(tmp_path_factory):
    """(awards, recipients) by name: a small generated set, and the bundled real sample."""
    out = tmp_path_factory.mktemp("generated")
    write(generate(1500, 15_000, seed=3), out)
    scenario = bundled_scenario("good-real")
    return {
        "generated": (out / "awards.csv", out / "recipients.csv"),
        "real_sample": (scenario.awards_path, scenario.recipients_path),
    }


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory):
    """The unsharded job's enriched table, per input set (run once for the executors that share it)."""
    tables = {}

    def table(name, awards, recipients):
        if name not in tables:
            run = run_job(awards, recipients, tmp_path_factory.mktemp("unsharded"), use_environment=False)
            assert run.success, run.describe()
            tables[name] = pq.read_table(run.path(ENRICHED))
        return tables[name]

    return table


def _sbir_etl(*args):
    return subprocess.run([sys.executable, "-m", "sbir_etl.cli", *map(str, args)], capture_output=True, text=True)


def _by_award_key(table):
    return table.sort_by([("Agency Tracking Number", "ascending"), ("Contract", "ascending")])


@pytest.mark.parametrize(
    ("executor", "inputs"), [("in_process", "generated"), ("multiprocess", "real_sample"), ("dask", "generated")]
)
def test_four_shards_on_each_executor_write_the_unsharded_output(executor, inputs, unsharded, input_sets, tmp_path):
    awards, recipients = input_sets[inputs]
    expected = unsharded(inputs, awards, recipients)
    out = tmp_path / "sharded"
    out.mkdir()
    (out / f"{ENRICHED}.shard-0007.parquet").write_bytes(b"left by an earlier, failed run of 8 shards")
    # Two workers for four shards: each worker process costs seconds of imports on a 2-core machine.
    options = ["--shards", 4, "--executor", executor, "--workers", 2]
    done = _sbir_etl("run", "--awards", awards, "--recipients", recipients, "--out", out, *options)
    assert done.returncode == 0, done.stderr[-3000:]  # 0: the job succeeded, every blocking gate passed
    assert f"{SHARDED_JOB_NAME} run" in done.stdout
    got = pq.read_table(out / f"{ENRICHED}.parquet")
    assert got.num_rows == expected.num_rows > 0
    assert _by_award_key(got).equals(_by_award_key(expected)), "sharded output differs from the unsharded job's"
    assert got.equals(expected), "same rows, but not in the unsharded job's order"
    assert not list(out.glob(f"{ENRICHED}.shard-*")), "shard parts (this run's or a stale one) left behind"


def test_the_sharded_job_has_a_step_per_shard_and_the_evidence_once(input_sets, tmp_path):
    awards, recipients = input_sets["real_sample"]
    job = sharded_job(3, "in_process", str(awards), str(recipients), str(tmp_path))
    steps = {node.name for node in job.graph.nodes}
    assert {"identified_award_names", "recipient_index", *ASSET_NAMES} <= steps
    inner = {op.name for op in job.graph.node_named(ENRICHED).definition.nodes}
    assert inner == {"enrich_shard_0", "enrich_shard_1", "enrich_shard_2", "combine_award_shards"}


def test_the_cli_offers_the_executors_the_job_knows():
    assert SHARD_EXECUTORS == EXECUTORS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shards", "0"], "--shards: must be at least 1, got 0"),
        (["--shards", "four"], "--shards: 'four' is not a whole number"),
        (
            ["--shards", "4", "--executor", "celery"],
            "--executor: 'celery' is not one of in_process, multiprocess, dask",
        ),
        (["--shards", "4", "--workers", "-1"], "--workers: must be at least 1, got -1"),
        (["--shards", "2", "--dask-scheduler", "tcp://h:8786"], "--dask-scheduler needs --executor dask"),
    ],
)
def test_a_wrong_sharding_value_is_one_line_and_exit_2(args, message, capsys, tmp_path):
    assert main(["run", "--out", str(tmp_path / "out"), *args]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"sbir-etl: error: {message}\n"
    assert captured.out == "" and not (tmp_path / "out").exists()
