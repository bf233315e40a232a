"""Match-quality metrics of an enriched table, and evaluation against ground truth."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sbir_etl.columns import (
    CANDIDATE,
    CONFIDENCE_LEVELS,
    IDENTIFIER_METHODS,
    JOINED_METHODS,
    MATCH_METHODS,
    NAME_METHODS,
)
from sbir_etl.errors import InputFormatError

SCORE_BINS: tuple[int, ...] = (0, 50, 60, 70, 75, 80, 85, 90, 95, 100)


def match_rate(counts_by_method: Mapping[str, int]) -> float | None:
    """Joined awards / all awards (candidates are not matches); None when there are no awards."""
    total = sum(int(counts_by_method.get(m, 0)) for m in MATCH_METHODS)
    joined = sum(int(counts_by_method.get(m, 0)) for m in JOINED_METHODS)
    return joined / total if total else None


def match_metrics(enriched: pd.DataFrame) -> dict:
    """Counts and rates by method, confidence distribution, score histogram overall and by method (plain values)."""
    n = len(enriched)
    method_of = enriched["match_method"].astype(str)
    methods = method_of.value_counts()
    counts = {m: int(methods.get(m, 0)) for m in MATCH_METHODS}
    confidence = enriched["match_confidence"].astype(str).value_counts()
    scores = pd.to_numeric(enriched["match_score"], errors="coerce")
    return {
        "rows": n,
        "match_rate": match_rate(counts) or 0.0,
        "candidate_rate": counts[CANDIDATE] / n if n else 0.0,
        "counts_by_method": counts,
        "rates_by_method": {m: (c / n if n else 0.0) for m, c in counts.items()},
        "confidence": {c: int(confidence.get(c, 0)) for c in CONFIDENCE_LEVELS},
        "score_histogram": _score_histogram(scores),
        "score_histogram_by_method": {
            m: _score_histogram(scores[method_of == m]) for m in MATCH_METHODS if methods.get(m, 0)
        },
    }


def _score_histogram(scores: pd.Series) -> dict[str, int]:
    """Awards per SCORE_BINS bucket ("90-95": awards scoring 90 to under 95; the last bucket includes 100)."""
    hist, _ = np.histogram(scores.dropna().to_numpy(dtype=float), bins=SCORE_BINS)
    return {f"{lo}-{hi}": int(v) for lo, hi, v in zip(SCORE_BINS[:-1], SCORE_BINS[1:], hist)}


@dataclass(frozen=True)
class MethodEvaluation:
    """Against ground truth: of the awards a method joined, how many went to the true recipient."""

    method: str
    joined: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.joined if self.joined else 1.0


def check_truth_covers(
    enriched: pd.DataFrame, truth: pd.DataFrame, key: Sequence[str], *, truth_path: str, enriched_path: str
) -> None:
    """The truth must name each award once and cover every award of the enriched file; otherwise
    precision and recall would describe another dataset. `InputFormatError` naming the first
    offending key and the file it is about."""
    keys = list(key)
    repeated = truth[truth.duplicated(keys, keep=False)]
    if len(repeated):
        first = " | ".join(map(str, repeated.iloc[0][keys]))
        raise InputFormatError(
            f"{truth_path}: award {first!r} appears {int((truth[keys] == repeated.iloc[0][keys]).all(axis=1).sum())} "
            f"times ({len(repeated)} rows repeat a key); the truth must name each award once"
        )
    uncovered = enriched[keys].merge(truth[keys], on=keys, how="left", indicator=True)["_merge"] == "left_only"
    if uncovered.any():
        first = " | ".join(map(str, enriched.loc[uncovered.to_numpy(), keys].iloc[0]))
        raise InputFormatError(
            f"{truth_path}: {int(uncovered.sum())} of the {len(enriched)} awards of {enriched_path} have no "
            f"row here (first: {first!r}); pass the truth.csv generated with the awards that were enriched"
        )


def evaluate_against_truth(enriched: pd.DataFrame, truth: pd.DataFrame, key: Sequence[str]) -> dict:
    """Precision, recall and false-join rate, overall and by method.

    - precision: joined awards whose recipient is the true one / joined awards
    - recall: awards joined to their true recipient / awards that have a true recipient
    - false-join rate: wrongly joined awards / all awards
    - candidate precision: candidates pointing at the true recipient / candidates
    """
    merged = enriched.merge(
        truth.rename(columns={"recipient_hash": "_truth"}), on=list(key), how="left", validate="one_to_one"
    )
    truth_hash = merged["_truth"].fillna("").astype(str)
    got = merged["usaspending_recipient_hash"].fillna("").astype(str)
    method = merged["match_method"].astype(str)
    joined = method.isin(JOINED_METHODS)
    correct = joined & (got == truth_hash) & (truth_hash != "")
    has_truth = truth_hash != ""
    by_method = {}
    for m in MATCH_METHODS:
        if m not in JOINED_METHODS:
            continue
        mask = method == m
        e = MethodEvaluation(m, int(mask.sum()), int((mask & correct).sum()))
        by_method[m] = {"joined": e.joined, "correct": e.correct, "precision": e.precision}
    name_joined = method.isin(NAME_METHODS)
    cand = method == CANDIDATE
    cand_ok = cand & (merged["candidate_recipient_hash"].fillna("").astype(str) == truth_hash)
    name_truth = has_truth & ~method.isin(IDENTIFIER_METHODS)
    return {
        "awards": len(merged),
        "with_true_recipient": int(has_truth.sum()),
        "precision": float(correct.sum() / joined.sum()) if joined.sum() else 1.0,
        "recall": float(correct.sum() / has_truth.sum()) if has_truth.sum() else 1.0,
        "false_join_rate": float((joined & ~correct).sum() / len(merged)) if len(merged) else 0.0,
        "name_precision": float((name_joined & correct).sum() / name_joined.sum()) if name_joined.sum() else 1.0,
        "name_recall": float((name_joined & correct).sum() / name_truth.sum()) if name_truth.sum() else 1.0,
        # Recall if a reviewer accepted every candidate that points at the true recipient: what
        # the precision-first rules leave to a human rather than lose.
        "name_recall_with_review": float(((name_joined & correct) | (cand_ok & name_truth)).sum() / name_truth.sum())
        if name_truth.sum()
        else 1.0,
        "candidates": int(cand.sum()),
        "candidate_precision": float(cand_ok.sum() / cand.sum()) if cand.sum() else 1.0,
        "by_method": by_method,
    }
