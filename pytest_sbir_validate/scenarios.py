"""Enrichment scenarios: directories of awards, recipients and the outcome they must produce.

A scenario is a directory holding `awards.csv`, `recipients.csv` and `expected.yaml` (format in
`fixtures/README.md`). This module loads scenarios, runs the enrichment core on them, and compares
what came out with what `expected.yaml` says, award by award, so a mismatch reads as a diff:
which awards, expected vs got.

Pytest side: the `enrichment_scenario` parameter runs a test once per scenario directory under
the ini option `sbir_fixtures_dir` (default: the scenarios bundled with the package), and the
`check_scenario` fixture runs the enrichment on a scenario — `sbir_etl.enrichment.enrich_files`,
or what a `pytest_sbir_enrich` hook implementation runs instead — and fails with that diff on any
mismatch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from pytest_sbir_validate.options import relative_to_ini
from sbir_etl.bundled import BUNDLED_FIXTURES
from sbir_etl.columns import CANDIDATE, JOINED_METHODS, MATCH_METHODS
from sbir_etl.config import EnrichmentConfig, with_options
from sbir_etl.errors import ConfigError
from sbir_etl.outcomes import QUALITY_GATES

if TYPE_CHECKING:
    import pandas as pd

    from sbir_etl.enrichment import EnrichmentSummary

__all__ = [
    "BUNDLED_FIXTURES",
    "FIXTURES_INI",
    "AwardExpectation",
    "Enrich",
    "ExpectedError",
    "Expectations",
    "Scenario",
    "ScenarioFormatError",
    "ScenarioMismatch",
    "ScenarioOutcome",
    "add_options",
    "assert_outcome",
    "award_keys",
    "award_mismatches",
    "bundled_scenario",
    "bundled_scenarios",
    "check_scenario",
    "compare",
    "discover_scenarios",
    "fixtures_dir",
    "load_scenario",
    "parse_expectations",
    "pytest_sbir_enrich",
    "run_scenario",
]

Enrich = Callable[[Path, Path, Path, EnrichmentConfig], "EnrichmentSummary | Mapping[str, Any]"]
"""What runs the enrichment of a scenario (see the ``pytest_sbir_enrich`` hook)."""

FIXTURES_INI = "sbir_fixtures_dir"
AWARDS_FILE, RECIPIENTS_FILE, EXPECTED_FILE = "awards.csv", "recipients.csv", "expected.yaml"
KEY_SEPARATOR = " | "
GATE_OUTCOMES = {"pass": True, "fail": False}
_TOP_LEVEL_KEYS = {"description", "config", "error", "match_rate", "rows", "gates", "invalid_identifiers", "awards"}
_AWARD_KEYS = {"method", "recipient", "candidate"}


class ScenarioFormatError(Exception):
    """A scenario directory or its expected.yaml is malformed; the message names the file and key."""


@dataclass(frozen=True)
class AwardExpectation:
    """What must happen to one award. `recipients`/`candidates` list the acceptable hashes (any one)."""

    method: str
    recipients: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExpectedError:
    """The run must fail with an exception of this class name whose message holds every fragment."""

    type: str
    message_contains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expectations:
    """The parsed `expected.yaml` of a scenario. Absent sections are not asserted."""

    description: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    error: ExpectedError | None = None
    match_rate: tuple[float, float] | None = None
    rows: Mapping[str, int] | None = None
    gates: Mapping[str, bool] = field(default_factory=dict)
    invalid_identifiers: Mapping[str, int] | None = None
    awards: Mapping[str, AwardExpectation] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """One scenario directory, its inputs and its parsed expectations."""

    name: str
    path: Path
    expected: Expectations

    @property
    def awards_path(self) -> Path:
        return self.path / AWARDS_FILE

    @property
    def recipients_path(self) -> Path:
        return self.path / RECIPIENTS_FILE

    @property
    def expected_path(self) -> Path:
        return self.path / EXPECTED_FILE

    def enrichment_config(self, base: EnrichmentConfig | None = None) -> EnrichmentConfig:
        """`base` (default: the documented defaults, ignoring the environment) plus the scenario's `config:`."""
        return with_options(base or EnrichmentConfig(), self.expected.config, f"{self.expected_path}: config")

    def __str__(self) -> str:
        return self.name


