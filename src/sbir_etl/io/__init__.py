"""Reading and writing the core's tables, at its edges.

- `inputs`: what an input file must be (exists, a file, not empty, CSV or Parquet, a readable
  header with unique names), checked without loading Arrow.
- `tables`: CSV/Parquet readers that read every column as text and send unreadable rows to a
  rejects sink with their row number; writers that only ever replace a file atomically.
- `records`: the physical records of a CSV, counted apart from the parser, so that an unclosed
  quote can never merge records silently.
- `outputs`: output paths checked against the inputs (by inode), a lock per output, atomic
  writes, stale partials removed, full disks reported against the output.
- `checkpoints`: completed chunks kept on disk so a killed run resumes where it stopped.
- `array_files`: named arrays in one Arrow IPC file, memory-mapped when read (the saved recipient index).

The names below load their module on first use, so checking a path does not import Arrow.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

_LAZY = {
    "CheckpointStore": "sbir_etl.io.checkpoints",
    "run_fingerprint": "sbir_etl.io.checkpoints",
    "check_input_file": "sbir_etl.io.inputs",
    "read_header": "sbir_etl.io.inputs",
    "table_format": "sbir_etl.io.inputs",
    "atomic_path": "sbir_etl.io.outputs",
    "check_output_paths": "sbir_etl.io.outputs",
    "claim_outputs": "sbir_etl.io.outputs",
    "output_lock": "sbir_etl.io.outputs",
    "check_physical_records": "sbir_etl.io.records",
    "Reject": "sbir_etl.io.tables",
    "RejectSink": "sbir_etl.io.tables",
    "TableWriter": "sbir_etl.io.tables",
    "default_rejects_path": "sbir_etl.io.outputs",
    "iter_text_chunks": "sbir_etl.io.tables",
    "read_text_table": "sbir_etl.io.tables",
}

if TYPE_CHECKING:
    from sbir_etl.io.checkpoints import CheckpointStore, run_fingerprint
    from sbir_etl.io.inputs import check_input_file, read_header, table_format
    from sbir_etl.io.outputs import atomic_path, check_output_paths, claim_outputs, default_rejects_path, output_lock
    from sbir_etl.io.records import check_physical_records
    from sbir_etl.io.tables import (
        Reject,
        RejectSink,
        TableWriter,
        iter_text_chunks,
        read_text_table,
    )


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sbir_etl.io' has no attribute {name!r}")


__all__ = [
    "CheckpointStore",
    "Reject",
    "RejectSink",
    "TableWriter",
    "atomic_path",
    "check_input_file",
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
