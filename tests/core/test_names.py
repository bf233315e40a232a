import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sbir_etl.linkage import names
from sbir_etl.linkage.names import normalize_name


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("ADA Technologies, Inc.", "ada technologies"),
        ("ADA TECH INCORPORATED", "ada technologies"),
        ("Nareill Clear Instr. Corp.", "nareill clear instruments"),
        ("Acme Co., Inc.", "acme"),  # designators come off repeatedly
        ("A.B.C. Widgets L.L.C.", "abc widget"),  # plurals are singular after the first word
        ("Smith & Wesson Corp", "smith and wesson"),
        ("Müller Søn GmbH", "muller son"),
        ("Ørsted Łódź Ltd", "orsted lodz"),
        ("O'Brien Labs, LLC", "obrien laboratories"),
        ("The Boeing Company", "boeing"),
        ("  Oceanit   Laboratories, Inc. ", "oceanit laboratories"),
        ("Inc.", "inc"),  # nothing but a designator: kept, not emptied
        # Real FPDS spellings cut at 30 characters, and other registry habits.
        ("NAVMAR APPLIED SCIENCES CORPOR", "navmar applied sciences"),
        ("GLOBAL EMBEDDED TECHNOLOGIES I", "global embedded technologies"),
        ("MATERIALS RESEARCH& DESIGN, IN", "materials research and design"),
        ("ORBITAL TECHNOLOGIES COR", "orbital technologies"),
        ("Vitamin C", "vitamin c"),  # a short fragment only comes off after three words
        ("TOTAL QUALITY SYSTEMS INCORPORATED (4525)", "total quality systems"),
        ("DESIGN KNOWLEDGE COMPANY, THE", "design knowledge"),
        ("C F D RESEARCH CORP", "cfd research"),
        ("TIAX LIMITED LIABILITY COMPANY", "tiax"),
        ("Acme Limited Liability Co", "acme"),
        ("A B C L L C", "abc"),  # a spaced designator is not an initial
        # Real words that look like fragments stay.
        ("Sky's The Limit Inc", "skys the limit"),
        ("Zhang Wang And Li", "zhang wang and li"),
        ("", None),
        ("...", None),
    ],
)
def test_normalisation(raw, normalised):
    assert normalize_name(raw) == normalised


def test_variants_of_one_company_normalise_alike():
    variants = [
        "SPYTEK AEROSPACE CORPORATION",
        "Spytek Aerospace Corp.",
        "spytek aerospace corp",
        "SpyTek Aerospace, Corp",
    ]
    assert {normalize_name(v) for v in variants} == {"spytek aerospace"}


@settings(deadline=None)  # properties of the result, not its speed (the machine may be busy)
@given(st.text(max_size=40))
def test_normalisation_is_idempotent(name):
    once = normalize_name(name)
    assert once is None or normalize_name(once) == once


@settings(deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "acme",
                "inc",
                "co",
                "l.l.c.",
                "&",
                "corp",
                "the",
                ",",
                "ü",
                "labs",
                ".",
                "corpor",
                "c",
                "i",
                "in",
                "limited",
                "liability",
                "company",
                "(12)",
                "a",
                "b",
            ]
        ),
        max_size=9,
    )
)
def test_normalisation_is_idempotent_on_designator_soup(words):
    once = normalize_name(" ".join(words))
    assert once is None or normalize_name(once) == once


# The faster forms of the regex steps must rewrite exactly what the plain regex pass rewrote.
NAME_PIECES = [*"ab01 .,()&'-/\té", "the", "inc", "  ", " 42 "]
NAME_TEXT = st.lists(st.sampled_from(NAME_PIECES), max_size=12).map("".join)


@given(st.lists(st.one_of(st.none(), NAME_TEXT), max_size=30))
def test_punctuation_step_equals_the_plain_regex_pass(values: list[str | None]) -> None:
    arr = pa.array(values, type=pa.string())
    plain = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"[^a-z0-9]+", " "))
    assert names._punctuation(arr).to_pylist() == plain.to_pylist()


@pytest.mark.parametrize(
    ("needle", "pattern", "replacement"),
    [
        ("(", names._PARENTHESISED_NUMBER, " "),
        (",", names._INVERTED_THE, ""),
        (".", r"\b([a-z])\.(?:([a-z])\.)?(?:([a-z])\.?)?", r"\1\2\3"),
    ],
)
@given(values=st.lists(st.one_of(st.none(), NAME_TEXT), max_size=30))
def test_regex_steps_on_the_names_with_their_needle_equal_the_plain_pass(
    needle: str, pattern: str, replacement: str, values: list[str | None]
) -> None:
    arr = pa.array(values, type=pa.string())
    plain = pc.replace_substring_regex(arr, pattern, replacement)
    assert names._regex_where(needle, pattern, replacement)(arr).to_pylist() == plain.to_pylist()
