"""Synthetic SBIR awards and USAspending recipients with known ground truth.

Built for honest precision/recall, not for flattering figures: recipient names come from a
shared vocabulary, so many recipients have *similar* names and some near-duplicates are
deliberately different companies in other states; award names are spelling variants of their
true recipient (legal-suffix and punctuation changes, abbreviations, typos, dropped words);
identifiers are missing or malformed the way real exports are; some awards have no true
recipient at all. Everything is vectorised, so the full scale (533,000 awards x 3,300,000
recipients) is written in a few minutes.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

UEI_FIRST = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ123456789"))
UEI_REST = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"))
ONSETS = [
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "w",
    "z",
    "br",
    "cr",
    "dr",
    "fr",
    "gr",
    "kr",
    "pr",
    "tr",
    "st",
    "sk",
    "sp",
    "bl",
    "cl",
    "fl",
    "gl",
    "pl",
    "sl",
    "ch",
    "sh",
    "th",
    "qu",
    "x",
    "zy",
]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y"]
CODAS = [
    "n",
    "r",
    "s",
    "x",
    "l",
    "m",
    "t",
    "k",
    "nt",
    "rk",
    "st",
    "ss",
    "ll",
    "ne",
    "re",
    "on",
    "ar",
    "or",
    "ix",
    "ex",
    "ax",
    "is",
    "us",
    "ia",
    "ium",
    "ics",
    "yn",
]
COMMON_WORDS = [
    "advanced",
    "applied",
    "quantum",
    "apex",
    "summit",
    "pioneer",
    "frontier",
    "vector",
    "vertex",
    "nova",
    "stellar",
    "orbital",
    "aero",
    "bio",
    "photon",
    "nano",
    "micro",
    "digital",
    "global",
    "american",
    "national",
    "pacific",
    "atlantic",
    "northern",
    "southern",
    "western",
    "eastern",
    "blue",
    "red",
    "green",
    "silver",
    "golden",
    "eagle",
    "falcon",
    "hawk",
    "phoenix",
    "titan",
    "atlas",
    "delta",
    "sigma",
    "omega",
    "alpha",
    "beta",
    "gamma",
    "precision",
    "integrated",
    "intelligent",
    "autonomous",
    "adaptive",
    "coherent",
    "dynamic",
    "kinetic",
    "thermal",
    "optical",
    "acoustic",
    "cyber",
    "secure",
    "mission",
    "tactical",
    "strategic",
    "innovative",
    "creative",
    "rapid",
    "agile",
    "smart",
    "clear",
    "bright",
    "true",
    "prime",
]
SURNAMES = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "miller",
    "davis",
    "garcia",
    "rodriguez",
    "wilson",
    "martinez",
    "anderson",
    "taylor",
    "thomas",
    "hernandez",
    "moore",
    "martin",
    "jackson",
    "thompson",
    "white",
    "lopez",
    "lee",
    "gonzalez",
    "harris",
    "clark",
    "lewis",
    "robinson",
    "walker",
    "perez",
    "hall",
    "young",
    "allen",
    "sanchez",
    "wright",
    "king",
    "scott",
    "green",
    "baker",
    "adams",
    "nelson",
    "hill",
    "ramirez",
    "campbell",
    "mitchell",
    "roberts",
    "carter",
    "phillips",
    "evans",
    "turner",
    "torres",
    "parker",
    "collins",
    "edwards",
    "stewart",
    "flores",
    "morris",
    "nguyen",
    "murphy",
    "rivera",
    "cook",
]
INDUSTRY = [
    "systems",
    "technologies",
    "technology",
    "labs",
    "laboratories",
    "research",
    "solutions",
    "engineering",
    "sciences",
    "dynamics",
    "innovations",
    "devices",
    "materials",
    "photonics",
    "robotics",
    "analytics",
    "software",
    "instruments",
    "aerospace",
    "energy",
]
SUFFIXES = ["INC", "LLC", "CORP", "CORPORATION", "INCORPORATED", "CO", "COMPANY", "LTD", "LP", ""]
ABBREVIATIONS = {
    "technologies": "tech",
    "technology": "tech",
    "laboratories": "labs",
    "systems": "sys",
    "engineering": "eng",
    "international": "intl",
    "research": "rsch",
    "solutions": "soln",
    "and": "&",
    "sciences": "sci",
    "instruments": "instr",
}
AWARD_SUFFIXES = ["Inc.", "Inc", ", Inc.", "LLC", "L.L.C.", "Corp.", "Corporation", "Co.", "Incorporated", "", "Ltd."]
STATES = np.array(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
    ]
)
CITIES = np.array(
    [
        "Springfield",
        "Franklin",
        "Greenville",
        "Bristol",
        "Clinton",
        "Fairview",
        "Salem",
        "Madison",
        "Georgetown",
        "Arlington",
        "Ashland",
        "Dover",
        "Oxford",
        "Jackson",
        "Burlington",
        "Manchester",
        "Milton",
        "Newport",
        "Auburn",
        "Dayton",
        "Lexington",
        "Huntsville",
        "Boulder",
        "Austin",
        "Pasadena",
        "Cambridge",
        "Columbia",
        "Albany",
        "Troy",
        "Hudson",
    ]
)


@dataclass(frozen=True)
class SyntheticData:
    awards: pa.Table
    recipients: pa.Table
    truth: pa.Table  # award key columns + true recipient_hash ("" when the award has no true recipient)


def _coined_words(rng: np.random.Generator, n: int) -> np.ndarray:
    parts = [rng.choice(ONSETS, n), rng.choice(VOWELS, n), rng.choice(CODAS, n)]
    two = rng.random(n) < 0.5
    extra = np.where(two, rng.choice(VOWELS, n).astype(object) + rng.choice(CODAS, n).astype(object), "")
    words = parts[0].astype(object) + parts[1] + parts[2] + extra
    return np.unique(words)


def _random_codes(rng: np.random.Generator, n: int, first: np.ndarray, rest: np.ndarray, length: int) -> np.ndarray:
    chars = np.empty((n, length), dtype="<U1")
    chars[:, 0] = rng.choice(first, n)
    chars[:, 1:] = rng.choice(rest, (n, length - 1))
    return chars.view(f"<U{length}").ravel().astype(object)


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 5:
        return word
    i = int(rng.integers(1, len(word) - 1))
    kind = rng.integers(0, 3)
    if kind == 0:
        return word[:i] + word[i + 1 :]  # deletion
    if kind == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # transposition
    return word[:i] + "aeiou"[int(rng.integers(0, 5))] + word[i + 1 :]  # substitution


def _award_variant(base_words: list[str], rng: np.random.Generator) -> str:
    """A realistic spelling of a company's name as an SBIR.gov award would carry it."""
    words = list(base_words)
    roll = rng.random()
    if roll < 0.30:
        pass  # same words: only case, punctuation and legal suffix differ
    elif roll < 0.50:
        words = [ABBREVIATIONS.get(w, w) for w in words]
    elif roll < 0.80:
        longest = max(range(len(words)), key=lambda k: len(words[k]))
        words[longest] = _typo(words[longest], rng)
    elif roll < 0.90 and len(words) > 2:
        words = words[:-1]  # dropped trailing industry word
    else:
        words = [w.replace("and", "&") for w in words]
    name = " ".join(w.capitalize() if rng.random() < 0.8 else w.upper() for w in words)
    suffix = AWARD_SUFFIXES[int(rng.integers(0, len(AWARD_SUFFIXES)))]
    return (name + suffix) if suffix.startswith(",") else (name + " " + suffix).strip()


