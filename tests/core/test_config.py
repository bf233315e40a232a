"""Configuration precedence (override > environment > file > default) and its error messages."""

import pytest

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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chunk_sise: 10\n", "unknown option(s) ['chunk_sise']"),
        ("chunk_size: many\n", "chunk_size='many' is not a number"),
        ("fuzzy_auto_threshold: 120\n", "fuzzy_auto_threshold must be within 0..100"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path, env={})
    assert message in str(error.value) and str(path) in str(error.value)


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match="environment variable SBIR_ETL_CHUNK_SIZE: chunk_size='big'"):
        load_config(env={"SBIR_ETL_CHUNK_SIZE": "big"})


def test_as_dict_is_plain_data():
    data = EnrichmentConfig().as_dict()
    assert data["chunk_size"] == 100_000 and data["award_columns"]["duns"] == ("DUNS", "Duns")
