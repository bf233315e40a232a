"""Company-name normalisation for matching.

`normalize_names` is idempotent (normalising a normalised name changes nothing) so names can be
normalised at any layer without drifting. Its steps are a declared sequence (`STEPS`): mojibake
repaired (ftfy) and Unicode transliterated to ASCII, case folded, remarks and second names cut
off ("(FKA NCR CORPORATION)", "dba Epic Systems": `second_names` returns them), `&` -> "and",
dotted designators ("l.l.c." -> "llc"), punctuation -> space, common business words and
abbreviations to one spelling ("tech" -> "technologies", "univ" -> "university"), a designator
glued to a word split off ("researchcorp"), misspelt designators ("corporated") read as
designators, trailing legal designators removed (repeatedly: "acme co., inc." -> "acme"), plural
words singular ("ceramics" -> "ceramic"), whitespace collapsed.

Each step added for real-data misses can be switched off (`rules.rules_disabled`) so that the
benchmarks measure what it buys and costs on its own.

The pipeline runs in Arrow compute kernels, so 3.3M names normalise in about a second; only the
few non-ASCII names (and the few with remarks or misspelt designators) go through Python.
"""

import contextvars
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ftfy import fix_text
from rapidfuzz import fuzz, process
from unidecode import unidecode

from sbir_etl.linkage.rules import NORMALISATION_RULES, enabled
from sbir_etl.linkage.sorted_arrays import expand_ranges
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
# Abbreviations of words that are not descriptors, to their long form (as CANONICAL_WORDS):
# "Univ. of British Columbia", "Kansas State Univ. Research Foundation", "Texas Research Inst".
ABBREVIATED_WORDS: dict[str, tuple[str, ...]] = {
    "university": ("university", "univ"),
    "institute": ("institute", "inst"),
    "national": ("national", "natl"),
    "center": ("center", "centre", "ctr", "cntr"),
    "management": ("management", "mgmt"),
    "association": ("association", "assn"),
    "department": ("department", "dept"),
    "foundation": ("foundation", "fdn"),
    "brothers": ("brothers", "bros"),
}
# Abbreviations that are only safe inside a phrase ("no" is a word): "Philips Electronics No. America".
ABBREVIATED_PHRASES: dict[str, str] = {r"\bno america\b": "north america", r"\bso california\b": "southern california"}


_CANONICAL_FORMS: dict[str, str] = {form: target for target, forms in CANONICAL_WORDS.items() for form in forms}
_ABBREVIATED_FORMS: dict[str, str] = {form: target for target, forms in ABBREVIATED_WORDS.items() for form in forms}
_HAS_ABBREVIATED_PHRASE = "|".join(ABBREVIATED_PHRASES)

# Remarks and second names: "LANDTEC INC (NOT INC)", "(FKA NCR CORPORATION)", "EPIC SALES, INC. DBA
# EPIC SYSTEMS", "INFO-OPS / INFOASSURE, INC.". The part after the marker is another name of the
# company (`second_names`), not words to score against; a "/" only counts with spaces around it
# ("T/J TECHNOLOGIES" is one name).
_MARKERS = r"d\s?/\s?b\s?/\s?a|dba|f\s?/\s?k\s?/\s?a|fka|a\s?/\s?k\s?/\s?a|aka|formerly(?:\s+known\s+as)?|doing\s+business\s+as|trading\s+as"
_REMARK = re.compile(rf"\s*(?:\(|\s/(?=\s)|\s(?:{_MARKERS})(?=[\s:.]|$))", re.IGNORECASE)
_HAS_REMARK = rf"\(|\s/\s|\s(?:{_MARKERS})(?:[\s:.]|$)"
_LEADING_MARKER = re.compile(rf"^\s*(?:(?:{_MARKERS})\b[\s:.]*)?", re.IGNORECASE)
_NOT_A_SECOND_NAME = frozenset({"not", "inc", "the", "and"})

