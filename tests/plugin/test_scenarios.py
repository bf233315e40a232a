"""The scenario fixtures: every bundled scenario checked against the core, and, through pytester,
proof that an expectation is really asserted (a wrong one fails with a readable diff)."""

import csv
import io
import shutil
import textwrap
from pathlib import Path

import pytest

from pytest_sbir_validate.scenarios import (
    BUNDLED_FIXTURES,
    ScenarioFormatError,
    bundled_scenario,
    compare,
    discover_scenarios,
    load_scenario,
    run_scenario,
)

EXPECTED_SCENARIOS = {
    "good-identifiers",
    "good-fuzzy-names",
    "good-registry-variants",
    "good-real-names",
    "good-real",
    "bad-low-match-rate",
    "bad-malformed-identifiers",
    "bad-conflicting-identifiers",
    "bad-duplicate-recipients",
    "bad-schema",
    "bad-unreadable-rows",
    "edge-empty",
    "edge-unicode-names",
    "edge-all-unmatched",
}


def test_bundled_scenarios_are_all_there():
    assert {s.name for s in discover_scenarios(BUNDLED_FIXTURES)} == EXPECTED_SCENARIOS


def test_core_output_matches_every_scenario(enrichment_scenario, check_scenario):
    check_scenario(enrichment_scenario)


def readable_award_keys(path: Path) -> tuple[set[str], int]:
    """The keys of the award rows a strict reader keeps (UTF-8, as many fields as the header),
    and how many rows it rejects: an oracle independent of the core's reader."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    header, body = rows[0], rows[1:]
    readable = [row for row in body if len(row) == len(header) and "\ufffd" not in "".join(row)]
    tracking, contract = header.index("Agency Tracking Number"), header.index("Contract")
    return {f"{row[tracking]} | {row[contract]}" for row in readable}, len(body) - len(readable)


def test_every_award_of_a_scenario_has_an_expectation(enrichment_scenario):
    if enrichment_scenario.expected.error is not None:
        assert enrichment_scenario.expected.awards == {}, "a run expected to fail produces no award to expect"
        return
    keys, unreadable = readable_award_keys(enrichment_scenario.awards_path)
    assert keys == set(enrichment_scenario.expected.awards)
    assert unreadable == (enrichment_scenario.expected.rows or {}).get("rejected", 0)


def test_a_wrong_expectation_is_reported_as_a_diff(tmp_path):
    scenario_dir = tmp_path / "good-identifiers"
    shutil.copytree(BUNDLED_FIXTURES / "good-identifiers", scenario_dir)
    expected = scenario_dir / "expected.yaml"
    expected.write_text(
        expected.read_text().replace(
            "GI-004 | FA86-GI-004: {method: duns-exact, recipient: r-gi-03}",
            "GI-004 | FA86-GI-004: {method: name-exact, recipient: r-gi-04}",
        )
    )
    problems = compare(run_scenario(load_scenario(scenario_dir), tmp_path / "out"))
    assert problems[0] == "1 of 11 awards differ:"
    assert (
        "GI-004 | FA86-GI-004" in problems[2]
        and "name-exact -> r-gi-04" in problems[2]
        and "duns-exact -> r-gi-03" in problems[2]
    )


def test_a_candidate_recipient_on_a_row_that_is_no_candidate_is_a_mismatch(tmp_path):
    outcome = run_scenario(bundled_scenario("good-identifiers"), tmp_path)
    assert compare(outcome) == []
    outcome.enriched["candidate_recipient_hash"] = outcome.enriched["candidate_recipient_hash"].astype(object)
    outcome.enriched.loc[0, "candidate_recipient_hash"] = "r-gi-02"  # a joined row must carry no candidate
    problems = compare(outcome)
    assert problems[0] == "1 of 11 awards differ:" and "(candidate r-gi-02)" in problems[2]


@pytest.mark.parametrize(
    ("yaml_text", "fragment"),
    [
        ("awards:\n  A | B: {method: exact}\n", "method 'exact' is not one of"),
        ("gates: {match_rate: ok}\n", "each 'pass' or 'fail'"),
        ("match_rate: 0.7\n", "match_rate: expected {min: 0.7, max: 1.0}"),
        ("colour: blue\n", "unknown key(s) ['colour']"),
        ("config: {chunk_sise: 5}\n", "config: unknown option(s) ['chunk_sise']"),
        ("config: {chunk_size: 2.7}\n", "config: chunk_size=2.7 is not a whole number"),
        ("config: {prefilter_cutoff: 80}\n", "config: prefilter_cutoff (80.0) must not exceed"),
        ("rows: {in: ten}\n", "rows: expected a mapping with keys in, out, rejected and whole-number counts"),
        ("match_rate: {min: low, max: 1.0}\n", "match_rate: min and max must be numbers"),
        ("invalid_identifiers: [uei]\n", "invalid_identifiers: expected counts by reason"),
    ],
)
def test_malformed_expectations_name_the_file_and_the_problem(tmp_path, yaml_text, fragment):
    shutil.copy(BUNDLED_FIXTURES / "edge-empty" / "awards.csv", tmp_path / "awards.csv")
    shutil.copy(BUNDLED_FIXTURES / "edge-empty" / "recipients.csv", tmp_path / "recipients.csv")
    (tmp_path / "expected.yaml").write_text(yaml_text)
    with pytest.raises(ScenarioFormatError) as info:
        load_scenario(tmp_path)
    assert str(tmp_path / "expected.yaml") in str(info.value) and fragment in str(info.value)


def test_a_scenario_directory_without_expectations_is_an_error(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "awards.csv").write_text("Company\n")
    with pytest.raises(ScenarioFormatError, match=r"lacks recipients.csv, expected.yaml"):
        discover_scenarios(tmp_path)


# --- as a user's suite sees the plugin ---------------------------------------------------------

USER_TEST = textwrap.dedent(
    """
    def test_scenario(enrichment_scenario, check_scenario):
        check_scenario(enrichment_scenario)
    """
)


def _user_project(pytester: pytest.Pytester, *scenarios: str) -> Path:
    fixtures = pytester.path / "my_scenarios"
    for name in scenarios:
        shutil.copytree(BUNDLED_FIXTURES / name, fixtures / name)
    pytester.makeini("[pytest]\nsbir_fixtures_dir = my_scenarios\n")
    pytester.makepyfile(test_user=USER_TEST)
    return fixtures


def test_user_scenarios_pass_when_expectations_hold(pytester):
    _user_project(pytester, "good-identifiers", "bad-schema")
    result = pytester.runpytest_inprocess("-v")
    result.stdout.fnmatch_lines(
        ["*test_scenario[[]bad-schema[]] PASSED*", "*test_scenario[[]good-identifiers[]] PASSED*"]
    )
    result.assert_outcomes(passed=2)


def test_a_wrong_expectation_in_expected_yaml_fails_the_users_test(pytester):
    fixtures = _user_project(pytester, "good-fuzzy-names")
    expected = fixtures / "good-fuzzy-names" / "expected.yaml"
    expected.write_text(
        expected.read_text().replace(
            "FN-008 | R43-FN-008: {method: name-fuzzy-candidate, candidate: r-fn-08}",
            "FN-008 | R43-FN-008: {method: name-fuzzy-auto, recipient: r-fn-08}",
        )
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ScenarioMismatch: scenario 'good-fuzzy-names' differs from*expected.yaml:*",
            "*1 of 10 awards differ:*",
            "*FN-008 | R43-FN-008*name-fuzzy-auto -> r-fn-08*name-fuzzy-candidate (candidate r-fn-08)*",
        ]
    )


def test_a_wrong_match_rate_or_error_expectation_fails(pytester):
    fixtures = _user_project(pytester, "bad-low-match-rate", "bad-schema")
    low = fixtures / "bad-low-match-rate" / "expected.yaml"
    low.write_text(low.read_text().replace("match_rate: {min: 0.3, max: 0.3}", "match_rate: {min: 0.7, max: 1.0}"))
    schema = fixtures / "bad-schema" / "expected.yaml"
    schema.write_text(schema.read_text().replace("type: InputSchemaError", "type: InputFormatError"))
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random(
        ["*match rate 0.3 outside expected [[]0.7, 1.0[]]*", "*expected InputFormatError, got InputSchemaError*"]
    )


def test_a_wrong_gate_expectation_fails_the_end_to_end_check(pytester):
    fixtures = _user_project(pytester, "good-identifiers")
    expected = fixtures / "good-identifiers" / "expected.yaml"
    expected.write_text(expected.read_text().replace("gates: {match_rate: pass,", "gates: {match_rate: fail,"))
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
        import pytest
        from pytest_sbir_validate.materialize import assert_job_as_expected

        @pytest.mark.smoke
        def test_job(enrichment_scenario, sbir_materialize):
            assert_job_as_expected(enrichment_scenario, sbir_materialize(enrichment_scenario))
        """
        )
    )
    # In a subprocess: an in-process run would unload the Dagster modules it imported, and Dagster
    # refuses to register its serializers a second time when a later test imports them again.
    result = pytester.runpytest_subprocess("-m", "smoke", "--strict-markers")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gate match_rate: expected fail, got pass: match rate 1.000*",
            "*enrichment_quality_report materialized although a blocking gate failed*",
        ]
    )


