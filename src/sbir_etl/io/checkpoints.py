"""Resumable enrichment: completed chunks kept on disk so a killed run continues where it stopped.

With checkpoints on, every enriched chunk is written as a Parquet part beside the output
(`.<out>.parts/`) and recorded in a manifest together with its key fingerprint and counts. A
later run over the *same* inputs and configuration (same file sizes, modification times and
settings) skips the awards those parts cover; anything else starts afresh. When the run
completes, the parts are merged into the output and removed.
"""

import hashlib
import json
import os
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "manifest.json"


@dataclass
class PartRecord:
    """One enriched chunk on disk: its rows, key fingerprint and what the cascade decided."""

    file: str
    rows: int
    key_hash: int
    methods: dict[str, int] = field(default_factory=dict)
    invalid_identifiers: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)


def run_fingerprint(*paths: str | Path, settings: dict[str, Any]) -> str:
    """Identifies a run's inputs and settings; a resumed run must match it exactly."""
    parts = [[str(Path(p).resolve()), os.stat(p).st_size, os.stat(p).st_mtime_ns] for p in paths]
    text = json.dumps({"inputs": parts, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class CheckpointStore:
    """The parts directory of one output file."""

    def __init__(self, out_path: Path, fingerprint: str) -> None:
        self.dir = out_path.with_name(f".{out_path.name}.parts")
        self.fingerprint = fingerprint
        self.parts: list[PartRecord] = []

    def resume(self) -> list[PartRecord]:
        """Parts of an earlier run over the same inputs and settings; otherwise start empty."""
        manifest = self.dir / MANIFEST
        if manifest.exists():
            data = json.loads(manifest.read_text())
            if data.get("fingerprint") == self.fingerprint and all(
                (self.dir / p["file"]).exists() for p in data["parts"]
            ):
                self.parts = [PartRecord(**p) for p in data["parts"]]
                return list(self.parts)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self._save()
        return []

    @property
    def rows_done(self) -> int:
        return sum(p.rows for p in self.parts)

    def add(self, table: pa.Table, key_hash: int, methods: Counter, invalid: Counter, events: Counter) -> None:
        """Write one enriched chunk and record it; the manifest is replaced atomically."""
        name = f"part-{len(self.parts):06d}.parquet"
        tmp = self.dir / f".{name}.partial"
        pq.write_table(table, tmp)
        os.replace(tmp, self.dir / name)
        self.parts.append(PartRecord(name, table.num_rows, key_hash, dict(methods), dict(invalid), dict(events)))
        self._save()

    def tables(self):
        """The parts in order, one table at a time."""
        for part in self.parts:
            yield pq.read_table(self.dir / part.file)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _save(self) -> None:
        tmp = self.dir / f".{MANIFEST}.partial"
        tmp.write_text(json.dumps({"fingerprint": self.fingerprint, "parts": [asdict(p) for p in self.parts]}))
        os.replace(tmp, self.dir / MANIFEST)
