"""Every step of the matching cascade, its tie-breaks and conflicts."""

import pandas as pd
import pytest

from sbir_etl.columns import OUTPUT_COLUMNS
from sbir_etl.config import EnrichmentConfig
from sbir_etl.enrichment import enrich_frame
from tests.core.conftest import awards, recipients

ACME = {
    "recipient_hash": "h-acme",
    "legal_business_name": "ACME WIDGETS INC",
    "uei": "KD6VWJ8MHRX5",
    "duns": "012345678",
    "state": "CA",
    "city": "PASADENA",
    "zip5": "91101",
}
BETA = {
    "recipient_hash": "h-beta",
    "legal_business_name": "BETA LABORATORIES LLC",
    "uei": "AB12CD34EF56",
    "duns": "987654321",
    "state": "NY",
}


def one(award: dict, *recips: dict, **config) -> pd.Series:
    out = enrich_frame(awards(award), recipients(*recips), EnrichmentConfig(**config))
    return out.iloc[0]


def test_uei_exact_wins_and_keeps_input_columns():
    award = {"Company": "Something Else Entirely", "UEI": "kd6vwj8mhrx5"}
    out = enrich_frame(awards(award), recipients(ACME, BETA))
    row = out.iloc[0]
    assert (row.match_method, row.match_score, row.match_confidence) == ("uei-exact", 100.0, "high")
    assert (row.usaspending_recipient_hash, row.usaspending_uei, row.usaspending_duns) == (
        "h-acme",
        "KD6VWJ8MHRX5",
        "012345678",
    )
    assert row.usaspending_legal_business_name == "ACME WIDGETS INC"
    assert row.UEI == "kd6vwj8mhrx5"  # input column unchanged
    assert list(out.columns) == list(awards(award).columns) + list(OUTPUT_COLUMNS)


def test_duns_exact_after_repairing_a_numeric_read():
    row = one({"Company": "Nope", "Duns": "12345678.0"}, ACME, BETA)
    assert (row.match_method, row.usaspending_recipient_hash) == ("duns-exact", "h-acme")


def test_uei_beats_a_conflicting_duns_and_the_conflict_lowers_confidence():
    out = enrich_frame(
        awards({"Company": "Beta Labs", "UEI": "KD6VWJ8MHRX5", "Duns": "987654321"}), recipients(ACME, BETA)
    )
    row = out.iloc[0]
    assert (row.match_method, row.usaspending_recipient_hash, row.match_confidence) == ("uei-exact", "h-acme", "medium")


def test_invalid_identifiers_never_exact_match():
    bad_uei = dict(ACME, recipient_hash="h-bad", uei="KD6VWJ8MHRXI")  # same bad value on both sides
    row = one(
        {"Company": "Unrelated Name", "UEI": "KD6VWJ8MHRXI", "Duns": "000000000"}, bad_uei, dict(BETA, duns="000000000")
    )
    assert row.match_method == "unmatched"
    assert pd.isna(row.usaspending_recipient_hash)


def test_name_exact_after_normalisation():
    row = one({"Company": "Acme Widgets, Incorporated", "State": "CA", "Zip": "91101"}, ACME, BETA)
    assert (row.match_method, row.match_score, row.match_confidence, row.usaspending_recipient_hash) == (
        "name-exact",
        100.0,
        "high",
        "h-acme",
    )


def test_ambiguous_exact_name_is_settled_by_location():
    ca = dict(ACME, uei="", duns="")
    tx = dict(ACME, recipient_hash="h-acme-tx", uei="", duns="", state="TX", city="AUSTIN", zip5="78701")
    row = one({"Company": "ACME Widgets", "State": "TX", "City": "Austin"}, ca, tx)
    assert (row.match_method, row.usaspending_recipient_hash) == ("name-exact", "h-acme-tx")


def test_ambiguous_exact_name_without_evidence_is_only_a_candidate():
    ca = dict(ACME, uei="", duns="", state="")
    tx = dict(ACME, recipient_hash="h-acme-tx", uei="", duns="", state="")
    row = one({"Company": "ACME Widgets"}, tx, ca)
    assert row.match_method == "name-fuzzy-candidate"
    assert pd.isna(row.usaspending_recipient_hash)
    assert row.candidate_recipient_hash == "h-acme"  # deterministic: smallest recipient_hash, not file order


def test_exact_name_in_another_state_is_not_joined():
    row = one({"Company": "Acme Widgets", "State": "WA"}, ACME)
    assert row.match_method == "name-fuzzy-candidate"


