"""Resumable enrichment: completed chunks kept on disk so a killed run continues where it stopped.

With checkpoints on, every enriched chunk is written as a Parquet part beside the output
(`.<out>.parts/part-<first award>.parquet`) and recorded in a manifest with the awards it covers,
its key fingerprint and counts. A later run over the *same* inputs and configuration (same file
sizes, modification times and settings) keeps the parts whose files are still there and enriches
only the awards they do not cover; anything else starts afresh.

The final merge hands the parts over in award order and deletes each once it is in the output,
so it needs the output's size plus one part on disk, not twice the output. A run killed during
the merge loses the parts already merged (the output was not complete, so it is discarded too);
its rerun enriches those awards again and reuses the rest.
"""

import hashlib
import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "manifest.json"
FORMAT = 3  # 3: key prints sum `text_arrays.row_hashes`, no longer pandas' hashes
"""Manifest layout version; a manifest of another version is not resumed."""

log = logging.getLogger(__name__)


@dataclass
class PartRecord:
    """One enriched chunk on disk: the awards it covers, its key fingerprint and what the cascade decided."""

    file: str
    start: int
    """The first award it covers, counting the readable awards of the input from 0."""
    rows: int
    key_hash: int
    methods: dict[str, int] = field(default_factory=dict)
    invalid_identifiers: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)

    @property
    def stop(self) -> int:
        return self.start + self.rows


def run_fingerprint(*paths: str | Path, settings: dict[str, Any]) -> str:
    """Identifies a run's inputs and settings; a resumed run must match it exactly."""
    parts = [[str(Path(p).resolve()), os.stat(p).st_size, os.stat(p).st_mtime_ns] for p in paths]
    text = json.dumps({"inputs": parts, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def parts_dir(out_path: Path) -> Path:
    return out_path.with_name(f".{out_path.name}.parts")


def remove_checkpoints(out_path: Path) -> None:
    """Delete the checkpoints of an output (once it is complete, no run needs them)."""
    shutil.rmtree(parts_dir(out_path), ignore_errors=True)


class CheckpointStore:
    """The parts directory of one output file."""

    def __init__(self, out_path: Path, fingerprint: str) -> None:
        self.dir = parts_dir(out_path)
        self.fingerprint = fingerprint
        self.parts: list[PartRecord] = []

    def resume(self) -> list[PartRecord]:
        """The parts of an earlier run over the same inputs and settings that are still on disk, in
        award order; otherwise start empty. Files the manifest does not list (a part being written
        when the run was killed) are removed."""
        data = self._read_manifest()
        if data.get("fingerprint") == self.fingerprint and data.get("format") == FORMAT:
            self.parts = sorted(
                (PartRecord(**p) for p in data["parts"] if (self.dir / p["file"]).is_file()), key=lambda p: p.start
            )
            listed = {p.file for p in self.parts} | {MANIFEST}
            for stray in self.dir.iterdir():
                if stray.name not in listed:
                    stray.unlink()
            self._save()
            return list(self.parts)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self._save()
        return []

    def add(
        self, table: pa.Table, start: int, key_hash: int, methods: Counter, invalid: Counter, events: Counter
    ) -> None:
        """Write one enriched chunk and record it; the manifest is replaced atomically."""
        name = f"part-{start:012d}.parquet"
        tmp = self.dir / f".{name}.partial"
        pq.write_table(table, tmp)
        os.replace(tmp, self.dir / name)
        self.parts.append(PartRecord(name, start, table.num_rows, key_hash, dict(methods), dict(invalid), dict(events)))
        self._save()

    def drain(self) -> Iterator[pa.Table]:
        """The parts in award order, one table at a time, each deleted once the caller has taken it
        (written it to the output) and asked for the next."""
        for part in sorted(self.parts, key=lambda p: p.start):
            yield pq.read_table(self.dir / part.file)
            (self.dir / part.file).unlink()

    def _read_manifest(self) -> dict[str, Any]:
        try:
            data = json.loads((self.dir / MANIFEST).read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable checkpoint manifest (%s); starting afresh", self.dir / MANIFEST, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self) -> None:
        tmp = self.dir / f".{MANIFEST}.partial"
        manifest = {"format": FORMAT, "fingerprint": self.fingerprint, "parts": [asdict(p) for p in self.parts]}
        tmp.write_text(json.dumps(manifest))
        os.replace(tmp, self.dir / MANIFEST)