@dataclass(frozen=True)
class _Recipients:
    """The generated recipient table and the columns the awards are drawn from."""

    table: pa.Table
    base: np.ndarray  # each recipient's name without its legal suffix, lowercase
    uei: np.ndarray
    duns: np.ndarray
    state: np.ndarray
    city: np.ndarray
    zip5: np.ndarray
    hashes: np.ndarray


@dataclass
class _AwardColumns:
    """The per-award fields the row loop fills in."""

    company: np.ndarray
    uei: np.ndarray
    duns: np.ndarray
    state: np.ndarray
    city: np.ndarray
    zip: np.ndarray

    @classmethod
    def empty(cls, m: int) -> "_AwardColumns":
        def blank() -> np.ndarray:
            return np.full(m, "", dtype=object)

        def unset() -> np.ndarray:
            return np.empty(m, dtype=object)

        return cls(company=unset(), uei=blank(), duns=blank(), state=unset(), city=unset(), zip=blank())


def generate(n_awards: int = 533_000, n_recipients: int = 3_300_000, seed: int = 0) -> SyntheticData:
    """Awards, recipients and ground truth, deterministic for a given seed.

    The steps draw from one random generator in a fixed order, so a seed always gives the same
    files: the vocabulary, the recipients, which recipient each award belongs to, then each award.
    """
    rng = np.random.default_rng(seed)
    recipients = _generate_recipients(rng, n_recipients, _vocabulary(rng, n_recipients))
    true_idx, has_truth, kind = _assign_awards(rng, n_recipients, n_awards)
    fields = _AwardColumns.empty(n_awards)
    fresh = _coined_words(np.random.default_rng(seed + 1), 5_000)
    for i in range(n_awards):
        if has_truth[i]:
            _true_award(fields, i, recipients, int(true_idx[i]), kind[i], rng)
        else:
            _decoy_award(fields, i, recipients.base[int(true_idx[i])], kind[i], fresh, rng)
    keys = np.char.mod("SYN-%07d", np.arange(n_awards)).astype(object)
    awards = _award_table(rng, fields, keys)
    truth = pa.table(
        {
            "Agency Tracking Number": keys,
            "Contract": awards.column("Contract"),
            "recipient_hash": np.where(has_truth, recipients.hashes[true_idx], ""),
        }
    )
    return SyntheticData(awards=awards, recipients=recipients.table, truth=truth)