def test_a_shared_zip_outranks_a_differing_state():
    # A ZIP lies in one state: one of the two state fields is wrong, and the ZIP is more specific.
    row = one({"Company": "Acme Widgets", "State": "WA", "Zip": "91101"}, ACME)
    assert (row.match_method, row.match_confidence, row.usaspending_recipient_hash) == ("name-exact", "high", "h-acme")


def test_exact_name_in_the_same_city_of_another_state_needs_the_files_own_identified_awards():
    moved = {"Company": "Acme Widgets", "State": "WA", "City": "Pasadena"}
    # Alone, an exact name with the same city but another state could be another company.
    alone = one(moved, ACME)
    assert (alone.match_method, alone.candidate_recipient_hash) == ("name-fuzzy-candidate", "h-acme")
    # Another award of the file names the company with its UEI: the name is that recipient's.
    identified = {"Company": "ACME WIDGETS, INC.", "UEI": "KD6VWJ8MHRX5"}
    out = enrich_frame(awards(identified, moved), recipients(ACME, BETA))
    assert list(out.match_method) == ["uei-exact", "name-exact"]
    assert (out.match_confidence[1], out.usaspending_recipient_hash[1]) == ("medium", "h-acme")
    # The file's identified awards tie the name to two recipients: no evidence either way.
    twin = dict(ACME, recipient_hash="h-acme-2", uei="AB12CD34EF57", duns="", state="NV", city="RENO", zip5="89501")
    both = enrich_frame(awards(identified, dict(identified, UEI="AB12CD34EF57"), moved), recipients(ACME, twin))
    assert both.match_method[2] == "name-fuzzy-candidate"
    # An identifier several recipients share vouches for nothing.
    shared = dict(twin, uei="KD6VWJ8MHRX5")
    weak = enrich_frame(awards(identified, moved), recipients(ACME, shared))
    assert (weak.match_confidence[0], weak.match_method[1]) == ("medium", "name-fuzzy-candidate")
    # A fuzzy name is not enough to overrule the state, even in the same city.
    fuzzy = enrich_frame(awards(identified, dict(moved, Company="Acme Widgts")), recipients(ACME))
    assert (fuzzy.match_method[1], fuzzy.candidate_recipient_hash[1]) == ("name-fuzzy-candidate", "h-acme")


QUORVEX = {
    "recipient_hash": "h-quorvex",
    "legal_business_name": "QUORVEX SYSTEMS INC",
    "state": "MA",
    "city": "LOWELL",
    "zip5": "01851",
}


def test_a_dropped_descriptor_joins_when_the_location_confirms_it():
    award = {"Company": "Quorvex Inc", "State": "MA", "City": "Lowell"}
    row = one(award, QUORVEX)
    assert (row.match_method, row.match_score, row.usaspending_recipient_hash) == ("name-fuzzy-auto", 95.0, "h-quorvex")
    # Two descriptors more cost twice the penalty; still a join with the city's support.
    two = one(award, dict(QUORVEX, legal_business_name="QUORVEX SYSTEMS GROUP"))
    assert (two.match_method, two.match_score) == ("name-fuzzy-auto", 90.0)
    # Without location support it is only a candidate.
    held = one({"Company": "Quorvex Inc"}, QUORVEX)
    assert (held.match_method, held.candidate_recipient_hash) == ("name-fuzzy-candidate", "h-quorvex")


def test_a_dropped_descriptor_is_ambiguous_when_two_companies_extend_the_name_nearby():
    twin = dict(QUORVEX, recipient_hash="h-twin", legal_business_name="QUORVEX ROBOTICS LLC")
    award = {"Company": "Quorvex Inc", "State": "MA", "City": "Lowell"}
    assert one(award, QUORVEX, twin).match_method == "name-fuzzy-candidate"
    # The same twin in another state is ruled out by the award's own location.
    far_twin = dict(twin, state="TX", city="AUSTIN", zip5="78701")
    assert one(award, QUORVEX, far_twin).usaspending_recipient_hash == "h-quorvex"


def test_a_name_of_common_words_plus_a_descriptor_is_no_evidence():
    # "applied" says nothing about identity when many names carry it.
    common = [
        {"recipient_hash": f"h-{i:03d}", "legal_business_name": f"APPLIED {w} INC", "state": "MA", "city": "LOWELL"}
        for i, w in enumerate(f"W{i}X" for i in range(60))
    ]
    ara = {
        "recipient_hash": "h-ara",
        "legal_business_name": "APPLIED RESEARCH ASSOCIATES",
        "state": "MA",
        "city": "LOWELL",
    }
    row = one({"Company": "Applied Research LLC", "State": "MA", "City": "Lowell"}, ara, *common)
    assert row.match_method != "name-fuzzy-auto" and pd.isna(row.usaspending_recipient_hash)


