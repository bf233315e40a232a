"""Reading and writing the core's tables, at its edges.

- `tables`: CSV/Parquet readers that read every column as text and send unreadable rows to a
  rejects sink with their row number; writers that only ever replace a file atomically.
- `checkpoints`: completed chunks kept on disk so a killed run resumes where it stopped.
"""

from sbir_etl.io.checkpoints import CheckpointStore, run_fingerprint
from sbir_etl.io.tables import (
    Reject,
    RejectSink,
    TableWriter,
    atomic_path,
    iter_text_chunks,
    read_header,
    read_text_table,
    table_format,
)

__all__ = [
    "CheckpointStore",
    "Reject",
    "RejectSink",
    "TableWriter",
    "atomic_path",
    "iter_text_chunks",
    "read_header",
    "read_text_table",
    "run_fingerprint",
    "table_format",
]
