"""The environment failing under a run: a full disk, a read-only file system, stdout closed early.

The file-system cases mount a small tmpfs, which needs root (scripts/test runs the suite as root
in CI); they are skipped, and say so, only when the suite does not run as root.
"""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from tests.reliability.conftest import cli_command, cli_env, copy_sample, leftovers, sbir_etl, snapshot

ENRICH = ("enrich", "--awards", "a.csv", "--recipients", "r.csv", "--quiet")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@contextmanager
def _tmpfs(tmp_path: Path, name: str, options: str) -> Iterator[Path]:
    mount = tmp_path / name
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], check=True, capture_output=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB file system: the real sample's enriched output (about 85 KB) does not fit."""
    with _tmpfs(tmp_path, "disk", "size=64k") as mount:
        yield mount


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    with _tmpfs(tmp_path, "ro", "ro,size=64k") as mount:
        yield mount


@pytest.mark.fault
@needs_root
@pytest.mark.parametrize("resume", [False, True], ids=["plain", "resume"])
def test_a_full_disk_is_exit_1_naming_the_output(small_disk: Path, tmp_path: Path, resume: bool) -> None:
    d = copy_sample(tmp_path / "inputs")
    before = snapshot(d)
    out = small_disk / "o.csv"
    extra = ("--resume", "--chunk-size", "50") if resume else ()
    done = sbir_etl(*ENRICH, "--out", str(out), *extra, cwd=d)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().startswith(f"sbir-etl: failed: cannot write {out}: No space left on device; free space")
    assert snapshot(d) == before and not out.exists()
    assert [p for p in leftovers(small_disk) if ".parts" not in p] == []  # checkpoints stay for --resume
    if resume:  # space freed (the disk grows): the same command finishes the job
        subprocess.run(["mount", "-o", "remount,size=4m", str(small_disk)], check=True)
        again = sbir_etl(*ENRICH, "--out", str(out), *extra, cwd=d)
        assert again.returncode == 0, again.stderr
        assert "awards: 235 in, 235 out, 0 rejected" in again.stdout
        assert leftovers(small_disk) == []


@pytest.mark.fault
@needs_root
def test_a_read_only_file_system_is_exit_1_naming_the_output(read_only: Path, tmp_path: Path) -> None:
    d = copy_sample(tmp_path / "inputs")
    done = sbir_etl(*ENRICH, "--out", str(read_only / "o.csv"), cwd=d)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        f"sbir-etl: failed: cannot write {read_only / 'o.csv'}: Read-only file system; write it to a writable file system"
    )


@pytest.mark.fault
def test_stdout_closed_early_exits_141_quietly_and_the_output_is_complete(tmp_path: Path) -> None:
    """`sbir-etl enrich ... | head -1`: the reader is gone before the summary is printed."""
    d = copy_sample(tmp_path)
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: every write to stdout fails with EPIPE
    try:
        done = subprocess.run(
            cli_command(*ENRICH, "--out", "o.csv"), cwd=d, env=cli_env(), stdout=write_end, stderr=subprocess.PIPE
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141 and done.stderr == b"", done.stderr
    enriched = pd.read_csv(d / "o.csv", dtype=str, keep_default_na=False)
    assert len(enriched) == 235 and enriched["match_method"].ne("").all()
