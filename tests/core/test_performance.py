"""Exact peak-RSS spans that nest: an inner reset of the kernel's high-water mark must not hide
what an enclosing span already reached."""

import os

import pytest

from sbir_etl.monitoring import performance
from sbir_etl.monitoring.performance import MIB, measure

resettable = pytest.mark.skipif(
    not os.access(performance.CLEAR_REFS_PATH, os.W_OK), reason="needs a resettable VmHWM (Linux /proc/self/clear_refs)"
)


def touch(mib: int) -> bytearray:
    block = bytearray(mib * MIB)
    block[::4096] = b"x" * len(block[::4096])
    return block


@resettable
def test_inner_span_does_not_hide_the_outer_peak():
    with measure() as outer:
        block = touch(200)
        del block
        with measure() as inner:
            pass
    assert inner.peak_rss_growth_mib < 50
    assert outer.peak_rss_growth_mib > 180


@resettable
def test_a_peak_inside_the_inner_span_counts_for_both():
    with measure() as outer, measure() as inner:
        block = touch(150)
        del block
    assert inner.peak_rss_growth_mib > 130 and outer.peak_rss_growth_mib > 130


def test_without_a_resettable_mark_the_lifetime_peak_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(performance, "CLEAR_REFS_PATH", str(tmp_path / "missing" / "clear_refs"))
    with measure() as usage:
        pass
    assert usage.method == "ru_maxrss"
    assert usage.peak_rss_bytes >= usage.start_rss_bytes > 0
