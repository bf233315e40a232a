import os

pytest_plugins = ["pytester"]

# Hypothesis: the derandomized, deadline-free CI profile (registered by the plugin's strategies
# module) when CI is set.
if os.environ.get("CI"):
    from hypothesis import settings

    from pytest_sbir_validate.strategies import SBIR_CI_PROFILE

    settings.load_profile(SBIR_CI_PROFILE)
