"""UEI and DUNS cleaning and validation.

An identifier is used for an exact join only when it is valid; every invalid value is counted
under a reason so a data engineer can see *why* a file matched worse than expected.

- UEI (SAM.gov Unique Entity ID): 12 characters, uppercase letters and digits, never the letters
  I or O, never starting with 0.
- DUNS: 9 digits once hyphens and spaces are removed. A DUNS that went through a numeric column
  loses leading zeros ("12345678") or gains a float suffix ("123456789.0"); both are repaired.
"""

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


def clean_uei(values: TextLike) -> CleanedIdentifiers:
    """Uppercase and validate UEIs. Reasons: wrong-length, bad-character, starts-with-zero."""
    arr = pc.utf8_upper(_blank_to_null(as_string_array(values)))
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
    arr = _blank_to_null(as_string_array(values))
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
