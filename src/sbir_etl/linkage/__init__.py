"""The pure linkage core: award and recipient tables in, match columns out.

Plain functions and classes over Arrow arrays and tables; no file I/O, no Dagster, no pytest.

- `names`, `identifiers`, `locations`: clean one kind of field on both sides the same way.
- `candidates`: fuzzy name candidates by blocking, never award x recipient.
- `recipients`: the recipient index, built once per run.
- `cascade`: the matching cascade over one chunk of awards (UEI -> DUNS -> name -> fuzzy).
"""

from sbir_etl.linkage.cascade import ChunkStats, FuzzyCache, IdentifiedNames, match_chunk
from sbir_etl.linkage.identifiers import clean_duns, clean_uei, is_valid_duns, is_valid_uei
from sbir_etl.linkage.names import normalize_name, normalize_names
from sbir_etl.linkage.recipients import RecipientIndex

__all__ = [
    "ChunkStats",
    "FuzzyCache",
    "IdentifiedNames",
    "RecipientIndex",
    "clean_duns",
    "clean_uei",
    "is_valid_duns",
    "is_valid_uei",
    "match_chunk",
    "normalize_name",
    "normalize_names",
]
