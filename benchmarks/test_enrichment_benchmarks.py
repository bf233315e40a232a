"""pytest-benchmark benchmarks of the enrichment core (`enrich_files`) on synthetic data with truth.

Not part of the default test run (``testpaths = ["tests"]``); run them explicitly::

    .venv/bin/python -m pytest benchmarks/ --benchmark-autosave                       # record (main)
    .venv/bin/python -m pytest benchmarks/ --benchmark-compare --benchmark-compare-fail=median:25%

Four groups:

* ``enrich-size``: three sizes (awards x recipients), 5K x 50K, 20K x 200K and 50K x 500K;
* ``doubling-recipients``: the same number of awards against R and 2R recipients; the 2R
  benchmark records ``time_ratio_vs_half`` (target <= 2.2: the cost follows the awards and the
  index, not awards x recipients);
* ``saved-index``: ``load_index`` of a saved 200K-recipient index (checks, then a memory map);
* ``incremental``: an incremental run with the saved index adding 1,000 awards to 19,000 enriched
  ones (each round restores the same previous output).

Each benchmark's ``extra_info`` holds what a reader of the saved JSON needs to judge the figure:
records, recipients, match rate, counts by method, precision/recall against the synthetic truth
and peak RSS of the enrichment (exact, via the kernel's VmHWM reset in `sbir_etl.monitoring.performance`).

Data are generated once per size and seed into the pytest cache
(``.pytest_cache/d/sbir-bench-data/``) and reused by later sessions; the directory name carries
a digest of ``synthetic.py``, so a change to the generator regenerates rather than reusing stale
files. ``SBIR_BENCH_SCALE`` (default 1) multiplies every size, e.g. ``SBIR_BENCH_SCALE=0.1`` for a
quick check of the benchmarks themselves; figures of different scales must not be compared.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import sbir_etl.evaluation.synthetic as synthetic
from sbir_etl.enrichment import EnrichmentSummary, enrich_files
from sbir_etl.evaluation.quality import evaluate_against_truth
from sbir_etl.io.tables import RejectSink, read_text_table

SEED = 20_260_101
ROUNDS = 3
SIZES: tuple[tuple[int, int], ...] = ((5_000, 50_000), (20_000, 200_000), (50_000, 500_000))
DOUBLING_AWARDS = 10_000
DOUBLING_RECIPIENTS = (100_000, 200_000)
MAX_DOUBLING_RATIO = 2.2


def _scale() -> float:
    raw = os.environ.get("SBIR_BENCH_SCALE", "1")
    try:
        scale = float(raw)
    except ValueError as error:
        raise pytest.UsageError(f"SBIR_BENCH_SCALE must be a number such as 0.1, got {raw!r}") from error
    if scale <= 0:
        raise pytest.UsageError(f"SBIR_BENCH_SCALE must be positive, got {raw!r}")
    return scale


def _scaled(n: int) -> int:
    return max(100, round(n * _scale()))


@dataclass(frozen=True)
class Dataset:
    """One generated synthetic dataset on disk: awards.csv, recipients.csv, truth.csv."""

    awards: int
    recipients: int
    directory: Path

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.csv"


def _generator_digest() -> str:
    return hashlib.sha256(Path(synthetic.__file__).read_bytes()).hexdigest()[:12]


@pytest.fixture(scope="session")
def dataset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """``dataset(awards, recipients)``: generate once (per size, seed and generator version), then reuse.

    Kept in pytest's cache across sessions; with the cache disabled (``-p no:cacheprovider``),
    in a temporary directory for this session only."""
    cache = getattr(request.config, "cache", None)
    root = cache.mkdir("sbir-bench-data") if cache is not None else tmp_path_factory.mktemp("sbir-bench-data")

    def get(n_awards: int, n_recipients: int) -> Dataset:
        directory = root / f"{n_awards}x{n_recipients}-seed{SEED}-{_generator_digest()}"
        data = Dataset(n_awards, n_recipients, directory)
        if not all(data.path(name).exists() for name in ("awards", "recipients", "truth")):
            synthetic.write(synthetic.generate(n_awards, n_recipients, SEED), directory)
        return data

    return get


def _read(path: Path) -> pd.DataFrame:
    return read_text_table(path, RejectSink()).to_pandas()


def _run(benchmark, data: Dataset, out_dir: Path) -> EnrichmentSummary:
    """Benchmark `enrich_files` on ``data`` and fill ``extra_info``; returns the last run's summary."""
    out = out_dir / "enriched.parquet"
    summaries: list[EnrichmentSummary] = []

    def enrich() -> None:
        summaries.append(enrich_files(data.path("awards"), data.path("recipients"), out))

    benchmark.pedantic(enrich, rounds=ROUNDS, iterations=1, warmup_rounds=1)  # warm-up: page cache, lazy imports
    summary = summaries[-1]
    truth = _read(data.path("truth"))
    quality = evaluate_against_truth(_read(out), truth, [c for c in truth.columns if c != "recipient_hash"])
    benchmark.extra_info.update(
        records=summary.rows_in,
        recipients=summary.recipients,
        match_rate=round(summary.match_rate, 4),
        counts_by_method=summary.counts_by_method,
        precision=round(quality["precision"], 4),
        recall=round(quality["recall"], 4),
        name_precision=round(quality["name_precision"], 4),
        name_recall=round(quality["name_recall"], 4),
        peak_rss_mib=round(
            max(s.peak_rss_mib for s in summaries), 1
        ),  # the process peak, what it already held included
        peak_rss_growth_mib=round(max(s.peak_rss_growth_mib for s in summaries), 1),
        index_build_s=round(min(s.index_build_s for s in summaries), 3),
        seed=SEED,
        scale=_scale(),
    )
    assert summary.rows_in == data.awards, "every generated award must be read"
    assert summary.rows_out + summary.rows_rejected == summary.rows_in
    return summary


