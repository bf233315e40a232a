"""Entry point of pytest-sbir-validate, registered through the ``pytest11`` entry point.

This module only assembles the features; each feature keeps its hooks, options and fixtures in
its own module and is registered here, so that ``pytest -p no:sbir_validate`` turns all of them
off. What users may extend is declared in :mod:`pytest_sbir_validate.hookspec`.
"""

import pytest

from pytest_sbir_validate import (
    benchmark_compare,
    budget_plugin,
    history_plugin,
    hookspec,
    machine,
    marks,
    materialize,
    scaling,
    scenarios,
)

__all__ = ["pytest_addhooks", "pytest_addoption", "pytest_configure"]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    history_plugin.add_options(parser)
    machine.add_options(parser)
    budget_plugin.add_options(parser)
    benchmark_compare.add_options(parser)
    scenarios.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    marks.register_markers(config)
    config.pluginmanager.register(machine, "sbir-machine-class")
    config.pluginmanager.register(scenarios, "sbir-scenarios")
    config.pluginmanager.register(materialize, "sbir-materialize")
    history_plugin.configure(config)
    scaling.configure(config)
    budget_plugin.configure(config)
    benchmark_compare.configure(config)
