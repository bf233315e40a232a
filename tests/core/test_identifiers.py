import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbir_etl.linkage.identifiers import _clean_duns, _clean_uei, clean_duns, clean_uei, is_valid_duns, is_valid_uei


@pytest.mark.parametrize(
    ("raw", "clean", "reason"),
    [
        ("KD6VWJ8MHRX5", "KD6VWJ8MHRX5", None),
        ("kd6vwj8mhrx5", "KD6VWJ8MHRX5", None),
        (" KD6V-WJ8M-HRX5 ", "KD6VWJ8MHRX5", None),
        ("0D6VWJ8MHRX5", None, "starts-with-zero"),
        ("KD6VWJ8MHRXI", None, "bad-character"),  # SAM UEIs never use I or O
        ("KD6VWJ8MHRXO", None, "bad-character"),
        ("KD6VWJ8MHRX55", None, "wrong-length"),
        ("KD6VWJ8", None, "wrong-length"),
        ("", None, None),
        (None, None, None),
    ],
)
def test_uei_cleaning(raw, clean, reason):
    result = clean_uei(pa.array([raw], type=pa.string()))
    assert result.values.to_pylist() == [clean]
    assert result.reasons.to_pylist() == [reason]


@pytest.mark.parametrize(
    ("raw", "clean", "reason"),
    [
        ("148034408", "148034408", None),
        ("14-803-4408", "148034408", None),
        ("123456789.0", "123456789", None),  # went through a float column
        ("12345678", "012345678", None),  # leading zero lost in a numeric read
        ("12345678.0", "012345678", None),
        ("1234567890", None, "too-long"),
        ("12A456789", None, "non-digit"),
        ("000000000", None, "all-zero"),
        ("", None, None),
    ],
)
def test_duns_cleaning(raw, clean, reason):
    result = clean_duns(pa.array([raw], type=pa.string()))
    assert result.values.to_pylist() == [clean]
    assert result.reasons.to_pylist() == [reason]


_IDENTIFIER_TEXT = st.one_of(
    st.none(),
    st.text(alphabet="0123456789ADIOZaz .-eE+", max_size=14),
    st.from_regex(r"[0-9A-Z]{12}", fullmatch=True),  # with I, O and a leading 0 now and then
    st.from_regex(r"[0-9]{9}", fullmatch=True),
    st.sampled_from(["000000000", "0D6VWJ8MHRX5", "KD6VWJ8MHRXI", "  ", "KD6VWJ8MHRX5"]),
)


@given(st.lists(_IDENTIFIER_TEXT, max_size=30))
def test_values_already_clean_skip_the_full_cleaning_without_changing_an_answer(raw):
    """The shortcut for well-formed and empty values gives what the full cleaning gives, in any mix."""
    column = pa.array(raw, type=pa.string())
    for quick, full in ((clean_uei, _clean_uei), (clean_duns, _clean_duns)):
        got, expected = quick(column), full(column)
        assert got.values.to_pylist() == expected.values.to_pylist()
        assert got.reasons.to_pylist() == expected.reasons.to_pylist()


def test_reason_counts_name_the_identifier_and_reason():
    result = clean_uei(pa.array(["0D6VWJ8MHRX5", "SHORT", "TOOSHORT", "KD6VWJ8MHRX5"]))
    assert result.reason_counts("uei") == {"uei:starts-with-zero": 1, "uei:wrong-length": 2}


def test_scalar_validators():
    assert is_valid_uei("kd6vwj8mhrx5") and not is_valid_uei("KD6VWJ8MHRXI") and not is_valid_uei(None)
    assert is_valid_duns("123456789.0") and not is_valid_duns("abc")


def test_identifier_codes_are_distinct_per_value_and_zero_for_null():
    from sbir_etl.linkage.recipients import identifier_codes

    values = ["123", "0123", "000000000", "012345678", "KD6VWJ8MHRX5", "ZZZZZZZZZZZZ", None]
    codes = identifier_codes(pa.array(values, type=pa.string()))
    assert codes[-1] == 0 and len(set(codes[:-1].tolist())) == len(values) - 1 and (codes[:-1] > 0).all()
    assert identifier_codes(pa.array(values, type=pa.string()).slice(4, 2)).tolist() == codes[4:6].tolist()
    for unclean in (["kd6vwj8mhrx5"], ["KD6VWJ8MHRXÉ"], ["KD6VWJ8MHRX55"]):
        with pytest.raises(ValueError, match="clean identifiers"):
            identifier_codes(pa.array(unclean))
    assert identifier_codes(pa.array(["123"], type=pa.large_string())).tolist() == codes[:1].tolist()
