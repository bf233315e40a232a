"""Hypothesis strategies for SBIR <-> USAspending enrichment data, with ground truth.

    from pytest_sbir_validate import strategies as sbir_st

    @given(sbir_st.recipient_tables().flatmap(sbir_st.awards_with_truth))
    def test_my_matcher(case): ...

Identifiers follow the rules the core validates (`sbir_etl.linkage.identifiers`): a UEI is 12 characters
from A-Z/0-9 without I and O, not starting with 0; a DUNS is 9 digits, not all zero. Spelling
variants are the ones real exports show (case, legal designators, punctuation, "The", spacing).

Profiles: `SBIR_CI_PROFILE` ("sbir-ci": derandomized, no deadline, 30 examples) is registered on
import; load it with `hypothesis.settings.load_profile("sbir-ci")` (this project's top-level conftest.py
does so when the `CI` environment variable is set).
"""

from dataclasses import dataclass
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SBIR_CI_PROFILE = "sbir-ci"
settings.register_profile(
    SBIR_CI_PROFILE,
    derandomize=True,
    deadline=None,
    max_examples=30,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

UEI_FIRST = "ABCDEFGHJKLMNPQRSTUVWXYZ123456789"
UEI_REST = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
DIGITS = "0123456789"
AWARD_COLUMNS = ("Company", "Agency Tracking Number", "Contract", "UEI", "Duns", "City", "State", "Zip")

# Distinctive words so that two generated companies rarely look alike to a fuzzy matcher.
NAME_WORDS = (
    "Aurora",
    "Basalt",
    "Cobalt",
    "Dynamo",
    "Ember",
    "Fulcrum",
    "Gossamer",
    "Halcyon",
    "Indigo",
    "Juniper",
    "Kestrel",
    "Lodestar",
    "Meridian",
    "Nebula",
    "Obsidian",
    "Paragon",
    "Quasar",
    "Rampart",
    "Sextant",
    "Tundra",
    "Umbra",
    "Vanguard",
    "Wavelength",
    "Xenon",
    "Yarrow",
    "Zenith",
    "Anvil",
    "Bastion",
    "Cipher",
    "Dervish",
)
INDUSTRY_WORDS = (
    "Photonics",
    "Robotics",
    "Analytics",
    "Aerospace",
    "Biosciences",
    "Microsystems",
    "Materials",
    "Energy",
    "Acoustics",
    "Cybernetics",
    "Propulsion",
    "Genomics",
    "Instruments",
    "Telemetry",
    "Composites",
    "Optics",
)
DESIGNATORS = ("Inc", "Inc.", "Incorporated", "LLC", "L.L.C.", "Corp", "Corporation", "Co", "Ltd")
PLACES = (
    ("AUSTIN", "TX", "78701"),
    ("DAYTON", "OH", "45402"),
    ("BOULDER", "CO", "80302"),
    ("TUCSON", "AZ", "85701"),
    ("HUNTSVILLE", "AL", "35801"),
    ("ROANOKE", "VA", "24011"),
    ("MADISON", "WI", "53703"),
    ("ERIE", "PA", "16501"),
)


# --- identifiers ------------------------------------------------------------------------------


def valid_ueis() -> st.SearchStrategy[str]:
    """Well-formed SAM UEIs."""
    return st.builds(
        lambda first, rest: first + rest, st.sampled_from(UEI_FIRST), st.text(UEI_REST, min_size=11, max_size=11)
    )


def invalid_ueis() -> st.SearchStrategy[str]:
    """Values that stay invalid after the core's cleaning (trim, uppercase, drop spaces and hyphens)."""
    wrong_length = st.one_of(st.integers(1, 11), st.integers(13, 16)).flatmap(
        lambda n: st.text(UEI_REST, min_size=n, max_size=n)
    )
    with_bad_char = st.tuples(valid_ueis(), st.integers(0, 11), st.sampled_from("IOio#*./_+")).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]
    )
    starts_with_zero = valid_ueis().map(lambda u: "0" + u[1:])
    return st.one_of(wrong_length, with_bad_char, starts_with_zero)


def valid_duns() -> st.SearchStrategy[str]:
    """Canonical 9-digit DUNS (not all zeros)."""
    return st.text(DIGITS, min_size=9, max_size=9).filter(lambda d: d != "000000000")