@pytest.mark.benchmark(group="enrich-size")
@pytest.mark.parametrize(("n_awards", "n_recipients"), SIZES, ids=[f"{a // 1000}Kx{r // 1000}K" for a, r in SIZES])
def test_enrich_files(benchmark, dataset, tmp_path: Path, n_awards: int, n_recipients: int) -> None:
    """Throughput, memory and match quality of `enrich_files` at one size."""
    _run(benchmark, dataset(_scaled(n_awards), _scaled(n_recipients)), tmp_path)


@pytest.fixture(scope="module")
def doubling_medians() -> dict[int, float]:
    """Median seconds of the doubling pair, by recipient count, shared between its two benchmarks."""
    return {}


@pytest.mark.benchmark(group="doubling-recipients")
@pytest.mark.parametrize(
    "n_recipients", DOUBLING_RECIPIENTS, ids=[f"{r // 1000}K-recipients" for r in DOUBLING_RECIPIENTS]
)
def test_enrich_files_doubling_recipients(
    benchmark, dataset, tmp_path: Path, doubling_medians: dict[int, float], n_recipients: int
) -> None:
    """The same number of awards against R then 2R recipients; the second records the time ratio.

    The ratio is informational (a saved figure, target <= 2.2), not asserted: a wall-time ratio
    on a shared runner is for `--benchmark-compare` and the reader, not a pass/fail unit test.
    """
    data = dataset(_scaled(DOUBLING_AWARDS), _scaled(n_recipients))
    _run(benchmark, data, tmp_path)
    if benchmark.stats is None:  # --benchmark-disable: run once, nothing timed
        return
    median = benchmark.stats.stats.median
    doubling_medians[n_recipients] = median
    half = doubling_medians.get(n_recipients // 2)
    if half:
        benchmark.extra_info.update(time_ratio_vs_half=round(median / half, 3), target_ratio=MAX_DOUBLING_RATIO)


INDEXED = (20_000, 200_000)
NEW_AWARDS = 1_000


@pytest.fixture(scope="module")
def saved_index(dataset, tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Path]:
    """The 20K x 200K dataset and its recipient index, saved once for the module."""
    from sbir_etl.config import EnrichmentConfig
    from sbir_etl.recipient_index import index_recipient_file

    data = dataset(*(_scaled(n) for n in INDEXED))
    folder = tmp_path_factory.mktemp("saved-index")
    index_recipient_file(data.path("recipients"), folder / "recipients.idx", EnrichmentConfig(), folder / "r.csv")
    return data, folder / "recipients.idx"


@pytest.mark.benchmark(group="saved-index")
def test_load_index(benchmark, saved_index: tuple[Dataset, Path]) -> None:
    """`load_index`: the settings and recipient-file checks, then the memory map (no read, no copy)."""
    from sbir_etl.config import EnrichmentConfig
    from sbir_etl.recipient_index import load_index

    data, index = saved_index
    loaded = benchmark.pedantic(lambda: load_index(index, EnrichmentConfig()), rounds=5, iterations=1, warmup_rounds=1)
    assert len(loaded.index.table) == data.recipients
    benchmark.extra_info.update(recipients=data.recipients, index_mib=round(index.stat().st_size / 2**20, 1))


@pytest.mark.benchmark(group="incremental")
def test_incremental_new_awards(benchmark, saved_index: tuple[Dataset, Path], tmp_path: Path) -> None:
    """`enrich_files(..., incremental=True)` with the saved index: 1,000 awards added to an enriched file.

    Each round starts from the same previous output (enriched without the last 1,000 awards)."""
    import shutil

    from sbir_etl.incremental import state_path
    from sbir_etl.io.tables import RejectSink, read_text_table

    data, index = saved_index
    table = read_text_table(data.path("awards"), RejectSink())
    head = tmp_path / "awards-head.csv"
    pd.DataFrame(table.slice(0, table.num_rows - NEW_AWARDS).to_pandas()).to_csv(head, index=False)
    seeded, out = tmp_path / "seeded.parquet", tmp_path / "enriched.parquet"
    enrich_files(head, None, seeded, index_path=index, incremental=True)
    summaries: list[EnrichmentSummary] = []

    def restore_previous_output() -> None:
        shutil.copy(seeded, out)
        shutil.copy(state_path(seeded), state_path(out))

    def enrich() -> None:
        summaries.append(enrich_files(data.path("awards"), None, out, index_path=index, incremental=True))

    benchmark.pedantic(enrich, setup=restore_previous_output, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    counts = summaries[-1].incremental
    assert counts["kept"] + counts["enriched"] == data.awards and counts["enriched"] >= NEW_AWARDS
    benchmark.extra_info.update(
        records=data.awards,
        recipients=data.recipients,
        **{f"incremental_{k}": v for k, v in counts.items()},
        peak_rss_mib=round(max(s.peak_rss_mib for s in summaries), 1),
    )
