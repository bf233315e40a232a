"""The project's own test configuration, shared by ``tests/`` and ``benchmarks/``.

* ``pytester`` for testing the plugin as a user's suite runs it, isolated from the outer run's
  pytest-xdist worker environment (see :func:`pytester`);
* the derandomized, deadline-free Hypothesis profile (registered by the plugin's strategies
  module) when ``CI`` is set;
* ``postgres_server`` / ``postgres_url``: a real PostgreSQL server for the session (tests/pg_server.py).
"""

import os

import pytest

pytest_plugins = ["pytester", "tests.pg_server"]

#: Set by pytest-xdist in its worker processes. pytester's in-process runs share ``os.environ``,
#: so without this a nested run under ``-n`` believes it is an xdist worker too (pytest-benchmark
#: then disables every benchmark).
XDIST_WORKER_ENVIRONMENT = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")

if os.environ.get("CI"):
    from hypothesis import settings

    from pytest_sbir_validate.strategies import SBIR_CI_PROFILE

    settings.load_profile(SBIR_CI_PROFILE)


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytest's ``pytester``, with the nested runs seeing the environment of a plain ``pytest``."""
    for name in XDIST_WORKER_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return pytester
