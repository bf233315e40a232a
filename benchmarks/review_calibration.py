"""How often a candidate is right, per held-back reason and score band: the table behind
`sbir_etl.evaluation.review.CANDIDATE_PRECISION`, measured on an enriched file with truth.

    .venv/bin/sbir-etl enrich --awards /work/data/full/awards.csv --recipients /work/data/full/recipients.csv --out out/full.csv
    .venv/bin/python benchmarks/review_calibration.py --enriched out/full.csv --truth /work/data/full/truth.csv
"""

import argparse

from sbir_etl.evaluation.review import SCORE_BANDS, calibrate
from sbir_etl.io.tables import RejectSink, read_text_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enriched", required=True)
    parser.add_argument("--truth", required=True)
    args = parser.parse_args()
    enriched = read_text_table(args.enriched, RejectSink()).to_pandas()
    truth = read_text_table(args.truth, RejectSink()).to_pandas()
    table = calibrate(enriched, truth, [c for c in truth.columns if c != "recipient_hash"])
    print(table.to_markdown(index=False, floatfmt=".3f"))
    bands = [
        f"{b:g}" + (f"-{SCORE_BANDS[i + 1]:g}" if i + 1 < len(SCORE_BANDS) else "") for i, b in enumerate(SCORE_BANDS)
    ]
    print("\nCANDIDATE_PRECISION = {")
    for reason, rows in table.groupby("reason"):
        share = dict(zip(rows["band"], rows["right"]))
        values = ", ".join(f"{share[b]:.3f}" if b in share else "None" for b in bands)
        print(f"    {reason!r}: ({values}),")
    print("}")


if __name__ == "__main__":
    main()
