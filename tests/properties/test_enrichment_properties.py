"""Properties of the enrichment core over generated awards with known ground truth."""

from collections import Counter

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_sbir_validate import strategies as sbir_st
from sbir_etl.columns import MATCH_METHODS
from sbir_etl.enrichment import enrich_frame
from sbir_etl.linkage.identifiers import is_valid_duns, is_valid_uei
from sbir_etl.linkage.names import normalize_name

cases = sbir_st.recipient_tables().flatmap(sbir_st.awards_with_truth)
# Each example runs the whole cascade: a modest count keeps the suite fast, no deadline avoids
# flakiness on a loaded machine. Under CI the sbir-ci profile adds derandomize.
enrichment_examples = settings(max_examples=30, deadline=None)
RESULT_COLUMNS = ["match_method", "usaspending_recipient_hash", "candidate_recipient_hash", "match_score"]
EXPECTED_METHOD = {"uei": "uei-exact", "uei-vs-name": "uei-exact", "duns": "duns-exact", "name": "name-exact"}


def keys(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["Agency Tracking Number"].astype(str), frame["Contract"].astype(str)))


def results_by_key(enriched: pd.DataFrame) -> dict[tuple[str, str], tuple]:
    values = enriched[RESULT_COLUMNS].astype(object).where(enriched[RESULT_COLUMNS].notna(), None)
    return dict(zip(keys(enriched), map(tuple, values.itertuples(index=False))))


@given(cases)
@enrichment_examples
def test_every_award_comes_out_exactly_once_with_its_columns_unchanged(case):
    enriched = enrich_frame(case.awards, case.recipients)
    assert Counter(keys(enriched)) == Counter(keys(case.awards))
    assert enriched["match_method"].isin(MATCH_METHODS).all()
    pd.testing.assert_frame_equal(
        enriched[list(case.awards.columns)].astype(str).reset_index(drop=True),
        case.awards.astype(str).reset_index(drop=True),
    )


@given(cases)
@enrichment_examples
def test_identifier_and_name_evidence_join_the_true_recipient(case):
    got = results_by_key(enrich_frame(case.awards, case.recipients))
    for truth in case.truth.itertuples(index=False):
        if truth.evidence in EXPECTED_METHOD:
            method, recipient = got[(truth[0], truth[1])][:2]
            assert (method, recipient) == (EXPECTED_METHOD[truth.evidence], truth.recipient_hash), truth


@given(sbir_st.recipient_tables(min_size=2), st.data())
@enrichment_examples
def test_a_valid_uei_in_the_recipients_wins_over_name_evidence(recipients, data):
    owner, named = data.draw(st.permutations(range(len(recipients))))[:2]
    other = recipients.iloc[named]
    award = pd.DataFrame(
        [
            {
                "Company": data.draw(sbir_st.name_variants(other["legal_business_name"])),
                "Agency Tracking Number": "T-1",
                "Contract": "C-1",
                "UEI": recipients.iloc[owner]["uei"],
                "Duns": other["duns"],
                "City": other["city"],
                "State": other["state"],
                "Zip": other["zip5"],
            }
        ]
    )
    row = enrich_frame(award, recipients).iloc[0]
    assert (row["match_method"], row["usaspending_recipient_hash"]) == (
        "uei-exact",
        recipients.iloc[owner]["recipient_hash"],
    )


@given(cases)
@enrichment_examples
def test_invalid_identifiers_never_exact_match(case):
    got = results_by_key(enrich_frame(case.awards, case.recipients))
    for truth in case.truth.itertuples(index=False):
        if truth.evidence == "invalid-ids":
            assert got[(truth[0], truth[1])][0] not in ("uei-exact", "duns-exact"), truth


@given(sbir_st.recipient_tables(min_size=2, max_size=3))
def test_recipient_tables_have_the_requested_size_and_distinct_companies(recipients):
    assert 2 <= len(recipients) <= 3
    assert recipients["uei"].is_unique and recipients["legal_business_name"].map(normalize_name).is_unique
    assert recipients["legal_business_name"].str.split().str[0].is_unique


@given(sbir_st.invalid_ueis(), sbir_st.invalid_duns())
def test_invalid_identifier_strategies_are_invalid_to_the_core(uei, duns):
    assert not is_valid_uei(uei) and not is_valid_duns(duns)


@given(sbir_st.valid_ueis(), sbir_st.valid_duns().flatmap(sbir_st.duns_spellings))
def test_valid_identifier_strategies_are_valid_to_the_core(uei, duns):
    assert is_valid_uei(uei) and is_valid_duns(duns)


@given(cases, st.randoms(use_true_random=False))
@enrichment_examples
def test_shuffling_input_rows_changes_no_awards_result(case, rnd):
    before = results_by_key(enrich_frame(case.awards, case.recipients))
    awards = case.awards.sample(frac=1.0, random_state=rnd.randrange(2**32)).reset_index(drop=True)
    recipients = case.recipients.sample(frac=1.0, random_state=rnd.randrange(2**32)).reset_index(drop=True)
    assert results_by_key(enrich_frame(awards, recipients)) == before


@given(st.text())
def test_normalisation_is_idempotent(name):
    once = normalize_name(name)
    if once is not None:  # None: nothing of the name survives normalisation
        assert normalize_name(once) == once


@given(sbir_st.company_names().flatmap(lambda n: st.tuples(st.just(n), sbir_st.name_variants(n))))
def test_spelling_variants_normalise_to_the_same_name(pair):
    name, variant = pair
    assert normalize_name(variant) == normalize_name(name)
    assert normalize_name(normalize_name(variant)) == normalize_name(variant)
