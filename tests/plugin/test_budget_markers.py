"""The budget markers as a user's suite sees them: documented, validated at collection, parsed."""

import hypothesis  # noqa: F401  (see below)
import pytest

# pytester removes modules first imported inside an inline run; hypothesis's pytest plugin imports
# hypothesis at terminal summary, so without this import every inline run would pay ~1 s for it.


def test_markers_are_documented_by_pytest_markers(pytester):
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.time_budget(limit, *, cpu=False, include_setup=False)*",
            "@pytest.mark.memory_budget(limit, *, include_setup=False)*",
        ]
    )


def test_markers_pass_strict_markers(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.time_budget("3s", cpu=True, include_setup=True)
        @pytest.mark.memory_budget("1.5GiB", include_setup=True)
        def test_ok():
            pass
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ('time_budget("3 hours")', ["*test_bad*invalid @pytest.mark.time_budget('3 hours')*", '*"250ms", "3s"*']),
        ("time_budget()", ["*test_bad*invalid @pytest.mark.time_budget()*limit*", "*accepted form*"]),
        ('time_budget("1s", cpu="yes")', ["*test_bad*cpu must be True or False*"]),
        ('time_budget("1s", setup=True)', ["*test_bad*unexpected keyword argument 'setup'*"]),
        ("memory_budget(800)", ["*test_bad*800 is not a size: a size needs a unit*", "*MiB*"]),
        ('memory_budget("800 MB/s")', ["*test_bad*'800 MB/s' is not a size*"]),
    ],
)
def test_bad_marker_arguments_are_a_collection_error_naming_the_test(pytester, marker, expected):
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.{marker}
        def test_bad():
            pass

        def test_innocent():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting*", *expected, "*1 error*"])
    result.stdout.fnmatch_lines(["*accepted form: @pytest.mark.*(limit, *"])


def test_bad_parametrized_case_is_named_with_its_parameters(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", [1, pytest.param(2, marks=pytest.mark.memory_budget("lots"))])
        def test_cases(n):
            pass
        """
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*test_cases[[]2[]]: invalid @pytest.mark.memory_budget('lots')*"])
    assert "test_cases[1]" not in result.stdout.str()


def test_markers_added_by_a_conftest_after_collection_are_validated(pytester):
    pytester.makeconftest(
        """
        import pytest

        def pytest_collection_modifyitems(items):
            for item in items:
                item.add_marker(pytest.mark.time_budget("soon"))
        """
    )
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_x: invalid @pytest.mark.time_budget('soon')*"])


def test_closest_marker_wins_and_budgets_are_stashed(pytester):
    pytester.makeconftest(
        """
        from pytest_sbir_validate.marks import BUDGETS_KEY

        def pytest_collection_finish(session):
            for item in session.items:
                budgets = item.stash.get(BUDGETS_KEY, None)
                print("BUDGETS", item.name, budgets and (budgets.time_limit_s, budgets.cpu,
                      budgets.memory_limit_bytes, budgets.time_include_setup, budgets.memory_include_setup))
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.time_budget(10)
        class TestGroup:
            @pytest.mark.time_budget("250ms", cpu=True)
            def test_own(self):
                pass

            @pytest.mark.memory_budget("800MB", include_setup=True)
            def test_inherits(self):
                pass

        def test_none():
            pass
        """
    )
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines(
        [
            "BUDGETS test_own (0.25, True, None, False, False)",
            "BUDGETS test_inherits (10.0, False, 800000000, False, True)",
            "BUDGETS test_none None",
        ]
    )


def test_budget_feature_alone_can_be_disabled_by_plugin_name(pytester):
    pytester.makepyfile(
        """
        import time
        import pytest

        @pytest.mark.time_budget(0.01)
        def test_slow():
            time.sleep(0.05)
        """
    )
    result = pytester.runpytest("-p", "no:sbir-budgets", "--strict-markers")
    result.assert_outcomes(passed=1)
    assert "budgets (" not in result.stdout.str()
