"""One text-array type for the core: every column it cleans or compares is an Arrow string array."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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


def positions_in(values: pa.Array, value_set: pa.Array) -> np.ndarray:
    """The position of each value in `value_set` (int64), -1 where it is absent or null."""
    return pc.fill_null(pc.index_in(values, value_set=value_set), -1).to_numpy(zero_copy_only=False).astype(np.int64)