def _vocabulary(rng: np.random.Generator, n_recipients: int) -> np.ndarray:
    """Distinctive name words: coined ones, plus common words and surnames many firms share."""
    coined = _coined_words(rng, max(20_000, n_recipients // 40))
    return np.concatenate([coined, np.array(COMMON_WORDS * 20, dtype=object), np.array(SURNAMES * 20, dtype=object)])


def _generate_recipients(rng: np.random.Generator, n: int, distinctive: np.ndarray) -> _Recipients:
    base = _recipient_base_names(rng, n, distinctive)
    suffix = rng.choice(np.array(SUFFIXES, dtype=object), n)
    legal = np.char.upper((base + " " + suffix).astype(str)).astype(object)
    legal = np.array([s.strip() for s in legal], dtype=object)
    uei = _random_codes(rng, n, UEI_FIRST, UEI_REST, 12)
    uei = np.where(rng.random(n) < 0.05, "", uei)  # older recipients: DUNS only
    duns = np.char.zfill(rng.integers(0, 10**9, n).astype(str), 9).astype(object)
    duns = np.where(rng.random(n) < 0.25, "", duns)
    state = rng.choice(STATES, n)
    city = rng.choice(CITIES, n)
    zip5 = np.char.zfill(rng.integers(501, 99950, n).astype(str), 5)
    hashes = np.char.mod("%016x", rng.integers(0, 2**62, n, dtype=np.int64)).astype(object)
    hashes = np.array([f"{h}-{i:07x}" for i, h in enumerate(hashes)], dtype=object)  # unique
    alt = np.where(rng.random(n) < 0.03, np.char.upper(base.astype(str)).astype(object) + " HOLDINGS", "")
    table = pa.table(
        {
            "recipient_hash": hashes,
            "legal_business_name": legal,
            "uei": uei,
            "duns": duns,
            "parent_uei": np.full(n, "", dtype=object),
            "parent_duns": np.full(n, "", dtype=object),
            "parent_legal_business_name": np.full(n, "", dtype=object),
            "city": np.char.upper(city.astype(str)).astype(object),
            "state": state.astype(object),
            "zip5": zip5.astype(object),
            "alternate_names": alt,
        }
    )
    return _Recipients(table, base, uei, duns, state, city, zip5, hashes)


def _recipient_base_names(rng: np.random.Generator, n: int, distinctive: np.ndarray) -> np.ndarray:
    """One or two distinctive words and usually an industry word; 4 % are twins of another
    recipient's name with another industry word: different companies that look alike."""
    w1 = rng.choice(distinctive, n)
    w2 = np.where(rng.random(n) < 0.55, rng.choice(distinctive, n), "")
    ind = np.where(rng.random(n) < 0.8, rng.choice(np.array(INDUSTRY, dtype=object), n), "")
    words = [[a, b, c] for a, b, c in zip(w1, w2, ind)]
    twins = rng.random(n) < 0.04
    source = rng.integers(0, n, n)
    for i in np.flatnonzero(twins):
        a, b, _ = words[source[i]]
        words[i] = [a, b, INDUSTRY[int(rng.integers(0, len(INDUSTRY)))]]
    return np.array([" ".join(w for w in ws if w) for ws in words], dtype=object)


def _assign_awards(rng: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(recipient each award is drawn near, whether it truly is that recipient's, a uniform roll
    choosing its identifiers). SBIR firms win repeatedly: awards concentrate on a pool."""
    pool = rng.choice(n, size=min(n, max(1, m // 4)), replace=False)
    true_idx = pool[np.minimum((rng.pareto(1.2, m) * len(pool) / 20).astype(np.int64), len(pool) - 1)]
    has_truth = rng.random(m) < 0.85
    return true_idx, has_truth, rng.random(m)


def _true_award(fields: _AwardColumns, i: int, rec: _Recipients, r: int, kind: float, rng: np.random.Generator) -> None:
    """An award of recipient `r`: a spelling variant of its name, its location (8 % another
    state, half with its ZIP), and identifiers present, repaired-looking or broken as exports are."""
    fields.company[i] = _award_variant(rec.base[r].split(), rng)
    fields.state[i] = rec.state[r] if rng.random() < 0.92 else STATES[int(rng.integers(0, len(STATES)))]
    fields.city[i] = rec.city[r]
    if rng.random() < 0.5:
        fields.zip[i] = rec.zip5[r]
    if kind < 0.42 and rec.uei[r]:
        fields.uei[i] = rec.uei[r]
    elif kind < 0.58 and rec.duns[r]:
        fields.duns[i] = rec.duns[r].lstrip("0") if rng.random() < 0.2 else rec.duns[r]
    elif kind < 0.62 and rec.duns[r]:
        fields.duns[i] = rec.duns[r] + ".0"  # went through a numeric column
    elif kind < 0.65 and rec.uei[r]:
        fields.uei[i] = rec.uei[r] + "X"  # 13 characters: invalid, never exact-matched


def _decoy_award(
    fields: _AwardColumns, i: int, near: str, kind: float, fresh: np.ndarray, rng: np.random.Generator
) -> None:
    """An award with no true recipient: a fresh name (half of them sharing a word with the
    recipient `near`), a random location, and 10 % carrying a valid UEI no recipient has."""
    words = [str(fresh[int(rng.integers(0, len(fresh)))])]
    if rng.random() < 0.5:  # similar to a real recipient, but a different company
        words = near.split()[:1] + words
    words.append(INDUSTRY[int(rng.integers(0, len(INDUSTRY)))])
    fields.company[i] = _award_variant(words, rng)
    fields.state[i] = STATES[int(rng.integers(0, len(STATES)))]
    fields.city[i] = CITIES[int(rng.integers(0, len(CITIES)))]
    if kind < 0.1:
        fields.uei[i] = _random_codes(rng, 1, UEI_FIRST, UEI_REST, 12)[0]


def _award_table(rng: np.random.Generator, fields: _AwardColumns, keys: np.ndarray) -> pa.Table:
    m = len(keys)
    return pa.table(
        {
            "Company": fields.company,
            "UEI": fields.uei,
            "Duns": fields.duns,
            "Agency Tracking Number": keys,
            "Contract": np.char.mod("C%06d", rng.integers(0, 10**6, m)).astype(object),
            "Award Year": rng.integers(2000, 2025, m).astype(str).astype(object),
            "Award Amount": np.round(rng.uniform(50_000, 1_500_000, m), 2).astype(str).astype(object),
            "Agency": rng.choice(np.array(["DOD", "HHS", "NASA", "DOE", "NSF"], dtype=object), m),
            "Phase": rng.choice(np.array(["Phase I", "Phase II"], dtype=object), m),
            "Program": rng.choice(np.array(["SBIR", "STTR"], dtype=object), m),
            "City": fields.city,
            "State": fields.state,
            "Zip": fields.zip,
        }
    )


def write(data: SyntheticData, out_dir: str | Path) -> dict[str, Path]:
    """Write awards.csv, recipients.csv and truth.csv into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.csv" for name in ("awards", "recipients", "truth")}
    for name, path in paths.items():
        pacsv.write_csv(getattr(data, name), path)
    return paths