# A designator glued to a business word: "TOYON RESEARCHCORP".
_GLUED = re.compile(
    rf"^({'|'.join(sorted({f for forms in CANONICAL_WORDS.values() for f in forms if len(f) >= 4} | DESCRIPTOR_WORDS))})"
    r"(corporation|incorporated|corp|inc|llc|ltd)$"
)
# Misspelt and informal designators, read as a designator: "Q PEAK CORPORATED", "ROBOTIC RESEARCH
# OPCO LLC" ("operating company"). Beyond this list, a word of eight letters or more that looks
# like one (starts "inc", "cor" or "cop"; `fuzz.ratio` >= 85 to "incorporated" or "corporation") counts.
_INFORMAL_DESIGNATORS = frozenset({"opco", "corporated", "incoporated", "incorported", "incorprated", "coporation"})
_LONG_DESIGNATORS = ("incorporated", "corporation")
_DANGLING_AND = r"\sand$"  # "PHYSICS, MATERIALS AND APPLIED MATHMATICS RESEARCH LLC &"
_DANGLING_TAIL = rf"(\s(?:and|{_alternation(LEGAL_DESIGNATORS + _LONG_FRAGMENTS)}))+$"

# Plurals: a word of five letters or more after the first loses its final "s" ("ceramics",
# "mills"), "ies" becomes "y" ("therapies"). The first word is left alone: it is most often a
# proper name ("Philips", "Williams"). Words with a fixed spelling elsewhere in this module
# (business words, descriptors, designators and their fragments) keep theirs; "-ss", "-us",
# "-is", "-as", "-ys" are not plurals.
_FIXED_SPELLINGS = (
    frozenset(_CANONICAL_FORMS)
    | frozenset(CANONICAL_WORDS)
    | DESCRIPTOR_WORDS
    | frozenset(_ABBREVIATED_FORMS)
    | frozenset(LEGAL_DESIGNATORS)
    | frozenset(d + "s" for d in (*LEGAL_DESIGNATORS, *_LONG_FRAGMENTS))
)


_FIXED_PLURALS = sorted(w for w in _FIXED_SPELLINGS if len(w) >= 5 and w.endswith("s"))


def _singular(word: str) -> str:
    if len(word) < 5 or word in _FIXED_SPELLINGS or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) >= 6:
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and word[-2] not in "suiay" else word


def _misspelt_fixed_plurals(words: list[str]) -> set[str]:
    """The words that look like a misspelt business word or descriptor ("materails",
    "sytems"): they keep their "s", so they stay close to the word they misspell."""
    plural = [w for w in words if _singular(w) != w]
    if not plural:
        return set()
    near = process.cdist(plural, _FIXED_PLURALS, scorer=fuzz.ratio, score_cutoff=80, dtype=np.uint8)
    return {w for w, hit in zip(plural, near.max(axis=1) > 0) if hit}


def _repair_mojibake(arr: pa.Array) -> pa.Array:
    """ "UniversitÃƒÂ© du QuÃƒÂ©bec" -> "Université du Québec" (text decoded twice), by ftfy; only
    non-ASCII names can carry it, so only they go through Python."""
    return _python_on(arr, pc.invert(pc.fill_null(pc.string_is_ascii(arr), True)), fix_text)


def _transliterate(arr: pa.Array) -> pa.Array:
    return _python_on(arr, pc.invert(pc.fill_null(pc.string_is_ascii(arr), True)), unidecode)


def _python_on(arr: pa.Array, mask: pa.Array, fix: Callable[[str], str]) -> pa.Array:
    """`fix` applied to the names where `mask` is true; Arrow keeps the rest untouched."""
    return _arrow_on(arr, mask, lambda part: pa.array([fix(v) for v in part.to_pylist()], type=pa.string()))


