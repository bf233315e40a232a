"""Real-data scenarios for the enrichment core, built from FPDS and SBIR.gov files (pure functions, no I/O).

FPDS Phase III actions carry a UEI on every row and spell the same company's
`legal_business_name` several ways ("X, INC." vs "X INCORPORATED"). Grouped by UEI they are a
real recipient table, and the spellings that share a UEI are real positives for name matching:

* `fpds_recipients` - one recipient per UEI: its most frequent spelling as the legal name,
  optionally the other spellings (and the UEI's `dba_name`s) as `alternate_names`; no DUNS, no ZIP.
* `spelling_holdout` - hold out every non-primary spelling of a multi-spelling UEI as an award
  without identifiers, whose true recipient is that UEI: name (and location) must do the work.
* `legacy_name_holdout` - the vendor name, city, state and ZIP that legacy FPDS descriptions
  carry, on rows whose UEI is known: an older registry's spelling of the same company.
* `dba_holdout` - FPDS `dba_name`s as awards: the name a company trades under, whose UEI is known.
* `duns_spelling_holdout` - SBIR.gov's own spellings of one DUNS, with their ZIPs.
* `overlap_outcomes` - for SBIR.gov awards that have no ground truth, how the awards whose
  normalised name also appears among FPDS spellings were settled.
* `legacy_duns_links` - the few DUNS -> UEI links legacy FPDS descriptions carry: an
  identifier-based truth for the SBIR.gov awards whose DUNS is linked.
* `difference_kind` - what differs between a held-out name and its true recipient's
  ("cut at 30 characters", "plural or singular", ...), from the raw names with a fixed plain
  normalisation, so the kinds do not move when the matcher's normaliser changes.

The benchmark script (`benchmarks/real_data.py`) and the sample test call these; they read nothing.
"""

import hashlib
import re
import uuid
from collections.abc import Callable

import pandas as pd
from rapidfuzz import fuzz

from sbir_etl.columns import CANDIDATE, JOINED_METHODS, UNMATCHED
from sbir_etl.linkage.names import CANONICAL_WORDS, normalize_names

FPDS_COLUMNS: tuple[str, ...] = ("uei", "legal_business_name", "city", "state")
AWARD_KEY: tuple[str, str] = ("Agency Tracking Number", "Contract")
# Legacy FPDS descriptions carry "...!<start>!<end>!<vendor DUNS>!<parent DUNS>!<global DUNS>!...",
# then a flag, the vendor's name, street, city, state and ZIP.
LEGACY_DUNS = re.compile(r"!\d{8}!\d{8}!(\d{9})!\d{9}!\d{9}!")
LEGACY_VENDOR = re.compile(r"!\d{8}!\d{8}!\d{9}!\d{9}!\d{9}!\w?!([^!]*)![^!]*!([^!]*)!([A-Z]{2})!(\d{5})")
# Words too common to say two names belong to one company.
GENERIC_WORDS: frozenset[str] = (
    frozenset(CANONICAL_WORDS)
    | {f for forms in CANONICAL_WORDS.values() for f in forms}
    | {
        "and",
        "of",
        "the",
        "group",
        "advanced",
        "applied",
        "defense",
    }
)


def uei_recipient_hash(uei: str) -> str:
    """A stable UUID-shaped recipient_hash for a UEI (USAspending's hash is also a UUID)."""
    return str(uuid.UUID(hashlib.md5(f"uei-{uei}".encode()).hexdigest()))


def _clean_fpds(fpds: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in FPDS_COLUMNS if c not in fpds.columns]
    if missing:
        raise ValueError(
            f"FPDS table lacks column(s) {missing}; found {list(fpds.columns)}. "
            "Pass the FPDS Phase III transactions file (or a sample with these columns)."
        )
    out = fpds.loc[:, list(FPDS_COLUMNS)].fillna("").astype(str)
    for c in FPDS_COLUMNS:
        out[c] = out[c].str.strip()
    return out[(out["uei"] != "") & (out["legal_business_name"] != "")]


def _most_frequent(frame: pd.DataFrame, group: list[str], value: list[str]) -> pd.DataFrame:
    """Per group, the most frequent combination of `value` columns; ties go to the alphabetically first."""
    counts = frame.groupby(group + value, sort=False).size().rename("_n").reset_index()
    counts = counts.sort_values(
        group + ["_n"] + value, ascending=[True] * len(group) + [False] + [True] * len(value), kind="stable"
    )
    return counts.drop_duplicates(group).drop(columns="_n").reset_index(drop=True)


