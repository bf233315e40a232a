"""UEI and DUNS cleaning and validation.

An identifier is used for an exact join only when it is valid; every invalid value is counted
under a reason so a data engineer can see *why* a file matched worse than expected.

- UEI (SAM.gov Unique Entity ID): 12 characters, uppercase letters and digits, never the letters
  I or O, never starting with 0.
- DUNS: 9 digits once hyphens and spaces are removed. A DUNS that went through a numeric column
  loses leading zeros ("12345678") or gains a float suffix ("123456789.0"); both are repaired.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from sbir_etl.linkage.text_arrays import TextLike, as_string_array


@dataclass(frozen=True)
class CleanedIdentifiers:
    """Cleaned identifiers (null where absent or invalid) and the reason for each invalid one."""

    values: pa.Array  # string, null where missing or invalid
    reasons: pa.Array  # string, null where valid or missing

    def filter(self, mask: pa.Array) -> "CleanedIdentifiers":
        """The identifiers (and reasons) of the rows `mask` keeps."""
        return CleanedIdentifiers(self.values.filter(mask), self.reasons.filter(mask))

    def slice(self, start: int, rows: int) -> "CleanedIdentifiers":
        """The identifiers (and reasons) of rows `start` to `start + rows`."""
        return CleanedIdentifiers(self.values.slice(start, rows), self.reasons.slice(start, rows))

    @classmethod
    def concat(cls, parts: list["CleanedIdentifiers"]) -> "CleanedIdentifiers":
        """The identifiers (and reasons) of `parts`, one after another."""
        return cls(pa.concat_arrays([p.values for p in parts]), pa.concat_arrays([p.reasons for p in parts]))

    def reason_counts(self, prefix: str) -> dict[str, int]:
        counts = pc.value_counts(self.reasons.drop_null())
        return {f"{prefix}:{row['values']}": int(row["counts"]) for row in counts.to_pylist()}


def _blank_to_null(arr: pa.Array) -> pa.Array:
    stripped = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)


def _well_formed_uei(arr: pa.Array) -> pa.Array:
    return pc.match_substring_regex(arr, r"^[A-HJ-NP-Z1-9][A-HJ-NP-Z0-9]{11}$")


def _well_formed_duns(arr: pa.Array) -> pa.Array:
    return pc.and_(pc.match_substring_regex(arr, r"^[0-9]{9}$"), pc.not_equal(arr, "000000000"))


def _cleaned_apart(
    arr: pa.Array, well_formed: Callable[[pa.Array], pa.Array], clean: Callable[[pa.Array], CleanedIdentifiers]
) -> CleanedIdentifiers:
    """`clean` run only on the values that are neither clean already (`well_formed`) nor empty:
    most values of a real file are one or the other, and one or two passes find them where the
    full cleaning takes a dozen."""
    nothing = pa.scalar(None, pa.string())
    well = pc.fill_null(well_formed(arr), False)
    blank = pc.fill_null(pc.equal(arr, ""), True)
    rest = pc.invert(pc.or_(well, blank))
    if not pc.any(well).as_py():
        values = pa.nulls(len(arr), pa.string())
    else:
        values = pc.if_else(well, arr, nothing) if pc.any(blank).as_py() else arr
    reasons = pa.nulls(len(arr), pa.string())
    if pc.any(rest).as_py():
        cleaned = clean(arr.filter(rest))
        values = pc.replace_with_mask(values, rest, cleaned.values)
        reasons = pc.replace_with_mask(reasons, rest, cleaned.reasons)
    return CleanedIdentifiers(values, reasons)


def clean_uei(values: TextLike) -> CleanedIdentifiers:
    """Uppercase and validate UEIs. Reasons: wrong-length, bad-character, starts-with-zero."""
    return _cleaned_apart(as_string_array(values), _well_formed_uei, _clean_uei)


def _clean_uei(arr: pa.Array) -> CleanedIdentifiers:
    arr = pc.utf8_upper(_blank_to_null(arr))
    arr = pc.replace_substring_regex(arr, r"[\s-]", "")
    length_ok = pc.equal(pc.utf8_length(arr), 12)
    chars_ok = pc.match_substring_regex(arr, r"^[A-HJ-NP-Z0-9]*$")
    first_ok = pc.invert(pc.starts_with(arr, "0"))
    valid = pc.and_(pc.and_(length_ok, chars_ok), first_ok)
    reason = pc.case_when(
        pc.make_struct(pc.invert(length_ok), pc.invert(chars_ok), pc.invert(first_ok)),
        "wrong-length",
        "bad-character",
        "starts-with-zero",
    )
    return CleanedIdentifiers(
        values=pc.if_else(valid, arr, pa.scalar(None, pa.string())),
        reasons=pc.if_else(valid, pa.scalar(None, pa.string()), reason),
    )


def clean_duns(values: TextLike) -> CleanedIdentifiers:
    """Repair and validate DUNS. Reasons: scientific-notation, non-digit, too-long, all-zero.

    "123456789.0" and "12345678" (leading zero lost in a numeric read) are repaired, not rejected:
    they are unambiguous, and rejecting them would silently lose exact matches.
    """
    return _cleaned_apart(as_string_array(values), _well_formed_duns, _clean_duns)


def _clean_duns(arr: pa.Array) -> CleanedIdentifiers:
    arr = _blank_to_null(arr)
    arr = pc.replace_substring_regex(arr, r"[\s-]", "")
    arr = pc.replace_substring_regex(arr, r"^(\d+)\.0+$", r"\1")
    digits = pc.match_substring_regex(arr, r"^\d+$")
    length = pc.utf8_length(arr)
    too_long = pc.greater(length, 9)
    padded = pc.utf8_lpad(arr, 9, "0")
    all_zero = pc.equal(padded, "000000000")
    valid = pc.and_(pc.and_(digits, pc.invert(too_long)), pc.invert(all_zero))
    # "1.23456789E+08": a spreadsheet read the column as numbers; its own reason, so the summary can say so.
    scientific = pc.match_substring_regex(arr, r"^\d(\.\d+)?[eE][+]?\d+$")
    reason = pc.case_when(
        pc.make_struct(scientific, pc.invert(digits), too_long, all_zero),
        "scientific-notation",
        "non-digit",
        "too-long",
        "all-zero",
    )
    return CleanedIdentifiers(
        values=pc.if_else(valid, padded, pa.scalar(None, pa.string())),
        reasons=pc.if_else(valid, pa.scalar(None, pa.string()), reason),
    )


def is_valid_uei(value: str | None) -> bool:
    """True when `value` cleans (trim, uppercase) to a well-formed SAM UEI."""
    return value is not None and clean_uei(pa.array([value])).values[0].is_valid


def is_valid_duns(value: str | None) -> bool:
    """True when `value` cleans to a valid 9-digit DUNS."""
    return value is not None and clean_duns(pa.array([value])).values[0].is_valid