def _arrow_on(arr: pa.Array, mask: pa.Array, fix: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """`fix`, an Arrow step, applied to the names where `mask` is true; the rest untouched."""
    if not pc.any(mask).as_py():
        return arr
    return pc.replace_with_mask(arr, mask, fix(arr.filter(mask)))


def _regex_where(needle: str, pattern: str, replacement: str) -> Callable[[pa.Array], pa.Array]:
    """`pattern` replaced in the names that contain `needle`, a text without which it cannot match:
    a substring test is several times cheaper than a regex pass, and most names have no match."""
    return lambda arr: _arrow_on(
        arr,
        pc.fill_null(pc.match_substring(arr, needle), False),
        lambda part: pc.replace_substring_regex(part, pattern, replacement),
    )


def _replace(text: str, replacement: str) -> Callable[[pa.Array], pa.Array]:
    return lambda arr: pc.replace_substring(arr, text, replacement)


def _matching(arr: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(arr, pattern), False)


def _first_remark(name: str) -> re.Match[str] | None:
    """The first remark marker with a name before it."""
    return next((m for m in _REMARK.finditer(name) if name[: m.start()].strip(" /.,-")), None)


def _cut_remark(name: str) -> str:
    found = _first_remark(name)
    return name[: found.start()] if found else name


def _cut_remarks(arr: pa.Array) -> pa.Array:
    """The name before its remark or second name (kept whole when nothing would be left)."""
    return _python_on(arr, _matching(arr, _HAS_REMARK), _cut_remark)


def _join_spaced_initials(arr: pa.Array) -> pa.Array:
    """Only the few names with spaced initials go through Python; a spaced "l l c" designator
    stays a designator ("a b c l l c" -> "abc llc", not "abcllc")."""
    return _python_on(
        arr,
        _matching(arr, _HAS_SPACED_INITIALS),
        lambda v: _SPACED_INITIALS.sub(lambda m: m.group(0).replace(" ", ""), _SPACED_LLC.sub("llc", v)),
    )


def _word_rules(vocabulary: list[str]) -> Callable[[str, bool], str]:
    """The spelling of one word (and whether it is the name's first), by the enabled rules."""
    glued, abbreviations = enabled("glued designators"), enabled("abbreviations")
    plurals, misspelt = enabled("plurals"), enabled("misspelt designators")
    keep_plural = _misspelt_fixed_plurals(vocabulary) if plurals else set()

    def spell(word: str, first: bool) -> str:
        if misspelt and (
            word in _INFORMAL_DESIGNATORS
            or len(word) >= 8
            and word[:3] in ("inc", "cor", "cop")
            and process.extractOne(word, _LONG_DESIGNATORS, scorer=fuzz.ratio, score_cutoff=85)
        ):
            return "inc"
        word = _CANONICAL_FORMS.get(word, word)
        if abbreviations:
            word = _ABBREVIATED_FORMS.get(word, word)
        if plurals and not first and word not in keep_plural:
            word = _singular(word)
        return word

    def rules(word: str, first: bool) -> str:
        split = _GLUED.match(word) if glued else None
        if split:
            return f"{spell(split.group(1), first)} {split.group(2)}"
        return spell(word, first)

    return rules


def _spell_words(arr: pa.Array) -> pa.Array:
    """Business words to one spelling ("tech" -> "technologies"), and the optional word rules
    (abbreviations, plurals, glued and misspelt designators), applied to each distinct word once:
    a name is split into words, the vocabulary mapped in Python, and only the names in which a
    word changes are joined again (about a quarter; taking and joining every word cost 1.8 s
    of the 3.3M recipient names' 7 s)."""
    lists = pc.split_pattern(arr, " ")
    offsets = lists.offsets.to_numpy()
    encoded = pc.dictionary_encode(pc.list_flatten(lists))
    vocabulary = encoded.dictionary.to_pylist()
    rules = _word_rules(vocabulary)
    spellings = [rules(w, True) for w in vocabulary] + [rules(w, False) for w in vocabulary]
    # A word's spelling as a name's first word is at its vocabulary id, as a later word one vocabulary on.
    spelling = encoded.indices.to_numpy().astype(np.int32)
    later = np.ones(len(spelling), dtype=bool)
    later[offsets[:-1][np.diff(offsets) > 0]] = False
    spelling[later] += len(vocabulary)
    changes = np.array([new != old for new, old in zip(spellings, vocabulary + vocabulary, strict=True)])
    changed_before = np.concatenate(([0], np.cumsum(changes[spelling])))
    renamed = changed_before[offsets[1:]] > changed_before[offsets[:-1]]
    if renamed.any():
        rows = np.flatnonzero(renamed)
        starts, counts = offsets[rows], offsets[rows + 1] - offsets[rows]
        words = pa.array(spellings, type=pa.string()).take(spelling[expand_ranges(starts, counts)])
        joined = pc.binary_join(pa.ListArray.from_arrays(np.concatenate(([0], np.cumsum(counts))), words), " ")
        arr = pc.replace_with_mask(arr, pa.array(renamed), joined)
    if enabled("abbreviations") and pc.any(_matching(arr, _HAS_ABBREVIATED_PHRASE)).as_py():
        for pattern, target in ABBREVIATED_PHRASES.items():
            arr = pc.replace_substring_regex(arr, pattern, target)
    return arr


def _strip_designators(arr: pa.Array) -> pa.Array:
    """Trailing designators and cut designator fragments off, then a leading "the"; a name
    that would be left empty keeps them ("the company" stays a name)."""
    stripped = pc.replace_substring_regex(arr, _TRAILING_DESIGNATORS, "")
    # With designators gone, only a name ending in a short fragment has more to lose; the
    # fragment pattern is slow, so it runs on those few names only.
    stripped = _arrow_on(stripped, _matching(stripped, _ENDS_IN_SHORT_FRAGMENT), _strip_fragments)
    stripped = pc.replace_substring_regex(stripped, _LEADING_THE, "")
    return pc.if_else(pc.equal(stripped, ""), arr, stripped)


def _strip_fragments(names: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(
        pc.replace_substring_regex(names, _TRAILING_FRAGMENTS, r"\1"), _TRAILING_DESIGNATORS, ""
    )


def _dangling_and(arr: pa.Array) -> pa.Array:
    """A trailing "and" comes off with the designators around it ("... RESEARCH LLC &")."""
    while True:  # each pass shortens the names it changes
        ends = _matching(arr, _DANGLING_AND)
        names = arr.filter(ends)
        stripped = _strip_designators(pc.replace_substring_regex(names, _DANGLING_TAIL, ""))
        stripped = pc.if_else(pc.equal(stripped, ""), names, stripped)
        if pc.all(pc.equal(stripped, names)).as_py() is not False:
            return arr
        arr = pc.replace_with_mask(arr, ends, stripped)


def _punctuation(arr: pa.Array) -> pa.Array:
    """Every run of other characters to one space, then trimmed. A name of letters, digits and
    single spaces only would come out as it went in (trimmed), so the regex runs on the others."""
    messy = _matching(arr, r"[^a-z0-9 ]|  ")
    return pc.utf8_trim_whitespace(
        _arrow_on(arr, messy, lambda part: pc.replace_substring_regex(part, r"[^a-z0-9]+", " "))
    )


@dataclass(frozen=True)
class Step:
    """One normalisation step. `optional` steps were added for the misses of real names and
    can be switched off (`rules.rules_disabled`) to measure each on its own."""

    name: str
    apply: Callable[[pa.Array], pa.Array]
    optional: bool = False


STEPS: tuple[Step, ...] = (
    Step("mojibake", _repair_mojibake, optional=True),
    Step("transliterate", _transliterate),
    Step("lower case", pc.ascii_lower),
    Step("parenthesised codes", _regex_where("(", _PARENTHESISED_NUMBER, " ")),
    Step("remarks and second names", _cut_remarks, optional=True),
    Step("inverted the", _regex_where(",", _INVERTED_THE, "")),
    Step("ampersand", _replace("&", " and ")),
    Step("apostrophes", _replace("'", "")),  # "o'brien" -> "obrien", "mac's" -> "macs"
    # Dotted single letters form one token: "l.l.c." -> "llc", "u.s.a" -> "usa".
    Step("dotted initials", _regex_where(".", r"\b([a-z])\.(?:([a-z])\.)?(?:([a-z])\.?)?", r"\1\2\3")),
    Step("punctuation", _punctuation),
    Step("spaced initials", _join_spaced_initials),
    Step("words", _spell_words),  # holds "glued designators", "abbreviations", "plurals", "misspelt designators"
    Step("designators", _strip_designators),
    Step("dangling and", _dangling_and, optional=True),
)
WORD_RULES: tuple[str, ...] = ("glued designators", "abbreviations", "plurals", "misspelt designators")
if {step.name for step in STEPS if step.optional} | set(WORD_RULES) != set(NORMALISATION_RULES):
    raise AssertionError("the optional normalisation steps and rules.NORMALISATION_RULES differ")


PARALLEL_MIN_ROWS = 200_000


def normalize_names(names: TextLike, workers: int | None = None) -> pa.Array:
    """Normalise an array of company names; nulls stay null, names that normalise to "" become null.

    Large arrays are split across `workers` threads (default: every core); Arrow kernels release the GIL.
    """
    arr = as_string_array(names)
    steps = tuple(step for step in STEPS if enabled(step.name))
    workers = workers or os.cpu_count() or 1
    if workers > 1 and len(arr) >= PARALLEL_MIN_ROWS:
        step = -(-len(arr) // workers)
        parts = [arr.slice(i, step) for i in range(0, len(arr), step)]
        # Each thread runs in a copy of this context, so rules switched off here stay off there.
        contexts = [contextvars.copy_context() for _ in parts]
        with ThreadPoolExecutor(workers) as pool:
            done = list(pool.map(lambda context, part: context.run(_normalize, part, steps), contexts, parts))
        return pa.concat_arrays(done)
    return _normalize(arr, steps)


def _normalize(arr: pa.Array, steps: tuple[Step, ...]) -> pa.Array:
    for step in steps:
        arr = step.apply(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def normalize_name(name: str | None) -> str | None:
    """Normalise one name (same rules as `normalize_names`)."""
    if name is None:
        return None
    return normalize_names(pa.array([name], type=pa.string()))[0].as_py()


def _second_name(name: str) -> str | None:
    found = _first_remark(name)
    return _LEADING_MARKER.sub("", name[found.end() :]).split(")")[0] if found else None


def second_names(names: TextLike) -> pa.Array:
    """The other name a company name carries in a remark ("X (FKA Y)", "X DBA Y", "X / Y"),
    normalised; null where there is none, or it is only a designator or a remark ("NOT INC")."""
    arr = as_string_array(names)
    if not enabled("remarks and second names"):
        return pa.nulls(len(arr), pa.string())
    lowered = pc.ascii_lower(arr)
    has = _matching(lowered, _HAS_REMARK)
    rows = np.flatnonzero(has.to_numpy(zero_copy_only=False))
    out = pa.nulls(len(arr), pa.string())
    if not len(rows):
        return out
    raw = [_second_name(v) for v in arr.take(pa.array(rows)).to_pylist()]
    found = normalize_names(pa.array(raw, type=pa.string())).to_pylist()
    kept = [
        n if n and len(n) >= 3 and n not in _NOT_A_SECOND_NAME and n not in LEGAL_DESIGNATORS else None for n in found
    ]
    return pc.replace_with_mask(out, has, pa.array(kept, type=pa.string()))


# FPDS cuts names at 30 characters, in any word: "INFORMATION SYSTEMS LABORATORI", "COMBUSTION
# RESEARCH AND FLOW T". A raw name of exactly that length may be the head of a longer one.
REGISTRY_NAME_WIDTHS: tuple[int, ...] = (30,)


def cut_at_registry_width(names: TextLike) -> pa.Array:
    """Per raw name (boolean): is it exactly as long as a registry's name field, so perhaps cut?"""
    length = pc.utf8_length(pc.utf8_trim_whitespace(as_string_array(names)))
    return pc.fill_null(pc.is_in(length, value_set=pa.array(REGISTRY_NAME_WIDTHS, type=length.type)), False)
