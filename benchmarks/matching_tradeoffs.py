"""Precision/recall of name matching under different cascade settings, on synthetic ground truth.

Builds the recipient index once and re-runs the cascade with each setting, then with each rule
of `sbir_etl.linkage.rules` switched off on its own (the index is rebuilt for normalisation
rules), so the table shows what each rule buys and costs. Usage:

    .venv/bin/python benchmarks/matching_tradeoffs.py --awards 50000 --recipients 500000 [--markdown FILE]

The same rules measured on real names: `benchmarks/real_data.py` (its ablation section).
"""

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from sbir_etl.config import EnrichmentConfig
from sbir_etl.enrichment import enrich_table
from sbir_etl.evaluation.quality import evaluate_against_truth
from sbir_etl.evaluation.synthetic import generate
from sbir_etl.linkage.candidates import NameCandidates
from sbir_etl.linkage.cascade import NO_IDENTIFIED_NAMES, FuzzyCache, IdentifiedNames
from sbir_etl.linkage.recipients import RecipientIndex
from sbir_etl.linkage.rules import NORMALISATION_RULES, RULES, rules_disabled

KEY = ["Agency Tracking Number", "Contract"]
SETTINGS: dict[str, dict] = {
    "default (auto>=90, margin 4, corroborated or >=97)": {},
    "no corroboration needed (auto>=90, margin 4)": {"fuzzy_uncorroborated_threshold": 90.0},
    "no margin (auto>=90, corroborated or >=97)": {"fuzzy_margin": 0.0},
    "auto>=85": {"fuzzy_auto_threshold": 85.0},
    "auto>=95": {"fuzzy_auto_threshold": 95.0},
    "exact names only (no fuzzy joins)": {
        "fuzzy_auto_threshold": 100.0,
        "fuzzy_uncorroborated_threshold": 100.0,
        "fuzzy_candidate_threshold": 100.0,  # distinctive pairs join from the candidate score
    },
}


class NoDescriptorVariants:
    """Stands in for the descriptor-variant candidate source, to show what it buys."""

    def candidates(self, queries: pa.Array) -> NameCandidates:
        empty = np.array([], dtype=np.int64)
        return NameCandidates(empty, empty, np.array([], dtype=np.float64))


# Rules that are not settings, removed one at a time: (label, index, identified names).
def ablations(index: RecipientIndex, identified: IdentifiedNames) -> dict[str, tuple[RecipientIndex, IdentifiedNames]]:
    return {
        "without descriptor variants ('acme' / 'acme systems', misspelt descriptors)": (
            dataclasses.replace(index, descriptor_variants=NoDescriptorVariants()),
            identified,
        ),
        "without the file's identified names (same-city joins across states stay candidates)": (
            index,
            NO_IDENTIFIED_NAMES,
        ),
    }


def _row(label: str, result: dict) -> dict:
    fuzzy, exact = result["by_method"]["name-fuzzy-auto"], result["by_method"]["name-exact"]
    return {
        "setting": label,
        "name precision": f"{result['name_precision']:.4f}",
        "name recall": f"{result['name_recall']:.4f}",
        "name-exact joins": exact["joined"],
        "fuzzy-auto joins": fuzzy["joined"],
        "fuzzy-auto precision": f"{fuzzy['precision']:.4f}",
        "overall precision": f"{result['precision']:.4f}",
        "overall recall": f"{result['recall']:.4f}",
        "candidates": result["candidates"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--awards", type=int, default=50_000)
    parser.add_argument("--recipients", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    data = generate(args.awards, args.recipients, args.seed)
    base = EnrichmentConfig()
    started = time.perf_counter()
    index = RecipientIndex.build(data.recipients, base.recipient_columns, base.blocking_max_key_share)
    print(f"index of {args.recipients} recipients built in {time.perf_counter() - started:.1f} s")
    columns = base.award_columns.resolve(data.awards.column_names, "synthetic awards")
    truth = data.truth.to_pandas()
    cache = FuzzyCache()
    identified = IdentifiedNames.collect([data.awards], columns, index)
    runs = [
        (label, dataclasses.replace(base, **changes), index, identified, cache) for label, changes in SETTINGS.items()
    ]
    runs += [
        (label, base, variant_index, variant_identified, FuzzyCache())
        for label, (variant_index, variant_identified) in ablations(index, identified).items()
    ]
    rows = []
    for label, config, run_index, run_identified, run_cache in runs:
        table, _ = enrich_table(data.awards, columns, run_index, config, run_cache, run_identified)
        rows.append(_row(label, evaluate_against_truth(table.to_pandas(), truth, KEY)))
    for rule in RULES:
        with rules_disabled(rule):
            run_index = (
                RecipientIndex.build(data.recipients, base.recipient_columns, base.blocking_max_key_share)
                if rule in NORMALISATION_RULES or rule == "second names"
                else index
            )
            run_identified = IdentifiedNames.collect([data.awards], columns, run_index)
            table, _ = enrich_table(data.awards, columns, run_index, base, FuzzyCache(), run_identified)
        rows.append(_row(f"without rule '{rule}'", evaluate_against_truth(table.to_pandas(), truth, KEY)))
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False))
    if args.markdown:
        header = f"{args.awards:,} awards x {args.recipients:,} recipients, seed {args.seed}\n\n"
        args.markdown.write_text(header + frame.to_markdown(index=False) + "\n")


if __name__ == "__main__":
    main()