def duns_spellings(duns: str) -> st.SearchStrategy[str]:
    """Ways a valid DUNS reaches an export and that the core repairs: as is, float suffix, hyphens, lost zeros."""
    options = [duns, f"{duns}.0", f"{duns[:3]}-{duns[3:6]}-{duns[6:]}", f" {duns} "]
    if duns.startswith("0"):
        options.append(duns.lstrip("0"))
    return st.sampled_from(options)


def invalid_duns() -> st.SearchStrategy[str]:
    """Values that stay invalid after the core's repair: letters, more than 9 digits, all zeros, real decimals."""
    return st.one_of(
        st.tuples(valid_duns(), st.integers(0, 8), st.sampled_from("ABXZ#")).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]
        ),
        st.text(DIGITS, min_size=10, max_size=12).filter(lambda d: d.lstrip("0") and len(d.lstrip("0")) > 9),
        st.integers(1, 9).map(lambda n: "0" * n),
        valid_duns().map(lambda d: d + ".5"),
    )


# --- names ------------------------------------------------------------------------------------


def company_names() -> st.SearchStrategy[str]:
    """Plausible company names: one or two distinctive words, an industry word, a designator."""
    return st.builds(
        lambda words, industry, designator: " ".join([*words, industry] + ([designator] if designator else [])),
        st.lists(st.sampled_from(NAME_WORDS), min_size=1, max_size=2, unique=True),
        st.sampled_from(INDUSTRY_WORDS),
        st.one_of(st.none(), st.sampled_from(DESIGNATORS)),
    )


def _strip_designator(name: str) -> str:
    words = name.split()
    designators = {d.upper() for d in DESIGNATORS}
    return " ".join(words[:-1]) if words and words[-1].upper() in designators else name


def name_variants(name: str) -> st.SearchStrategy[str]:
    """Spellings of `name` that real exports use and that normalise to the same name.

    Case, a different or missing legal designator, a comma before it, a leading "The", doubled
    spaces.
    """
    base = _strip_designator(name)
    return st.builds(
        lambda case, designator, comma, the, spaces: _apply_variant(base, case, designator, comma, the, spaces),
        st.sampled_from(("as-is", "upper", "lower", "title")),
        st.one_of(st.none(), st.sampled_from(DESIGNATORS)),
        st.booleans(),
        st.booleans(),
        st.booleans(),
    )


def _apply_variant(base: str, case: str, designator: str | None, comma: bool, the: bool, spaces: bool) -> str:
    text = ("The " if the else "") + base
    if designator:
        text += ("," if comma else "") + " " + designator
    text = {"upper": str.upper, "lower": str.lower, "title": str.title}.get(case, lambda s: s)(text)
    return text.replace(" ", "  ") if spaces else text


# --- tables -----------------------------------------------------------------------------------


@st.composite
def recipient_tables(draw: Any, min_size: int = 1, max_size: int = 8) -> pd.DataFrame:
    """USAspending-like recipients: unique hashes, UEIs, DUNS and normalised names; some lack a DUNS."""
    from sbir_etl.linkage.names import normalize_name

    n = draw(st.integers(min_size, max_size))
    # Distinct normalised names, and distinct first words to keep companies apart for the fuzzy
    # matcher too. Drawn unique (not filtered afterwards), so the table has exactly n rows.
    names = draw(
        st.lists(
            company_names(), min_size=n, max_size=n, unique_by=(lambda s: normalize_name(s), lambda s: s.split()[0])
        )
    )
    ueis = draw(st.lists(valid_ueis(), min_size=n, max_size=n, unique=True))
    duns = draw(st.lists(valid_duns(), min_size=n, max_size=n, unique=True))
    has_duns = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    places = draw(st.lists(st.sampled_from(PLACES), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "recipient_hash": [f"r-{i:04d}" for i in range(n)],
            "legal_business_name": [nm.upper() for nm in names],
            "uei": ueis,
            "duns": [d if keep else "" for d, keep in zip(duns, has_duns)],
            "city": [p[0] for p in places],
            "state": [p[1] for p in places],
            "zip5": [p[2] for p in places],
        }
    )


EVIDENCE = ("uei", "duns", "name", "uei-vs-name", "invalid-ids", "absent")


