"""Fixed cost of the budget markers per test, against no plugin and against pytest-memray.

Generates N trivial tests (default 500) in a temporary directory and runs them, in one go, as:

* ``baseline``           - unmarked tests, ``-p no:sbir_validate``
* ``plugin, no budgets`` - unmarked tests, plugin loaded (what every user pays)
* ``both budgets``       - ``@time_budget("1s")`` + ``@memory_budget("100 MiB")`` on every test
* ``memray limit_memory``- ``@pytest.mark.limit_memory("100 MB")`` on every test, our plugin off

Each variant is a fresh ``python -m pytest`` process, repeated R times in interleaved order; the
fastest repeat counts (the others are disturbed by whatever else the machine runs). The time is
that of pytest's run-test loop, measured by a tiny plugin, so interpreter start-up and collection
are left out; whole-process wall time is shown too.

    .venv/bin/python benchmarks/plugin_overhead.py            # 500 tests x 3 repeats, about 1 min
    .venv/bin/python benchmarks/plugin_overhead.py --tests 2000 --repeats 3

Target: "both budgets" costs at most 1 ms per test more than "baseline".
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

TIMER_PLUGIN = """
import os
import time

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        with open(os.environ["OVERHEAD_TIMER_OUT"], "w") as out:
            out.write(repr(time.perf_counter() - start))
"""

DECORATORS = {
    "plain": "",
    "budgets": '@pytest.mark.time_budget("1s")\n@pytest.mark.memory_budget("100 MiB")\n',
    "memray": '@pytest.mark.limit_memory("100 MB")\n',
}

# name: (test file flavour, extra pytest arguments)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "baseline": ("plain", ["-p", "no:sbir_validate"]),
    "plugin, no budgets": ("plain", []),
    "both budgets": ("budgets", []),
    "memray limit_memory": ("memray", ["-p", "no:sbir_validate"]),
}


def write_suite(root: Path, flavour: str, n_tests: int) -> Path:
    """A directory with ``n_tests`` trivial tests carrying the flavour's markers."""
    directory = root / flavour
    directory.mkdir()
    (directory / "pytest.ini").write_text("[pytest]\n")
    body = "".join(f"{DECORATORS[flavour]}def test_{i}():\n    pass\n\n\n" for i in range(n_tests))
    (directory / "test_trivial.py").write_text("import pytest\n\n\n" + body)
    return directory


def run_once(directory: Path, extra: list[str], timer_dir: Path) -> tuple[float, float]:
    """(run-test loop seconds, whole process seconds) of one pytest process."""
    out = timer_dir / "loop_seconds"
    env = dict(os.environ, OVERHEAD_TIMER_OUT=str(out), PYTHONPATH=str(timer_dir))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "overhead_timer", *extra]
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True)
    process_s = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {directory}:\n{completed.stdout}\n{completed.stderr}")
    return float(out.read_text()), process_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=500, help="trivial tests per run (default 500)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant; the fastest counts (default 3)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sbir-overhead-") as tmp:
        root = Path(tmp)
        timer_dir = root / "timer"
        timer_dir.mkdir()
        (timer_dir / "overhead_timer.py").write_text(TIMER_PLUGIN)
        suites = {flavour: write_suite(root, flavour, args.tests) for flavour in DECORATORS}
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeats):
            for name, (flavour, extra) in VARIANTS.items():
                loop_s, process_s = run_once(suites[flavour], extra, timer_dir)
                previous = best.get(name)
                best[name] = (
                    (min(loop_s, previous[0]), min(process_s, previous[1])) if previous else (loop_s, process_s)
                )

    n = args.tests
    base_loop = best["baseline"][0]
    print(
        f"{n} trivial tests, fastest of {args.repeats} runs; Python {platform.python_version()}, "
        f"pytest {pytest.__version__}, {os.cpu_count()} CPUs, {platform.platform()}"
    )
    print(f"{'variant':<22}{'loop ms/test':>14}{'+ms/test vs baseline':>22}{'loop ratio':>12}{'process s':>11}")
    for name, (loop_s, process_s) in best.items():
        print(
            f"{name:<22}{loop_s / n * 1e3:>14.3f}{(loop_s - base_loop) / n * 1e3:>22.3f}"
            f"{loop_s / base_loop:>12.2f}{process_s:>11.2f}"
        )
    overhead_ms = (best["both budgets"][0] - base_loop) / n * 1e3
    memray_ms = (best["memray limit_memory"][0] - base_loop) / n * 1e3
    verdict = "meets" if overhead_ms <= 1.0 else "MISSES"
    print(
        f"both budgets: +{overhead_ms:.3f} ms per test ({verdict} the 1 ms target); "
        f"pytest-memray limit_memory: +{memray_ms:.3f} ms per test"
    )


if __name__ == "__main__":
    main()
