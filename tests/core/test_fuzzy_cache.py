"""The fuzzy cache scores names ahead in a background thread; what it returns must not change."""

import threading

import numpy as np
import pyarrow as pa
import pytest

from sbir_etl.config import EnrichmentConfig
from sbir_etl.enrichment import one_ahead
from sbir_etl.linkage import cascade, rules
from sbir_etl.linkage.cascade import FuzzyCache
from sbir_etl.linkage.names import normalize_names
from sbir_etl.linkage.recipients import RecipientIndex
from tests.core.conftest import recipients

NAMES = ["acme robotic", "acme robotics systems", "blue ocean sensor", "quantum widget", "nothing like it"]


@pytest.fixture(scope="module")
def index() -> RecipientIndex:
    table = recipients(
        {"recipient_hash": "h1", "legal_business_name": "Acme Robotics LLC", "uei": "AAAAAAAAAAA1"},
        {"recipient_hash": "h2", "legal_business_name": "Acme Robotics Systems Inc", "uei": "AAAAAAAAAAA2"},
        {"recipient_hash": "h3", "legal_business_name": "Blue Ocean Sensors", "uei": "AAAAAAAAAAA3"},
        {"recipient_hash": "h4", "legal_business_name": "Quantum Widgets Corp", "uei": "AAAAAAAAAAA4"},
    )
    return RecipientIndex.build(pa.Table.from_pandas(table, preserve_index=False))


def normalised(names: list[str]) -> list[str]:
    return normalize_names(pa.array(names)).to_pylist()


def as_lists(found: dict) -> dict:
    return {name: (ids.tolist(), scores.tolist()) for name, (ids, scores) in found.items()}


@pytest.fixture
def scoring_threads(monkeypatch) -> list[tuple[str, bool, list[str]]]:
    """(thread name, "distinctive names" enabled, names) per call of `score_names`."""
    calls, real = [], cascade.score_names

    def recorded(names, index, config):
        calls.append((threading.current_thread().name, rules.enabled("distinctive names"), list(names)))
        return real(names, index, config)

    monkeypatch.setattr(cascade, "score_names", recorded)
    return calls


def test_names_scored_ahead_in_the_background_come_back_as_scored_in_place(index, scoring_threads):
    config, names = EnrichmentConfig(), normalised(NAMES)
    in_place = as_lists(FuzzyCache().get(names, index, config))
    assert any(ids for ids, _ in in_place.values())  # the index has similar names to find
    ahead = FuzzyCache(background=True)
    try:
        ahead.prefetch(names[:3], index, config)
        ahead.prefetch(names[1:], index, config)  # only the two names not yet on their way
        assert as_lists(ahead.get(names, index, config)) == in_place
    finally:
        ahead.close()
    background = [(thread, scored) for thread, _, scored in scoring_threads if thread.startswith("fuzzy-cache")]
    assert background == [(background[0][0], sorted(names[:3])), (background[0][0], sorted(names[3:]))]


def test_a_cache_without_background_scores_on_get_only(index, scoring_threads):
    cache, names = FuzzyCache(), normalised(NAMES)
    cache.prefetch(names, index, EnrichmentConfig())
    assert scoring_threads == []
    cache.get(names, index, EnrichmentConfig())
    assert [thread for thread, _, _ in scoring_threads] == [threading.current_thread().name]


def test_rules_switched_off_by_the_caller_stay_off_in_the_background(index, scoring_threads):
    cache = FuzzyCache(background=True)
    try:
        with rules.rules_disabled("distinctive names"):
            cache.prefetch(normalised(NAMES), index, EnrichmentConfig())
        cache.get(normalised(NAMES), index, EnrichmentConfig())
    finally:
        cache.close()
    assert [enabled for _, enabled, _ in scoring_threads] == [False]


def test_a_failure_while_scoring_in_the_background_is_raised_by_get(index, monkeypatch):
    def fails(names, index, config):
        raise MemoryError("scratch for the pairs")

    monkeypatch.setattr(cascade, "score_names", fails)
    cache = FuzzyCache(background=True)
    try:
        cache.prefetch(["acme robotic"], index, EnrichmentConfig())
        with pytest.raises(MemoryError, match="scratch for the pairs"):
            cache.get(["acme robotic"], index, EnrichmentConfig())
    finally:
        cache.close()


def test_one_ahead_begins_each_item_before_handing_out_the_one_before():
    events: list[str] = []

    def begin(item: int) -> int:
        events.append(f"begin {item}")
        return item * 10

    for item, begun in one_ahead(iter([1, 2, 3]), begin):
        events.append(f"use {item}:{begun}")
    assert events == ["begin 1", "begin 2", "use 1:10", "begin 3", "use 2:20", "use 3:30"]
    assert list(one_ahead(iter([]), begin)) == []


def test_candidates_are_arrays_of_ids_and_scores(index):
    found = FuzzyCache().get(normalised(["acme robotic"]), index, EnrichmentConfig())
    ids, scores = next(iter(found.values()))
    assert ids.dtype == np.int64 and scores.dtype == np.float64 and len(ids) == len(scores) >= 1
