"""Enrichment configuration: documented defaults, loaded with a clear precedence.

Precedence, highest first: explicit overrides (CLI flags) > environment (`SBIR_ETL_<FIELD>`) >
configuration file (YAML or TOML) > defaults. `load_config` returns the effective values and,
for each, where it came from, so a run can log exactly what it used.
"""

import dataclasses
import math
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
        validate(self)

    def replace(self, **changes: Any) -> "EnrichmentConfig":
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain values only (JSON / Dagster metadata safe)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            is_record = dataclasses.is_dataclass(value) and not isinstance(value, type)
            out[f.name] = dataclasses.asdict(value) if is_record else value
        return out


SCALAR_FIELDS = {f.name: f for f in fields(EnrichmentConfig) if f.name not in ("award_columns", "recipient_columns")}


@dataclass(frozen=True)
class Range:
    """The values a scalar option accepts: a whole number or any number, within [low, high]."""

    whole: bool
    low: float
    high: float = math.inf
    optional: bool = False
    """None (unset) is allowed too."""
    also: tuple[int, ...] = ()
    """Values outside the range that mean something (e.g. workers -1 = every core)."""

    def describe(self) -> str:
        bounds = f">= {self.low:g}" if self.high == math.inf else f"within {self.low:g}..{self.high:g}"
        extra = "".join(f" or {v}" for v in self.also) + (" or unset" if self.optional else "")
        return f"{'a whole number ' if self.whole else ''}{bounds}{extra}"

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        if self.whole and not isinstance(value, int):
            return False
        return value in self.also or self.low <= value <= self.high


RANGES: dict[str, Range] = {
    "chunk_size": Range(whole=True, low=1),
    "fuzzy_auto_threshold": Range(whole=False, low=0, high=100),
    "fuzzy_candidate_threshold": Range(whole=False, low=0, high=100),
    "fuzzy_margin": Range(whole=False, low=0, high=100),
    "fuzzy_uncorroborated_threshold": Range(whole=False, low=0, high=100),
    "prefilter_cutoff": Range(whole=False, low=0, high=100),
    "blocking_max_key_share": Range(whole=False, low=0, high=1),
    "blocking_max_candidates": Range(whole=True, low=1),
    "workers": Range(whole=True, low=1, also=(-1,)),
    "match_rate_threshold": Range(whole=False, low=0, high=1),
    "identifier_validity_threshold": Range(whole=False, low=0, high=1),
    "memory_ceiling_mib": Range(whole=True, low=1, optional=True),
}
"""Every scalar option and what it accepts (docs/configuration.md, "The options")."""

ORDER: tuple[tuple[str, str, str], ...] = (
    (
        "prefilter_cutoff",
        "fuzzy_candidate_threshold",
        "pairs below the prefilter cut-off are dropped before they could become candidates",
    ),
    (
        "fuzzy_candidate_threshold",
        "fuzzy_auto_threshold",
        "a score good enough to join must be good enough to be a candidate",
    ),
    (
        "fuzzy_auto_threshold",
        "fuzzy_uncorroborated_threshold",
        "joining without corroboration needs at least the score of joining with it",
    ),
)
"""Cross-field rules: each (lower, higher, why) says `lower` must not exceed `higher`."""


def validate(config: EnrichmentConfig) -> None:
    """Raise `ConfigError` (naming the option or options) unless every value is in range and in order."""
    for name, allowed in RANGES.items():
        value = getattr(config, name)
        if not allowed.accepts(value):
            raise ConfigError(f"{name} must be {allowed.describe()}, got {value!r}", options=(name,))
    for lower, higher, why in ORDER:
        if getattr(config, lower) > getattr(config, higher):
            raise ConfigError(
                f"{lower} ({getattr(config, lower)}) must not exceed {higher} ({getattr(config, higher)}): {why}",
                options=(lower, higher),
            )
    if not isinstance(config.award_columns, AwardColumns) or not isinstance(config.recipient_columns, RecipientColumns):
        raise ConfigError("award_columns and recipient_columns must be AwardColumns and RecipientColumns")


def _coerce(name: str, raw: Any, source: str) -> Any:
    """Convert a file/env/CLI value to the field's type, naming the source on failure.

    Numbers are taken as they are (a range check follows); text is parsed. A whole-number option
    given a fraction ("2.7") is an error, not rounded.
    """
    allowed = RANGES[name]
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none", "null")):
        if allowed.optional:
            return None
        raise ConfigError(f"{source}: {name} needs a value", options=(name,))
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ConfigError(f"{source}: {name}={raw!r} is not a number", options=(name,))
    try:
        number = float(raw.strip()) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise ConfigError(f"{source}: {name}={raw!r} is not a number ({exc})", options=(name,)) from None
    if allowed.whole:
        if not float(number).is_integer():
            raise ConfigError(f"{source}: {name}={raw!r} is not a whole number", options=(name,))
        return int(number)
    return float(number)


