"""Company-name normalisation for matching.

`normalize_names` is idempotent (normalising a normalised name changes nothing) so names can be
normalised at any layer without drifting. Steps: Unicode -> ASCII transliteration, case folding,
`&` -> "and", dotted designators ("l.l.c." -> "llc"), punctuation -> space, common business
words to one spelling ("technology"/"tech" -> "technologies"), trailing legal designators removed
(repeatedly: "acme co., inc." -> "acme"), whitespace collapsed.

The pipeline runs in Arrow compute kernels, so 3.3M names normalise in about a second; only the
few non-ASCII names go through Python (unidecode).
"""

import os
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from unidecode import unidecode

from sbir_etl.linkage.text_arrays import TextLike, as_string_array

LEGAL_DESIGNATORS: tuple[str, ...] = (
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "cos",
    "companies",
    "llc",
    "l l c",
    "ltd",
    "limited",
    "lp",
    "llp",
    "lllp",
    "pllc",
    "plc",
    "pc",
    "pa",
    "limited liability company",
    "limited liability co",
    "limited liability partnership",
    "limited partnership",
    "gmbh",
    "ag",
    "sa",
    "bv",
    "nv",
    "pty",
    "srl",
)
# Registries cut long names at a fixed width (FPDS: 30 characters), leaving part of the
# designator: "NAVMAR APPLIED SCIENCES CORPOR", "GLOBAL EMBEDDED TECHNOLOGIES I". Fragments of three
# or more letters always come off; one- and two-letter ones only after three or more words.
_TRUNCATED_DESIGNATORS = ("incorporated", "corporation", "company", "limited")
# Prefixes that are words of their own ("limit", "comp") or designators already are left out.
_LONG_FRAGMENTS = tuple(
    sorted(
        {d[:k] for d in _TRUNCATED_DESIGNATORS for k in range(3, len(d))}
        - {"inc", "com", "comp", "lim", "limit", "corp"}
    )
)
_SHORT_FRAGMENTS = ("c", "i", "in")


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(sorted((w.replace(" ", r"\s") for w in words), key=len, reverse=True))


_TRAILING_DESIGNATORS = rf"(\s(?:{_alternation(LEGAL_DESIGNATORS + _LONG_FRAGMENTS)}))+$"
# Lazy: the fewest leading words (at least three) that leave a tail of designators and fragments.
_TRAILING_FRAGMENTS = (
    rf"^(\S+(?:\s\S+){{2,}}?)(?:\s(?:{_alternation(LEGAL_DESIGNATORS + _LONG_FRAGMENTS + _SHORT_FRAGMENTS)}))+$"
)
_ENDS_IN_SHORT_FRAGMENT = rf"\s(?:{_alternation(_SHORT_FRAGMENTS)})$"
# A registry's inverted article: "DESIGN KNOWLEDGE COMPANY, THE" (only after a comma: "Sky's The Limit").
_INVERTED_THE = r",\s*the\s*$"
_LEADING_THE = r"^(?:the\s)+"
# Codes some systems append in parentheses: "TOTAL QUALITY SYSTEMS INCORPORATED (4525)".
_PARENTHESISED_NUMBER = r"\(\s*[0-9]+\s*\)"
# Initials typed with spaces: "C F D RESEARCH" is "CFD RESEARCH".
_SPACED_INITIALS = re.compile(r"\b(?:[a-z] )+[a-z]\b")
_HAS_SPACED_INITIALS = r"(?:^|\s)[a-z]\s[a-z](?:\s|$)"
_SPACED_LLC = re.compile(r"\bl l c$")
# Business words that registries and award systems spell several ways; each maps to one form
# (itself a member, so normalisation stays idempotent).
CANONICAL_WORDS: dict[str, tuple[str, ...]] = {
    # The long form is the target: a typo in a long word ("tecnology") stays close to it.
    "technologies": ("technologies", "technology", "techs", "tech"),
    "laboratories": ("laboratories", "laboratory", "labs", "lab"),
    "systems": ("systems", "system", "sys"),
    "engineering": ("engineering", "engrg", "engr", "eng"),
    "international": ("international", "intl"),
    "sciences": ("sciences", "science", "sci"),
    "instruments": ("instruments", "instrument", "instr"),
    "research": ("research", "rsch"),
    "solutions": ("solutions", "solution", "soln"),
    "associates": ("associates", "assoc"),
    "manufacturing": ("manufacturing", "mfg"),
    "services": ("services", "service", "svcs"),
    "development": ("development", "dev"),
}
# Words that describe a line of business rather than name a company (in their normalised
# spelling). A name differing from another only by such words ("acme" / "acme systems") is
# plausibly the same company; two names differing by *other* words rarely are.
DESCRIPTOR_WORDS: frozenset[str] = frozenset(CANONICAL_WORDS) | frozenset(
    [
        "aerospace",
        "analytics",
        "consulting",
        "devices",
        "dynamics",
        "electronics",
        "energy",
        "enterprises",
        "group",
        "industries",
        "innovations",
        "materials",
        "optics",
        "photonics",
        "products",
        "robotics",
        "sensors",
        "software",
        "technical",
    ]
)
_CANONICAL_PATTERNS = [(rf"\b(?:{'|'.join(forms)})\b", target) for target, forms in CANONICAL_WORDS.items()]


