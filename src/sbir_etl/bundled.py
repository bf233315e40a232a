"""Data shipped with the package: the enrichment scenarios, the demo's default data, and where the
smoke tests `sbir-etl checklist` runs by default live.

The scenarios are edited at the top-level ``fixtures/`` of the source tree; the build maps that one
directory into the package as ``sbir_etl.fixtures`` (``[tool.setuptools.package-dir]`` in
pyproject.toml), so wheels and sdists carry it and an editable install reads the checkout's copy.
Locations are resolved through :mod:`importlib.resources`, never relative to this file, so they are
right however the package was installed.
"""

from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path

__all__ = ["BUNDLED_FIXTURES", "DEFAULT_SCENARIO", "SMOKE_TESTS"]


def _installed_directory(package: str) -> Path:
    location = files(package)
    if not isinstance(location, Path):  # e.g. imported from a zip file: scenarios need real files
        raise RuntimeError(
            f"{package} is installed as {location!r}, not as plain files; install pytest-sbir-validate "
            "from its wheel with pip (unzipped) to use the bundled scenarios"
        )
    return location


def _smoke_tests() -> Path:
    """The checkout's ``tests/`` in a source checkout, else the plugin's bundled smoke suite.

    Found by location only (:func:`importlib.util.find_spec` of a top-level package does not import
    it), so the core never imports the pytest plugin.
    """
    checkout_tests = BUNDLED_FIXTURES.parent / "tests"
    if (checkout_tests / "smoke").is_dir():
        return checkout_tests
    plugin = find_spec("pytest_sbir_validate")
    if plugin is None or not plugin.submodule_search_locations:
        return checkout_tests  # the checklist reports the missing directory
    return Path(next(iter(plugin.submodule_search_locations))) / "smoke"


BUNDLED_FIXTURES: Path = _installed_directory("sbir_etl.fixtures")
"""The bundled scenarios: one directory per scenario (``fixtures/`` of the source tree)."""
DEFAULT_SCENARIO: Path = BUNDLED_FIXTURES / "good-real"
"""The default data of `sbir-etl demo` / `sbir-etl run`: a sample of real SBIR.gov awards and FPDS recipients."""
SMOKE_TESTS: Path = _smoke_tests()
"""The tests `sbir-etl checklist` runs with ``-m smoke`` unless given ``--tests``."""
