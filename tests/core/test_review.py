"""The review queue: candidates only, most likely right first, with the candidate's name."""

import pandas as pd
import pytest

from sbir_etl.cli import main
from sbir_etl.enrichment import enrich_frame
from sbir_etl.evaluation.review import CANDIDATE_PRECISION, calibrate, likelihood, review_queue
from tests.core.conftest import awards, recipients

RECIPIENTS = recipients(
    {"recipient_hash": "h-acme", "legal_business_name": "ACME WIDGETS INC", "state": "CA", "city": "PASADENA"},
    {"recipient_hash": "h-zeta", "legal_business_name": "ZETAFLUX ROBOTICS INC", "state": "MA", "city": "BOSTON"},
    {"recipient_hash": "h-tw1", "legal_business_name": "TWIN PEAKS LLC", "state": "OR"},
    {"recipient_hash": "h-tw2", "legal_business_name": "TWIN PEAKS INC", "state": "WA"},
)
AWARDS = awards(
    {"Company": "Acme Widgets", "State": "CA"},  # joined: not in the queue
    {"Company": "Acme Widgets", "State": "TX"},  # exact name, another state
    {"Company": "Zetaflux Robotcs", "State": "MA"},  # a typo, the state only
    {"Company": "Twin Peaks"},  # two recipients carry the name
    {"Company": "Nothing Alike"},  # unmatched: not in the queue
)


def test_the_queue_holds_the_candidates_ranked_by_measured_likelihood():
    queue = review_queue(enrich_frame(AWARDS, RECIPIENTS), RECIPIENTS)
    assert sorted(queue["Agency Tracking Number"]) == ["A1", "A2", "A3"]
    assert queue["rank"].tolist() == [1, 2, 3]
    assert queue["likelihood"].is_monotonic_decreasing
    assert list(queue.columns[:6]) == [
        "rank",
        "likelihood",
        "match_reason",
        "match_score",
        "match_margin",
        "candidate_recipient_hash",
    ]
    by_award = queue.set_index("Agency Tracking Number")
    assert by_award.loc["A1", "candidate_legal_business_name"] == "ACME WIDGETS INC"
    assert by_award.loc["A1", "match_reason"] == "other-state"
    assert by_award.loc["A3", "match_reason"] == "ambiguous"
    assert by_award.loc["A2", "match_reason"] == "no-corroboration"


def test_likelihood_follows_the_calibration_table_by_reason_and_score_band():
    got = likelihood(
        pd.Series(["other-state", "other-state", "score-below-auto", "never-seen"]), pd.Series([100, 96, 87, 90])
    )
    assert got.tolist() == [
        CANDIDATE_PRECISION["other-state"][4],
        CANDIDATE_PRECISION["other-state"][3],
        CANDIDATE_PRECISION["score-below-auto"][1],
        0.05,
    ]


def test_calibrate_counts_candidates_pointing_at_the_truth():
    enriched = enrich_frame(AWARDS, RECIPIENTS)
    truth = pd.DataFrame(
        {
            "Agency Tracking Number": ["A1", "A2", "A3"],
            "Contract": ["C1", "C2", "C3"],
            "recipient_hash": ["h-acme", "h-zeta", "h-tw2"],
        }
    )
    table = calibrate(enriched, truth, ["Agency Tracking Number", "Contract"]).set_index("reason")
    assert table.loc["other-state", "right"] == 1.0 and table.loc["no-corroboration", "right"] == 1.0
    assert table.loc["ambiguous", "right"] == 0.0  # the tie went to h-tw1, the truth is h-tw2
    assert table["candidates"].sum() == 3


def test_review_command_writes_the_queue(tmp_path, capsys):
    enriched = tmp_path / "enriched.csv"
    enrich_frame(AWARDS, RECIPIENTS).to_csv(enriched, index=False)
    RECIPIENTS.to_csv(tmp_path / "recipients.csv", index=False)
    out = tmp_path / "review.csv"
    args = ["review", "--enriched", str(enriched), "--out", str(out), "--recipients", str(tmp_path / "recipients.csv")]
    assert main(args) == 0
    assert "3 candidates to review" in capsys.readouterr().out
    written = pd.read_csv(out, dtype=str)
    assert written["rank"].tolist() == ["1", "2", "3"] and "candidate_legal_business_name" in written


def test_review_of_a_file_that_is_not_enriched_is_a_clear_error(tmp_path, capsys):
    plain = tmp_path / "awards.csv"
    AWARDS.to_csv(plain, index=False)
    with pytest.raises(ValueError, match="output of `sbir-etl enrich`"):
        review_queue(AWARDS)
    assert main(["review", "--enriched", str(plain), "--out", str(tmp_path / "r.csv")]) == 2
    assert "output of `sbir-etl enrich`" in capsys.readouterr().err
