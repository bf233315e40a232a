pytest_plugins = ["pytester"]

# Hypothesis: the derandomized, deadline-free CI profile (registered by the plugin's strategies
# module) when CI is set.
import os  # noqa: E402

from hypothesis import settings  # noqa: E402

from pytest_sbir_validate.strategies import SBIR_CI_PROFILE  # noqa: E402

if os.environ.get("CI"):
    settings.load_profile(SBIR_CI_PROFILE)
