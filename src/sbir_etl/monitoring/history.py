"""The metrics store: one row per test run and one row per test result, in SQLite or PostgreSQL.

:class:`HistoryStore` takes a location (:mod:`.history_url`): a file path or ``sqlite:///PATH``
opens the embedded SQLite store (:mod:`.history_sqlite`, the default: a single file, easy to cache
between CI jobs, safe for several processes on one machine); ``postgresql://USER@HOST/DB`` opens
a store many machines share (:mod:`.history_postgres`, with the ``postgres`` extra). Both hold the
same tables, created by the same :data:`MIGRATIONS`, and give the same guarantees: every write is
one short transaction, concurrent writers wait for each other instead of losing rows, and two
processes opening a new store at once migrate it once.

The schema is versioned (``PRAGMA user_version`` in SQLite, a one-row table in PostgreSQL);
:data:`MIGRATIONS` are applied in order when an older store is opened (a current one is opened
without a write), and a store written by a newer version of this code is refused with
:class:`HistorySchemaError` rather than misread.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from sbir_etl.monitoring.history_backend import (
    Backend,
    HistoryError,
    HistoryLocationError,
    HistorySchemaError,
    MissingReferenceError,
    Row,
    Transaction,
)
from sbir_etl.monitoring.history_sqlite import SQLiteBackend
from sbir_etl.monitoring.history_url import StoreURL
from sbir_etl.monitoring.regression import GateThresholds, GateVerdict, Sample, TestVerdict, judge_regression
from sbir_etl.outcomes import Status

#: Each migration is the list of statements that takes the schema from version ``i`` to ``i + 1``.
#: Never edit a released migration: append a new one. They are written in SQLite's dialect, in
#: the subset PostgreSQL also speaks but for the type spellings
#: :data:`~sbir_etl.monitoring.history_postgres.POSTGRES_SPELLINGS` rewrites.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 0 -> 1: runs and per-test results.
    (
        """
        CREATE TABLE runs (
            seq             INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id          TEXT NOT NULL UNIQUE,
            started_at      TEXT NOT NULL,
            commit_sha      TEXT,
            branch          TEXT,
            dirty           INTEGER,
            machine_class   TEXT NOT NULL,
            python_version  TEXT NOT NULL,
            packages_json   TEXT NOT NULL,
            dataset_json    TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE results (
            id                   INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id               TEXT NOT NULL REFERENCES runs(run_id),
            test_id              TEXT NOT NULL,
            outcome              TEXT NOT NULL,
            wall_s               REAL,
            cpu_s                REAL,
            peak_rss_growth_mib  REAL,
            time_budget_s        REAL,
            memory_budget_mib    REAL,
            quality_json         TEXT,
            recorded_at          TEXT NOT NULL
        )
        """,
    ),
    # 1 -> 2: the gate verdict of each result, and an index for the baseline query.
    (
        "ALTER TABLE results ADD COLUMN gate_status TEXT",
        "ALTER TABLE results ADD COLUMN gate_message TEXT",
        "CREATE INDEX results_by_test ON results(test_id, run_id)",
    ),
    # 2 -> 3: the pytest-benchmark statistics of benchmark tests.
    ("ALTER TABLE results ADD COLUMN benchmark_json TEXT",),
    # 3 -> 4: the verdict of each gate (time, memory, match rate), so readers show what the run decided.
    ("ALTER TABLE results ADD COLUMN gates_json TEXT",),
)

#: The schema version this code reads and writes.
SCHEMA_VERSION = len(MIGRATIONS)

#: Packages whose versions are recorded with every run, because they move the measurements.
KEY_PACKAGES = ("pandas", "pyarrow", "numpy", "rapidfuzz", "pytest", "pytest-sbir-validate")


@dataclass(frozen=True)
class RunInfo:
    """One test-suite run: when, on which code, on which kind of machine, against which data.

    ``machine_class`` is what baselines are grouped by: timings from different kinds of machines
    are never compared. ``dataset`` holds free-form labels such as ``{"awards": "10000"}``.
    """

    run_id: str
    started_at: str
    machine_class: str
    python_version: str
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    packages: Mapping[str, str] = field(default_factory=dict)
    dataset: Mapping[str, str] = field(default_factory=dict)

    @property
    def short_commit(self) -> str:
        return self.commit[:10] if self.commit else "unknown commit"

    @property
    def label(self) -> str:
        """How reports, the checklist and alerts name the run: ``main@3f2c9a1b0d (dirty) on linux-x86_64-2cpu-8gib``."""
        dirty = " (dirty)" if self.dirty else ""
        return f"{self.branch or 'unknown branch'}@{self.short_commit}{dirty} on {self.machine_class}"

    @classmethod
    def collect(
        cls,
        *,
        machine_class: str | None = None,
        dataset: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> RunInfo:
        """Describe a run starting now, reading git metadata from ``cwd`` (default: the CWD)."""
        commit, branch, dirty = git_state(cwd)
        return cls(
            run_id=uuid.uuid4().hex,
            started_at=_utc_now(),
            machine_class=machine_class or current_machine_class(),
            python_version=platform.python_version(),
            commit=commit,
            branch=branch,
            dirty=dirty,
            packages=package_versions(KEY_PACKAGES),
            dataset=dict(dataset or {}),
        )


@dataclass(frozen=True)
class QualityMetrics:
    """Match-quality figures a test reported through the ``record_quality`` fixture.

    ``match_rate`` is a fraction in [0, 1]; ``by_method`` maps a match method to its rate or
    count; ``score_histogram`` maps a score bucket label (e.g. ``"90-100"``) to a count;
    ``score_histogram_by_method`` is the same split by match method (what the report draws).
    """

    match_rate: float | None = None
    by_method: Mapping[str, float] = field(default_factory=dict)
    score_histogram: Mapping[str, int] = field(default_factory=dict)
    score_histogram_by_method: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "match_rate": self.match_rate,
                "by_method": dict(self.by_method),
                "score_histogram": dict(self.score_histogram),
                "score_histogram_by_method": {m: dict(h) for m, h in self.score_histogram_by_method.items()},
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> QualityMetrics:
        data = json.loads(text)
        return cls(
            match_rate=data.get("match_rate"),
            by_method=data.get("by_method") or {},
            score_histogram=data.get("score_histogram") or {},
            score_histogram_by_method=data.get("score_histogram_by_method") or {},
        )


@dataclass(frozen=True)
class BenchmarkStats:
    """What pytest-benchmark measured for one benchmark test: seconds per round, and the rounds.

    A benchmark test's recorded (and gated) ``wall_s`` is ``median_s``: the test's own wall time
    also holds calibration and every round.
    """

    min_s: float
    max_s: float
    mean_s: float
    median_s: float
    stddev_s: float
    iqr_s: float
    rounds: int
    iterations: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BenchmarkStats:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class TestResult:
    """The measurements of one test in one run, and the verdict of the regression gates on them.

    ``peak_rss_growth_mib`` is how far the process's peak RSS rose while the test ran.
    ``gate_status`` is one of ``pass``, ``warn``, ``fail``, ``baseline established`` or ``None``
    (not gated, e.g. the test itself failed), ``gate_message`` its one-line summary, and
    ``gates`` the verdict of each gate, with the thresholds of the run that applied them.
    ``benchmark`` holds the statistics of a pytest-benchmark test.
    """

    __test__ = False  # not a pytest test class, despite the name

    run_id: str
    test_id: str
    outcome: str
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_rss_growth_mib: float | None = None
    time_budget_s: float | None = None
    memory_budget_mib: float | None = None
    quality: QualityMetrics | None = None
    gate_status: str | None = None
    gate_message: str | None = None
    recorded_at: str = ""
    benchmark: BenchmarkStats | None = None
    gates: tuple[GateVerdict, ...] = ()

    @property
    def status(self) -> Status:
        """The result on the one status scale: ``FAIL`` when the test failed (by itself or by a
        gate), ``SKIP`` when it came to no verdict (skipped, xfailed), else its gates' verdict
        (``PASS`` when it was not gated)."""
        if self.outcome == "failed":
            return Status.FAIL
        if self.outcome != "passed":
            return Status.SKIP
        return Status(self.gate_status) if self.gate_status else Status.PASS


@dataclass(frozen=True)
class StoredResult:
    """A :class:`TestResult` read back together with the run it belongs to."""

    result: TestResult
    run: RunInfo


class HistoryStore:
    """The metrics store at ``location`` (a path, ``sqlite:///PATH`` or ``postgresql://...``),
    created and migrated on first use.

    ``create=False`` refuses a location that holds no store yet (what readers such as
    ``sbir-etl report`` want) instead of creating one. Use as a context manager, or call
    :meth:`close`. One store object per process: connections must not be shared between threads
    or forked processes.
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | StoreURL,
        *,
        lock_timeout_s: float = 30.0,
        create: bool = True,
    ) -> None:
        self.location = StoreURL.parse(location)
        self._backend = _open_backend(self.location, lock_timeout_s=lock_timeout_s, create=create)
        try:
            # Read first: a current store is opened without a write transaction, so readers work
            # on a read-only file system or with a role that may only SELECT.
            if self._refuse_newer(self._backend.schema_version()) < SCHEMA_VERSION:
                self._backend.write(self._migrate)
        except BaseException:
            self._backend.close()
            raise

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._backend.schema_version()

    # -- writing ---------------------------------------------------------------------------

    def record_run(self, run: RunInfo) -> None:
        """Store the metadata of ``run``; results of that run may be recorded afterwards."""
        params = (
            run.run_id,
            run.started_at,
            run.commit,
            run.branch,
            None if run.dirty is None else int(run.dirty),
            run.machine_class,
            run.python_version,
            json.dumps(dict(run.packages), sort_keys=True),
            json.dumps(dict(run.dataset), sort_keys=True),
        )
        self._backend.write(
            lambda tx: tx.execute(
                "INSERT INTO runs (run_id, started_at, commit_sha, branch, dirty, machine_class,"
                " python_version, packages_json, dataset_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params,
            )
        )

    def record_result(self, result: TestResult) -> None:
        """Store one test result of a run already stored with :meth:`record_run`."""
        params = (
            result.run_id,
            result.test_id,
            result.outcome,
            result.wall_s,
            result.cpu_s,
            result.peak_rss_growth_mib,
            result.time_budget_s,
            result.memory_budget_mib,
            None if result.quality is None else result.quality.to_json(),
            result.gate_status,
            result.gate_message,
            result.recorded_at or _utc_now(),
            None if result.benchmark is None else result.benchmark.to_json(),
            _gates_to_json(result.gates),
        )

        try:  # one statement: the foreign key on results.run_id is what refuses an unknown run
            self._backend.write(
                lambda tx: tx.execute(
                    "INSERT INTO results (run_id, test_id, outcome, wall_s, cpu_s,"
                    " peak_rss_growth_mib, time_budget_s, memory_budget_mib, quality_json,"
                    " gate_status, gate_message, recorded_at, benchmark_json, gates_json)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params,
                )
            )
        except MissingReferenceError as error:
            raise HistoryError(
                f"cannot record {result.test_id!r}: run {result.run_id} is not in "
                f"{self.location}; call record_run() first"
            ) from error

    # -- reading ---------------------------------------------------------------------------

    def runs(self, *, with_results: bool = False) -> list[RunInfo]:
        """All runs, oldest first; ``with_results=True``: only those that recorded a test.

        The plugin records a run when pytest starts, so ``--collect-only``, a ``-k`` that selects
        nothing, or a run interrupted before its first test leave a run without results. Readers
        (``sbir-etl report``, the checklist) take the runs with results: their latest is the
        latest run of tests.
        """
        where = " WHERE run_id IN (SELECT run_id FROM results)" if with_results else ""
        sql = f"SELECT * FROM runs{where} ORDER BY started_at, seq"
        return [_run_from_row(row) for row in self._backend.fetch_all(sql)]

    def results(self, *, run_id: str | None = None, test_id: str | None = None) -> list[StoredResult]:
        """Results with their runs, oldest run first, optionally of one run and/or one test."""
        where, params = [], []
        if run_id is not None:
            where.append("results.run_id = ?")
            params.append(run_id)
        if test_id is not None:
            where.append("results.test_id = ?")
            params.append(test_id)
        sql = _RESULTS_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY runs.started_at, runs.seq, results.id"
        runs: dict[str, RunInfo] = {}  # one RunInfo per run, not per result: 50,000 results share 50 runs
        return [_stored_from_row(row, runs) for row in self._backend.fetch_all(sql, params)]

    def previous_results(
        self,
        test_id: str,
        *,
        machine_class: str,
        limit: int,
        exclude_run_id: str | None = None,
    ) -> list[TestResult]:
        """The latest ``limit`` passed results of ``test_id`` on ``machine_class``, newest first.

        These are the baseline of the regression gates: failed runs are left out so a regression
        never becomes the new normal.
        """
        sql = (
            _RESULTS_SELECT + " WHERE results.test_id = ? AND runs.machine_class = ?"
            " AND results.outcome = 'passed' AND results.run_id != ?"
            " ORDER BY runs.started_at DESC, runs.seq DESC, results.id DESC LIMIT ?"
        )
        params = (test_id, machine_class, exclude_run_id or "", limit)
        return [_stored_from_row(row).result for row in self._backend.fetch_all(sql, params)]

    def judge(
        self,
        test_id: str,
        current: Sample,
        *,
        machine_class: str,
        thresholds: GateThresholds,
        exclude_run_id: str | None = None,
    ) -> TestVerdict:
        """The regression gates of ``current`` against the test's earlier passed runs on
        ``machine_class`` (:meth:`previous_results`, without the run ``current`` belongs to)."""
        previous = self.previous_results(
            test_id, machine_class=machine_class, limit=thresholds.baseline_runs, exclude_run_id=exclude_run_id
        )
        return judge_regression(test_id, current, [Sample.of(r) for r in previous], thresholds)

    # -- internals -------------------------------------------------------------------------

    def _migrate(self, tx: Transaction) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION`, in the transaction ``tx``."""
        # Lock, then read again: two processes opening a new store must not both migrate it.
        self._backend.lock_schema(tx)
        version = self._refuse_newer(self._backend.read_version(tx))
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target - 1]:
                tx.execute(self._backend.ddl(statement))
            self._backend.write_version(tx, target)

    def _refuse_newer(self, version: int) -> int:
        """``version``, unless a newer release wrote the store: this code would misread it."""
        if version > SCHEMA_VERSION:
            raise HistorySchemaError(
                f"the metrics store {self.location} has schema version {version}, but this "
                f"version of pytest-sbir-validate only knows versions up to "
                f"{SCHEMA_VERSION}. Upgrade pytest-sbir-validate, or point --sbir-history "
                "at another store."
            )
        return version


def _open_backend(location: StoreURL, *, lock_timeout_s: float, create: bool) -> Backend:
    if location.path is not None:
        return SQLiteBackend(location.path, lock_timeout_s=lock_timeout_s, create=create)
    from sbir_etl.monitoring.history_postgres import PostgresBackend  # its driver is an optional extra

    return PostgresBackend(location, lock_timeout_s=lock_timeout_s, create=create)


_RESULTS_SELECT = (
    "SELECT results.*, runs.started_at, runs.commit_sha, runs.branch, runs.dirty,"
    " runs.machine_class, runs.python_version, runs.packages_json, runs.dataset_json"
    " FROM results JOIN runs ON runs.run_id = results.run_id"
)


def _run_from_row(row: Row) -> RunInfo:
    return RunInfo(
        run_id=row["run_id"],
        started_at=row["started_at"],
        machine_class=row["machine_class"],
        python_version=row["python_version"],
        commit=row["commit_sha"],
        branch=row["branch"],
        dirty=None if row["dirty"] is None else bool(row["dirty"]),
        packages=json.loads(row["packages_json"]),
        dataset=json.loads(row["dataset_json"]),
    )


def _stored_from_row(row: Row, runs: dict[str, RunInfo] | None = None) -> StoredResult:
    """The result in ``row`` with its run; ``runs`` caches the runs already read, by id."""
    run = runs.get(row["run_id"]) if runs is not None else None
    if run is None:
        run = _run_from_row(row)
        if runs is not None:
            runs[run.run_id] = run
    result = TestResult(
        run_id=row["run_id"],
        test_id=row["test_id"],
        outcome=row["outcome"],
        wall_s=row["wall_s"],
        cpu_s=row["cpu_s"],
        peak_rss_growth_mib=row["peak_rss_growth_mib"],
        time_budget_s=row["time_budget_s"],
        memory_budget_mib=row["memory_budget_mib"],
        quality=None if row["quality_json"] is None else QualityMetrics.from_json(row["quality_json"]),
        gate_status=row["gate_status"],
        gate_message=row["gate_message"],
        recorded_at=row["recorded_at"],
        benchmark=None if row["benchmark_json"] is None else BenchmarkStats.from_json(row["benchmark_json"]),
        gates=_gates_from_json(row["gates_json"]),
    )
    return StoredResult(result=result, run=run)


def _gates_to_json(gates: Sequence[GateVerdict]) -> str | None:
    if not gates:
        return None
    fields = [
        {"name": g.name, "status": g.status.value, "message": g.message}
        | {"current": g.current, "baseline": g.baseline, "change": g.change}
        for g in gates
    ]
    return json.dumps(fields, sort_keys=True)  # an infinite change (growth from zero) is written Infinity


def _gates_from_json(text: str | None) -> tuple[GateVerdict, ...]:
    if text is None:
        return ()
    return tuple(
        GateVerdict(
            g["name"],
            Status(g["status"]),
            g["message"],
            current=g["current"],
            baseline=g["baseline"],
            change=g["change"],
        )
        for g in json.loads(text)
    )


# -- run metadata ----------------------------------------------------------------------------


def current_machine_class() -> str:
    """A label for "machines whose timings are comparable", e.g. ``linux-x86_64-2cpu-8gib``.

    Built from the OS, CPU architecture, logical CPU count and total RAM rounded to whole GiB.
    """
    import psutil  # a project dependency; imported here to keep the store importable without it

    ram_gib = round(psutil.virtual_memory().total / 2**30)
    cpus = os.cpu_count() or 0
    return f"{platform.system().lower()}-{platform.machine()}-{cpus}cpu-{ram_gib}gib"


def git_state(cwd: Path | None = None) -> tuple[str | None, str | None, bool | None]:
    """``(commit, branch, dirty)`` of the git checkout at ``cwd``; ``None`` for what is unknown.

    On a detached HEAD (as in most CI checkouts) the branch is taken from the CI's environment
    (``GITHUB_HEAD_REF``, ``GITHUB_REF_NAME``, ``CI_COMMIT_REF_NAME``) when set.
    """

    def git(*args: str) -> str | None:
        try:
            completed = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return completed.stdout.strip() if completed.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None, None, None
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    if branch in (None, "HEAD"):
        branch = next(
            (
                os.environ[name]
                for name in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME")
                if os.environ.get(name)
            ),
            branch,
        )
    status = git("status", "--porcelain", "--untracked-files=no")
    return commit, branch, None if status is None else bool(status)


def package_versions(names: Sequence[str]) -> dict[str, str]:
    """Installed versions of those of ``names`` that are installed."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _utc_now() -> str:
    # Microseconds keep runs started within the same second in order.
    return datetime.now(UTC).isoformat(timespec="microseconds")


__all__ = [
    "BenchmarkStats",
    "HistoryError",
    "HistoryLocationError",
    "HistorySchemaError",
    "HistoryStore",
    "KEY_PACKAGES",
    "MIGRATIONS",
    "QualityMetrics",
    "RunInfo",
    "SCHEMA_VERSION",
    "StoreURL",
    "StoredResult",
    "TestResult",
    "current_machine_class",
    "git_state",
    "package_versions",
]
