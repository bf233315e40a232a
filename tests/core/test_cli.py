"""The `sbir-etl` command-line contract that users and CI scripts rely on."""

import json
import os
import platform
import subprocess
import sys

import pandas as pd
import pytest

from sbir_etl.cli import main
from sbir_etl.evaluation.synthetic import generate, write


def test_enrich_prints_counts_rate_time_and_rss(tmp_path, capsys):
    paths = write(generate(n_awards=400, n_recipients=4_000, seed=3), tmp_path)
    code = main(
        [
            "enrich",
            "--awards",
            str(paths["awards"]),
            "--recipients",
            str(paths["recipients"]),
            "--out",
            str(tmp_path / "out.parquet"),
            "--chunk-size",
            "150",
            "--summary-json",
            str(tmp_path / "s.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for text in (
        "awards: 400 in, 400 out, 0 rejected",
        "uei-exact",
        "unmatched",
        "match rate:",
        "wall time:",
        "peak RSS:",
    ):
        assert text in out
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["rows_out"] == 400 and set(summary["counts_by_method"]) >= {"uei-exact", "name-fuzzy-candidate"}

    code = main(["evaluate", "--truth", str(paths["truth"]), "--enriched", str(tmp_path / "out.parquet"), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["awards"] == 400 and 0 <= result["precision"] <= 1


def test_bad_input_exits_2_with_the_message_on_stderr(tmp_path):
    (tmp_path / "a.csv").write_text("Name,UEI\nAcme,\n")
    (tmp_path / "r.csv").write_text("recipient_hash,legal_business_name,uei,duns\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sbir_etl.cli",
            "enrich",
            "--awards",
            str(tmp_path / "a.csv"),
            "--recipients",
            str(tmp_path / "r.csv"),
            "--out",
            str(tmp_path / "o.csv"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "a.csv: missing required column(s)" in result.stderr and "'Name'" in result.stderr
    assert result.stdout == ""


def test_missing_file_exits_2(tmp_path, capsys):
    assert main(["enrich", "--awards", str(tmp_path / "nope.csv"), "--recipients", "r.csv", "--out", "o.csv"]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_generate_writes_awards_recipients_and_truth(tmp_path, capsys):
    assert main(["generate", "--awards", "50", "--recipients", "500", "--seed", "1", "--out", str(tmp_path)]) == 0
    truth = pd.read_csv(tmp_path / "truth.csv", dtype=str, keep_default_na=False)
    recipients = pd.read_csv(tmp_path / "recipients.csv", dtype=str, keep_default_na=False)
    assert len(truth) == 50 and len(recipients) == 500
    known = truth["recipient_hash"][truth["recipient_hash"] != ""]
    assert known.isin(recipients["recipient_hash"]).all() and 0 < len(known) < 50


def test_verbose_logs_the_effective_configuration_and_where_each_value_came_from(tmp_path, monkeypatch, caplog):
    paths = write(generate(n_awards=50, n_recipients=500, seed=3), tmp_path)
    monkeypatch.setenv("SBIR_ETL_FUZZY_MARGIN", "6")
    args = ["enrich", "--awards", str(paths["awards"]), "--recipients", str(paths["recipients"])]
    with caplog.at_level("INFO", logger="sbir_etl"):
        assert main(["-v", *args, "--out", str(tmp_path / "o.csv"), "--chunk-size", "20", "--quiet"]) == 0
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("effective config")]
    assert "'fuzzy_margin': (6.0, 'env:SBIR_ETL_FUZZY_MARGIN')" in line
    assert "'chunk_size': (20, 'override')" in line


POOL_OF_THE_COMMAND = """
import os, sys
from sbir_etl.cli import _prefer_jemalloc
_prefer_jemalloc()
import pyarrow as pa
print(pa.default_memory_pool().backend_name, os.environ.get("ARROW_DEFAULT_MEMORY_POOL"))
"""


def test_the_command_allocates_through_jemalloc_unless_the_user_named_a_pool() -> None:
    def pool(**env: str) -> str:
        clean = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
        done = subprocess.run(
            [sys.executable, "-c", POOL_OF_THE_COMMAND], env=clean | env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    assert pool() == "jemalloc jemalloc"  # this process, and the workers it starts
    assert pool(ARROW_DEFAULT_MEMORY_POOL="system") == "system system"


ARENAS_OF_THE_COMMAND = """
import ctypes, os, threading
from sbir_etl.cli import _share_one_malloc_arena
_share_one_malloc_arena()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
together = threading.Barrier(4)
def allocate():
    together.wait()  # all four threads alive at once, each allocating
    libc.free(ctypes.c_void_p(libc.malloc(1000)))
    together.wait()
threads = [threading.Thread(target=allocate) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(os.environ.get("MALLOC_ARENA_MAX"), flush=True)
libc.malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the arena limit is a glibc setting")
def test_the_command_shares_one_malloc_arena_between_threads_unless_the_user_set_a_limit() -> None:
    def arenas(**env: str) -> tuple[str, int]:
        clean = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
        done = subprocess.run(
            [sys.executable, "-c", ARENAS_OF_THE_COMMAND], env=clean | env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip(), done.stderr.count("Arena ")

    assert arenas() == ("1", 1)  # this process, and the workers it starts
    limit, count = arenas(MALLOC_ARENA_MAX="8")
    assert limit == "8" and count > 1
