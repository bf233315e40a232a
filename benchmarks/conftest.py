"""Benchmarks of the enrichment core (pytest-benchmark).

Cold cache: pytest-benchmark 5.3.1 stops with ``UsageError: --benchmark-compare-fail requires
valid --benchmark-compare`` when there is no saved run to compare with, e.g. on a fresh CI cache.
Here that first run instead saves its results as the baseline (as ``--benchmark-autosave``
would) and says so in the terminal summary; the next ``--benchmark-compare`` run compares with it.
See docs/regression-gates.md for the CI recipe.
"""

from __future__ import annotations

import pytest
from pytest_benchmark.utils import get_tag

_COLD_CACHE_MESSAGE = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's pytest_configure has loaded the baseline
def pytest_configure(config: pytest.Config) -> None:
    session = config.pluginmanager.get_plugin("pytest-benchmark")
    if session is None or not config.getoption("benchmark_compare", None):
        return
    try:
        no_baseline = not session.compared_mapping
    except AttributeError as error:
        raise pytest.UsageError(
            "benchmarks/conftest.py relies on pytest-benchmark 5.x internals (compared_mapping); "
            f"update its cold-cache handling for the installed version ({error})"
        ) from error
    if not no_baseline:
        return
    session.compare_fail = []  # nothing to fail against yet
    session.autosave = get_tag()  # this run becomes the baseline, named as --benchmark-autosave names it
    config.stash[_COLD_CACHE_MESSAGE] = (
        f"no saved benchmark run in {session.storage} to compare with (cold cache): this run "
        "was saved as the baseline; the next --benchmark-compare run compares against it"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    message = config.stash.get(_COLD_CACHE_MESSAGE, None)
    if message is not None:
        terminalreporter.section("benchmark baseline")
        terminalreporter.write_line(message, yellow=True)
