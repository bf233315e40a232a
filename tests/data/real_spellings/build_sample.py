"""Rebuild `fpds_sample.csv`, the committed sample behind tests/core/test_real_data_sample.py.

    .venv/bin/python tests/data/real_spellings/build_sample.py [--real-dir ../shared/data/real]

From the real FPDS Phase III transactions (`fpds_sbir_sttr_phase3_transactions.csv`), keep only
the columns the same-UEI spelling test reads (uei, legal_business_name, city, state) and:

* N_MULTI UEIs that carry several spellings of `legal_business_name`, chosen at random (fixed
  seed) among those with at most MAX_ROWS_MULTI transactions, with ALL their rows - so each UEI's most
  frequent spelling and location are exactly those of the full file;
* N_SINGLE single-spelling UEIs (at most MAX_ROWS_SINGLE rows each, all rows) as distractor recipients.

Rows keep their file order. Deterministic: the same input gives the same sample.
This is a directory under tests/data/, not fixtures/: it is not a scenario (no expected.yaml).
"""

import argparse
from pathlib import Path

import pandas as pd

from sbir_etl.evaluation.real_data import FPDS_COLUMNS

HERE = Path(__file__).resolve().parent
DEFAULT_REAL_DIR = HERE.parents[3] / "shared" / "data" / "real"
SEED = 20261128
N_MULTI, N_SINGLE = 50, 80
MAX_ROWS_MULTI, MAX_ROWS_SINGLE = 20, 3


def sample(fpds: pd.DataFrame) -> pd.DataFrame:
    """The sampled rows (see the module docstring)."""
    fpds = fpds.loc[:, list(FPDS_COLUMNS)]
    stripped = fpds.assign(legal_business_name=fpds["legal_business_name"].str.strip())
    per_uei = stripped.groupby("uei").agg(
        spellings=("legal_business_name", "nunique"), rows=("legal_business_name", "size")
    )
    multi_pool = per_uei[(per_uei["spellings"] > 1) & (per_uei["rows"] <= MAX_ROWS_MULTI)]
    single_pool = per_uei[(per_uei["spellings"] == 1) & (per_uei["rows"] <= MAX_ROWS_SINGLE)]
    multi = multi_pool.sample(n=N_MULTI, random_state=SEED).index
    single = single_pool.sample(n=N_SINGLE, random_state=SEED).index
    return fpds[fpds["uei"].isin(multi.union(single))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-dir", type=Path, default=DEFAULT_REAL_DIR)
    parser.add_argument("--out", type=Path, default=HERE / "fpds_sample.csv")
    args = parser.parse_args()
    source = args.real_dir / "fpds_sbir_sttr_phase3_transactions.csv"
    if not source.is_file():
        raise SystemExit(f"{source} not found: pass --real-dir DIR holding the real FPDS file")
    out = sample(pd.read_csv(source, dtype=str, keep_default_na=False))
    out.to_csv(args.out, index=False)
    print(f"{len(out)} rows, {out['uei'].nunique()} UEIs -> {args.out}")


if __name__ == "__main__":
    main()
