"""Data shipped with the package: the enrichment scenarios and the demo's default data."""

from pathlib import Path

BUNDLED_FIXTURES: Path = Path(__file__).resolve().parents[2] / "fixtures"
"""The scenario fixtures of a source checkout (not shipped in wheels)."""
DEFAULT_SCENARIO: Path = BUNDLED_FIXTURES / "good-real"
"""The default data of `sbir-etl demo` / `sbir-etl run`: a sample of real SBIR.gov awards and FPDS recipients."""
