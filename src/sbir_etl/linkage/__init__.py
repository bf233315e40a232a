"""The pure linkage core: award and recipient tables in, match columns out.

Plain functions and classes over Arrow arrays and tables; no file I/O, no Dagster, no pytest.

- `names`, `identifiers`, `locations`: clean one kind of field on both sides the same way.
- `candidates`: fuzzy name candidates by blocking, never award x recipient.
- `recipients`: the recipient index, built once per run.
- `support`: the evidence per award (cleaned fields, the file's identified names) and how well a
  recipient's identifiers and location support it.
- `distinctiveness`: how much the words two names share say about identity (term frequency).
- `rules`: the rules added for real names, each of which can be switched off to measure it.
- `cascade`: the matching cascade over one chunk of awards, a tuple of stages (UEI -> DUNS ->
  name -> second name -> fuzzy).
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
