"""benchmarks/shard_scaling.py reads memory the way its table claims: a page two processes map counts half in each PSS.

The script itself runs the sharded job seven times (minutes); its measuring part is tested here on
two real processes mapping one file, read from their /proc/<pid>/smaps(_rollup) as the script does.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmark_scripts import benchmark_script

MIB = 1 << 20

HOLD_MAPPED = """
import mmap, sys
with open(sys.argv[1], "rb") as f:
    pages = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    sum(pages[i] for i in range(0, len(pages), 4096))  # touch every page
    print("ready", flush=True)
    sys.stdin.read()
"""


@pytest.fixture(scope="module")
def shard_scaling():
    yield from benchmark_script("shard_scaling")


def _holders(path: Path, count: int) -> list[subprocess.Popen]:
    started = []
    for _ in range(count):
        process = subprocess.Popen(
            [sys.executable, "-c", HOLD_MAPPED, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout.readline().strip() == "ready"
        started.append(process)
    return started


def test_two_processes_mapping_the_index_each_count_half_of_it(shard_scaling, tmp_path):
    index = tmp_path / shard_scaling.INDEX_FILE
    index.write_bytes(b"\x01" * (16 * MIB))
    holders = _holders(index, 2)
    try:
        memory = [shard_scaling.process_memory(p.pid) for p in holders]
    finally:
        for process in holders:
            process.communicate("")
    for measured in memory:
        assert measured is not None
        assert measured["index_rss"] == pytest.approx(16 * MIB, rel=0.01)
        assert measured["index_pss"] == pytest.approx(8 * MIB, rel=0.05)
        assert measured["rss"] >= measured["index_rss"] and measured["pss"] < measured["rss"]


def test_a_process_without_the_index_is_not_a_worker(shard_scaling, tmp_path):
    other = tmp_path / "something_else.arrow"
    other.write_bytes(b"\x01" * MIB)
    (holder,) = _holders(other, 1)
    try:
        assert shard_scaling.process_memory(holder.pid) is None
    finally:
        holder.communicate("")
