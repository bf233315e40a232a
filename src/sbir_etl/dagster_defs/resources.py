"""Dagster resources of `sbir_etl_job`: where the data is, and the enrichment configuration.

`EnrichmentSettings` wraps `sbir_etl.config.load_config` (file < environment < overrides), so the
job and the CLI share one configuration system.
"""

from pathlib import Path
from typing import Any

import dagster as dg

from sbir_etl.bundled import DEFAULT_SCENARIO
from sbir_etl.config import EnrichmentConfig, load_config

DEFAULT_OUT_DIR = Path("out") / "dagster"
"""Relative to the working directory, like `sbir-etl run --out out/run`: never inside the installed package."""


class SbirEtlPaths(dg.ConfigurableResource):
    """Input files (CSV or Parquet) and the directory the job writes its tables to."""

    awards_path: str = str(DEFAULT_SCENARIO / "awards.csv")
    recipients_path: str = str(DEFAULT_SCENARIO / "recipients.csv")
    out_dir: str = str(DEFAULT_OUT_DIR)

    def table(self, name: str, suffix: str = ".parquet") -> Path:
        """Where the job writes the table of asset `name`."""
        return Path(self.out_dir) / f"{name}{suffix}"

    def input_file(self, which: str) -> Path:
        path = Path(self.awards_path if which == "awards" else self.recipients_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"{which} file {path} not found; set {which}_path of the 'paths' resource (or pass it to run_job)"
            )
        return path


class EnrichmentSettings(dg.ConfigurableResource):
    """The enrichment configuration: an optional YAML/TOML file, the SBIR_ETL_* environment and overrides."""

    config_path: str | None = None
    overrides: dict[str, str] = {}
    use_environment: bool = True
    incremental: bool = False
    """Enrich only the awards a full run would decide differently from the previous output (not resumable)."""

    def load(self) -> tuple[EnrichmentConfig, dict[str, str]]:
        """The effective configuration and, for each value, where it came from."""
        return load_config(self.config_path, env=None if self.use_environment else {}, overrides=dict(self.overrides))

    def load_and_log(self, log: Any) -> EnrichmentConfig:
        """Load the configuration and log every effective value with its source."""
        config, sources = self.load()
        values = config.as_dict()
        for name, source in sources.items():
            log.info(f"config {name}={values[name]!r} ({source})")
        return config
