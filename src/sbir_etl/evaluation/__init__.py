"""How good an enrichment is: metrics, gates and data with known answers.

- `quality`: match rate, rates by method and score histogram; precision and recall against truth.
- `gates`: the quality gates (match rate, completeness, identifier validity) as plain functions.
- `synthetic`: generated awards and recipients with ground truth, at any scale.
- `real_data`: real SBIR.gov and FPDS records turned into evaluations with an identifier truth.
"""

from sbir_etl.evaluation.quality import evaluate_against_truth, match_metrics, match_rate

__all__ = ["evaluate_against_truth", "match_metrics", "match_rate"]