def spellings_by_uei(fpds: pd.DataFrame) -> pd.DataFrame:
    """One row per (uei, spelling): `rows` carrying it, its most frequent city/state, `primary` flag
    (the UEI's most frequent spelling, ties alphabetical) and `spelling_index` (0 = primary)."""
    fpds = _clean_fpds(fpds)
    per = fpds.groupby(["uei", "legal_business_name"], sort=True).size().rename("rows").reset_index()
    per = per.merge(
        _most_frequent(fpds, ["uei", "legal_business_name"], ["city", "state"]), on=["uei", "legal_business_name"]
    )
    per = per.sort_values(["uei", "rows", "legal_business_name"], ascending=[True, False, True], kind="stable")
    per["spelling_index"] = per.groupby("uei").cumcount()
    per["primary"] = per["spelling_index"] == 0
    return per.reset_index(drop=True)


def fpds_recipients(fpds: pd.DataFrame, with_alternates: bool = False) -> pd.DataFrame:
    """One recipient row per UEI in the USAspending recipient-lookup layout.

    legal_business_name = the most frequent spelling; city/state = the most frequent pair over all
    the UEI's rows; alternate_names = the other spellings joined with "|" when `with_alternates`.
    """
    spellings = spellings_by_uei(fpds)
    location = _most_frequent(_clean_fpds(fpds), ["uei"], ["city", "state"])
    primary = spellings[spellings["primary"]][["uei", "legal_business_name"]].merge(location, on="uei", how="left")
    if with_alternates:
        others = spellings[~spellings["primary"]].groupby("uei")["legal_business_name"].agg("|".join)
        alternates = primary["uei"].map(others).fillna("")
    else:
        alternates = pd.Series("", index=primary.index)
    return pd.DataFrame(
        {
            "recipient_hash": primary["uei"].map(uei_recipient_hash),
            "legal_business_name": primary["legal_business_name"],
            "uei": primary["uei"],
            "duns": "",
            "city": primary["city"],
            "state": primary["state"],
            "zip5": "",
            "alternate_names": alternates,
        }
    ).reset_index(drop=True)


