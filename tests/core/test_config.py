"""Configuration precedence (override > environment > file > default) and its error messages."""

import pytest

from sbir_etl.columns import AwardColumns
from sbir_etl.config import EnrichmentConfig, load_config
from sbir_etl.errors import ConfigError


def test_precedence_and_provenance(tmp_path):
    path = tmp_path / "sbir.yaml"
    path.write_text(
        "chunk_size: 5000\nfuzzy_margin: 2\nmatch_rate_threshold: 0.8\naward_columns:\n  company: [Firm, Company]\n"
    )
    env = {"SBIR_ETL_FUZZY_MARGIN": "3", "SBIR_ETL_MATCH_RATE_THRESHOLD": "0.9", "UNRELATED": "x"}
    config, sources = load_config(path, env=env, overrides={"match_rate_threshold": 0.75, "chunk_size": None})
    assert (config.chunk_size, config.fuzzy_margin, config.match_rate_threshold) == (5000, 3.0, 0.75)
    assert sources["chunk_size"] == f"file:{path}"
    assert sources["fuzzy_margin"] == "env:SBIR_ETL_FUZZY_MARGIN"
    assert sources["match_rate_threshold"] == "override"
    assert sources["fuzzy_auto_threshold"] == "default" and config.fuzzy_auto_threshold == 90.0
    assert tuple(config.award_columns.company) == ("Firm", "Company")


def test_toml_file_with_a_section(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[sbir_etl]\nmemory_ceiling_mib = 1500\n")
    config, sources = load_config(path, env={})
    assert config.memory_ceiling_mib == 1500 and sources["memory_ceiling_mib"] == f"file:{path}"


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match="environment variable SBIR_ETL_CHUNK_SIZE: chunk_size='big'"):
        load_config(env={"SBIR_ETL_CHUNK_SIZE": "big"})


def test_as_dict_is_plain_data():
    data = EnrichmentConfig().as_dict()
    assert data["chunk_size"] == 100_000 and data["award_columns"]["duns"] == ("DUNS", "Duns")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chunk_sise: 10\n", "unknown option(s) ['chunk_sise']"),
        ("chunk_size: many\n", "chunk_size='many' is not a number"),
        ("fuzzy_auto_threshold: 120\n", "fuzzy_auto_threshold must be within 0..100"),
        ("- a list\n", "expected a mapping"),
        ("blocking_max_candidates: -1\n", "blocking_max_candidates must be a whole number >= 1, got -1"),
        ("chunk_size: 2.7\n", "chunk_size=2.7 is not a whole number"),
        ("chunk_size: 0\n", "chunk_size must be a whole number >= 1, got 0"),
        ("memory_ceiling_mib: -5\n", "memory_ceiling_mib must be a whole number >= 1 or unset, got -5"),
        ("workers: 0\n", "workers must be a whole number >= 1 or -1, got 0"),
        ("fuzzy_margin: -1\n", "fuzzy_margin must be within 0..100, got -1.0"),
        ("match_rate_threshold: 1.5\n", "match_rate_threshold must be within 0..1, got 1.5"),
        ("chunk_size: true\n", "chunk_size=True is not a number"),
        ("prefilter_cutoff: 80\n", "prefilter_cutoff (80.0) must not exceed fuzzy_candidate_threshold (75.0)"),
        ("fuzzy_candidate_threshold: 95\n", "fuzzy_candidate_threshold (95.0) must not exceed fuzzy_auto_threshold"),
        ("fuzzy_uncorroborated_threshold: 85\n", "fuzzy_auto_threshold (90.0) must not exceed fuzzy_uncorroborated"),
        ("award_columns: Company\n", "award_columns must be a mapping of role to header name(s)"),
        ("award_columns:\n  firm: [Firm]\n", "award_columns: unknown role(s) ['firm']"),
        ("award_columns:\n  company: [5]\n", "award_columns.company must be a header name or a list of them"),
        ("recipient_columns:\n  name: x\n", "recipient_columns: unknown role(s) ['name']"),
        ("recipient_columns:\n  uei: [a, b]\n", "recipient_columns: each role names one header"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, text, message):
    """Unknown options, non-numbers, every range and order rule: each names the file and the fix."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path, env={})
    assert message in str(error.value) and str(path) in str(error.value)


def test_a_cross_field_error_names_where_each_value_came_from(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(env={"SBIR_ETL_PREFILTER_CUTOFF": "80"})
    assert str(error.value).startswith(
        "prefilter_cutoff from environment variable SBIR_ETL_PREFILTER_CUTOFF, fuzzy_candidate_threshold from default:"
    )


def test_values_built_in_python_are_checked_too():
    with pytest.raises(ConfigError, match="chunk_size must be a whole number >= 1, got 2.7"):
        EnrichmentConfig(chunk_size=2.7)  # type: ignore[arg-type]
    assert EnrichmentConfig(fuzzy_auto_threshold=92).fuzzy_auto_threshold == 92
    assert EnrichmentConfig(award_columns=AwardColumns(company=("Firm",))).award_columns.company == ("Firm",)


def test_a_single_award_column_spelling_may_be_a_string(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("award_columns:\n  company: Firm\n")
    assert load_config(path, env={})[0].award_columns.company == ("Firm",)
