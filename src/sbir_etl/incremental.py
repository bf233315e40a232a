"""Incremental enrichment: which awards of a new file can keep the result the previous output holds.

A weekly award file is last week's plus a few thousand awards (and a few corrected ones). An
incremental run (`enrich_files(..., incremental=True)`, `sbir-etl enrich --incremental`) reads the
previous output at the output path and enriches only what a full run could decide differently;
its output is, row for row, what a full run over the new file writes. Three things decide it:

1. The run state: the previous output's sidecar (`.<out>.incremental.json`, written by every
   incremental run) must name the same recipient file content, the same settings that change
   results and the same matching code; otherwise everything is enriched again.
2. The award itself: a new row keeps an old result only if the previous output holds a row with
   exactly the same award columns (all of them, not only the key: a corrected city can change a
   match). Rows are paired as multisets, so repeated rows pair one to one.
3. The file-wide evidence: `IdentifiedNames` ties a name to the recipient the file's UEI/DUNS
   awards give it, and a new award can create, change or break such a tie for an old award's
   name. The evidence is collected over the whole new file and over the previous output's
   awards (the awards the previous run collected it from); every kept row whose normalised name
   or second name is tied differently is enriched again. Nothing else in the cascade reads
   across awards (candidates are a function of the name and the index alone).
"""

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import sbir_etl.linkage
from sbir_etl.columns import ResolvedAwardColumns
from sbir_etl.config import EnrichmentConfig
from sbir_etl.linkage.names import normalize_names, second_names
from sbir_etl.linkage.recipients import RecipientIndex
from sbir_etl.linkage.rules import RULES, enabled
from sbir_etl.linkage.support import IdentifiedNames
from sbir_etl.linkage.text_arrays import row_hashes

STATE_FORMAT = 1
RESULT_NEUTRAL_SETTINGS = frozenset(
    {"chunk_size", "workers", "memory_ceiling_mib", "match_rate_threshold", "identifier_validity_threshold"}
)
"""Settings that change how a run goes or what it gates, never a result."""


def state_path(out_path: Path) -> Path:
    """The sidecar describing what produced the output at `out_path`."""
    return out_path.with_name(f".{out_path.name}.incremental.json")


def run_state(recipients_sha256: str, config: EnrichmentConfig, header: list[str]) -> dict[str, Any]:
    """What an output's results depend on besides its awards: recipients, settings, code, award header."""
    settings = {k: v for k, v in config.as_dict().items() if k not in RESULT_NEUTRAL_SETTINGS}
    code = hashlib.sha256()
    for module in sorted(Path(sbir_etl.linkage.__file__).parent.glob("*.py")):
        code.update(module.read_bytes())
    state = {
        "format": STATE_FORMAT,
        "recipients_sha256": recipients_sha256,
        "settings": settings,
        "rules_disabled": sorted(rule for rule in RULES if not enabled(rule)),
        "code": code.hexdigest(),
        "header": header,
    }
    parsed: dict[str, Any] = json.loads(json.dumps(state, default=str))
    return parsed


def previous_state_matches(out_path: Path, state: dict[str, Any]) -> str | None:
    """None when the output at `out_path` was written by an incremental run in `state`; else why not."""
    if not out_path.is_file():
        return "no previous output"
    try:
        saved = json.loads(state_path(out_path).read_text())
    except FileNotFoundError:
        return "the previous output was not written by an incremental run"
    except (OSError, ValueError) as error:
        return f"its state file is unreadable ({error})"
    differing = sorted(key for key in state if saved.get(key) != state[key])
    return f"it was made with other {', '.join(differing)}" if differing else None


def write_state(out_path: Path, state: dict[str, Any]) -> None:
    path = state_path(out_path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(state, sort_keys=True))
    os.replace(partial, path)


def _occurrence(hashes: np.ndarray) -> np.ndarray:
    """How many earlier rows carry the same hash (0 for the first), so repeated rows pair one to one."""
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else np.zeros(0, bool)
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(ordered)), 0))
    out = np.empty(len(hashes), dtype=np.int64)
    out[order] = np.arange(len(ordered)) - group_start
    return out