def spelling_holdout(fpds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(awards, recipients, truth) of the same-UEI spelling test.

    recipients: every UEI once, under its most frequent spelling, without alternate names (the
    held-out spellings must not leak into the index). awards: each other distinct spelling of a
    multi-spelling UEI, with the city/state of the FPDS rows carrying it and no UEI/DUNS; key =
    (UEI, "spelling-<i>"). truth: key -> that UEI's recipient_hash.
    """
    spellings = spellings_by_uei(fpds)
    held = spellings[~spellings["primary"]]
    awards = pd.DataFrame(
        {
            "Company": held["legal_business_name"],
            "Agency Tracking Number": held["uei"],
            "Contract": "spelling-" + held["spelling_index"].astype(str),
            "City": held["city"],
            "State": held["state"],
        }
    ).reset_index(drop=True)
    truth = pd.DataFrame(
        {
            "Agency Tracking Number": awards["Agency Tracking Number"],
            "Contract": awards["Contract"],
            "recipient_hash": awards["Agency Tracking Number"].map(uei_recipient_hash),
        }
    )
    return awards, fpds_recipients(fpds, with_alternates=False), truth


def without_location(awards: pd.DataFrame) -> pd.DataFrame:
    """The same awards with City/State blanked: name-only evidence."""
    return awards.assign(City=pd.NA, State=pd.NA).astype({"City": "string", "State": "string"})


def holdout_outcomes(enriched: pd.DataFrame, truth: pd.DataFrame, recipients: pd.DataFrame) -> pd.DataFrame:
    """One row per held-out award: its name, the true recipient's name, and what the cascade did.

    `outcome` is `correct` (joined to the truth), `wrong-join`, `candidate-right`/`candidate-wrong`
    (a candidate, pointing at the truth or not) or `unmatched`; `same_normalised` says whether the
    spelling normalises to the true legal name (then name-exact should get it)."""
    names = recipients.set_index("recipient_hash")[["legal_business_name", "city", "state"]]
    merged = enriched.merge(
        truth.rename(columns={"recipient_hash": "truth"}), on=list(AWARD_KEY), how="left", validate="one_to_one"
    )
    method = merged["match_method"].astype(str)
    got = merged["usaspending_recipient_hash"].astype("string").fillna("")
    cand = merged["candidate_recipient_hash"].astype("string").fillna("")
    joined = method.isin(JOINED_METHODS)
    outcome = pd.Series(UNMATCHED, index=merged.index)
    outcome[joined & (got == merged["truth"])] = "correct"
    outcome[joined & (got != merged["truth"])] = "wrong-join"
    is_cand = method == CANDIDATE
    outcome[is_cand & (cand == merged["truth"])] = "candidate-right"
    outcome[is_cand & (cand != merged["truth"])] = "candidate-wrong"
    other = got.where(joined, cand)
    award_norm = pd.Series(normalize_names(merged["Company"].astype(str)).to_pylist(), index=merged.index)
    truth_name = merged["truth"].map(names["legal_business_name"])
    truth_norm = pd.Series(normalize_names(truth_name.astype(str)).to_pylist(), index=merged.index)
    shared = [bool(_words(a) & _words(t)) for a, t in zip(award_norm, truth_norm)]
    return pd.DataFrame(
        {
            "award_name": merged["Company"].astype(str),
            "award_city": merged["City"].astype("string").fillna(""),
            "award_state": merged["State"].astype("string").fillna(""),
            "reason": merged["match_reason"].astype("string").fillna("") if "match_reason" in merged else "",
            "true_name": truth_name,
            "true_state": merged["truth"].map(names["state"]),
            "method": method,
            "score": pd.to_numeric(merged["match_score"], errors="coerce").astype(float),
            "outcome": outcome,
            "matched_name": other.map(names["legal_business_name"]).fillna(""),
            "same_normalised": award_norm == truth_norm,
            "shares_word": shared,
            "kind": [difference_kind(a, t) for a, t in zip(merged["Company"].astype(str), truth_name.astype(str))],
        }
    )


def _words(normalised: str | None) -> set[str]:
    """Distinctive words of a normalised name (3+ characters, not generic business words)."""
    return {w for w in (normalised or "").split() if len(w) >= 3 and w not in GENERIC_WORDS}


def legacy_duns_links(fpds: pd.DataFrame) -> pd.Series:
    """DUNS -> UEI, from the vendor DUNS that legacy FPDS descriptions carry; only DUNS that link
    to exactly one UEI. An identifier link independent of names: ground truth for SBIR.gov awards
    (which carry DUNS) against FPDS recipients (which carry UEI)."""
    if "description" not in fpds.columns or "uei" not in fpds.columns:
        raise ValueError(f"FPDS table needs 'description' and 'uei' columns for DUNS links; found {list(fpds.columns)}")
    duns = fpds["description"].astype(str).str.extract(LEGACY_DUNS)[0]
    pairs = pd.DataFrame({"duns": duns, "uei": fpds["uei"].astype(str).str.strip()}).dropna().drop_duplicates()
    pairs = pairs[pairs["uei"] != ""]
    unique = pairs.groupby("duns")["uei"].transform("size") == 1
    return pairs[unique].set_index("duns")["uei"].sort_index()


def overlap_outcomes(enriched: pd.DataFrame, recipients: pd.DataFrame, company: str = "Company") -> pd.DataFrame:
    """Awards whose normalised name is also a normalised FPDS spelling (legal or alternate).

    One row per such award: the name, how many recipients carry it (`owners`; > 1 is ambiguous),
    the method, and `consistent` = joined to a recipient that carries the name. Without ground
    truth this is the only check: the same name on both sides should join, and to that name.
    """
    spell = recipients[["recipient_hash", "legal_business_name", "alternate_names"]].copy()
    spell["name"] = (spell["legal_business_name"] + "|" + spell["alternate_names"].fillna("")).str.split("|")
    spell = spell.explode("name")
    spell = spell[spell["name"].str.strip() != ""]
    spell["norm"] = normalize_names(spell["name"].astype(str)).to_pylist()
    spell = spell.dropna(subset=["norm"]).drop_duplicates(["norm", "recipient_hash"])
    owners = spell.groupby("norm")["recipient_hash"].agg(frozenset)
    norm = pd.Series(normalize_names(enriched[company].astype("string")).to_pylist(), index=enriched.index)
    hit = norm.isin(owners.index)
    sub = enriched[hit]
    carriers = norm[hit].map(owners)
    got = sub["usaspending_recipient_hash"].astype("string").fillna("")
    method = sub["match_method"].astype(str)
    return pd.DataFrame(
        {
            "norm": norm[hit],
            "owners": carriers.map(len),
            "method": method,
            "consistent": method.isin(JOINED_METHODS)
            & pd.Series([g in c for g, c in zip(got, carriers)], index=sub.index, dtype=bool),
        }
    )


def legacy_name_holdout(fpds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(awards, recipients, truth) of the legacy-vendor test: each distinct vendor name a legacy
    FPDS description gives on a row with a UEI, with that description's city, state and ZIP, as
    an award without identifiers; recipients as in `spelling_holdout`."""
    if "description" not in fpds.columns:
        raise ValueError(f"FPDS table needs a 'description' column for legacy vendor names; found {list(fpds.columns)}")
    vendor = fpds["description"].astype(str).str.extract(LEGACY_VENDOR)
    vendor.columns = ["Company", "City", "State", "Zip"]
    vendor = vendor.apply(lambda c: c.str.strip())
    vendor["uei"] = fpds["uei"].astype(str).str.strip()
    vendor = vendor.dropna(subset=["Company"])
    vendor = vendor[(vendor["uei"] != "") & (vendor["Company"] != "")]
    vendor = _most_frequent(vendor, ["uei", "Company"], ["City", "State", "Zip"])
    return _holdout(vendor, "legacy"), fpds_recipients(fpds), _truth(vendor["uei"], "legacy")


def dba_holdout(fpds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(awards, recipients, truth) of the trading-name test: each FPDS `dba_name` that names its
    UEI differently from every legal spelling (plainly normalised), with the city and state of
    its rows, as an award without identifiers; recipients as in `spelling_holdout`. Mostly
    acronyms ("KBSI", "METSS"): a name matcher should find few and join none wrongly."""
    if "dba_name" not in fpds.columns:
        raise ValueError(f"FPDS table needs a 'dba_name' column; found {list(fpds.columns)}")
    rows = fpds.assign(Company=fpds["dba_name"].fillna("").astype(str).str.strip())
    rows = rows.assign(uei=rows["uei"].astype(str).str.strip(), City=rows["city"], State=rows["state"])
    rows = rows[(rows["Company"] != "") & (rows["uei"] != "")]
    legal = {
        (u, _plain(n)) for u, n in zip(fpds["uei"].astype(str).str.strip(), fpds["legal_business_name"].astype(str))
    }
    rows = rows[[(u, _plain(n)) not in legal for u, n in zip(rows["uei"], rows["Company"])]]
    dba = _most_frequent(rows, ["uei", "Company"], ["City", "State"])
    return _holdout(dba, "dba"), fpds_recipients(fpds), _truth(dba["uei"], "dba")


def duns_spelling_holdout(sbir: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(awards, recipients, truth) of SBIR.gov's own same-DUNS spelling test: recipients are one
    row per DUNS (its most frequent Company spelling, city, state and ZIP; the DUNS itself left
    out so that only the name can join); awards are the other spellings of a multi-spelling
    DUNS with their own city, state and ZIP."""
    missing = [c for c in ("Company", "DUNS", "City", "State", "Zip") if c not in sbir.columns]
    if missing:
        raise ValueError(f"SBIR.gov table lacks column(s) {missing}; found {list(sbir.columns)}")
    rows = sbir.loc[:, ["Company", "DUNS", "City", "State", "Zip"]].fillna("").astype(str)
    rows = rows.apply(lambda c: c.str.strip()).rename(columns={"DUNS": "uei"})  # the group key, as for UEIs
    rows = rows[(rows["uei"] != "") & (rows["Company"] != "")]
    per = rows.groupby(["uei", "Company"], sort=True).size().rename("rows").reset_index()
    per = per.sort_values(["uei", "rows", "Company"], ascending=[True, False, True], kind="stable")
    per["spelling_index"] = per.groupby("uei").cumcount()
    where = _most_frequent(rows, ["uei", "Company"], ["City", "State", "Zip"])
    held = per[per["spelling_index"] > 0].merge(where, on=["uei", "Company"])
    primary = per[per["spelling_index"] == 0].merge(_most_frequent(rows, ["uei"], ["City", "State", "Zip"]), on="uei")
    recipients = pd.DataFrame(
        {
            "recipient_hash": primary["uei"].map(uei_recipient_hash),
            "legal_business_name": primary["Company"],
            "uei": "",
            "duns": "",
            "city": primary["City"],
            "state": primary["State"],
            "zip5": primary["Zip"],
            "alternate_names": "",
        }
    ).reset_index(drop=True)
    return _holdout(held, "duns-spelling"), recipients, _truth(held["uei"], "duns-spelling")


def _holdout(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Awards without identifiers from rows with `uei`, `Company` and location columns; key
    (group id, "<label>-<i>")."""
    out = pd.DataFrame(
        {
            "Company": frame["Company"].to_numpy(),
            "Agency Tracking Number": frame["uei"].to_numpy(),
            "Contract": [f"{label}-{i}" for i in range(len(frame))],
            "City": frame["City"].to_numpy(),
            "State": frame["State"].to_numpy(),
        }
    )
    if "Zip" in frame.columns:
        out["Zip"] = frame["Zip"].to_numpy()
    return out


def _truth(ids: pd.Series, label: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Agency Tracking Number": ids.to_numpy(),
            "Contract": [f"{label}-{i}" for i in range(len(ids))],
            "recipient_hash": ids.map(uei_recipient_hash).to_numpy(),
        }
    )


# --- what differs between two spellings of one company ---------------------------------------

_PLAIN_DESIGNATORS = frozenset(
    ["inc", "incorporated", "corp", "corporation", "co", "company", "llc", "ltd", "limited", "lp", "llp", "pc", "plc"]
)
_PLAIN_ABBREVIATIONS = {
    "tech": "technology",
    "technologies": "technology",
    "labs": "laboratories",
    "lab": "laboratory",
    "sys": "systems",
    "intl": "international",
    "assoc": "associates",
    "eng": "engineering",
    "mfg": "manufacturing",
    "univ": "university",
    "inst": "institute",
    "sci": "science",
    "no": "north",
}


def _plain(name: str | None) -> str:
    """A fixed, plain normal form (not the matcher's): lower case, "&" -> "and", punctuation to
    spaces, trailing designators and a leading "the" dropped."""
    words = re.sub(r"[^a-z0-9]+", " ", str(name or "").lower().replace("&", " and ")).split()
    while len(words) > 1 and (words[-1] in _PLAIN_DESIGNATORS or words[-1] == "and"):
        words.pop()
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    return " ".join(words)


def _cut(name: str, other: str) -> bool:
    raw = str(name).strip()
    return len(raw) == 30 and _plain(other).replace(" ", "").startswith(_plain(raw).replace(" ", "")[:-1])


def _singular_words(name: str) -> str:
    return " ".join(w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w for w in name.split())


def _expanded(name: str) -> str:
    return " ".join(_PLAIN_ABBREVIATIONS.get(w, w) for w in name.split())


_REMARK = re.compile(r"\(|\s/\s|\b(?:dba|d/b/a|fka|f/k/a|aka|formerly)\b", re.IGNORECASE)

# The kinds of difference, in the order they are tested: the first that holds names the pair.
DIFFERENCE_KINDS: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    ("designators and punctuation", lambda a, b: _plain(a) == _plain(b)),
    ("cut at 30 characters", lambda a, b: _cut(a, b) or _cut(b, a)),
    ("remark or second name", lambda a, b: bool(_REMARK.search(a) or _REMARK.search(b))),
    ("spacing inside a word", lambda a, b: _plain(a).replace(" ", "") == _plain(b).replace(" ", "")),
    ("plural or singular", lambda a, b: _singular_words(_plain(a)) == _singular_words(_plain(b))),
    ("abbreviation", lambda a, b: _expanded(_plain(a)) == _expanded(_plain(b))),
    ("word added or dropped", lambda a, b: _nested(_plain(a), _plain(b))),
    ("typo", lambda a, b: fuzz.ratio(_plain(a), _plain(b)) >= 90),
    ("shares a distinctive word", lambda a, b: bool(_words(_plain(a)) & _words(_plain(b)))),
)
RENAME = "no distinctive word in common (rename?)"


def _nested(a: str, b: str) -> bool:
    left, right = set(a.split()), set(b.split())
    return left != right and (left <= right or right <= left)


def difference_kind(award_name: str, true_name: str) -> str:
    """What differs between a held-out spelling and its true recipient's name (`DIFFERENCE_KINDS`)."""
    return next((kind for kind, holds in DIFFERENCE_KINDS if holds(award_name, true_name)), RENAME)
