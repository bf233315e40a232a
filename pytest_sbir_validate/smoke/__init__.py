"""The smoke suite shipped with the plugin (``test_bundled_scenarios.py`` here).

`sbir-etl checklist` runs it with ``pytest -m smoke`` when it is not run from a source checkout,
so an installed wheel can tell whether the pipeline is ready to deploy.
"""

__all__: list[str] = []