def _same_rows(
    new: pa.Table, new_rows: np.ndarray, old: pa.Table, old_rows: np.ndarray, columns: list[str]
) -> np.ndarray:
    """Per pair: are the award columns exactly equal (a hash match is confirmed, never trusted)?"""
    same = np.ones(len(new_rows), dtype=bool)
    for name in columns:
        a = new.column(name).take(pa.array(new_rows))
        b = old.column(name).take(pa.array(old_rows))
        equal = pc.or_kleene(pc.equal(a, b), pc.and_(pc.is_null(a), pc.is_null(b)))
        same &= pc.fill_null(equal, False).to_numpy(zero_copy_only=False)
    return same


@dataclass(frozen=True)
class Reuse:
    """Which rows of the new file keep a result of the previous output, and which are enriched."""

    new_rows: np.ndarray  # rows of the new file whose result is kept ...
    old_rows: np.ndarray  # ... taken from these rows of the previous output
    enrich_rows: np.ndarray  # rows of the new file to enrich, in file order
    evidence_names_changed: int  # names the file's identified awards now tie differently
    rows_reenriched_for_evidence: int  # unchanged rows enriched again because of those names

    def counts(self) -> dict[str, int]:
        return {
            "kept": len(self.new_rows),
            "enriched": len(self.enrich_rows),
            "evidence_names_changed": self.evidence_names_changed,
            "rows_reenriched_for_evidence": self.rows_reenriched_for_evidence,
        }


def nothing_reused(rows: int) -> Reuse:
    empty = np.zeros(0, dtype=np.int64)
    return Reuse(empty, empty, np.arange(rows, dtype=np.int64), 0, 0)


def plan_reuse(
    new: pa.Table,
    previous: pa.Table,
    award_columns: list[str],
    columns: ResolvedAwardColumns,
    index: RecipientIndex,
    identified: IdentifiedNames,
) -> Reuse:
    """Pair the new file's rows with equal rows of the previous output; keep those whose name's
    evidence did not change (`identified` is the evidence of the whole new file)."""
    new_hash, old_hash = row_hashes(new, award_columns), row_hashes(previous, award_columns)
    left = pd.DataFrame({"hash": new_hash, "nth": _occurrence(new_hash), "new": np.arange(len(new_hash))})
    right = pd.DataFrame({"hash": old_hash, "nth": _occurrence(old_hash), "old": np.arange(len(old_hash))})
    pairs = left.merge(right, on=["hash", "nth"], how="inner")
    new_rows, old_rows = pairs["new"].to_numpy(np.int64), pairs["old"].to_numpy(np.int64)
    same = _same_rows(new, new_rows, previous, old_rows, award_columns)
    new_rows, old_rows = new_rows[same], old_rows[same]
    changed = _evidence_changed(previous.select(award_columns), columns, index, identified)
    stale = np.zeros(len(old_rows), dtype=bool)
    if len(changed) and len(old_rows):
        company = previous.column(columns.company).take(pa.array(old_rows))
        for names in (normalize_names(company), second_names(company)):
            stale |= pc.fill_null(pc.is_in(names, value_set=changed), False).to_numpy(zero_copy_only=False)
    keep = ~stale
    order = np.argsort(new_rows[keep], kind="stable")
    kept_new, kept_old = new_rows[keep][order], old_rows[keep][order]
    enrich = np.ones(new.num_rows, dtype=bool)
    enrich[kept_new] = False
    return Reuse(kept_new, kept_old, np.flatnonzero(enrich), len(changed), int(stale.sum()))


def _evidence_changed(
    previous_awards: pa.Table, columns: ResolvedAwardColumns, index: RecipientIndex, identified: IdentifiedNames
) -> pa.Array:
    """Names tied to a recipient (or to none) differently by the previous awards and the new file."""
    before = IdentifiedNames.collect([previous_awards], columns, index)
    names = pc.unique(pa.concat_arrays([before.names.cast(pa.string()), identified.names.cast(pa.string())]))
    differs = before.recipient_of(names) != identified.recipient_of(names)
    return names.filter(pa.array(differs))


__all__ = [
    "Reuse",
    "nothing_reused",
    "plan_reuse",
    "previous_state_matches",
    "run_state",
    "state_path",
    "write_state",
]
