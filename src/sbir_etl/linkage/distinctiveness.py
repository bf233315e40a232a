"""How much the words two names share say about identity: term frequency as evidence.

"Kent State Universtiy" has one plausible owner among 3.3M recipient names; "Advanced
Technologies" has hundreds. As splink's term-frequency adjustments do, a shared word counts for
more the rarer it is among the recipient names: a word carried by `df` of `N` names is worth
log2(N / df) bits. A name pair is *distinctive* when

- the words both names share (exactly, or as a one-typo spelling of a word of five letters or
  more) include one that is not a generic business word (`GENERIC_WORDS`: descriptors, "advanced",
  "national", "holdings", ...; common in any registry whatever this table says),
- those words are worth at least `MIN_BITS` (a table of a few hundred names says nothing about
  which words are rare; 9 bits is a word one name in 512 carries), and
- every recipient whose names contain all of them is the candidate itself: it is their only
  owner in the table. Words too common to have postings in the blocking index
  (`blocking_max_key_share`) are not used to narrow the owners down, which can only add owners.

The cascade uses distinctiveness to let a match join with less corroboration than a common name
needs (see `cascade.distinctive_may_join`), never to overrule a rival company.
"""

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from rapidfuzz import fuzz

from sbir_etl.linkage.names import ABBREVIATED_WORDS, DESCRIPTOR_WORDS, LEGAL_DESIGNATORS
from sbir_etl.linkage.recipients import RecipientIndex

MIN_BITS = 9.0
TYPO_CUTOFF = 85.0  # fuzz.ratio at which two words of five letters or more are one word misspelt
MAX_OWNER_NAMES = 64  # more names than this carrying the shared words: not one owner
# Candidate generation scores every name behind a word at most this many names carry, however
# little else the names share (`BlockingIndex.candidates(rare_df=...)`).
RARE_WORD_DF = 5

GENERIC_WORDS: frozenset[str] = (
    DESCRIPTOR_WORDS
    | frozenset(ABBREVIATED_WORDS)
    | frozenset(LEGAL_DESIGNATORS)
    | frozenset(
        [
            "a",
            "an",
            "and",
            "at",
            "by",
            "de",
            "for",
            "in",
            "of",
            "on",
            "the",
            "to",
            "usa",
            "us",
            "america",
            "american",
            "national",
            "international",
            "united",
            "general",
            "global",
            "federal",
            "state",
            "states",
            "county",
            "city",
            "advanced",
            "applied",
            "innovative",
            "integrated",
            "defense",
            "management",
            "holdings",
            "holding",
            "partners",
            "partner",
            "company",
            "north",
            "south",
            "east",
            "west",
            "northern",
            "southern",
            "eastern",
            "western",
            "new",
            "first",
            "mission",
            "strategic",
            "precision",
            "creative",
            "data",
            "information",
            "design",
            "medical",
            "health",
            "environmental",
            "power",
        ]
    )
)


@dataclass(frozen=True)
class Distinctiveness:
    """Per name pair: whether it is distinctive, the bits of the shared words, how many
    recipients own them (0 when too many to count or none rare enough to narrow them down)."""

    distinctive: np.ndarray
    bits: np.ndarray
    owners: np.ndarray


def shared_words(award_name: str, recipient_name: str) -> list[str]:
    """The recipient name's words the award name also has, exactly or misspelt once."""
    mine = award_name.split()
    exact = set(mine)
    spare = [w for w in mine if len(w) >= 5 and w not in recipient_name.split()]
    return [
        w
        for w in dict.fromkeys(recipient_name.split())
        if w in exact or (len(w) >= 5 and any(fuzz.ratio(w, s) >= TYPO_CUTOFF for s in spare))
    ]


def assess(
    index: RecipientIndex, award_names: list[str], recipient_names: list[str], recipients: np.ndarray
) -> Distinctiveness:
    """Distinctiveness of each (award name, recipient name, recipient row) triple."""
    n = len(award_names)
    words = [shared_words(a, r) for a, r in zip(award_names, recipient_names)]
    flat = [w for ws in words for w in ws]
    token_ids = index.blocking.token_ids(pa.array(flat, type=pa.string())) if flat else np.array([], int)
    total = max(len(index.names), 1)
    distinctive, bits, owners = np.zeros(n, dtype=bool), np.zeros(n), np.zeros(n, dtype=np.int64)
    at = 0
    for i, ws in enumerate(words):
        ids = token_ids[at : at + len(ws)]
        at += len(ws)
        if not ws or all(w in GENERIC_WORDS for w in ws) or (ids < 0).any():
            continue
        df = index.blocking.key_df[ids]
        bits[i] = float(sum(math.log2(total / max(int(d), 1)) for d in df))
        if bits[i] < MIN_BITS:
            continue
        owned_by = _owner_rows(index, ids[np.argsort(df)])
        owners[i] = len(owned_by)
        distinctive[i] = owned_by == {int(recipients[i])}
    return Distinctiveness(distinctive=distinctive, bits=bits, owners=owners)


def _owner_names(index: RecipientIndex, ids_rarest_first: np.ndarray) -> np.ndarray | None:
    """Distinct names containing every word (by token id) that has postings; None when none has."""
    blocking = index.blocking
    names: np.ndarray | None = None
    for token in ids_rarest_first:
        lo, hi = blocking.offsets[token], blocking.offsets[token + 1]
        if hi == lo:  # too common to be indexed: cannot narrow the owners down
            continue
        posting = blocking.members[lo:hi]
        names = posting if names is None else np.intersect1d(names, posting, assume_unique=True)
        if len(names) <= 1:
            break
    return names


def _owner_rows(index: RecipientIndex, ids_rarest_first: np.ndarray) -> set[int]:
    """The recipients owning the names that contain every word; empty when they cannot be
    counted (no word rare enough, or more than MAX_OWNER_NAMES names)."""
    names = _owner_names(index, ids_rarest_first)
    if names is None or len(names) > MAX_OWNER_NAMES:
        return set()
    return {int(r) for name in names for r in index.members(int(name))}