def test_smoke_marker_is_registered(pytester):
    result = pytester.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.smoke: end-to-end smoke test*"])


def test_default_fixtures_dir_is_the_bundled_one(pytester):
    pytester.makepyfile(test_user="def test_names(enrichment_scenario):\n    pass\n")
    result = pytester.runpytest_inprocess("--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_names[[]good-real[]]*"])


def test_bundled_scenario_lookup():
    assert bundled_scenario("good-real").expected.rows == {"in": 235, "out": 235, "rejected": 0}


def test_an_unknown_bundled_scenario_names_the_bundled_ones():
    with pytest.raises(ScenarioFormatError, match=r"no bundled scenario 'good-reel'.*good-real"):
        bundled_scenario("good-reel")


def test_check_scenario_runs_the_enrichment_a_conftest_provides(pytester):
    """The pytest_sbir_enrich hook replaces what a scenario runs: here a pipeline that loses the
    UEI stage, so the scenario catches it; without the hook the same test passes."""
    _user_project(pytester, "good-identifiers")
    pytester.makeconftest(
        """
        import pandas as pd
        from sbir_etl.enrichment import enrich_files

        CALLS = []

        def pytest_sbir_enrich(awards_path, recipients_path, out_path, config):
            CALLS.append(awards_path.parent.name)
            pd.read_csv(awards_path, dtype=str).drop(columns=["UEI"]).to_csv(out_path.with_suffix(".csv"), index=False)
            return enrich_files(out_path.with_suffix(".csv"), recipients_path, out_path, config=config)

        def pytest_terminal_summary(terminalreporter):
            terminalreporter.write_line(f"enriched by the conftest: {CALLS}")
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*GI-001 | W911-GI-001*uei-exact -> r-gi-01*", "enriched by the conftest: ['good-identifiers']"]
    )