def _transliterate(arr: pa.Array) -> pa.Array:
    ascii_mask = pc.fill_null(pc.string_is_ascii(arr), True)
    if pc.all(ascii_mask).as_py():
        return arr
    values = arr.to_pylist()
    mask = ascii_mask.to_pylist()
    return pa.array([v if ok else unidecode(v) for v, ok in zip(values, mask)], type=pa.string())


PARALLEL_MIN_ROWS = 200_000


def normalize_names(names: TextLike, workers: int | None = None) -> pa.Array:
    """Normalise an array of company names; nulls stay null, names that normalise to "" become null.

    Large arrays are split across `workers` threads (default: every core); Arrow kernels release the GIL.
    """
    arr = as_string_array(names)
    workers = workers or os.cpu_count() or 1
    if workers > 1 and len(arr) >= PARALLEL_MIN_ROWS:
        step = -(-len(arr) // workers)
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(_normalize, [arr.slice(i, step) for i in range(0, len(arr), step)]))
        return pa.concat_arrays(parts)
    return _normalize(arr)


def _join_spaced_initials(arr: pa.Array) -> pa.Array:
    """Only the few names with spaced initials go through Python; a spaced "l l c" designator
    stays a designator ("a b c l l c" -> "abc llc", not "abcllc")."""
    has = pc.fill_null(pc.match_substring_regex(arr, _HAS_SPACED_INITIALS), False)
    rows = np.flatnonzero(has.to_numpy(zero_copy_only=False))
    if not len(rows):
        return arr
    fixed = [
        _SPACED_INITIALS.sub(lambda m: m.group(0).replace(" ", ""), _SPACED_LLC.sub("llc", v))
        for v in arr.take(pa.array(rows)).to_pylist()
    ]
    return pc.replace_with_mask(arr, has, pa.array(fixed, type=pa.string()))


def _normalize(arr: pa.Array) -> pa.Array:
    arr = _transliterate(arr)
    arr = pc.ascii_lower(arr)
    arr = pc.replace_substring_regex(arr, _PARENTHESISED_NUMBER, " ")
    arr = pc.replace_substring_regex(arr, _INVERTED_THE, "")
    arr = pc.replace_substring(arr, "&", " and ")
    arr = pc.replace_substring(arr, "'", "")  # "o'brien" -> "obrien", "mac's" -> "macs"
    # Dotted single letters form one token: "l.l.c." -> "llc", "u.s.a" -> "usa".
    arr = pc.replace_substring_regex(arr, r"\b([a-z])\.(?:([a-z])\.)?(?:([a-z])\.?)?", r"\1\2\3")
    arr = pc.replace_substring_regex(arr, r"[^a-z0-9]+", " ")
    arr = pc.utf8_trim_whitespace(arr)
    arr = _join_spaced_initials(arr)
    for pattern, target in _CANONICAL_PATTERNS:
        arr = pc.replace_substring_regex(arr, pattern, target)
    # Designators only come off when something is left, so "the company" stays a name.
    stripped = pc.replace_substring_regex(arr, _TRAILING_DESIGNATORS, "")
    # With designators gone, only a name ending in a short fragment has more to lose; the
    # fragment pattern is slow, so it runs on those few names only.
    cut = pc.fill_null(pc.match_substring_regex(stripped, _ENDS_IN_SHORT_FRAGMENT), False)
    if pc.any(cut).as_py():
        cut_names = stripped.filter(cut)
        cut_names = pc.replace_substring_regex(cut_names, _TRAILING_FRAGMENTS, r"\1")
        stripped = pc.replace_with_mask(stripped, cut, pc.replace_substring_regex(cut_names, _TRAILING_DESIGNATORS, ""))
    stripped = pc.replace_substring_regex(stripped, _LEADING_THE, "")
    arr = pc.if_else(pc.equal(stripped, ""), arr, stripped)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def normalize_name(name: str | None) -> str | None:
    """Normalise one name (same rules as `normalize_names`)."""
    if name is None:
        return None
    return normalize_names(pa.array([name], type=pa.string()))[0].as_py()
