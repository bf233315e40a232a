"""The review queue: an enriched file's candidates, ranked by how likely each is right.

A candidate (`name-fuzzy-candidate`) is a recipient the cascade found but would not join; its
`match_reason` says what held it back, `match_score` and `match_margin` how close it came. How
often a candidate is right depends mostly on that reason and score, so each row gets the share of
candidates *measured* right with the same reason and score band (`CANDIDATE_PRECISION`, from the
full-scale synthetic evaluation with truth; docs/matching.md has the table and its command), and
the queue is sorted by it, then by score and margin: a reviewer works down from the top and stops
when accepting stops paying.

`review_queue` is a pure function over DataFrames; `write_review` reads and writes files for
`sbir-etl review`.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from sbir_etl.columns import CANDIDATE
from sbir_etl.io.inputs import require_columns
from sbir_etl.io.outputs import atomic_path
from sbir_etl.io.tables import read_whole_table

SCORE_BANDS: tuple[float, ...] = (75.0, 85.0, 90.0, 95.0, 100.0)  # band i: [SCORE_BANDS[i], SCORE_BANDS[i + 1])
# Share of candidates pointing at the true recipient, per held-back reason and score band
# (75-85, 85-90, 90-95, 95-100, 100), measured with `benchmarks/review_calibration.py` on the
# full-scale synthetic data (533,000 x 3,300,000, seed 0); a band with no candidates there takes
# the nearest measured band of its reason. Synthetic names are not real ones: the order of the
# reasons is what carries over (docs/matching.md compares it with the real-data tests).
CANDIDATE_PRECISION: dict[str, tuple[float, ...]] = {
    "score-below-auto": (0.187, 0.810, 0.810, 0.810, 0.810),
    "same-city-other-state": (0.362, 0.362, 0.362, 0.362, 0.362),
    "other-state": (0.000, 0.005, 0.021, 0.299, 0.000),
    "ambiguous": (0.000, 0.000, 0.000, 0.004, 0.024),
    "rival-within-margin": (0.001, 0.011, 0.009, 0.013, 0.013),
    "name-extends-other": (0.000, 0.000, 0.000, 0.000, 0.000),
    "no-corroboration": (0.000, 0.000, 0.000, 0.000, 0.000),
}
DEFAULT_PRECISION = 0.05  # a reason the calibration run had no candidates for

REVIEW_COLUMNS: tuple[str, ...] = (
    "rank",
    "likelihood",
    "match_reason",
    "match_score",
    "match_margin",
    "candidate_recipient_hash",
)


def score_band(scores: pd.Series) -> np.ndarray:
    """Index of each score's band in SCORE_BANDS (a score of exactly 100 is its own band)."""
    values = pd.to_numeric(scores, errors="coerce").fillna(0.0).to_numpy(dtype=float)
    return np.clip(np.searchsorted(np.array(SCORE_BANDS), values, side="right") - 1, 0, len(SCORE_BANDS) - 1)


def likelihood(reasons: pd.Series, scores: pd.Series) -> np.ndarray:
    """The measured share of candidates right with each row's reason and score band."""
    bands = score_band(scores)
    table = {reason: np.array(shares) for reason, shares in CANDIDATE_PRECISION.items()}
    return np.array(
        [
            table[reason][band] if reason in table else DEFAULT_PRECISION
            for reason, band in zip(reasons.fillna("").astype(str), bands)
        ]
    )


NEEDED_COLUMNS: tuple[str, ...] = ("match_method", "match_reason", "match_score", "candidate_recipient_hash")


def _missing_columns(columns: "pd.Index | list[str]") -> list[str]:
    return [c for c in NEEDED_COLUMNS if c not in set(columns)]


def review_queue(enriched: pd.DataFrame, recipients: pd.DataFrame | None = None) -> pd.DataFrame:
    """The candidates of an enriched table, most likely right first, with the award's own columns
    after the review columns; with `recipients` (a USAspending recipient table), also the
    candidate's name and location."""
    missing = _missing_columns(enriched.columns)
    if missing:
        raise ValueError(
            f"the enriched table lacks column(s) {missing}: pass the output of `sbir-etl enrich` (this version)"
        )
    queue = enriched[enriched["match_method"] == CANDIDATE].copy()
    queue["match_score"] = pd.to_numeric(queue["match_score"], errors="coerce")
    queue["match_margin"] = pd.to_numeric(queue.get("match_margin"), errors="coerce")
    queue["likelihood"] = likelihood(queue["match_reason"], queue["match_score"])
    queue = queue.sort_values(
        ["likelihood", "match_score", "match_margin"], ascending=False, kind="stable", na_position="last"
    )
    queue["rank"] = np.arange(1, len(queue) + 1)
    front = list(REVIEW_COLUMNS)
    if recipients is not None:
        who = recipients.drop_duplicates("recipient_hash").set_index("recipient_hash")
        for column in ("legal_business_name", "city", "state"):
            if column in who:
                queue[f"candidate_{column}"] = queue["candidate_recipient_hash"].map(who[column])
                front.append(f"candidate_{column}")
    award_columns = [c for c in enriched.columns if c not in front and not c.startswith("usaspending_")]
    return queue[front + [c for c in award_columns if c not in ("match_method", "match_confidence")]].reset_index(
        drop=True
    )


def calibrate(enriched: pd.DataFrame, truth: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Per held-back reason and score band: candidates, and the share pointing at the true
    recipient (what CANDIDATE_PRECISION holds), from an enriched table with truth."""
    merged = enriched.merge(truth.rename(columns={"recipient_hash": "_truth"}), on=key, how="inner")
    cand = merged[merged["match_method"] == CANDIDATE]
    right = cand["candidate_recipient_hash"].fillna("").astype(str) == cand["_truth"].fillna("").astype(str)
    frame = pd.DataFrame(
        {"reason": cand["match_reason"].fillna(""), "band": score_band(cand["match_score"]), "right": right}
    )
    table = frame.groupby(["reason", "band"])["right"].agg(["size", "mean"]).reset_index()
    table["band"] = table["band"].map(
        lambda b: f"{SCORE_BANDS[b]:g}" + (f"-{SCORE_BANDS[b + 1]:g}" if b + 1 < len(SCORE_BANDS) else "")
    )
    return table.rename(columns={"size": "candidates", "mean": "right"})


def write_review(enriched_path: str | Path, out_path: str | Path, recipients_path: str | Path | None = None) -> int:
    """Write the review queue of an enriched file as CSV; return how many candidates it holds."""
    require_columns(enriched_path, NEEDED_COLUMNS, hint="pass the output of `sbir-etl enrich` (this version)")
    enriched = read_whole_table(enriched_path).to_pandas()
    recipients = None
    if recipients_path is not None:
        header = require_columns(recipients_path, ["recipient_hash"], hint="pass a USAspending recipient table")
        wanted: list[str] = [c for c in ("recipient_hash", "legal_business_name", "city", "state") if c in header]
        recipients = read_whole_table(recipients_path, columns=wanted).to_pandas()
    queue = review_queue(enriched, recipients)
    with atomic_path(out_path) as tmp:
        queue.to_csv(tmp, index=False)
    return len(queue)