def test_different_descriptors_are_different_companies():
    row = one({"Company": "Quorvex Robotics", "State": "MA", "City": "Lowell"}, QUORVEX)
    assert row.match_method != "name-fuzzy-auto" and pd.isna(row.usaspending_recipient_hash)


def test_a_misspelt_descriptor_counts_as_the_descriptor():
    zeta = {"recipient_hash": "h-zeta", "legal_business_name": "ZETA TECHNOLOGY INC", "state": "MA", "city": "LOWELL"}
    row = one({"Company": "Zeta Tehcnology LLC", "State": "MA", "City": "Lowell"}, zeta)
    assert (row.match_method, row.match_score, row.usaspending_recipient_hash) == ("name-fuzzy-auto", 95.0, "h-zeta")


def test_fuzzy_auto_needs_score_margin_and_corroboration():
    zeta = {
        "recipient_hash": "h-zeta",
        "legal_business_name": "ZETAFLUX ROBOTICS INC",
        "state": "MA",
        "city": "CAMBRIDGE",
        "zip5": "02139",
    }
    assert one({"Company": "Zetaflux Robotcs Inc.", "Zip": "2139"}, zeta).match_method == "name-fuzzy-auto"
    assert (
        one({"Company": "Zetaflux Robotcs Inc.", "State": "MA", "City": "Cambridge"}, zeta).match_method
        == "name-fuzzy-auto"
    )
    # Same spelling, no location evidence or only the state, score below the uncorroborated
    # threshold: held back as a candidate.
    for award in ({"Company": "Zetaflux Robotcs Inc."}, {"Company": "Zetaflux Robotcs Inc.", "State": "MA"}):
        held = one(award, zeta)
        assert (held.match_method, held.candidate_recipient_hash) == ("name-fuzzy-candidate", "h-zeta")
        assert 90 <= held.match_score < 97


def test_a_similar_name_elsewhere_does_not_block_a_join_the_city_confirms():
    here = {
        "recipient_hash": "h-here",
        "legal_business_name": "GLAYNIORK SCIENCES INC",
        "state": "OR",
        "city": "ASHLAND",
    }
    there = {
        "recipient_hash": "h-there",
        "legal_business_name": "GLAYNOK SCIENCES INC",
        "state": "KY",
        "city": "ASHLAND",
    }
    award = {"Company": "Glaynoirk Sciences, Inc.", "State": "OR", "City": "Ashland"}
    assert (one(award, here, there).match_method, one(award, here, there).usaspending_recipient_hash) == (
        "name-fuzzy-auto",
        "h-here",
    )
    # The same rival in the award's own city is real doubt: only a candidate.
    rival_nearby = dict(there, state="OR")
    assert one(award, here, rival_nearby).match_method == "name-fuzzy-candidate"


def test_a_name_inside_another_is_never_auto_joined():
    bio = {"recipient_hash": "h-bio", "legal_business_name": "BIO INSTRUMENTS LTD", "state": "RI", "city": "NEWPORT"}
    row = one({"Company": "Bio Raar Instruments Corp.", "State": "RI", "City": "Newport"}, bio)
    assert row.match_method != "name-fuzzy-auto" and pd.isna(row.usaspending_recipient_hash)


def test_fuzzy_without_margin_over_another_company_is_a_candidate():
    a = {"recipient_hash": "h-a", "legal_business_name": "ZETAFLUX ROBOTICS", "state": "MA", "city": "BOSTON"}
    b = {"recipient_hash": "h-b", "legal_business_name": "ZETAFLUX ROBOTIC", "state": "MA", "city": "BOSTON"}
    row = one({"Company": "Zetaflux Robotcs", "State": "MA", "City": "Boston"}, a, b)
    assert row.match_method == "name-fuzzy-candidate"


def test_subset_name_is_not_auto_joined():
    big = {"recipient_hash": "h-big", "legal_business_name": "QUORVEX ADVANCED ROBOTICS SYSTEMS", "state": "MA"}
    row = one({"Company": "Quorvex Inc", "State": "MA"}, big)
    assert row.match_method in ("name-fuzzy-candidate", "unmatched")
    assert pd.isna(row.usaspending_recipient_hash)


