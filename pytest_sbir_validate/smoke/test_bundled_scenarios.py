"""Smoke tests: the Dagster ``sbir_etl_job`` on every bundled scenario, compared with its expected.yaml.

Outputs, errors and gate outcomes must be as expected, and a failed blocking gate or step must
leave ``enrichment_quality_report`` untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from pytest_sbir_validate.materialize import assert_job_as_expected
from pytest_sbir_validate.scenarios import Scenario, bundled_scenarios

if TYPE_CHECKING:
    from sbir_etl.dagster_defs import JobRun

SCENARIOS = bundled_scenarios()


@pytest.mark.smoke
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_sbir_etl_job_on_bundled_scenario(scenario: Scenario, sbir_materialize: Callable[..., JobRun]) -> None:
    assert_job_as_expected(scenario, sbir_materialize(scenario))
