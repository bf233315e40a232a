"""sbir_etl: enrich SBIR/STTR awards with USAspending recipients (the core pytest-sbir-validate validates).

The public API, importable from here (loaded on first use, so `import sbir_etl` stays cheap):

- `enrich_files(awards, recipients, out, config=...)`: stream an award file into an enriched file.
- `enrich_frame(awards, recipients, config=...)`: the same cascade over two DataFrames in memory.
- `EnrichmentConfig`, `load_config`: every tunable, with file < environment < override precedence.
- `EnrichmentSummary`: what a run did (rows in/out/rejected, counts by method, time, memory).
- `EnrichmentError` and its subclasses: every error the core raises on purpose.

The layers below it (each a sub-package with its own API): `linkage` (the pure matching core),
`io` (tables and checkpoints), `monitoring` (measurement and history), `evaluation` (metrics,
gates, data with truth), and `dagster_defs` (the Dagster job, the only part that imports Dagster).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from sbir_etl.bundled import BUNDLED_FIXTURES, DEFAULT_SCENARIO

_LAZY = {
    "enrich_files": "sbir_etl.enrichment",
    "enrich_frame": "sbir_etl.enrichment",
    "EnrichmentSummary": "sbir_etl.enrichment",
    "EnrichmentConfig": "sbir_etl.config",
    "load_config": "sbir_etl.config",
    "EnrichmentError": "sbir_etl.errors",
    "ConfigError": "sbir_etl.errors",
    "InputFormatError": "sbir_etl.errors",
    "InputSchemaError": "sbir_etl.errors",
    "InvariantError": "sbir_etl.errors",
}

if TYPE_CHECKING:
    from sbir_etl.config import EnrichmentConfig, load_config
    from sbir_etl.enrichment import EnrichmentSummary, enrich_files, enrich_frame
    from sbir_etl.errors import ConfigError, EnrichmentError, InputFormatError, InputSchemaError, InvariantError


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sbir_etl' has no attribute {name!r}")


__all__ = [
    "BUNDLED_FIXTURES",
    "DEFAULT_SCENARIO",
    "ConfigError",
    "EnrichmentConfig",
    "EnrichmentError",
    "EnrichmentSummary",
    "InputFormatError",
    "InputSchemaError",
    "InvariantError",
    "enrich_files",
    "enrich_frame",
    "load_config",
]
