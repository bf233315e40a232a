"""The quality gates of `sbir_etl_job` as pure functions over tables on disk.

Dagster asset checks (`checks.py`) are thin wrappers around these; keeping them free of Dagster
lets the gate logic be tested and reused directly. Every gate returns an `Outcome` named after the
gate, whose message and plain-Python metadata say why it passed or failed.
"""

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from sbir_etl.columns import CANDIDATE, JOINED_METHODS, MATCH_METHODS
from sbir_etl.evaluation.quality import match_rate
from sbir_etl.io.tables import RejectSink, iter_text_chunks
from sbir_etl.linkage.identifiers import clean_duns, clean_uei
from sbir_etl.outcomes import COMPLETENESS, IDENTIFIER_VALIDITY, MATCH_RATE, Outcome, Status


def match_rate_gate(counts_by_method: dict[str, int], threshold: float) -> Outcome:
    """Joined awards / all awards must reach `threshold`. Candidates are not matches.

    With no awards there is nothing to block: the gate passes and says so.
    """
    counts = {m: int(counts_by_method.get(m, 0)) for m in MATCH_METHODS}
    total = sum(counts.values())
    joined = sum(counts[m] for m in JOINED_METHODS)
    measured = match_rate(counts)
    rate = 1.0 if measured is None else measured
    metadata = {
        "match_rate": float(rate),
        "threshold": float(threshold),
        "joined": joined,
        "awards": total,
        "counts_by_method": counts,
    }
    if measured is None:
        return Outcome(MATCH_RATE, Status.PASS, "no awards to match; nothing to gate", metadata)
    passed = rate >= threshold
    verdict = "reaches" if passed else "is below"
    description = (
        f"match rate {rate:.3f} ({joined}/{total} joined; {counts[CANDIDATE]} candidates not counted) "
        f"{verdict} match_rate_threshold {threshold:.3f}"
    )
    if not passed:
        description += "; check the recipient table covers these awards, or lower match_rate_threshold in the config"
    return Outcome(MATCH_RATE, Status.of(passed), description, metadata)


def _key_frame(path: str | Path, key: tuple[str, ...]) -> pd.DataFrame:
    return pq.read_table(path, columns=list(key)).to_pandas().fillna("")


def completeness_gate(
    validated_path: str | Path, enriched_path: str | Path, key: tuple[str, ...], rows_rejected: int
) -> Outcome:
    """Every validated award is in the enriched table exactly once, or counted as rejected."""
    rows_in = pq.ParquetFile(validated_path).metadata.num_rows
    rows_out = pq.ParquetFile(enriched_path).metadata.num_rows
    missing = duplicated = 0
    if key and rows_in:
        before = Counter(map(tuple, _key_frame(validated_path, key).itertuples(index=False)))
        after = Counter(map(tuple, _key_frame(enriched_path, key).itertuples(index=False)))
        missing = sum((before - after).values())
        duplicated = sum((after - before).values())
    metadata = {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_rejected": int(rows_rejected),
        "awards_missing": int(missing),
        "awards_extra_or_duplicated": int(duplicated),
    }
    passed = rows_in == rows_out + rows_rejected and duplicated == 0 and missing <= rows_rejected
    if passed:
        message = f"all {rows_in} awards accounted for ({rows_out} enriched, {rows_rejected} rejected)"
        return Outcome(COMPLETENESS, Status.PASS, message, metadata)
    return Outcome(
        COMPLETENESS,
        Status.FAIL,
        (
            f"{rows_in} awards in but {rows_out} enriched + {rows_rejected} rejected; {missing} missing, "
            f"{duplicated} extra or duplicated - the enrichment lost or duplicated awards, a bug to report"
        ),
        metadata,
    )


def identifier_counts(
    path: str | Path, uei_column: str | None, duns_column: str | None, chunk_rows: int
) -> dict[str, Any]:
    """Present, valid and invalid-by-reason counts of the award identifiers, using the core's cleaning."""
    present = valid = 0
    reasons: Counter = Counter()
    columns = [c for c in (uei_column, duns_column) if c]
    if columns:
        for chunk in iter_text_chunks(path, chunk_rows, RejectSink(), columns=columns):
            for column, clean, prefix in ((uei_column, clean_uei, "uei"), (duns_column, clean_duns, "duns")):
                if not column:
                    continue
                cleaned = clean(chunk.column(column))
                invalid = len(cleaned.reasons) - cleaned.reasons.null_count
                ok = len(cleaned.values) - cleaned.values.null_count
                present += ok + invalid
                valid += ok
                reasons.update(cleaned.reason_counts(prefix))
    return {
        "present": int(present),
        "valid": int(valid),
        "invalid": int(present - valid),
        "invalid_by_reason": dict(sorted(reasons.items())),
    }


def identifier_validity_gate(counts: dict[str, Any], threshold: float) -> Outcome:
    """Valid identifiers / present identifiers must reach `threshold` (a warning: it blocks nothing)."""
    present, valid = counts["present"], counts["valid"]
    rate = valid / present if present else 1.0
    metadata = {"validity_rate": float(rate), "threshold": float(threshold), **counts}
    if not present:
        return Outcome(
            IDENTIFIER_VALIDITY, Status.PASS, "no award carries a UEI or DUNS; nothing to validate", metadata
        )
    passed = rate >= threshold
    description = (
        f"{valid}/{present} present identifiers valid ({rate:.3f}) vs identifier_validity_threshold {threshold:.3f}"
    )
    if not passed:
        description += f"; invalid by reason: {counts['invalid_by_reason']} - fix the export (keep DUNS/UEI as text)"
    return Outcome(IDENTIFIER_VALIDITY, Status.of(passed), description, metadata)
