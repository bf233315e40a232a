"""The rules added for real names (docs/real-data.md): each joins the variant it was made for,
and each has a look-alike that must not join (twins, common words, holding companies).

Distinctiveness needs a table large enough to say which words are rare (`MIN_BITS`): those
tests pad the recipients with `FILLER` names."""

import pandas as pd
import pytest

from sbir_etl.enrichment import enrich_frame
from sbir_etl.linkage import names
from sbir_etl.linkage.names import normalize_name, normalize_names, second_names
from sbir_etl.linkage.rules import RULES, rules_disabled
from tests.core.conftest import awards, recipients

FILLER = [
    {"recipient_hash": f"h-filler-{i:04d}", "legal_business_name": f"FILLERCO{i:04d} WIDGETS INC", "state": "NE"}
    for i in range(600)
]


def one(award: dict, *recips: dict) -> pd.Series:
    return enrich_frame(awards(award), recipients(*recips)).iloc[0]


def joined(row: pd.Series) -> tuple[str, str | None, str]:
    hash_ = row.usaspending_recipient_hash
    return row.match_method, None if pd.isna(hash_) else hash_, row.match_reason


def r(hash_: str, name: str, state: str = "", city: str = "", **more: str) -> dict:
    return {"recipient_hash": hash_, "legal_business_name": name, "state": state, "city": city, **more}


# --- normalisation rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "registered"),
    [
        ("UniversitÃƒÂ© du QuÃƒÂ©bec A MontrÃƒÂ©al", "UNIVERSITE DU QUEBEC A MONTREAL"),  # mojibake
        ("LANDTEC INC (NOT INC)", "LANDTEC INC"),  # a remark
        ("TOYON RESEARCHCORP", "TOYON RESEARCH CORP."),  # a glued designator
        ("Univ. of British Columbia", "The University of British Columbia"),  # abbreviations
        ("Philips Electronics No. America Corp.", "PHILIPS ELECTRONICS NORTH AMERICA CORPORATION"),
        ("Kansas State Univ. Research Foundation", "KANSAS STATE UNIVERSITY RESEARCH FOUNDATION"),
        ("Advanced Ceramic Research", "ADVANCED CERAMICS RESEARCH, INC."),  # plurals
        ("General Mill, Inc.", "General Mills, Inc."),
        ("Q PEAK CORPORATED", "Q PEAK INCORPORATED"),  # a misspelt designator
        ("ROBOTIC RESEARCH OPCO LLC", "ROBOTIC RESEARCH LLC"),  # an informal one
        (
            "PHYSICS, MATERIALS AND APPLIED MATHMATICS RESEARCH LLC &",
            "Physics, Materials and Applied Mathmatics Research",
        ),
    ],
)
def test_a_real_variant_is_an_exact_name_join(variant, registered):
    assert normalize_name(variant) == normalize_name(registered)
    row = one({"Company": variant, "State": "MA"}, r("h-1", registered, "MA"), r("h-2", "BETA LABORATORIES", "MA"))
    assert joined(row) == ("name-exact", "h-1", "exact+state")


@pytest.mark.parametrize(
    ("one_name", "other_name"),
    [
        ("Université Laval", "Université du Québec"),  # repaired text is still compared whole
        ("Williams International", "William International"),  # the first word is a proper name: no plural
        ("Texas Research Inst", "Texas Research Instruments"),  # "inst" is an institute
        ("No Limits Inc", "North Limits Inc"),  # "no" only means "north" before "america"
        ("SEACORP, LLC", "SEA LLC"),  # too short a word to be a glued designator
        ("Cooperation Labs", "Corporation Labs"),  # a real word is no misspelt designator
        ("Zhang Wang And Li", "Zhang Wang"),  # "and" only comes off at the end
        ("Acme Glass Works", "Acme Glas Work"),  # "-ss" is no plural
    ],
)
def test_a_look_alike_normalises_differently(one_name, other_name):
    assert normalize_name(one_name) != normalize_name(other_name)