@dataclass(frozen=True)
class AwardsWithTruth:
    """Generated awards and, per award key, the recipient they belong to and the evidence given.

    `truth` columns: the award key, `recipient_hash` (None for a company absent from the table),
    `evidence` (one of EVIDENCE) and `named_recipient_hash` (whose name the award carries).
    """

    recipients: pd.DataFrame
    awards: pd.DataFrame
    truth: pd.DataFrame


@st.composite
def awards_with_truth(draw: Any, recipients: pd.DataFrame, min_size: int = 1, max_size: int = 12) -> AwardsWithTruth:
    """Awards generated against `recipients`, each with known ground truth.

    - uei: the recipient's UEI (name and location left blank);
    - duns: a repairable spelling of its DUNS, no UEI;
    - name: a spelling variant of its name, its city/state, no identifiers;
    - uei-vs-name: its UEI, but *another* recipient's name (identifier must win);
    - invalid-ids: an invalid UEI and DUNS that the recipient table also holds verbatim, an absent name;
    - absent: a company not in the table, no identifiers.
    """
    n = draw(st.integers(min_size, max_size))
    rows, truth = [], []
    absent_words = [
        w for w in NAME_WORDS if all(not nm.upper().startswith(w.upper()) for nm in recipients["legal_business_name"])
    ]
    for i in range(n):
        kind = draw(st.sampled_from(EVIDENCE))
        r = recipients.iloc[draw(st.integers(0, len(recipients) - 1))]
        if kind == "duns" and not r["duns"]:
            kind = "uei"
        if kind == "uei-vs-name" and len(recipients) < 2:
            kind = "uei"
        key = {"Agency Tracking Number": f"T-{i:04d}", "Contract": f"C-{i:04d}"}
        row = {"Company": "", "UEI": "", "Duns": "", "City": "", "State": "", "Zip": ""}
        named, target = None, r["recipient_hash"]
        if kind == "uei":
            row.update(Company=draw(name_variants(r["legal_business_name"])), UEI=r["uei"])
            named = r["recipient_hash"]
        elif kind == "duns":
            row.update(Company=draw(name_variants(r["legal_business_name"])), Duns=draw(duns_spellings(r["duns"])))
            named = r["recipient_hash"]
        elif kind == "name":
            row.update(
                Company=draw(name_variants(r["legal_business_name"])),
                City=r["city"].title(),
                State=r["state"],
                Zip=r["zip5"],
            )
            named = r["recipient_hash"]
        elif kind == "uei-vs-name":
            others = recipients[recipients["recipient_hash"] != r["recipient_hash"]]
            other = others.iloc[draw(st.integers(0, len(others) - 1))]
            row.update(
                Company=draw(name_variants(other["legal_business_name"])),
                UEI=r["uei"],
                City=other["city"].title(),
                State=other["state"],
                Zip=other["zip5"],
            )
            named = other["recipient_hash"]
        else:  # invalid-ids or absent: a company the table does not hold
            target = None
            words = absent_words or ["Quixotic"]
            row.update(Company=f"{draw(st.sampled_from(words))} Zygote Works {i}")
            if kind == "invalid-ids":
                row.update(UEI=draw(invalid_ueis()), Duns=draw(invalid_duns()))
        rows.append({**key, **row})
        truth.append({**key, "recipient_hash": target, "evidence": kind, "named_recipient_hash": named})
    awards = pd.DataFrame(rows, columns=list(AWARD_COLUMNS))
    if any(t["evidence"] == "invalid-ids" for t in truth):
        # Plant the awards' invalid identifiers in the recipient table: they must still never match.
        planted = awards.loc[[t["evidence"] == "invalid-ids" for t in truth], ["UEI", "Duns"]]
        extra = pd.DataFrame(
            {
                "recipient_hash": [f"r-trap-{j:03d}" for j in range(len(planted))],
                "legal_business_name": [f"TRAP {w} HOLDINGS" for w in range(len(planted))],
                "uei": planted["UEI"].tolist(),
                "duns": planted["Duns"].tolist(),
                "city": "",
                "state": "",
                "zip5": "",
            }
        )
        recipients = pd.concat([recipients, extra], ignore_index=True)
    return AwardsWithTruth(recipients, awards, pd.DataFrame(truth))


__all__ = [
    "SBIR_CI_PROFILE",
    "AwardsWithTruth",
    "awards_with_truth",
    "company_names",
    "duns_spellings",
    "invalid_duns",
    "invalid_ueis",
    "name_variants",
    "recipient_tables",
    "valid_duns",
    "valid_ueis",
]
