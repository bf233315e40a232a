"""benchmarks/full_scale.py at a tiny size, so the acceptance script cannot rot between full-scale runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmark_scripts import BENCHMARKS, benchmark_script

SCRIPT = BENCHMARKS / "full_scale.py"


@pytest.fixture(scope="module")
def full_scale():
    yield from benchmark_script("full_scale")


def test_tiny_run_prints_every_figure_and_writes_the_markdown_table(tmp_path: Path) -> None:
    markdown = tmp_path / "full.md"
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--awards",
            "500",
            "--recipients",
            "5000",
            "--naive-sample",
            "3",
            "--doubling",
            "--work",
            str(tmp_path / "work"),
            "--markdown",
            str(markdown),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    for figure in (
        "sbir-etl enrich wall time (whole process)",
        "sbir-etl enrich peak RSS (whole process)",
        "naive / ours",
        "doubling recipients costs",
        "name matching (exact + fuzzy-auto) precision",
        "sbir-etl index: build and save (whole process)",
        "index load (memory map, in the run)",
        "enrich --index, all awards: wall time",
        "enrich --index --incremental, 10,000 awards added",
    ):
        assert figure in done.stdout
    for comparison in ("cold vs --index", "cold vs --incremental"):
        line = next(line for line in done.stdout.splitlines() if f"identical output: {comparison}" in line)
        assert line.rstrip().endswith("identical  PASS") or line.split()[-1] == "PASS", line
    assert "500 awards x 5,000 recipients" in done.stdout
    table = markdown.read_text()
    assert table.count("\n| ") >= 14 and "| naive / ours |" in table
    rss_row = next(line for line in table.splitlines() if "peak RSS" in line)
    peak_mib = float(rss_row.split("|")[2].replace("MiB", "").replace(",", ""))
    assert 50 < peak_mib < 2048, "a Python process importing pandas and pyarrow peaks above 50 MiB"
    assert "not run" not in table  # --doubling ran the half-recipient enrichment


def test_missing_dataset_is_an_error_naming_the_files(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--data", str(tmp_path / "nowhere"), "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "awards.csv" in done.stderr and "sbir-etl generate" in done.stderr


def _result(full_scale, wall_s: float, naive_s: float, name_recall: float, half_s: float | None):
    run = lambda s: full_scale.ProcessRun(("x",), s, 900.0, 0, "", "")  # noqa: E731
    return full_scale.FullScaleResult(
        awards=533_000,
        recipients=3_300_000,
        data_dir="d",
        enrich=run(wall_s),
        counts_by_method={"uei-exact": 3, "name-fuzzy-candidate": 1},
        naive=full_scale.NaiveEstimate(
            sample=20, sample_s=20 * naive_s / 280_000, name_awards=280_000, recipients=3_300_000
        ),
        quality={
            "precision": 1.0,
            "recall": 0.97,
            "name_precision": 0.995,
            "name_recall": name_recall,
            "false_join_rate": 0.0,
        },
        half_enrich=run(half_s) if half_s else None,
    )


def test_targets_are_judged_from_the_measured_figures(full_scale) -> None:
    good = _result(full_scale, wall_s=28.0, naive_s=28.0 * 2000, name_recall=0.96, half_s=14.0)
    assert good.naive_ratio == pytest.approx(2000)
    assert good.doubling_ratio == pytest.approx(2.0)
    assert good.missed_targets() == []
    bad = _result(full_scale, wall_s=70.0, naive_s=70.0 * 500, name_recall=0.90, half_s=None)
    assert bad.missed_targets() == ["wall_s", "naive_ratio", "name_recall"]  # saved-index figures: not run
    assert "not run (--doubling)" in full_scale.render_markdown(bad)
