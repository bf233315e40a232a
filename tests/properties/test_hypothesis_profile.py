"""The CI Hypothesis profile: registered by the strategies module, active when CI is set."""

import os

from hypothesis import settings

from pytest_sbir_validate.strategies import SBIR_CI_PROFILE


def test_ci_profile_is_derandomized_without_deadline():
    profile = settings.get_profile(SBIR_CI_PROFILE)
    assert profile.derandomize and profile.deadline is None and profile.max_examples <= 50


def test_ci_profile_is_active_exactly_when_ci_is_set():
    assert settings.default.derandomize == bool(os.environ.get("CI"))
