"""The recipient index as a file: built once from a recipient table, saved, memory-mapped by later runs.

USAspending's recipient table changes monthly, award files weekly, and building the index of
3.3M recipients is a third of a full run. `save_index` writes every array of a `RecipientIndex`
to one Arrow IPC file (`io.array_files`); `load_index` maps it back without reading or copying,
so loading takes a fraction of a second and several processes share one copy of its pages.

An index answers for the recipient file and the settings it was built with, so the file records
them and `load_index` refuses (`IndexMismatchError`, exit 2, naming the file) an index that
does not fit the run, never matching against it silently:

- the recipient file's content (SHA-256, with its path, size and mtime): checked whenever that
  file can be read, given to the run or still where the index was built from;
- the settings the build reads (`index_settings`): recipient column names, blocking key share,
  matching rules switched off;
- the code that builds it (`INDEX_FORMAT` and a digest of the linkage modules the build runs):
  an index built by another version is rebuilt, not trusted.

Public API (also re-exported by `sbir_etl.enrichment`):

    index = build_recipient_index(recipients_path, config, rejects)
    save_index(index, "recipients.idx", RecipientSource.of(recipients_path), config)
    saved = load_index("recipients.idx", config)               # verifies, then maps
    saved = load_index("recipients.idx", config, recipients_path)  # ... against this file
    saved.index                                                 # a RecipientIndex
"""

import dataclasses
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

import sbir_etl.linkage
from sbir_etl.config import EnrichmentConfig
from sbir_etl.errors import BadInputError, IndexMismatchError
from sbir_etl.io.array_files import content_digest, file_identity, map_arrays, read_metadata, write_arrays
from sbir_etl.io.inputs import read_header
from sbir_etl.io.tables import RejectSink, read_text_table
from sbir_etl.linkage.recipients import RecipientIndex
from sbir_etl.linkage.rules import RULES, enabled

log = logging.getLogger("sbir_etl.recipient_index")

INDEX_FORMAT = 2  # 2: the recipient source records device, inode and ctime
"""The layout of the saved arrays; bumped whenever `RecipientIndex.arrays()` changes shape."""
INDEX_CODE = (
    "candidates",
    "identifiers",
    "indel_kernel",
    "locations",
    "names",
    "pair_scores",
    "recipients",
    "rules",
    "sorted_arrays",
    "text_arrays",
)
"""The linkage modules whose code decides what the index holds."""


def build_recipient_index(recipients_path: str | Path, config: EnrichmentConfig, rejects: RejectSink) -> RecipientIndex:
    """Read the recipient file (only the columns the core uses) and index it."""
    header = read_header(recipients_path)
    resolved = config.recipient_columns.resolve(header, recipients_path)
    wanted = [name for name in resolved.values() if name is not None]
    # The raw table is handed over, not kept here, so the index build can free it column by column.
    index = RecipientIndex.build(
        read_text_table(recipients_path, rejects, columns=wanted),
        config.recipient_columns,
        config.blocking_max_key_share,
    )
    pa.default_memory_pool().release_unused()  # hand freed pages back before awards stream in
    return index


