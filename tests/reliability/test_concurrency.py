"""Concurrent writers: one output, one run at a time; other outputs in the same directory unaffected.

Issue 9 saw two `enrich --resume` runs on one output break each other in 4 trials of 5 (one
exited 2 with a bare checkpoint path). Now the second run stops at once with the pid of the
first, and the output is the one an uninterrupted run writes.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from sbir_etl.io.outputs import output_lock
from tests.reliability.conftest import ReferenceRun, enrich_args, leftovers, sbir_etl, snapshot, start_enrich

BUSY = re.compile(r"^sbir-etl: failed: output .*enriched\.csv is being written by another run \(pid (\d+)\); ")


@pytest.mark.fault
def test_a_run_on_a_locked_output_names_the_pid_holding_it(synthetic_csv, tmp_path: Path) -> None:
    out = tmp_path / "enriched.csv"
    before = snapshot(synthetic_csv["awards"].parent)
    with output_lock(out):
        done = sbir_etl(*enrich_args(synthetic_csv, out, "--resume"), cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    match = BUSY.match(done.stderr)
    assert match and int(match.group(1)) == os.getpid(), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists() and leftovers(tmp_path) == []
    assert snapshot(synthetic_csv["awards"].parent) == before


@pytest.mark.fault
def test_resume_runs_racing_for_one_output_leave_the_uninterrupted_output(
    synthetic_csv, reference_run: ReferenceRun, tmp_path
) -> None:
    out = tmp_path / "enriched.csv"
    children = [start_enrich(synthetic_csv, out, "--resume", stderr=subprocess.PIPE) for _ in range(2)]
    results = [(child.pid, child.wait(timeout=300), child.stderr.read()) for child in children]
    pids = {pid for pid, _, _ in results}
    for pid, code, stderr in results:
        assert "Traceback" not in stderr
        if code != 0:
            match = BUSY.match(stderr)
            assert code == 1 and match, stderr
            assert int(match.group(1)) in pids - {pid}, f"busy message names pid {match.group(1)}, not another run"
    assert any(code == 0 for _, code, _ in results)
    assert out.read_bytes() == reference_run.output
    assert leftovers(tmp_path) == []


@pytest.mark.fault
def test_runs_writing_different_outputs_of_one_directory_do_not_interfere(
    synthetic_csv, reference_run: ReferenceRun, tmp_path
) -> None:
    outs = [tmp_path / f"enriched-{i}.csv" for i in range(2)]
    children = [start_enrich(synthetic_csv, out, "--resume", stderr=subprocess.PIPE) for out in outs]
    assert [child.wait(timeout=300) for child in children] == [0, 0], [c.stderr.read() for c in children]
    assert all(out.read_bytes() == reference_run.output for out in outs)
    assert leftovers(tmp_path) == []