def test_a_rule_switched_off_stays_off_in_the_normalising_threads(monkeypatch):
    monkeypatch.setattr(names, "PARALLEL_MIN_ROWS", 2)
    many = pd.Series(["General Mills"] * 8)
    with rules_disabled("plurals"):
        assert set(normalize_names(many, workers=2).to_pylist()) == {"general mills"}
    assert set(normalize_names(many, workers=2).to_pylist()) == {"general mill"}


def test_each_rule_can_be_switched_off_to_measure_it():
    with rules_disabled("plurals", "abbreviations"):
        assert normalize_name("General Mills") == "general mills"
        assert normalize_name("Univ. of Utah") == "univ of utah"
    assert normalize_name("General Mills") == "general mill"
    with pytest.raises(ValueError, match="unknown matching rule"), rules_disabled("no such rule"):
        pass
    assert len(set(RULES)) == len(RULES)


def test_spacing_inside_a_word_scores_as_one_name():
    row = one(
        {"Company": "HIKINO ASSOCIATES LLC", "State": "NJ", "City": "Princeton"},
        r("h-hk", "HIKI NO ASSOCIATES", "NJ", "PRINCETON"),
    )
    assert joined(row)[:2] == ("name-fuzzy-auto", "h-hk")


# --- second names ----------------------------------------------------------------------------


def test_a_dba_or_fka_part_is_a_second_name_to_try():
    names = pd.Series(
        [
            "Epic Sales, Inc. Dba Epic Systems",
            "NCR (FKA NCR Corporation)",
            "INFO-OPS / INFOASSURE, INC.",
            "T/J TECHNOLOGIES INC",
            "LANDTEC INC (NOT INC)",
            "Acme Widgets",
        ]
    )
    assert second_names(names).to_pylist() == ["epic systems", "ncr", "infoassure", None, None, None]
    row = one({"Company": "Epic Sales, Inc. Dba Epic Systems", "State": "WI"}, r("h-epic", "EPIC SYSTEMS CORP", "WI"))
    assert joined(row) == ("name-exact", "h-epic", "second-name+state")
    # A recipient's own remark is one of its names too.
    nve = r("h-nve", "NVE CORP (FORMERLY NONVOLATILE ELECTRONICS, INC.)", "MN")
    assert joined(one({"Company": "Nonvolatile Electronics Inc", "State": "MN"}, nve))[:2] == ("name-exact", "h-nve")


def test_an_ambiguous_second_name_does_not_join():
    award = {"Company": "Zeta Corp DBA Precision Machining"}
    row = one(award, r("h-p1", "PRECISION MACHINING INC", "OH"), r("h-p2", "PRECISION MACHINING LLC", "TX"))
    assert pd.isna(row.usaspending_recipient_hash)


# --- metropolitan areas across a state line -------------------------------------------------


def test_an_exact_name_in_the_same_metro_area_across_a_state_line_joins():
    llvr = r("h-llvr", "LLVR SYSTEMS, LLC", "DC", "WASHINGTON")
    row = one({"Company": "LLVR SYSTEMS LLC", "State": "VA", "City": "Arlington"}, llvr)
    assert joined(row) == ("name-exact", "h-llvr", "exact+metro-area")
    assert row.match_confidence == "medium"
    with rules_disabled("cross-state metro areas"):
        off = one({"Company": "LLVR SYSTEMS LLC", "State": "VA", "City": "Arlington"}, llvr)
        assert (off.match_method, off.match_reason) == ("name-fuzzy-candidate", "other-state")


def test_a_bordering_state_outside_the_metro_area_or_a_rival_at_home_holds_it_back():
    llvr = r("h-llvr", "LLVR SYSTEMS, LLC", "DC", "WASHINGTON")
    # Roanoke VA borders nothing in DC's area: another state, and nothing rare about the name here.
    far = one({"Company": "LLVR SYSTEMS LLC", "State": "VA", "City": "Roanoke"}, llvr)
    assert (far.match_method, far.match_reason) == ("name-fuzzy-candidate", "other-state")
    # A near-identical name in the award's own state is doubt enough across a state line.
    home = r("h-home", "LLVR SYSTEM GROUP INC", "VA", "RESTON")
    held = one({"Company": "LLVR SYSTEMS LLC", "State": "VA", "City": "Arlington"}, llvr, home)
    assert (held.match_method, held.match_reason) == ("name-fuzzy-candidate", "rival-in-award-state")
    # Two carriers of the name in the area: ambiguous.
    two = one(
        {"Company": "LLVR SYSTEMS LLC", "State": "VA", "City": "Arlington"},
        llvr,
        r("h-llvr-md", "LLVR SYSTEMS INC", "MD", "BETHESDA"),
    )
    assert (two.match_method, two.match_reason, two.match_margin) == ("name-fuzzy-candidate", "ambiguous", 0.0)


