"""Entry point of pytest-sbir-validate, registered through the ``pytest11`` entry point.

This module only assembles the features; each feature keeps its hooks, options and fixtures in
its own module and is registered here so that `pytest -p no:sbir_validate` turns all of them off.
"""

import pytest

from pytest_sbir_validate import budget_plugin, history_plugin, materialize, scaling, scenarios


def pytest_addoption(parser: pytest.Parser) -> None:
    history_plugin.add_options(parser)
    budget_plugin.add_options(parser)
    scenarios.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    history_plugin.configure(config)
    scaling.configure(config)
    budget_plugin.configure(config)
    scenarios.configure(config)
    config.pluginmanager.register(scenarios, "sbir-scenarios")
    config.pluginmanager.register(materialize, "sbir-materialize")
