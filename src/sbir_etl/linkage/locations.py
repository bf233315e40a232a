"""Location keys (state, city, ZIP) in one form on both sides, for corroborating name matches."""

import pyarrow as pa
import pyarrow.compute as pc


def clean_zip5(values: pa.Array) -> pa.Array:
    """First five digits of a ZIP/ZIP+4, restoring a leading zero a numeric read dropped ("3755")."""
    digits = pc.replace_substring_regex(pc.utf8_trim_whitespace(values), r"[-\s].*$|\.0+$", "")
    ok = pc.match_substring_regex(digits, r"^\d{4,9}$")
    five = pc.utf8_slice_codeunits(
        pc.if_else(pc.equal(pc.utf8_length(digits), 4), pc.utf8_lpad(digits, 5, "0"), digits), 0, 5
    )
    return pc.if_else(ok, five, pa.scalar(None, pa.string()))


def clean_text_key(values: pa.Array) -> pa.Array:
    """Uppercase, trimmed text for state/city comparison; empty -> null."""
    out = pc.utf8_upper(pc.utf8_trim_whitespace(values))
    return pc.if_else(pc.equal(out, ""), pa.scalar(None, pa.string()), out)
