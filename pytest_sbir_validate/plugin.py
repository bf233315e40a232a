"""Entry point of pytest-sbir-validate, registered through the ``pytest11`` entry point.

This module only assembles the features; each feature keeps its hooks, options and fixtures in
its own module and is registered here so that `pytest -p no:sbir_validate` turns all of them off.
"""
