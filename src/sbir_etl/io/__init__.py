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

Callers import from the module that holds a name; this package re-exports nothing, so
checking a path (`inputs`) never imports Arrow.
"""