# --- names cut at 30 characters --------------------------------------------------------------


def test_a_name_cut_at_thirty_characters_joins_the_name_it_is_the_head_of():
    full = r("h-crft", "COMBUSTION RESEARCH AND FLOW TECHNOLOGY INC", "PA", "PIPERSVILLE")
    row = one({"Company": "COMBUSTION RESEARCH AND FLOW T", "State": "PA", "City": "Dublin"}, full)
    assert joined(row) == ("name-fuzzy-auto", "h-crft", "truncated+state")
    # The registry cut the recipient's name: the award's full name starts with it.
    cut = r("h-seta", "SCIENCE, ENGINEERING & TECHNOL", "VA", "ARLINGTON")
    award = {"Company": "Science, Engineering, and Technology Associates Corporation", "State": "VA"}
    assert joined(one(award, cut))[:2] == ("name-fuzzy-auto", "h-seta")


def test_a_cut_name_that_heads_two_companies_or_is_not_cut_does_not_join():
    a = r("h-a", "COMBUSTION RESEARCH AND FLOW TECHNOLOGY INC", "PA")
    b = r("h-b", "COMBUSTION RESEARCH AND FLOW TESTING LLC", "PA")
    row = one({"Company": "COMBUSTION RESEARCH AND FLOW T", "State": "PA"}, a, b)
    assert (row.match_method, row.match_reason) == ("name-fuzzy-candidate", "rival-within-margin")
    # 29 characters: a complete name, not a cut one.
    short = one({"Company": "COMBUSTION RESEARCH AND FLOW", "State": "PA"}, a)
    assert short.match_method != "name-fuzzy-auto" or short.match_reason != "truncated+state"
    assert pd.isna(short.usaspending_recipient_hash)


# --- distinctiveness -------------------------------------------------------------------------

AEROASTRO = r("h-aero", "COMTECH AEROASTRO, INC", "VA", "ASHBURN")


def test_a_rare_name_inside_its_parents_name_joins_with_the_city():
    row = one({"Company": "AEROASTRO, INC.", "State": "VA", "City": "Ashburn"}, AEROASTRO, *FILLER)
    assert joined(row) == ("name-fuzzy-auto", "h-aero", "distinctive+city")
    # Without the city it is a candidate, held back because one name extends the other.
    held = one({"Company": "AEROASTRO, INC."}, AEROASTRO, *FILLER)
    assert (held.match_method, held.candidate_recipient_hash, held.match_reason) == (
        "name-fuzzy-candidate",
        "h-aero",
        "name-extends-other",
    )
    with rules_disabled("distinctive names"):
        off = one({"Company": "AEROASTRO, INC.", "State": "VA", "City": "Ashburn"}, AEROASTRO, *FILLER)
        assert pd.isna(off.usaspending_recipient_hash)


@pytest.mark.parametrize(
    ("typo", "registered"),
    [
        ("Kent State Universtiy", "KENT STATE UNIVERSITY"),
        ("Genetic Theraphy, Inc.", "GENETIC THERAPY INC"),
        ("The Trustess of Princeton University", "TRUSTEES OF PRINCETON UNIVERSITY"),
    ],
)
def test_a_distinctive_name_with_one_typo_joins_without_location(typo, registered):
    row = one({"Company": typo}, r("h-1", registered, "OH"), *FILLER)
    assert joined(row) == ("name-fuzzy-auto", "h-1", "distinctive+no-location")
    assert 90 <= row.match_score < 97  # below the score that joins any name without location