def _as_tuple(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ScenarioFormatError(f"{where}: expected a recipient hash or a list of them, got {value!r}")


def _parse_award(key: str, raw: Any, where: str) -> AwardExpectation:
    where = f"{where}: awards: {key!r}"
    if not isinstance(raw, dict) or "method" not in raw:
        raise ScenarioFormatError(f"{where}: expected a mapping with at least 'method', got {raw!r}")
    unknown = set(raw) - _AWARD_KEYS
    if unknown:
        raise ScenarioFormatError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_AWARD_KEYS)}")
    method = raw["method"]
    if method not in MATCH_METHODS:
        raise ScenarioFormatError(f"{where}: method {method!r} is not one of {list(MATCH_METHODS)}")
    return AwardExpectation(method, _as_tuple(raw.get("recipient"), where), _as_tuple(raw.get("candidate"), where))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_expectations(data: Any, where: str) -> Expectations:
    """Validate and parse the contents of an expected.yaml; `where` names the file in errors."""
    if not isinstance(data, dict):
        raise ScenarioFormatError(f"{where}: expected a mapping at the top level")
    unknown = set(data) - _TOP_LEVEL_KEYS
    if unknown:
        raise ScenarioFormatError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOP_LEVEL_KEYS)}")
    error = None
    if data.get("error") is not None:
        raw = data["error"]
        if not isinstance(raw, dict) or "type" not in raw:
            raise ScenarioFormatError(f"{where}: error: expected {{type: ExceptionName, message_contains: [...]}}")
        error = ExpectedError(str(raw["type"]), _as_tuple(raw.get("message_contains"), f"{where}: error"))
    match_rate = None
    if data.get("match_rate") is not None:
        raw = data["match_rate"]
        if not isinstance(raw, dict) or set(raw) != {"min", "max"}:
            raise ScenarioFormatError(f"{where}: match_rate: expected {{min: 0.7, max: 1.0}} or null, got {raw!r}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw.values()):
            raise ScenarioFormatError(f"{where}: match_rate: min and max must be numbers, got {raw!r}")
        match_rate = (float(raw["min"]), float(raw["max"]))
    rows = data.get("rows")
    if rows is not None and (
        not isinstance(rows, dict)
        or not set(rows) <= {"in", "out", "rejected"}
        or not all(_is_count(v) for v in rows.values())
    ):
        raise ScenarioFormatError(
            f"{where}: rows: expected a mapping with keys in, out, rejected and whole-number counts; got {rows!r}"
        )
    invalid = data.get("invalid_identifiers")
    if invalid is not None and (not isinstance(invalid, dict) or not all(_is_count(v) for v in invalid.values())):
        raise ScenarioFormatError(
            f"{where}: invalid_identifiers: expected counts by reason, e.g. {{uei:wrong-length: 3}}; got {invalid!r}"
        )
    gates: dict[str, bool] = {}
    for gate, outcome in (data.get("gates") or {}).items():
        if gate not in QUALITY_GATES or outcome not in GATE_OUTCOMES:
            raise ScenarioFormatError(
                f"{where}: gates: {gate}: {outcome!r}; gates are {list(QUALITY_GATES)}, each 'pass' or 'fail'"
            )
        gates[gate] = GATE_OUTCOMES[outcome]
    awards = {str(key): _parse_award(str(key), raw, where) for key, raw in (data.get("awards") or {}).items()}
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise ScenarioFormatError(f"{where}: config: expected a mapping of EnrichmentConfig options")
    try:  # checked here, as a config file's would be, so a bad value fails at collection
        with_options(EnrichmentConfig(), config, f"{where}: config")
    except ConfigError as bad_option:
        raise ScenarioFormatError(str(bad_option)) from None
    return Expectations(
        description=str(data.get("description") or "").strip(),
        config=config,
        error=error,
        match_rate=match_rate,
        rows={k: int(v) for k, v in rows.items()} if rows is not None else None,
        gates=gates,
        invalid_identifiers=invalid,
        awards=awards,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Load one scenario directory; raise `ScenarioFormatError` naming what is missing or wrong."""
    path = Path(path)
    missing = [name for name in (AWARDS_FILE, RECIPIENTS_FILE, EXPECTED_FILE) if not (path / name).is_file()]
    if missing:
        raise ScenarioFormatError(f"{path}: scenario directory lacks {', '.join(missing)} (see fixtures/README.md)")
    try:
        data = yaml.safe_load((path / EXPECTED_FILE).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioFormatError(f"{path / EXPECTED_FILE}: not valid YAML: {exc}") from exc
    return Scenario(path.name, path, parse_expectations(data, str(path / EXPECTED_FILE)))


def discover_scenarios(root: str | Path) -> list[Scenario]:
    """Every scenario directory directly under `root`, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise ScenarioFormatError(
            f"{root}: scenario directory not found; set the ini option {FIXTURES_INI} to a directory of scenarios"
        )
    return [load_scenario(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith((".", "_"))]


def bundled_scenario(name: str) -> Scenario:
    """A scenario shipped with the package, by name (e.g. "good-real")."""
    path = BUNDLED_FIXTURES / name
    if not path.is_dir():
        known = ", ".join(s.name for s in bundled_scenarios())
        raise ScenarioFormatError(f"no bundled scenario {name!r} in {BUNDLED_FIXTURES}; the bundled ones are {known}")
    return load_scenario(path)


def bundled_scenarios() -> list[Scenario]:
    """Every scenario shipped with the package, sorted by name."""
    return discover_scenarios(BUNDLED_FIXTURES)


# ---------------------------------------------------------------------------------------------
# Running the core and comparing


@dataclass
class ScenarioOutcome:
    """What a run produced: the enriched table (None when the run raised), its summary, or the error."""

    scenario: Scenario
    enriched: pd.DataFrame | None = None
    summary: Mapping[str, Any] | None = None
    error: BaseException | None = None
    out_path: Path | None = None
    config: EnrichmentConfig | None = None
    error_type: str | None = None
    """Class name of the error; filled from `error`, or given directly when the error was raised elsewhere (a Dagster step)."""
    error_message: str = ""

    def __post_init__(self) -> None:
        if self.error is not None and self.error_type is None:
            self.error_type, self.error_message = type(self.error).__name__, str(self.error)


def run_scenario(
    scenario: Scenario, out_dir: str | Path, config: EnrichmentConfig | None = None, *, enrich: Enrich | None = None
) -> ScenarioOutcome:
    """Run the enrichment on the scenario into `out_dir`: ``enrich`` (default: `sbir_etl.enrichment.enrich_files`).

    Errors the core raises on purpose (`EnrichmentError`) are captured in the outcome, since a
    scenario may expect one; anything else propagates.
    """
    import pandas as pd

    from sbir_etl.errors import EnrichmentError

    config = scenario.enrichment_config(config)
    out_path = Path(out_dir) / f"{scenario.name}.enriched.parquet"
    outcome = ScenarioOutcome(scenario, out_path=out_path, config=config)
    try:
        summary = (enrich or _enrich_files)(scenario.awards_path, scenario.recipients_path, out_path, config)
    except EnrichmentError as exc:
        outcome.error = exc
        outcome.error_type, outcome.error_message = type(exc).__name__, str(exc)
        return outcome
    outcome.summary = dict(summary) if isinstance(summary, Mapping) else summary.as_dict()
    outcome.enriched = pd.read_parquet(out_path)
    return outcome


def _enrich_files(
    awards_path: Path, recipients_path: Path, out_path: Path, config: EnrichmentConfig
) -> EnrichmentSummary:
    from sbir_etl.enrichment import enrich_files

    return enrich_files(awards_path, recipients_path, out_path, config=config)


def award_keys(enriched: pd.DataFrame, config: EnrichmentConfig) -> list[str]:
    """The "<tracking number> | <contract>" key of every row, as expected.yaml spells it."""
    key_columns = config.award_columns.resolve(list(enriched.columns), "enriched output").key
    parts = [enriched[c].astype("string").fillna("").str.strip() for c in key_columns]
    keys = parts[0]
    for part in parts[1:]:
        keys = keys + KEY_SEPARATOR + part
    listed: list[str] = keys.tolist()
    return listed


def _value(value: Any) -> str | None:
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _describe_expected(exp: AwardExpectation) -> str:
    text = exp.method
    if exp.recipients:
        text += " -> " + " or ".join(exp.recipients)
    if exp.candidates:
        text += " (candidate " + " or ".join(exp.candidates) + ")"
    return text


def _describe_got(row: Mapping[str, Any]) -> str:
    text = str(row["match_method"])
    if row.get("usaspending_recipient_hash") is not None:
        text += f" -> {row['usaspending_recipient_hash']}"
    if row.get("candidate_recipient_hash") is not None:
        text += f" (candidate {row['candidate_recipient_hash']})"
    if row.get("match_score") is not None:
        text += f" [score {float(row['match_score']):.1f}]"
    return text


def award_mismatches(
    expected: Mapping[str, AwardExpectation], enriched: pd.DataFrame, config: EnrichmentConfig
) -> list[tuple[str, str, str]]:
    """(award key, expected, got) for every award whose outcome differs, is missing or is unexpected."""
    keys = award_keys(enriched, config)
    wanted = ["match_method", "usaspending_recipient_hash", "candidate_recipient_hash", "match_score"]
    rows: dict[str, list[dict[str, Any]]] = {}
    for key, record in zip(keys, enriched[wanted].to_dict("records")):
        rows.setdefault(key, []).append({k: _value(v) for k, v in record.items()})
    diffs = []
    for key, exp in expected.items():
        got = rows.get(key)
        if not got:
            diffs.append((key, _describe_expected(exp), "(award missing from the output)"))
            continue
        if len(got) > 1:
            diffs.append((key, _describe_expected(exp), f"(award written {len(got)} times)"))
            continue
        row = got[0]
        ok = row["match_method"] == exp.method
        if exp.recipients:
            ok &= row["usaspending_recipient_hash"] in exp.recipients
        elif exp.method not in JOINED_METHODS:
            ok &= row["usaspending_recipient_hash"] is None  # an award that is not joined carries no recipient
        if exp.candidates:
            ok &= row["candidate_recipient_hash"] in exp.candidates
        elif exp.method != CANDIDATE:
            ok &= row["candidate_recipient_hash"] is None  # only a candidate carries a candidate recipient
        if not ok:
            diffs.append((key, _describe_expected(exp), _describe_got(row)))
    for key in rows.keys() - expected.keys():
        diffs.append((key, "(no expectation)", _describe_got(rows[key][0])))
    return sorted(diffs)


def _error_mismatches(expected: ExpectedError | None, error_type: str | None, message: str) -> list[str]:
    if expected is None:
        return [f"the run raised {error_type}: {message}"] if error_type is not None else []
    if error_type is None:
        return [f"expected the run to raise {expected.type}, but it succeeded"]
    problems = []
    if error_type != expected.type:
        problems.append(f"expected {expected.type}, got {error_type}: {message}")
    problems += [
        f"error message lacks {fragment!r}: {message}"
        for fragment in expected.message_contains
        if fragment not in message
    ]
    return problems


def compare(outcome: ScenarioOutcome) -> list[str]:
    """Every way the outcome differs from the scenario's expectations, as readable lines ([] = as expected)."""
    exp = outcome.scenario.expected
    problems = _error_mismatches(exp.error, outcome.error_type, outcome.error_message)
    if outcome.error_type is not None or exp.error is not None:
        return problems
    summary = outcome.summary or {}
    if exp.rows is not None:
        got_rows = {
            "in": summary.get("rows_in"),
            "out": summary.get("rows_out"),
            "rejected": summary.get("rows_rejected"),
        }
        for name, value in exp.rows.items():
            if got_rows[name] != value:
                problems.append(f"rows {name}: expected {value}, got {got_rows[name]}")
    if exp.match_rate is not None:
        low, high = exp.match_rate
        rate = summary.get("match_rate")
        if rate is None or not low <= rate <= high:
            problems.append(
                f"match rate {rate} outside expected [{low}, {high}] (counts by method: {summary.get('counts_by_method')})"
            )
    if exp.invalid_identifiers is not None and dict(summary.get("invalid_identifiers") or {}) != dict(
        exp.invalid_identifiers
    ):
        problems.append(
            f"invalid identifiers: expected {dict(exp.invalid_identifiers)}, got {summary.get('invalid_identifiers')}"
        )
    if outcome.enriched is not None:
        diffs = award_mismatches(exp.awards, outcome.enriched, outcome.config or outcome.scenario.enrichment_config())
        if diffs:
            width = max(len(k) for k, _, _ in diffs)
            exp_width = max(len(e) for _, e, _ in diffs)
            problems.append(f"{len(diffs)} of {len(outcome.enriched)} awards differ:")
            problems.append(f"  {'award'.ljust(width)}  {'expected'.ljust(exp_width)}  got")
            problems += [f"  {k.ljust(width)}  {e.ljust(exp_width)}  {g}" for k, e, g in diffs]
    return problems


class ScenarioMismatch(AssertionError):
    """The core's output differs from a scenario's expected.yaml."""


def assert_outcome(outcome: ScenarioOutcome) -> None:
    """Raise `ScenarioMismatch` with a diff when the outcome differs from the expectations."""
    problems = compare(outcome)
    if problems:
        scenario = outcome.scenario
        raise ScenarioMismatch(
            f"scenario {scenario.name!r} differs from {scenario.expected_path}:\n"
            + "\n".join(problems)
            + "\nIf the expectation is wrong, fix expected.yaml; otherwise the enrichment core regressed."
        )


# ---------------------------------------------------------------------------------------------
# pytest integration (registered by pytest_sbir_validate.plugin)


def add_options(parser: pytest.Parser) -> None:
    parser.addini(FIXTURES_INI, "directory of enrichment scenarios (default: the bundled scenarios)", default="")


def fixtures_dir(config: pytest.Config) -> Path:
    """The ini option `sbir_fixtures_dir` (relative to the ini file / rootdir), else the bundled fixtures."""
    value = str(config.getini(FIXTURES_INI) or "").strip()
    return relative_to_ini(config, value).resolve() if value else BUNDLED_FIXTURES


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "enrichment_scenario" in metafunc.fixturenames:
        scenarios = discover_scenarios(fixtures_dir(metafunc.config))
        metafunc.parametrize("enrichment_scenario", scenarios, ids=[s.name for s in scenarios])


@pytest.hookimpl(trylast=True)
def pytest_sbir_enrich(
    awards_path: Path, recipients_path: Path, out_path: Path, config: EnrichmentConfig
) -> EnrichmentSummary:
    """The default enrichment of a scenario: `sbir_etl.enrichment.enrich_files`."""
    return _enrich_files(awards_path, recipients_path, out_path, config)


@pytest.fixture
def check_scenario(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[..., ScenarioOutcome]:
    """`check_scenario(scenario, config=None) -> ScenarioOutcome`: run the enrichment (the
    ``pytest_sbir_enrich`` hook), fail with a diff on mismatch."""
    hook = request.node.ihook.pytest_sbir_enrich

    def enrich(
        awards_path: Path, recipients_path: Path, out_path: Path, config: EnrichmentConfig
    ) -> EnrichmentSummary | Mapping[str, Any]:
        summary: EnrichmentSummary | Mapping[str, Any] = hook(
            awards_path=awards_path, recipients_path=recipients_path, out_path=out_path, config=config
        )
        return summary

    def check(scenario: Scenario, config: EnrichmentConfig | None = None) -> ScenarioOutcome:
        outcome = run_scenario(scenario, tmp_path, config, enrich=enrich)
        assert_outcome(outcome)
        return outcome

    return check
