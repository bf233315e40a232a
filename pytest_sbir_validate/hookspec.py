"""Hooks of pytest-sbir-validate: what a user's ``conftest.py`` or plugin may extend.

Implement them like any pytest hook (a function of that name in a ``conftest.py`` or a plugin)::

    def pytest_sbir_machine_class(config):
        return os.environ.get("RUNNER_LABEL")  # None: fall back to the default

    def pytest_sbir_enrich(awards_path, recipients_path, out_path, config):
        return my_pipeline.enrich(awards_path, recipients_path, out_path, config)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_sbir_validate.measurement import Measurement
    from sbir_etl.config import EnrichmentConfig
    from sbir_etl.enrichment import EnrichmentSummary

__all__ = ["pytest_sbir_enrich", "pytest_sbir_machine_class", "pytest_sbir_test_measured"]


@pytest.hookspec(firstresult=True)
def pytest_sbir_machine_class(config: pytest.Config) -> str | None:
    """The label of the kind of machine this run is on; the first non-None answer wins.

    Timings are only compared between runs with the same label: the regression gates' baselines
    (``--sbir-history``) and the saved run ``--benchmark-compare`` compares with. The default
    answer is ``--sbir-machine-class`` / ini ``sbir_machine_class``, else
    ``<os>-<arch>-<cpus>cpu-<ram>gib`` (e.g. ``linux-x86_64-2cpu-8gib``). Asked once per run.
    """


@pytest.hookspec(firstresult=True)
def pytest_sbir_enrich(
    awards_path: Path, recipients_path: Path, out_path: Path, config: EnrichmentConfig
) -> EnrichmentSummary | Mapping[str, Any] | None:
    """Run the enrichment a scenario checks (``check_scenario`` / ``run_scenario``).

    Read the award and recipient files, write the enriched awards to ``out_path`` as Parquet
    (the columns of ``sbir_etl.columns``), and return the run's summary: an ``EnrichmentSummary``
    or a mapping with at least ``rows_in``, ``rows_out``, ``rows_rejected``, ``match_rate``,
    ``counts_by_method`` and ``invalid_identifiers``. Raise an ``sbir_etl.EnrichmentError`` for
    the errors a scenario may expect. The first non-None answer wins; the default runs
    ``sbir_etl.enrichment.enrich_files``.
    """


def pytest_sbir_test_measured(item: pytest.Item, report: pytest.TestReport, measurement: Measurement) -> None:
    """The call phase of a measured test has been reported; its budgets are already judged.

    ``measurement`` is what the call cost (wall and CPU time, peak RSS growth). An
    implementation may change ``report``, e.g. fail it with a message. While any plugin or
    ``conftest.py`` implements this hook, every test is measured, budgeted or not: this is how
    ``--sbir-history`` records and gates each test.
    """