def test_a_distinctive_typo_in_a_table_too_small_to_judge_is_a_candidate():
    kent = r("h-kent", "KENT STATE UNIVERSITY", "OH", "KENT")
    # In a table too small to tell rare words from common ones, the same typo is a candidate.
    small = one({"Company": "Kent State Universtiy"}, kent, r("h-b", "BETA LABS"))
    assert (small.match_method, small.match_reason) == ("name-fuzzy-candidate", "no-corroboration")


def test_a_distinctive_exact_name_joins_across_a_distant_state():
    row = one(
        {"Company": "III N TECHNOLOGY INCORPORATED", "State": "KS"}, r("h-3n", "III N TECHNOLOGY INC", "TX"), *FILLER
    )
    assert joined(row) == ("name-exact", "h-3n", "exact+other-state+distinctive")


def test_a_common_name_is_not_distinctive():
    common = r("h-adt", "ADVANCED DEFENSE TECHNOLOGIES INC", "VA", "RESTON")
    row = one({"Company": "Advanced Technologies Corp", "State": "VA", "City": "Reston"}, common, *FILLER)
    assert pd.isna(row.usaspending_recipient_hash)
    far = one(
        {"Company": "TECHNOLOGY SERVICE CORP", "State": "TX"},
        r("h-ts", "TECHNOLOGY SERVICE CORPORATION", "MD"),
        *FILLER,
    )
    assert (far.match_method, far.match_reason) == ("name-fuzzy-candidate", "other-state")


def test_twins_in_two_lines_of_business_are_not_joined_however_rare():
    twin = r("h-qs", "QUORVEX SYSTEMS INC", "MA", "LOWELL")
    row = one({"Company": "Quorvex Robotics", "State": "MA", "City": "Lowell"}, twin, *FILLER)
    assert pd.isna(row.usaspending_recipient_hash)


def test_holding_companies_and_groups_are_not_joined_to_their_namesakes():
    harmonia = r("h-harm", "HARMONIA INCORPORATED", "VA", "BLACKSBURG")
    row = one({"Company": "Harmonia Holdings Group, LLC", "State": "VA", "City": "Blacksburg"}, harmonia, *FILLER)
    assert pd.isna(row.usaspending_recipient_hash)
    # Two firms share the rare word: neither owns it, so a third name with it is no evidence.
    holdings = r("h-zh", "ZANTHIQ HOLDINGS LLC", "VA", "RESTON")
    group = r("h-zg", "ZANTHIQ GROUP INC", "VA", "RESTON")
    out = enrich_frame(
        awards(
            {"Company": "Zanthiq Holdings", "State": "VA", "City": "Reston"},
            {"Company": "Zanthiq Partners", "State": "VA", "City": "Reston"},
        ),
        recipients(holdings, group, *FILLER),
    )
    assert (out.match_method[0], out.usaspending_recipient_hash[0]) == ("name-exact", "h-zh")
    assert pd.isna(out.usaspending_recipient_hash[1])


# --- reasons and margins in the output -------------------------------------------------------


def test_every_row_says_why_and_candidates_carry_their_margin():
    zeta = r("h-zeta", "ZETAFLUX ROBOTICS INC", "MA", "CAMBRIDGE", uei="KD6VWJ8MHRX5")
    rows = (
        {"Company": "x", "UEI": "KD6VWJ8MHRX5"},
        {"Company": "Zetaflux Robotcs", "State": "MA", "City": "Cambridge"},
        {"Company": "Zetaflux Robotcs", "State": "MA"},
        {"Company": "Nothing Like It"},
    )
    out = enrich_frame(awards(*rows), recipients(zeta, r("h-far", "ZETAFLOX ROBOTICS LLC", "MA", "BOSTON")))
    assert out.match_reason.tolist() == ["uei", "fuzzy+city", "no-corroboration", "no-similar-name"]
    # The rival in Boston does not count against the award in Cambridge; it does against "MA".
    assert pd.isna(out.match_margin[0]) and out.match_margin[1] == out.match_score[1]
    assert 4 <= out.match_margin[2] < out.match_score[2]
    near = enrich_frame(awards(*rows), recipients(zeta, r("h-near", "ZETAFLUX ROBOTIC LLC", "MA", "BOSTON")))
    assert near.match_reason[2] == "rival-within-margin" and near.match_margin[2] < 4
