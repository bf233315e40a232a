"""A conftest for `pytester` suites that stands in for the budget plugin's measurement.

Each test's cost comes from the ``FAKE_COSTS`` environment variable, a JSON object
``{"test name": [wall_s, peak_rss_growth_mib]}`` whose ``"*"`` entry (default ``[1.0, 100.0]``)
covers every test not named: the history gates then judge figures the test chose, not how busy
the machine was.
"""

FAKE_MEASUREMENT_CONFTEST = """
import json, os
import pytest
from pytest_sbir_validate.measurement import MEASUREMENT_KEY, Measurement

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item, call):
    if call.when == "call":
        costs = json.loads(os.environ.get("FAKE_COSTS", "{}"))
        wall_s, rss_mib = costs.get(item.name, costs.get("*", [1.0, 100.0]))
        item.stash[MEASUREMENT_KEY] = Measurement(wall_s, wall_s, int(rss_mib * 2**20), "fake")
"""
