"""Shared pieces of the fault-injection suite: the `sbir-etl` subprocess, data, snapshots, leftovers.

Every test that injects one of the faults of docs/reliability.md carries `@pytest.mark.fault`;
the terminal summary counts them ("reliability: N of N faults handled"), which is the figure the
document quotes.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from sbir_etl.bundled import BUNDLED_FIXTURES
from sbir_etl.evaluation.synthetic import generate, write
from sbir_etl.io.outputs import lock_path

SAMPLE = BUNDLED_FIXTURES / "good-real"
CLI_TIMEOUT_S = 120
LEFTOVER_PATTERNS = (".*.partial-*", ".*.parts", ".*.lock", ".*.partial")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fault: a test that injects one fault of docs/reliability.md")


_FAULT_OUTCOMES: dict[str, bool] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "fault" not in report.keywords:
        return
    if report.when == "call" or report.failed or report.skipped:
        handled = report.passed and not report.skipped
        _FAULT_OUTCOMES[report.nodeid] = _FAULT_OUTCOMES.get(report.nodeid, True) and handled


def pytest_terminal_summary(terminalreporter) -> None:
    if _FAULT_OUTCOMES:
        handled = sum(_FAULT_OUTCOMES.values())
        terminalreporter.write_line(f"reliability: {handled} of {len(_FAULT_OUTCOMES)} faults handled")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a child `sbir-etl`: no SBIR_ETL_* setting of the caller leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SBIR_ETL_")}
    return env | extra


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sbir_etl.cli", *args]


def sbir_etl(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `sbir-etl ARGS` in `cwd` as a user would, capturing exit code, stdout and stderr."""
    return subprocess.run(
        cli_command(*args),
        cwd=cwd,
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def snapshot(directory: Path) -> dict[str, str]:
    """md5 of every visible file under `directory` (inputs, outputs, configs; not hidden scratch files)."""
    return {
        str(p.relative_to(directory)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    }


def leftovers(directory: Path) -> list[str]:
    """Partials, checkpoint directories and lock files left beside the outputs."""
    return sorted(str(p.relative_to(directory)) for pattern in LEFTOVER_PATTERNS for p in directory.rglob(pattern))


def copy_sample(directory: Path) -> Path:
    """The real 235-award sample as a.csv and r.csv in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE / "awards.csv", directory / "a.csv")
    shutil.copy(SAMPLE / "recipients.csv", directory / "r.csv")
    return directory


@pytest.fixture(scope="session")
def synthetic_csv(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """2,000 generated awards x 8,000 recipients: small (about 2 s a run), but 8 chunks at --chunk-size 250."""
    return write(generate(n_awards=2_000, n_recipients=8_000, seed=9), tmp_path_factory.mktemp("synthetic"))


CHUNK = "250"


def enrich_args(data: dict[str, Path], out: Path, *extra: str) -> list[str]:
    """`sbir-etl enrich` of the synthetic data into `out`, 8 chunks."""
    return [
        "enrich",
        "--awards",
        str(data["awards"]),
        "--recipients",
        str(data["recipients"]),
        "--out",
        str(out),
        "--chunk-size",
        CHUNK,
        "--quiet",
        *extra,
    ]


def start_enrich(data: dict[str, Path], out: Path, *extra: str, stderr: int = subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        cli_command(*enrich_args(data, out, *extra)),
        cwd=out.parent,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


def _holds_lock(child: subprocess.Popen, out: Path) -> bool:
    try:
        return lock_path(out).read_text().strip() == str(child.pid)
    except OSError:
        return False


def wait_for_lock(child: subprocess.Popen, out: Path, timeout_s: float = 60) -> float:
    """Seconds until the run holds the output's lock (its pid is in the lock file: imports and checks
    are done), or until it ended. A killed run's lock file, which names a dead pid, does not count."""
    started = time.perf_counter()
    while not _holds_lock(child, out) and child.poll() is None and time.perf_counter() - started < timeout_s:
        time.sleep(0.005)
    return time.perf_counter() - started


@dataclass(frozen=True)
class ReferenceRun:
    """An uninterrupted run of the synthetic data: its output and how long its work took."""

    output: bytes
    work_s: float
    """From taking the lock (imports done) to the end: the part of a run worth killing."""


@pytest.fixture(scope="session")
def reference_run(synthetic_csv: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    out = tmp_path_factory.mktemp("reference") / "enriched.csv"
    child = start_enrich(synthetic_csv, out)
    started = time.perf_counter()
    to_lock = wait_for_lock(child, out)
    assert child.wait(timeout=CLI_TIMEOUT_S) == 0
    return ReferenceRun(out.read_bytes(), time.perf_counter() - started - to_lock)
