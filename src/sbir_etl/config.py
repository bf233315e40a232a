"""Enrichment configuration: documented defaults, loaded with a clear precedence.

Precedence, highest first: explicit overrides (CLI flags) > environment (`SBIR_ETL_<FIELD>`) >
configuration file (YAML or TOML) > defaults. `load_config` returns the effective values and,
for each, where it came from, so a run can log exactly what it used.
"""

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from sbir_etl.columns import AwardColumns, RecipientColumns
from sbir_etl.errors import ConfigError

ENV_PREFIX = "SBIR_ETL_"


@dataclass(frozen=True)
class EnrichmentConfig:
    """Every tunable of an enrichment run. See docs/configuration.md for guidance on each."""

    chunk_size: int = 100_000
    """Awards read, matched and written per chunk; peak memory grows with it, not with the file."""
    fuzzy_auto_threshold: float = 90.0
    """Score (0-100) at or above which a corroborated fuzzy name match is joined."""
    fuzzy_candidate_threshold: float = 75.0
    """Score at or above which the best fuzzy match is recorded as a candidate (not joined)."""
    fuzzy_margin: float = 4.0
    """Best score must beat the best *other company's* score by this much to auto-join."""
    fuzzy_uncorroborated_threshold: float = 97.0
    """Score at which a fuzzy match auto-joins without location/parent corroboration."""
    prefilter_cutoff: float = 70.0
    """token_sort_ratio cut-off of the cheap first pass; pairs below it are never scored further."""
    blocking_max_key_share: float = 0.005
    """Blocking keys shared by more than this share of recipient names are skipped as uninformative."""
    blocking_max_candidates: int = 4000
    """Upper bound on candidate recipient names scored per award name."""
    workers: int = -1
    """Threads for rapidfuzz scoring; -1 uses every core."""
    match_rate_threshold: float = 0.70
    """Quality gate: joined awards / all awards (candidates are not matches)."""
    identifier_validity_threshold: float = 0.90
    """Quality gate (warning): share of present identifiers that are valid."""
    memory_ceiling_mib: int | None = None
    """When set, chunks shrink (halving, down to 1,000) while process RSS is above this ceiling."""
    award_columns: AwardColumns = field(default_factory=AwardColumns)
    recipient_columns: RecipientColumns = field(default_factory=RecipientColumns)

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1, got {self.chunk_size}")
        for name in (
            "fuzzy_auto_threshold",
            "fuzzy_candidate_threshold",
            "fuzzy_uncorroborated_threshold",
            "prefilter_cutoff",
        ):
            value = getattr(self, name)
            if not 0 <= value <= 100:
                raise ConfigError(f"{name} must be within 0..100, got {value}")
        if self.fuzzy_candidate_threshold > self.fuzzy_auto_threshold:
            raise ConfigError(
                f"fuzzy_candidate_threshold ({self.fuzzy_candidate_threshold}) must not exceed "
                f"fuzzy_auto_threshold ({self.fuzzy_auto_threshold})"
            )
        for name in ("match_rate_threshold", "identifier_validity_threshold", "blocking_max_key_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"{name} is a fraction within 0..1, got {value}")

    def replace(self, **changes: Any) -> "EnrichmentConfig":
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain values only (JSON / Dagster metadata safe)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
        return out


SCALAR_FIELDS = {f.name: f for f in fields(EnrichmentConfig) if f.name not in ("award_columns", "recipient_columns")}


def _coerce(name: str, raw: Any, source: str) -> Any:
    """Convert a file/env/CLI value to the field's type, naming the source on failure."""
    default = getattr(EnrichmentConfig(), name)
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none", "null")):
        if name == "memory_ceiling_mib":
            return None
        raise ConfigError(f"{source}: {name} needs a value")
    try:
        if name == "memory_ceiling_mib" or isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {name}={raw!r} is not a number ({exc})") from exc
    return raw


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml) or TOML (.toml) configuration file into a dict."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"{path}: config files must end in .yaml, .yml or .toml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of option names to values")
    data = data.get("sbir_etl", data)  # allow a [sbir_etl] table in a shared TOML file
    unknown = set(data) - set(SCALAR_FIELDS) - {"award_columns", "recipient_columns"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown option(s) {sorted(unknown)}; known: {sorted(SCALAR_FIELDS)} + award_columns, recipient_columns"
        )
    return data


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[EnrichmentConfig, dict[str, str]]:
    """Effective configuration and the source of each value ("default", "file:PATH", "env:VAR", "override")."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources = {name: "default" for name in SCALAR_FIELDS}
    if path is not None:
        data = read_config_file(path)
        for name, raw in data.items():
            if name == "award_columns":
                values[name] = AwardColumns(**{k: tuple(v) if isinstance(v, list) else (v,) for k, v in raw.items()})
            elif name == "recipient_columns":
                values[name] = RecipientColumns(**raw)
            else:
                values[name] = _coerce(name, raw, f"config file {path}")
            sources[name] = f"file:{path}"
    for name in SCALAR_FIELDS:
        var = ENV_PREFIX + name.upper()
        if var in env:
            values[name] = _coerce(name, env[var], f"environment variable {var}")
            sources[name] = f"env:{var}"
    for name, raw in (overrides or {}).items():
        if raw is None:
            continue
        if name not in SCALAR_FIELDS:
            raise ConfigError(f"unknown option {name!r}")
        values[name] = _coerce(name, raw, "command line")
        sources[name] = "override"
    try:
        return EnrichmentConfig(**values), sources
    except ConfigError as exc:
        origin = sources.get(str(exc).split(" ", 1)[0], "default")
        if origin == "default":
            raise
        raise ConfigError(f"{origin}: {exc}") from exc
