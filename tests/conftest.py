pytest_plugins = ["pytester"]

# Hypothesis: derandomized, deadline-free CI profile (registered by the plugin's strategies module)
# when CI is set; locally a modest example count keeps the property tests fast.
import os  # noqa: E402

from hypothesis import settings  # noqa: E402

from pytest_sbir_validate.strategies import SBIR_CI_PROFILE  # noqa: E402

settings.register_profile("sbir-dev", max_examples=30, deadline=None)
settings.load_profile(SBIR_CI_PROFILE if os.environ.get("CI") else "sbir-dev")