def _source_name(source: str) -> str:
    kind, _, where = source.partition(":")
    return {"file": f"config file {where}", "env": f"environment variable {where}"}.get(kind, kind)


def _column_spellings(role: str, raw: Any, source: str) -> tuple[str, ...]:
    spellings = (raw,) if isinstance(raw, str) else raw
    if not isinstance(spellings, list | tuple) or not spellings or not all(isinstance(s, str) and s for s in spellings):
        raise ConfigError(
            f"{source}: award_columns.{role} must be a header name or a list of them, got {raw!r}",
            options=("award_columns",),
        )
    return tuple(spellings)


def _columns_mapping(name: str, raw: Any, known: list[str], source: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{source}: {name} must be a mapping of role to header name(s) (e.g. company: [Company, Firm]), "
            f"got {type(raw).__name__} {raw!r}",
            options=(name,),
        )
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{source}: {name}: unknown role(s) {unknown}; known roles: {known}", options=(name,))
    return raw


def award_columns_from(raw: Any, source: str) -> AwardColumns:
    """`award_columns` of a configuration file: role -> one header name or a list of accepted spellings."""
    roles = [f.name for f in fields(AwardColumns)]
    mapping = _columns_mapping("award_columns", raw, roles, source)
    return AwardColumns(**{role: _column_spellings(role, value, source) for role, value in mapping.items()})


def recipient_columns_from(raw: Any, source: str) -> RecipientColumns:
    """`recipient_columns` of a configuration file: role -> the one header name of that role."""
    roles = [f.name for f in fields(RecipientColumns)]
    mapping = _columns_mapping("recipient_columns", raw, roles, source)
    bad = {role: value for role, value in mapping.items() if not isinstance(value, str) or not value}
    if bad:
        raise ConfigError(
            f"{source}: recipient_columns: each role names one header, got {bad}", options=("recipient_columns",)
        )
    return RecipientColumns(**mapping)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml) or TOML (.toml) configuration file into a dict."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"{path}: config files must end in .yaml, .yml or .toml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of option names to values")
    data = data.get("sbir_etl", data)  # allow a [sbir_etl] table in a shared TOML file
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: [sbir_etl] must be a table of option names to values")
    unknown = set(data) - set(SCALAR_FIELDS) - {"award_columns", "recipient_columns"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown option(s) {sorted(unknown)}; known: {sorted(SCALAR_FIELDS)} + award_columns, recipient_columns"
        )
    return data


def _file_values(path: str | Path) -> dict[str, Any]:
    source = f"config file {path}"
    values: dict[str, Any] = {}
    for name, raw in read_config_file(path).items():
        if name == "award_columns":
            values[name] = award_columns_from(raw, source)
        elif name == "recipient_columns":
            values[name] = recipient_columns_from(raw, source)
        else:
            values[name] = _coerce(name, raw, source)
    return values


def with_options(base: EnrichmentConfig, options: Mapping[str, Any], source: str) -> EnrichmentConfig:
    """`base` with `options` (scalar settings, as a config file writes them) applied, each checked
    as a file's would be; an error names `source` (e.g. "fixtures/x/expected.yaml: config")."""
    unknown = set(options) - set(SCALAR_FIELDS)
    if unknown:
        raise ConfigError(f"{source}: unknown option(s) {sorted(unknown)}; known: {sorted(SCALAR_FIELDS)}")
    changes = {name: _coerce(name, raw, source) for name, raw in options.items()}
    try:
        return base.replace(**changes)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}", options=exc.options) from None


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[EnrichmentConfig, dict[str, str]]:
    """Effective configuration and the source of each value ("default", "file:PATH", "env:VAR", "override").

    A value out of range, or two values out of order, is a `ConfigError` naming where each came from.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources = {name: "default" for name in SCALAR_FIELDS}
    if path is not None:
        values.update(_file_values(path))
        sources.update(dict.fromkeys(values, f"file:{path}"))
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
        origins = [sources.get(name, "default") for name in exc.options]
        if all(origin == "default" for origin in origins):
            raise
        where = ", ".join(f"{name} from {_source_name(origin)}" for name, origin in zip(exc.options, origins))
        if len(set(origins)) == 1:
            where = _source_name(origins[0])
        raise ConfigError(f"{where}: {exc}", options=exc.options) from None
