"""Input column names (configurable) and the output columns the core adds.

SBIR.gov exports vary between releases (`DUNS` vs `Duns`, extra or missing columns), so award
headers are matched case- and whitespace-insensitively against a list of accepted spellings.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from sbir_etl.errors import InputSchemaError


class MatchMethod(IntEnum):
    """How an award was settled, in the order the cascade tries them; the methods before
    `NAME_FUZZY_CANDIDATE` join. The value is the code the cascade stores per award."""

    UEI_EXACT = 0
    DUNS_EXACT = 1
    NAME_EXACT = 2
    NAME_FUZZY_AUTO = 3
    NAME_FUZZY_CANDIDATE = 4
    UNMATCHED = 5

    @property
    def label(self) -> str:
        """The name written to `match_method`: "uei-exact", "name-fuzzy-auto", ..."""
        return self.name.lower().replace("_", "-")

    @property
    def joins(self) -> bool:
        return self < MatchMethod.NAME_FUZZY_CANDIDATE


MATCH_METHODS: tuple[str, ...] = tuple(m.label for m in MatchMethod)
JOINED_METHODS: frozenset[str] = frozenset(m.label for m in MatchMethod if m.joins)
IDENTIFIER_METHODS: frozenset[str] = frozenset({MatchMethod.UEI_EXACT.label, MatchMethod.DUNS_EXACT.label})
NAME_METHODS: frozenset[str] = JOINED_METHODS - IDENTIFIER_METHODS
"""The joins a company name made (exact or fuzzy), as opposed to an identifier."""
CANDIDATE: str = MatchMethod.NAME_FUZZY_CANDIDATE.label
UNMATCHED: str = MatchMethod.UNMATCHED.label
CONFIDENCE_LEVELS: tuple[str, ...] = ("high", "medium", "low", "none")

OUTPUT_COLUMNS: tuple[str, ...] = (
    "match_method",
    "match_score",
    "match_confidence",
    "usaspending_recipient_hash",
    "usaspending_uei",
    "usaspending_duns",
    "usaspending_legal_business_name",
    "candidate_recipient_hash",
    "match_reason",  # the evidence that carried a join ("exact+city"), or why a candidate was held back
    "match_margin",  # a name match's score over the best rival company's (0: a tie)
)
FLOAT_OUTPUT_COLUMNS: frozenset[str] = frozenset({"match_score", "match_margin"})


def _canonical(header: str) -> str:
    return " ".join(header.strip().lower().replace("_", " ").split())


@dataclass(frozen=True)
class AwardColumns:
    """Which award-file headers hold what. Each field lists accepted spellings, first wins."""

    company: Sequence[str] = ("Company",)
    uei: Sequence[str] = ("UEI",)
    duns: Sequence[str] = ("DUNS", "Duns")
    key: Sequence[str] = ("Agency Tracking Number", "Contract")
    state: Sequence[str] = ("State",)
    city: Sequence[str] = ("City",)
    zip: Sequence[str] = ("Zip", "ZIP", "Zip Code")

    REQUIRED = ("company",)
    ROLES = ("company", "uei", "duns", "state", "city", "zip")

    def resolve(self, headers: Sequence[str], path: str | Path) -> "ResolvedAwardColumns":
        """Map roles to the headers of one file; raise naming the file when a required role is absent."""
        by_canonical = {_canonical(h): h for h in headers}
        found: dict[str, str | None] = {}
        for role in self.ROLES:
            spellings = getattr(self, role)
            found[role] = next((by_canonical[_canonical(s)] for s in spellings if _canonical(s) in by_canonical), None)
        missing = [f"{role} ({' or '.join(getattr(self, role))})" for role in self.REQUIRED if found[role] is None]
        key = [by_canonical.get(_canonical(k)) for k in self.key]
        missing += [k for k, h in zip(self.key, key) if h is None]
        if missing:
            raise InputSchemaError(
                path, missing, headers, hint="Rename the column or set award column names in the config file"
            )
        return ResolvedAwardColumns(key=tuple(h for h in key if h is not None), **found)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ResolvedAwardColumns:
    """The headers of one award file, per role (None when the file has no such column)."""

    company: str
    uei: str | None
    duns: str | None
    state: str | None
    city: str | None
    zip: str | None
    key: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RecipientColumns:
    """USAspending recipient-lookup column names."""

    recipient_hash: str = "recipient_hash"
    legal_business_name: str = "legal_business_name"
    uei: str = "uei"
    duns: str = "duns"
    parent_uei: str = "parent_uei"
    parent_duns: str = "parent_duns"
    parent_legal_business_name: str = "parent_legal_business_name"
    city: str = "city"
    state: str = "state"
    zip5: str = "zip5"
    alternate_names: str = "alternate_names"

    REQUIRED = ("recipient_hash", "legal_business_name", "uei", "duns")
    OPTIONAL = ("parent_uei", "parent_duns", "parent_legal_business_name", "city", "state", "zip5", "alternate_names")

    def resolve(self, headers: Sequence[str], path: str | Path) -> dict[str, str | None]:
        """Map each role to its header in this file; raise naming the file when a required one is absent."""
        present = set(headers)
        missing = [getattr(self, role) for role in self.REQUIRED if getattr(self, role) not in present]
        if missing:
            raise InputSchemaError(
                path, missing, headers, hint="Rename the column or set recipient column names in the config file"
            )
        return {
            role: (getattr(self, role) if getattr(self, role) in present else None)
            for role in self.REQUIRED + self.OPTIONAL
        }
