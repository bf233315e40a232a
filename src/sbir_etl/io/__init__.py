"""Reading and writing the core's tables, at its edges.

- `tables`: CSV/Parquet readers that read every column as text and send unreadable rows to a
  rejects sink with their row number; writers that only ever replace a file atomically.
- `records`: the physical records of a CSV, counted apart from the parser, so that an unclosed
  quote can never merge awards silently.
- `outputs`: output paths checked against the inputs (by inode), a lock per output, atomic
  writes, stale partials removed, full disks reported against the output.
- `checkpoints`: completed chunks kept on disk so a killed run resumes where it stopped.
"""

from sbir_etl.io.checkpoints import CheckpointStore, run_fingerprint
from sbir_etl.io.outputs import atomic_path, check_output_paths, claim_outputs, output_lock
from sbir_etl.io.records import check_physical_records
from sbir_etl.io.tables import (
    Reject,
    RejectSink,
    TableWriter,
    default_rejects_path,
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
    "check_output_paths",
    "check_physical_records",
    "claim_outputs",
    "default_rejects_path",
    "iter_text_chunks",
    "output_lock",
    "read_header",
    "read_text_table",
    "run_fingerprint",
    "table_format",
]