@dataclass(frozen=True)
class RecipientSource:
    """The recipient file an index was built from: where it was and what it held (by content),
    and which file it was (device, inode, change time) when that content was hashed."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    device: int
    inode: int
    ctime_ns: int

    @classmethod
    def of(cls, path: str | Path) -> "RecipientSource":
        # Before hashing: a write while hashing leaves a newer ctime.
        device, inode, size, mtime_ns, ctime_ns = file_identity(path)
        digest = content_digest(path)
        return cls(str(Path(path).resolve()), size, mtime_ns, digest, device, inode, ctime_ns)

    @property
    def identity(self) -> tuple[int, int, int, int, int]:
        """The `file_identity` of the file when its content was hashed."""
        return self.device, self.inode, self.size, self.mtime_ns, self.ctime_ns

    def described(self) -> str:
        """Where and when the file was, as a message names it."""
        modified = datetime.fromtimestamp(self.mtime_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"{self.path}, modified {modified}"

    def differs_from(self, path: str | Path) -> str | None:
        """Why the file at `path` is not this source (None when its content is the same).

        The content is hashed again unless `path` is the very file that was hashed, not written
        since (`file_identity`). A copy, a file replaced by another, or one rewritten with its old
        size and mtime is hashed."""
        identity = file_identity(path)
        if identity[2] != self.size:
            return f"{identity[2]:,} bytes, the index was built from {self.size:,}"
        if identity == self.identity:
            return None
        if content_digest(path) != self.sha256:
            return "same size, different content"
        return None


def index_settings(config: EnrichmentConfig) -> dict[str, Any]:
    """The settings a recipient index depends on, as JSON values."""
    settings = {
        "recipient_columns": dataclasses.asdict(config.recipient_columns),
        "blocking_max_key_share": config.blocking_max_key_share,
        "rules_disabled": sorted(rule for rule in RULES if not enabled(rule)),
    }
    parsed: dict[str, Any] = json.loads(json.dumps(settings))  # tuples as lists, as they come back from a file
    return parsed


def code_digest() -> str:
    """SHA-256 over the source of the modules in `INDEX_CODE`."""
    digest = hashlib.sha256()
    folder = Path(sbir_etl.linkage.__file__).parent
    for module in INDEX_CODE:
        digest.update((folder / f"{module}.py").read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class SavedIndex:
    """A recipient index read from a file, with what the file says about where it came from."""

    index: RecipientIndex
    source: RecipientSource
    recipients_rejected: int
    path: Path


def save_index(
    index: RecipientIndex,
    path: str | Path,
    source: RecipientSource,
    config: EnrichmentConfig,
    recipients_rejected: int = 0,
) -> None:
    """Write `index` to `path` (Arrow IPC, replaced atomically) with its source, settings and code digest."""
    metadata = {
        "format": INDEX_FORMAT,
        "code": code_digest(),
        "settings": index_settings(config),
        "source": dataclasses.asdict(source),
        "scalars": index.scalars(),
        "recipients_rejected": recipients_rejected,
    }
    write_arrays(path, index.arrays(), metadata)


def load_index(path: str | Path, config: EnrichmentConfig, recipients_path: str | Path | None = None) -> SavedIndex:
    """The index saved at `path`, memory-mapped, once it is shown to fit this run.

    Raises `IndexMismatchError` when it was built by other code or with other settings, or when the
    recipient file (`recipients_path`, else the file it was built from, if still there) changed.
    """
    path = Path(path)
    metadata = read_metadata(path)
    _check_fits(path, metadata, config)
    source = RecipientSource(**metadata["source"])
    check_against = Path(recipients_path) if recipients_path is not None else Path(source.path)
    if recipients_path is not None or check_against.is_file():
        why = source.differs_from(check_against)
        if why:
            raise IndexMismatchError(
                f"{path}: built from another recipient file than {check_against} ({why}; it was built from "
                f"{source.described()}); rebuild it: sbir-etl index --recipients {check_against} --out {path}"
            )
    else:
        log.warning("%s: its recipient file %s is gone; using the index as saved", path, source.path)
    arrays, _ = map_arrays(path)
    index = RecipientIndex.restore(arrays, metadata["scalars"])
    return SavedIndex(index, source, int(metadata["recipients_rejected"]), path)


def _check_fits(path: Path, metadata: dict[str, Any], config: EnrichmentConfig) -> None:
    rebuild = f"rebuild it: sbir-etl index --recipients RECIPIENTS --out {path}"
    if metadata.get("format") != INDEX_FORMAT or metadata.get("code") != code_digest():
        raise IndexMismatchError(f"{path}: built by another version of sbir-etl; {rebuild}")
    saved, wanted = metadata["settings"], index_settings(config)
    differing = sorted(key for key in wanted if saved.get(key) != wanted[key])
    if differing:
        shown = "; ".join(f"{key}: index {saved.get(key)!r}, this run {wanted[key]!r}" for key in differing)
        raise IndexMismatchError(f"{path}: built with other settings ({shown}); {rebuild} (with the same --config)")


def index_is_current(path: str | Path, recipients_path: str | Path, config: EnrichmentConfig) -> bool:
    """Is the index at `path` one `load_index` would accept for `recipients_path` and `config`?
    (False when there is none, or it is not an index.) Lets a pipeline rebuild it only when needed."""
    try:
        metadata = read_metadata(path)
        _check_fits(Path(path), metadata, config)
    except (FileNotFoundError, BadInputError):
        return False
    return RecipientSource(**metadata["source"]).differs_from(recipients_path) is None


def saved_recipients(path: str | Path) -> int:
    """How many recipients the index at `path` holds (from its metadata alone)."""
    return int(read_metadata(path)["scalars"]["stats"]["recipients"])


@dataclass(frozen=True)
class IndexFileSummary:
    """What `index_recipient_file` did."""

    recipients: int
    distinct_names: int
    recipients_rejected: int
    build_s: float
    save_s: float
    size_bytes: int


def index_recipient_file(
    recipients_path: str | Path, out_path: str | Path, config: EnrichmentConfig, rejects_path: str | Path
) -> IndexFileSummary:
    """Build the index of a recipient file and save it to `out_path`; unreadable rows go to `rejects_path`."""
    started = time.perf_counter()
    rejects = RejectSink()
    source = RecipientSource.of(recipients_path)
    index = build_recipient_index(recipients_path, config, rejects)
    built = time.perf_counter()
    rejected = rejects.count(recipients_path)
    save_index(index, out_path, source, config, rejected)
    rejects.flush(rejects_path)
    return IndexFileSummary(
        recipients=len(index.table),
        distinct_names=len(index.names),
        recipients_rejected=rejected,
        build_s=built - started,
        save_s=time.perf_counter() - built,
        size_bytes=os.stat(out_path).st_size,
    )


__all__ = [
    "INDEX_FORMAT",
    "IndexFileSummary",
    "RecipientSource",
    "SavedIndex",
    "build_recipient_index",
    "index_is_current",
    "index_recipient_file",
    "index_settings",
    "load_index",
    "save_index",
    "saved_recipients",
]
