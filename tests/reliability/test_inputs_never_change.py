"""Property: whatever paths a user passes, no CLI call changes a byte of a file it reads.

Hypothesis picks a command and, for each of its path arguments, a path from a pool that mixes
the inputs, other names for them (`./`, `sub/..`, a hard link, a symbolic link), fresh paths,
a directory and a path under a file. Each call runs in a fresh copy of the workspace; after it,
every file the call read holds the same bytes, the call ended with a documented exit code, and
nothing escaped `main`.
"""

import contextlib
import hashlib
import io
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sbir_etl.cli import main
from tests.reliability.conftest import copy_sample

DOCUMENTED_EXITS = {0, 1, 2}


def make_workspace(d: Path) -> Path:
    copy_sample(d)
    (d / "c.yaml").write_text("chunk_size: 100\n")
    (d / "bad.yaml").write_text("prefilter_cutoff: 99\n")
    (d / "truth.csv").write_text("Agency Tracking Number,Contract,recipient_hash\nA1,C1,h1\n")
    os.link(d / "a.csv", d / "hard-link-to-a.csv")
    (d / "symlink-to-r.csv").symlink_to(d / "r.csv")
    (d / "sub").mkdir()
    (d / "a-file").write_text("")
    return d


INPUT_FLAGS = ("--awards", "--recipients", "--config", "--truth", "--enriched")


def inputs_of(args: list[str], workspace: Path) -> dict[str, str]:
    """md5 of each file the call reads (its link target for a link), by the name the call gives it."""
    named = [args[i + 1] for i, flag in enumerate(args[:-1]) if flag in INPUT_FLAGS]
    return {
        name: hashlib.md5((workspace / name).read_bytes()).hexdigest() for name in named if (workspace / name).is_file()
    }


INPUTS = ["a.csv", "r.csv", "c.yaml", "bad.yaml", "truth.csv", "hard-link-to-a.csv", "symlink-to-r.csv"]
ALIASES = ["./a.csv", "sub/../r.csv", "sub/../truth.csv"]
FRESH = ["out/o.csv", "out/o.parquet", "out/o.rejects.csv", "out/s.json"]
ODD = ["sub", "a-file/o.csv", "o.xlsx"]
paths = st.sampled_from(INPUTS + ALIASES + FRESH + ODD)


@st.composite
def enrich_calls(draw) -> list[str]:
    args = ["enrich", "--awards", draw(st.sampled_from(["a.csv", "hard-link-to-a.csv", "./a.csv"]))]
    args += ["--recipients", draw(st.sampled_from(["r.csv", "symlink-to-r.csv"])), "--out", draw(paths), "--quiet"]
    for flag in ("--rejects", "--summary-json"):
        if draw(st.booleans()):
            args += [flag, draw(paths)]
    if draw(st.booleans()):
        args += ["--config", draw(st.sampled_from(["c.yaml", "bad.yaml"]))]
    if draw(st.booleans()):
        args.append("--resume")
    return args


evaluate_calls = st.builds(lambda t, e: ["evaluate", "--truth", t, "--enriched", e], paths, paths)


@pytest.mark.fault
@settings(max_examples=30, deadline=None)
@given(args=st.one_of(enrich_calls(), evaluate_calls))
def test_no_cli_call_changes_an_input(args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(make_workspace(Path(scratch))):
        workspace = Path(scratch)
        before = inputs_of(args, workspace)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            code = main(args)
        assert inputs_of(args, workspace) == before, f"sbir-etl {' '.join(args)} changed an input it read"
    assert code in DOCUMENTED_EXITS, f"sbir-etl {' '.join(args)}: exit {code}: {err.getvalue()}"
    assert code == 0 or err.getvalue().startswith("sbir-etl: "), err.getvalue()
