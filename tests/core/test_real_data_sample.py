"""Same-UEI spelling test on a committed sample of real FPDS rows (tests/data/real_spellings/).

Each UEI's non-primary spellings are held out as awards without identifiers; the cascade must
join them to that UEI's recipient by name (and location) - real positives, real near-misses.
The full-data figures come from `benchmarks/real_data.py` (docs/real-data.md); this test needs
only the committed sample.
"""

from pathlib import Path

import pandas as pd
import pytest

from sbir_etl.enrichment import enrich_frame
from sbir_etl.evaluation.quality import evaluate_against_truth
from sbir_etl.evaluation.real_data import (
    AWARD_KEY,
    RENAME,
    dba_holdout,
    difference_kind,
    duns_spelling_holdout,
    fpds_recipients,
    holdout_outcomes,
    legacy_duns_links,
    legacy_name_holdout,
    overlap_outcomes,
    spelling_holdout,
    uei_recipient_hash,
    without_location,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "real_spellings" / "fpds_sample.csv"
# Measured on this sample (2026-11-28): recall 0.857 (48 of 56 held-out spellings), with and
# without location. The floor sits a little below so a small regression fails, noise does not.
RECALL_FLOOR = 0.82
PRECISION_FLOOR = 0.99


@pytest.fixture(scope="module")
def holdout() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return spelling_holdout(pd.read_csv(SAMPLE, dtype=str, keep_default_na=False))


def test_holdout_shape(holdout):
    awards, recipients, truth = holdout
    fpds = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    spellings = fpds.assign(name=fpds["legal_business_name"].str.strip()).groupby("uei")["name"].nunique()
    assert len(recipients) == fpds["uei"].nunique()
    assert len(awards) == int((spellings - 1).sum())  # every non-primary spelling, once
    assert not awards[list(AWARD_KEY)].duplicated().any()
    assert "UEI" not in awards.columns and "DUNS" not in awards.columns  # names must do the work
    assert (truth["recipient_hash"] == truth["Agency Tracking Number"].map(uei_recipient_hash)).all()
    # Held-out spellings never leak into the recipient index.
    assert not set(awards["Company"]) & set(recipients["legal_business_name"])
    assert (recipients["alternate_names"] == "").all()


def test_primary_spelling_is_the_most_frequent():
    fpds = pd.DataFrame(
        {
            "uei": ["U1"] * 3 + ["U2"] * 2,
            "legal_business_name": ["ACME INC", " ACME, INC. ", "ACME, INC.", "BETA LLC", "ALPHA LLC"],
            "city": ["X", "Y", "Y", "Z", "Z"],
            "state": ["CA", "OR", "OR", "TX", "TX"],
        }
    )
    recipients = fpds_recipients(fpds, with_alternates=True).set_index("uei")
    assert recipients.loc["U1", "legal_business_name"] == "ACME, INC."  # 2 of 3 rows, after stripping
    assert (recipients.loc["U1", "city"], recipients.loc["U1", "state"]) == ("Y", "OR")
    assert recipients.loc["U1", "alternate_names"] == "ACME INC"
    assert recipients.loc["U2", "legal_business_name"] == "ALPHA LLC"  # tie: alphabetical
    awards, _, _ = spelling_holdout(fpds)
    assert sorted(awards["Company"]) == ["ACME INC", "BETA LLC"]
    assert awards.set_index("Company").loc["ACME INC", "City"] == "X"  # location of the rows carrying it


def test_missing_column_names_the_columns():
    with pytest.raises(ValueError, match="legal_business_name"):
        spelling_holdout(pd.DataFrame({"uei": ["U1"], "city": ["X"], "state": ["CA"]}))


@pytest.mark.parametrize("blank_location", [False, True], ids=["with-location", "name-only"])
def test_same_uei_spellings_join_precisely(holdout, blank_location):
    awards, recipients, truth = holdout
    awards = without_location(awards) if blank_location else awards
    enriched = enrich_frame(awards, recipients)
    result = evaluate_against_truth(enriched, truth, list(AWARD_KEY))
    outcomes = holdout_outcomes(enriched, truth, recipients)
    wrong = outcomes[outcomes["outcome"] == "wrong-join"]
    assert result["precision"] >= PRECISION_FLOOR, wrong[["award_name", "matched_name", "true_name"]].to_string()
    assert result["recall"] >= RECALL_FLOOR, outcomes[outcomes["outcome"] != "correct"].to_string()
    # A spelling that normalises to the true legal name is joined unless location or a
    # same-name recipient makes it ambiguous; then it stays a candidate, never a wrong join.
    same = outcomes[outcomes["same_normalised"]]
    assert set(same["outcome"]) <= {"correct", "candidate-right", "candidate-wrong"}


def test_legacy_duns_links_keep_only_unambiguous_links():
    fpds = pd.DataFrame(
        {
            "uei": ["U1", "U1", "U2", "U3"],
            "description": [
                "X!20040101!20050101!123456789!000000001!000000001!Y",
                "no legacy block",
                "X!20040101!20050101!987654321!000000002!000000002!Y",
                "X!20040101!20050101!987654321!000000003!000000003!Y",  # same DUNS, another UEI: no link
            ],
        }
    )
    assert legacy_duns_links(fpds).to_dict() == {"123456789": "U1"}


def test_overlap_outcomes_flags_joins_to_a_recipient_carrying_the_name():
    recipients = fpds_recipients(
        pd.DataFrame(
            {
                "uei": ["U1", "U1", "U2"],
                "legal_business_name": ["ACME INC", "ACME CORPORATION OF TEXAS", "BETA LLC"],
                "city": ["X", "X", "Y"],
                "state": ["TX", "TX", "CA"],
            }
        ),
        with_alternates=True,
    )
    awards = pd.DataFrame(
        {
            "Company": ["Acme, Inc.", "Acme Corporation of Texas", "Beta LLC", "Gamma Inc"],
            "Agency Tracking Number": ["A0", "A1", "A2", "A3"],
            "Contract": ["C"] * 4,
            "City": ["X", "X", "Z", ""],
            "State": ["TX", "TX", "NY", ""],  # NY does not border CA
        }
    )
    overlap = overlap_outcomes(enrich_frame(awards, recipients), recipients)
    assert list(overlap.index) == [0, 1, 2]  # Gamma shares no name
    assert overlap["consistent"].tolist() == [True, True, False]  # Beta: state conflict -> candidate
    assert overlap["method"].tolist() == ["name-exact", "name-exact", "name-fuzzy-candidate"]


@pytest.mark.parametrize(
    ("award", "true", "kind"),
    [
        ("TOYON RESEARCH CORP", "TOYON RESEARCH CORP.", "designators and punctuation"),
        ("COMBUSTION RESEARCH AND FLOW T", "COMBUSTION RESEARCH AND FLOW TECHNOLOGY INC", "cut at 30 characters"),
        ("LANDTEC INC (NOT INC)", "LANDTEC INC", "remark or second name"),
        ("HIKINO ASSOCIATES LLC", "HIKI NO ASSOCIATES", "spacing inside a word"),
        ("Advanced Ceramic Research", "ADVANCED CERAMICS RESEARCH, INC.", "plural or singular"),
        ("Univ. of Utah", "University of Utah", "abbreviation"),
        ("Kent State Universtiy", "Kent State University", "typo"),
        ("L3 ADAPTIVE METHODS, INC.", "ADAPTIVE METHODS INCORPORATED", "word added or dropped"),
        ("WEBCORE IP, INC.", "WEBCORE TECHNOLOGIES INCORPORATED", "shares a distinctive word"),
        ("CYCUITY, INC.", "TORTUGA LOGIC, INC.", RENAME),
    ],
)
def test_each_kind_of_difference_is_named(award, true, kind):
    assert difference_kind(award, true) == kind


FPDS = pd.DataFrame(
    {
        "uei": ["U1", "U1", "U2", "U3"],
        "legal_business_name": ["ACME INC", "ACME INC", "BETA LLC", "GAMMA CORP"],
        "dba_name": ["", "ACME LABS", "BETA", ""],
        "city": ["X", "X", "Y", "Z"],
        "state": ["CA", "CA", "TX", "NY"],
        "description": [
            "X!20040101!20050101!123456789!000000001!000000001!N!ACME INCORPORATED !1 MAIN ST !X !CA!90001!",
            "no legacy block",
            "X!20040101!20050101!987654321!000000002!000000002!N!BETA L L C !2 MAIN ST !Y !TX!75001!",
            "",
        ],
    }
)


def test_legacy_vendor_names_become_awards_with_their_zip():
    awards, recipients, truth = legacy_name_holdout(FPDS)
    assert awards[["Company", "City", "State", "Zip"]].values.tolist() == [
        ["ACME INCORPORATED", "X", "CA", "90001"],
        ["BETA L L C", "Y", "TX", "75001"],
    ]
    assert truth["recipient_hash"].tolist() == [uei_recipient_hash("U1"), uei_recipient_hash("U2")]
    assert len(recipients) == 3


def test_dba_names_that_differ_from_every_legal_spelling_become_awards():
    awards, _, truth = dba_holdout(FPDS)
    assert awards["Company"].tolist() == ["ACME LABS"]  # "BETA" is BETA LLC without its designator
    assert truth["recipient_hash"].tolist() == [uei_recipient_hash("U1")]


def test_sbir_spellings_of_one_duns_hold_out_all_but_the_most_frequent():
    sbir = pd.DataFrame(
        {
            "Company": ["Acme, Inc.", "Acme, Inc.", "ACME INC", "Beta LLC"],
            "DUNS": ["111111111", "111111111", "111111111", "222222222"],
            "City": ["X", "X", "X", "Y"],
            "State": ["CA", "CA", "CA", "TX"],
            "Zip": ["90001", "90001", "90002", "75001"],
        }
    )
    awards, recipients, truth = duns_spelling_holdout(sbir)
    assert awards[["Company", "Zip"]].values.tolist() == [["ACME INC", "90002"]]
    assert set(recipients["legal_business_name"]) == {"Acme, Inc.", "Beta LLC"}
    assert (recipients["duns"] == "").all()  # only the name may join
    assert truth["recipient_hash"].tolist() == [uei_recipient_hash("111111111")]
