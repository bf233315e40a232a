"""pytest-sbir-validate: validate an SBIR <-> USAspending enrichment pipeline from your test suite.

The plugin loads itself (``pytest11`` entry point ``sbir_validate``); import what you use from
its modules:

- :mod:`~pytest_sbir_validate.scenarios`: scenario loading, ``run_scenario``, ``bundled_scenario``;
- :mod:`~pytest_sbir_validate.materialize`: the Dagster job from a test, ``assert_job_as_expected``;
- :mod:`~pytest_sbir_validate.strategies`: Hypothesis strategies for identifiers, names and tables;
- :mod:`~pytest_sbir_validate.scaling`: ``measure_scaling`` behind the ``scaling_check`` fixture;
- :mod:`~pytest_sbir_validate.budgets`: parsing and judging time and memory budgets;
- :mod:`~pytest_sbir_validate.hookspec`: the hooks a ``conftest.py`` may implement.
"""

__all__: list[str] = []
