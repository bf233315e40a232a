"""One text-array type for the core: every column it cleans or compares is an Arrow string array."""

import pandas as pd
import pyarrow as pa

TextLike = pd.Series | pa.Array | pa.ChunkedArray


def as_string_array(values: TextLike) -> pa.Array:
    """A pandas Series or (chunked) Arrow array as one contiguous Arrow string array."""
    if isinstance(values, pd.Series):
        arr = pa.array(values.astype("string[pyarrow]"), type=pa.string())
    elif isinstance(values, pa.ChunkedArray):
        arr = values.combine_chunks()
    else:
        arr = values
    return arr if arr.type == pa.string() else arr.cast(pa.string())