def test_low_scores_are_unmatched_and_thresholds_are_configurable():
    zeta = {"recipient_hash": "h-zeta", "legal_business_name": "ZETAFLUX ROBOTICS INC", "state": "MA"}
    award = {"Company": "Zetaflux Robotcs Inc.", "State": "MA"}
    assert (
        one(award, zeta, fuzzy_auto_threshold=99.0, fuzzy_uncorroborated_threshold=99.5).match_method
        == "name-fuzzy-candidate"
    )
    assert (
        one(
            award,
            zeta,
            fuzzy_auto_threshold=100.0,
            fuzzy_candidate_threshold=99.9,
            fuzzy_uncorroborated_threshold=100.0,
        ).match_method
        == "unmatched"
    )
    assert one({"Company": "Completely Different Corp"}, zeta).match_method == "unmatched"


def test_duplicate_recipients_per_uei_resolve_to_smallest_hash_with_medium_confidence():
    first = dict(ACME, recipient_hash="h-2")
    second = dict(ACME, recipient_hash="h-1", legal_business_name="ACME WIDGETS HOLDINGS")
    for order in ((first, second), (second, first)):
        row = one({"Company": "x", "UEI": "KD6VWJ8MHRX5"}, *order)
        assert (row.usaspending_recipient_hash, row.match_confidence) == ("h-1", "medium")


def test_a_repeated_recipient_hash_keeps_its_first_row_and_the_index_equals_the_deduplicated_one():
    import numpy as np
    import pyarrow as pa

    from sbir_etl.linkage.recipients import RecipientIndex

    def index(rows: list[tuple]) -> RecipientIndex:
        names = ("recipient_hash", "legal_business_name", "uei", "duns")
        return RecipientIndex.build(
            pa.table({n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate(names)})
        )

    rows = [
        ("h2", "Beta Inc", "AB12CD34EF56", ""),
        ("h1", "Acme Co", "", "123456789"),
        ("h2", "Beta Two", "KD6VWJ8MHRX5", ""),  # the same recipient listed again: dropped
        (None, "Gamma", None, None),
        ("h0", "Delta", "", ""),
        (None, "Epsilon", None, None),  # a second row without a hash: dropped like a repeat
        ("h1", "Acme Again", "", "987654321"),
    ]
    built, deduplicated = index(rows), index([rows[i] for i in (0, 1, 3, 4)])
    assert built.stats["repeated_recipient_rows_dropped"] == 3 and built.stats["recipients"] == 4
    with_hashes = [row for row in rows if row[0] is not None]  # repeats, and no row without a hash
    assert index(with_hashes).stats["repeated_recipient_rows_dropped"] == 2
    assert built.table.column("legal_business_name").to_pylist() == ["Beta Inc", "Acme Co", "Gamma", "Delta"]
    for name, array in built.arrays().items():
        other = deduplicated.arrays()[name]
        assert array.equals(other) if isinstance(array, pa.Array) else np.array_equal(array, other), name
    assert index(rows[:2]).stats["repeated_recipient_rows_dropped"] == 0


def test_alternate_names_are_matched():
    r = {
        "recipient_hash": "h-alt",
        "legal_business_name": "QUORVEX HOLDINGS",
        "alternate_names": "Quorvex Robotics|QRX Labs",
        "state": "MA",
    }
    row = one({"Company": "Quorvex Robotics, Inc.", "State": "MA"}, r)
    assert (row.match_method, row.usaspending_recipient_hash) == ("name-exact", "h-alt")


def test_no_recipients_leaves_everything_unmatched():
    out = enrich_frame(awards({"Company": "Acme", "UEI": "KD6VWJ8MHRX5"}), recipients())
    assert out.match_method.tolist() == ["unmatched"]


def test_shuffling_awards_does_not_change_any_result():
    rows = [
        {"Company": n, "State": s}
        for n, s in [("Acme Widgets", "CA"), ("Zetaflux Robotcs", "MA"), ("Beta Labs", "NY"), ("Nothing", "")]
    ]
    recips = recipients(
        ACME, BETA, {"recipient_hash": "h-zeta", "legal_business_name": "ZETAFLUX ROBOTICS", "state": "MA"}
    )
    forward = enrich_frame(awards(*rows), recips).set_index("Agency Tracking Number")
    shuffled = awards(*rows).iloc[[3, 1, 0, 2]]
    backward = enrich_frame(shuffled, recips).set_index("Agency Tracking Number")
    pd.testing.assert_frame_equal(forward.sort_index(), backward.sort_index())


@pytest.mark.parametrize("bad", [{"fuzzy_candidate_threshold": 95.0}, {"chunk_size": 0}, {"match_rate_threshold": 70}])
def test_bad_config_values_are_rejected(bad):
    from sbir_etl.errors import ConfigError

    with pytest.raises(ConfigError):
        EnrichmentConfig(**bad)
