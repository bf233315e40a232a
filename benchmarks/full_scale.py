"""Full-scale acceptance run of the enrichment core, with the naive algorithm side by side.

In one run, on one dataset (default: the full scale, 533,000 awards x 3,300,000 recipients):

1. ``sbir-etl enrich`` as a whole *subprocess*, cold (the recipient index built in the run): wall
   time (perf_counter around the process) and peak RSS (the child's own ``ru_maxrss`` from
   ``os.wait4``, what ``/usr/bin/time -v`` reports as "Maximum resident set size");
1b. the saved index (unless ``--no-saved-index``): ``sbir-etl index`` (build and save), then
   ``enrich --index`` over all the awards (its summary says how long loading the index took),
   over the last 10,000 awards alone, and ``--incremental``: an incremental run over all but the
   last 10,000 awards seeds an output, then one over all of them enriches the 10,000 new ones;
   every output is compared with the cold one, value by value (``same_output.py``), and with
   ``--reference`` (e.g. the output of ``main``) too;
2. the naive algorithm, faithfully re-implemented: per award, ``rapidfuzz.process.extract(name,
   all_recipient_names, scorer=fuzz.token_set_ratio, processor=default_process, limit=5)`` over
   ALL recipient names. Timed on a random sample of the awards that reach name matching (no UEI
   or DUNS join), extrapolated to all of them, and printed as a ratio to our whole run
   (target >= 1000x);
3. optionally (``--doubling``), ``sbir-etl enrich`` again with the first half of the recipients:
   time(all) / time(half) (target <= 2.2x);
4. precision and recall from ``sbir-etl evaluate --json`` against the synthetic truth.

    .venv/bin/python benchmarks/full_scale.py --data /work/data/full --doubling --markdown out/full.md
    .venv/bin/python benchmarks/full_scale.py --awards 2000 --recipients 20000   # a quick tiny run

Without ``--data`` the dataset is generated with ``sbir-etl generate`` into ``--work`` (about 500 MB
at full scale). Exit 0 when every step ran (targets missed are reported, not fatal), 1 with
``--strict`` when a target is missed, 2 when a step failed. Figures are only comparable on the
same machine and load; say which in any report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FULL_AWARDS = 533_000
FULL_RECIPIENTS = 3_300_000
IDENTIFIER_METHODS = frozenset({"uei-exact", "duns-exact"})
NAIVE_LIMIT = 5
NEW_AWARDS = 10_000

# target name -> (threshold, "max" or "min")
TARGETS: dict[str, tuple[float, str]] = {
    "wall_s": (30.0, "max"),
    "peak_rss_mib": (1536.0, "max"),
    "index_load_s": (2.0, "max"),
    "indexed_wall_s": (20.0, "max"),
    "new_awards_wall_s": (5.0, "max"),
    "new_awards_rss_mib": (1024.0, "max"),
    "naive_ratio": (1000.0, "min"),
    "doubling_ratio": (2.2, "max"),
    "name_precision": (0.99, "min"),
    "name_recall": (0.95, "min"),
}


class StepFailed(RuntimeError):
    """A subprocess of the run (generate, enrich, evaluate) exited non-zero."""


@dataclass(frozen=True)
class ProcessRun:
    """One finished subprocess: its wall time, its own peak RSS and its exit code."""

    command: tuple[str, ...]
    wall_s: float
    peak_rss_mib: float
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class NaiveEstimate:
    """The naive algorithm timed on ``sample`` awards and extrapolated to ``name_awards`` awards."""

    sample: int
    sample_s: float
    name_awards: int
    recipients: int

    @property
    def per_award_s(self) -> float:
        return self.sample_s / self.sample if self.sample else 0.0

    @property
    def extrapolated_s(self) -> float:
        return self.per_award_s * self.name_awards


@dataclass
class SavedIndexRuns:
    """The saved-index figures: build+save, full enrichment with it, 10K new awards, incremental."""

    index: ProcessRun
    index_mib: float
    index_load_s: float
    indexed: ProcessRun
    new_awards: ProcessRun
    incremental_seed: ProcessRun
    incremental: ProcessRun
    incremental_counts: dict[str, int]
    same_output: dict[str, str]  # comparison -> "identical" or what differs


@dataclass
class FullScaleResult:
    """Everything one run measured; ``rows()`` turns it into the printed table."""

    awards: int
    recipients: int
    data_dir: str
    enrich: ProcessRun
    counts_by_method: dict[str, int]
    naive: NaiveEstimate
    quality: dict
    half_enrich: ProcessRun | None = None
    saved: SavedIndexRuns | None = None
    machine: str = field(default_factory=lambda: f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs")
    date: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))

    @property
    def naive_ratio(self) -> float:
        return naive_ratio(self.naive.extrapolated_s, self.enrich.wall_s)

    @property
    def doubling_ratio(self) -> float | None:
        return None if self.half_enrich is None else self.enrich.wall_s / self.half_enrich.wall_s

    def measured(self) -> dict[str, float | None]:
        saved = self.saved
        return {
            "wall_s": self.enrich.wall_s,
            "peak_rss_mib": self.enrich.peak_rss_mib,
            "index_load_s": saved.index_load_s if saved else None,
            "indexed_wall_s": saved.indexed.wall_s if saved else None,
            "new_awards_wall_s": saved.new_awards.wall_s if saved else None,
            "new_awards_rss_mib": saved.new_awards.peak_rss_mib if saved else None,
            "naive_ratio": self.naive_ratio,
            "doubling_ratio": self.doubling_ratio,
            "name_precision": self.quality.get("name_precision"),
            "name_recall": self.quality.get("name_recall"),
        }

    def missed_targets(self) -> list[str]:
        return [name for name, value in self.measured().items() if value is not None and not meets_target(name, value)]

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(what, measured, target, verdict) for every figure."""

        def verdict(name: str) -> str:
            value = self.measured()[name]
            if value is None:
                return "not run"
            return "PASS" if meets_target(name, value) else "MISS"

        def target(name: str, unit: str = "") -> str:
            threshold, kind = TARGETS[name]
            return f"{'<=' if kind == 'max' else '>='} {threshold:g}{unit}"

        q = self.quality
        half = self.half_enrich
        rows = [
            ("data", f"{self.awards:,} awards x {self.recipients:,} recipients", "", ""),
            (
                "`sbir-etl enrich` wall time (whole process)",
                f"{self.enrich.wall_s:.1f} s",
                target("wall_s", " s"),
                verdict("wall_s"),
            ),
            (
                "`sbir-etl enrich` peak RSS (whole process)",
                f"{self.enrich.peak_rss_mib:,.0f} MiB",
                target("peak_rss_mib", " MiB"),
                verdict("peak_rss_mib"),
            ),
            ("throughput", f"{self.awards / self.enrich.wall_s:,.0f} awards/s" if self.enrich.wall_s else "-", "", ""),
            *self._saved_rows(target, verdict),
            ("awards reaching name matching", f"{self.naive.name_awards:,}", "", ""),
            (
                "naive: per award (token_set_ratio over all recipients)",
                f"{self.naive.per_award_s * 1000:,.1f} ms (sample of {self.naive.sample})",
                "",
                "",
            ),
            (
                "naive: extrapolated to all name-matching awards",
                f"{self.naive.extrapolated_s:,.0f} s ({self.naive.extrapolated_s / 3600:,.2f} h)",
                "",
                "",
            ),
            ("naive / ours", f"{self.naive_ratio:,.0f}x", target("naive_ratio", "x"), verdict("naive_ratio")),
            ("recipients halved: wall time", f"{half.wall_s:.1f} s" if half else "not run (--doubling)", "", ""),
            (
                "doubling recipients costs",
                f"{self.doubling_ratio:.2f}x" if half else "not run (--doubling)",
                target("doubling_ratio", "x"),
                verdict("doubling_ratio"),
            ),
            ("precision / recall (all joins)", f"{q['precision']:.4f} / {q['recall']:.4f}", "", ""),
            (
                "name matching (exact + fuzzy-auto) precision",
                f"{q['name_precision']:.4f}",
                target("name_precision"),
                verdict("name_precision"),
            ),
            (
                "name matching (exact + fuzzy-auto) recall",
                f"{q['name_recall']:.4f}",
                target("name_recall"),
                verdict("name_recall"),
            ),
            ("false-join rate", f"{q['false_join_rate']:.4%}", "", ""),
            ("match rate", f"{match_rate(self.counts_by_method):.2%}", "", ""),
        ]
        return rows

    def _saved_rows(self, target: Any, verdict: Any) -> list[tuple[str, str, str, str]]:
        saved = self.saved
        if saved is None:
            return [("saved index", "not run (--no-saved-index)", "", "")]
        inc = saved.incremental_counts
        return [
            (
                "`sbir-etl index`: build and save (whole process)",
                f"{saved.index.wall_s:.1f} s, {saved.index.peak_rss_mib:,.0f} MiB peak, file {saved.index_mib:,.0f} MiB",
                "",
                "",
            ),
            (
                "index load (memory map, in the run)",
                f"{saved.index_load_s:.2f} s",
                target("index_load_s", " s"),
                verdict("index_load_s"),
            ),
            (
                "`enrich --index`, all awards: wall time",
                f"{saved.indexed.wall_s:.1f} s ({saved.indexed.peak_rss_mib:,.0f} MiB peak)",
                target("indexed_wall_s", " s"),
                verdict("indexed_wall_s"),
            ),
            (
                f"`enrich --index`, {NEW_AWARDS:,} new awards: wall time",
                f"{saved.new_awards.wall_s:.1f} s",
                target("new_awards_wall_s", " s"),
                verdict("new_awards_wall_s"),
            ),
            (
                f"`enrich --index`, {NEW_AWARDS:,} new awards: peak RSS",
                f"{saved.new_awards.peak_rss_mib:,.0f} MiB",
                target("new_awards_rss_mib", " MiB"),
                verdict("new_awards_rss_mib"),
            ),
            (
                f"`enrich --index --incremental`, all but the last {NEW_AWARDS:,} (seeds the output)",
                f"{saved.incremental_seed.wall_s:.1f} s, {saved.incremental_seed.peak_rss_mib:,.0f} MiB peak",
                "",
                "",
            ),
            (
                f"`enrich --index --incremental`, {NEW_AWARDS:,} awards added",
                f"{saved.incremental.wall_s:.1f} s, {saved.incremental.peak_rss_mib:,.0f} MiB peak "
                f"({inc.get('kept', 0):,} kept, {inc.get('enriched', 0):,} enriched, "
                f"{inc.get('rows_reenriched_for_evidence', 0):,} for evidence)",
                "",
                "",
            ),
            *(
                (
                    f"identical output: {what}",
                    verdict_text,
                    "identical",
                    "PASS" if verdict_text == "identical" else "MISS",
                )
                for what, verdict_text in saved.same_output.items()
            ),
        ]


def naive_ratio(naive_s: float, ours_s: float) -> float:
    """How many times longer the naive algorithm takes than our whole run."""
    if ours_s <= 0:
        raise ValueError(f"our wall time must be positive to form a ratio, got {ours_s}")
    return naive_s / ours_s


def meets_target(name: str, value: float) -> bool:
    threshold, kind = TARGETS[name]
    return value <= threshold if kind == "max" else value >= threshold


def match_rate(counts_by_method: dict[str, int]) -> float:
    """Joined / all, candidates excluded (as `EnrichmentSummary.match_rate`)."""
    total = sum(counts_by_method.values())
    joined = sum(v for k, v in counts_by_method.items() if k in IDENTIFIER_METHODS | {"name-exact", "name-fuzzy-auto"})
    return joined / total if total else 0.0


def render_markdown(result: FullScaleResult) -> str:
    lines = [
        f"Measured {result.date} on {result.machine} with `benchmarks/full_scale.py` (data: `{result.data_dir}`).",
        "",
        "| figure | measured | target | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {what} | {value} | {target} | {verdict} |" for what, value, target, verdict in result.rows()]
    return "\n".join(lines) + "\n"


def render_text(result: FullScaleResult) -> str:
    rows = result.rows()
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    lines = [f"full-scale run, {result.date}, {result.machine}"]
    lines += [
        f"  {what.replace('`', ''):<{width}}  {value:>{value_width}}  {target:<12} {verdict}".rstrip()
        for what, value, target, verdict in rows
    ]
    return "\n".join(lines)


# -- the edges: subprocesses and files -----------------------------------------------------------


def sbir_etl_command(*args: str) -> list[str]:
    """The `sbir-etl` CLI of this interpreter's environment."""
    return [sys.executable, "-m", "sbir_etl.cli", *args]


def run_measured(command: Sequence[str]) -> ProcessRun:
    """Run ``command``; wall time around the process, peak RSS from the child's own rusage.

    ``os.wait4`` returns the rusage of that one child, so an earlier, larger subprocess (e.g. the
    generator) cannot leak into the figure as it would with ``RUSAGE_CHILDREN``.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(list(command), stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)  # reaps the child; Popen.wait would discard its rusage
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    peak_kib = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    return ProcessRun(tuple(command), wall, peak_kib / 1024, process.returncode, stdout, stderr)


def checked(run: ProcessRun, what: str) -> ProcessRun:
    if run.returncode != 0:
        raise StepFailed(
            f"{what} failed (exit {run.returncode}): {' '.join(run.command)}\n{run.stderr.strip()[-2000:]}"
        )
    return run


def dataset_paths(directory: Path) -> dict[str, Path]:
    paths = {name: directory / f"{name}.csv" for name in ("awards", "recipients", "truth")}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"dataset directory {directory} lacks {missing}; generate it with "
            "`sbir-etl generate --out DIR` or omit --data to generate one"
        )
    return paths


def read_column(path: Path, column: str) -> list[str]:
    """One text column of a CSV, as Python strings (empty for missing values)."""
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            include_columns=[column],
            column_types={column: pa.string()},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table.column(column).to_pylist()


def write_half_recipients(recipients: Path, out: Path) -> int:
    """The first half of the recipient rows, as CSV; returns how many were written."""
    from sbir_etl.io.tables import read_header

    header = read_header(recipients)
    table = pacsv.read_csv(
        recipients,
        convert_options=pacsv.ConvertOptions(  # all text: DUNS keep leading zeros
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
    )
    half = table.slice(0, table.num_rows // 2)
    pacsv.write_csv(half, out)
    return half.num_rows


def name_matching_sample(enriched: Path, company_column: str, size: int, seed: int) -> tuple[list[str], int]:
    """A seeded random sample of award names that reached name matching, and how many awards did."""
    table = pq.read_table(enriched, columns=[company_column, "match_method"])
    names = [
        name
        for name, method in zip(table.column(company_column).to_pylist(), table.column("match_method").to_pylist())
        if method not in IDENTIFIER_METHODS
    ]
    sample = random.Random(seed).sample(names, min(size, len(names)))
    return [n or "" for n in sample], len(names)


def time_naive(award_names: Sequence[str], recipient_names: Sequence[str]) -> float:
    """Seconds for the naive matcher on ``award_names``: every award against every recipient name."""
    from rapidfuzz import fuzz, process
    from rapidfuzz.utils import default_process

    started = time.perf_counter()
    for name in award_names:
        process.extract(
            name, recipient_names, scorer=fuzz.token_set_ratio, processor=default_process, limit=NAIVE_LIMIT
        )
    return time.perf_counter() - started


def split_awards(awards: Path, tail_rows: int, work: Path) -> tuple[Path, Path]:
    """(all but the last `tail_rows` awards, the last `tail_rows`) as CSV files, read as the core reads them."""
    from sbir_etl.io.tables import RejectSink, read_text_table

    table = read_text_table(awards, RejectSink())
    cut = max(0, table.num_rows - tail_rows)
    head, tail = work / "awards-head.csv", work / "awards-new.csv"
    pacsv.write_csv(table.slice(0, cut), head)
    pacsv.write_csv(table.slice(cut), tail)
    return head, tail


def compare_outputs(left: Path, right: Path) -> str:
    """ "identical", or what differs (benchmarks/same_output.py)."""
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from same_output import compare
    finally:
        sys.path.pop(0)
    result = compare(left, right)
    return "identical" if result.identical else result.describe().splitlines()[0]


def run_saved_index(
    args: argparse.Namespace, paths: dict[str, Path], work: Path, cold: Path, log: Any
) -> SavedIndexRuns:
    """`sbir-etl index`, then `enrich --index` over all awards, over 10K new ones, and incrementally."""
    index = work / "recipients.idx"
    log("sbir-etl index (build and save) ...")
    built = checked(
        run_measured(sbir_etl_command("index", "--recipients", str(paths["recipients"]), "--out", str(index))),
        "sbir-etl index",
    )
    log(f"  {built.wall_s:.1f} s wall, {built.peak_rss_mib:,.0f} MiB peak RSS")

    def enrich(awards: Path, out: Path, *extra: str) -> tuple[ProcessRun, dict[str, Any]]:
        summary = out.with_suffix(".summary.json")
        command = ["enrich", "--awards", str(awards), "--index", str(index), "--out", str(out)]
        done = checked(
            run_measured(sbir_etl_command(*command, "--summary-json", str(summary), "--quiet", *extra)),
            f"sbir-etl enrich --index {' '.join(extra)}",
        )
        log(f"  {done.wall_s:.1f} s wall, {done.peak_rss_mib:,.0f} MiB peak RSS")
        return done, json.loads(summary.read_text())

    log("sbir-etl enrich --index, all awards ...")
    indexed, summary = enrich(paths["awards"], work / "enriched-indexed.parquet")
    head, tail = split_awards(paths["awards"], NEW_AWARDS, work)
    log(f"sbir-etl enrich --index, {NEW_AWARDS:,} new awards ...")
    new_awards, _ = enrich(tail, work / "enriched-new.parquet")
    incremental_out = work / "enriched-incremental.parquet"
    incremental_out.unlink(missing_ok=True)
    log(f"sbir-etl enrich --index --incremental, all but the last {NEW_AWARDS:,} awards (seeds the output) ...")
    seed, _ = enrich(head, incremental_out, "--incremental")
    log(f"sbir-etl enrich --index --incremental, {NEW_AWARDS:,} awards added ...")
    incremental, incremental_summary = enrich(paths["awards"], incremental_out, "--incremental")
    same = {
        "cold vs --index": compare_outputs(cold, work / "enriched-indexed.parquet"),
        "cold vs --incremental": compare_outputs(cold, incremental_out),
    }
    if args.reference:
        same[f"{args.reference} vs cold"] = compare_outputs(Path(args.reference), cold)
    return SavedIndexRuns(
        index=built,
        index_mib=index.stat().st_size / 2**20,
        index_load_s=float(summary["index_build_s"]),
        indexed=indexed,
        new_awards=new_awards,
        incremental_seed=seed,
        incremental=incremental,
        incremental_counts=incremental_summary["incremental"],
        same_output=same,
    )


def run(args: argparse.Namespace, log=print) -> FullScaleResult:
    """The whole measurement; ``log`` gets a line per step."""
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.data:
        data_dir = Path(args.data)
    else:
        data_dir = work / f"data-{args.awards}x{args.recipients}-seed{args.seed}"
        log(f"generating {args.awards:,} awards x {args.recipients:,} recipients into {data_dir} ...")
        gen = checked(
            run_measured(
                sbir_etl_command(
                    "generate",
                    "--awards",
                    str(args.awards),
                    "--recipients",
                    str(args.recipients),
                    "--seed",
                    str(args.seed),
                    "--out",
                    str(data_dir),
                )
            ),
            "generate",
        )
        log(f"  generated in {gen.wall_s:.1f} s")
    paths = dataset_paths(data_dir)
    enriched = work / "enriched.parquet"
    summary_json = work / "enrich-summary.json"
    enrich_args = [
        "enrich",
        "--awards",
        str(paths["awards"]),
        "--recipients",
        str(paths["recipients"]),
        "--out",
        str(enriched),
        "--summary-json",
        str(summary_json),
        "--quiet",
    ]
    if args.chunk_size:
        enrich_args += ["--chunk-size", str(args.chunk_size)]
    log("sbir-etl enrich (whole process) ...")
    enrich = checked(run_measured(sbir_etl_command(*enrich_args)), "sbir-etl enrich")
    summary = json.loads(summary_json.read_text())
    log(f"  {enrich.wall_s:.1f} s wall, {enrich.peak_rss_mib:,.0f} MiB peak RSS")

    log("sbir-etl evaluate ...")
    evaluation = checked(
        run_measured(
            sbir_etl_command("evaluate", "--truth", str(paths["truth"]), "--enriched", str(enriched), "--json")
        ),
        "sbir-etl evaluate",
    )
    quality = json.loads(evaluation.stdout)

    half = None
    if args.doubling:
        half_path = work / "recipients-half.csv"
        n_half = write_half_recipients(paths["recipients"], half_path)
        log(f"sbir-etl enrich with half the recipients ({n_half:,}) ...")
        half_args = [a if a != str(paths["recipients"]) else str(half_path) for a in enrich_args]
        half_args[half_args.index("--out") + 1] = str(work / "enriched-half.parquet")
        half_args[half_args.index("--summary-json") + 1] = str(work / "enrich-half-summary.json")
        half = checked(run_measured(sbir_etl_command(*half_args)), "sbir-etl enrich (half the recipients)")
        log(f"  {half.wall_s:.1f} s wall")

    saved = None if args.no_saved_index else run_saved_index(args, paths, work, enriched, log)

    from sbir_etl.config import EnrichmentConfig
    from sbir_etl.io.tables import read_header

    company = EnrichmentConfig().award_columns.resolve(read_header(paths["awards"]), paths["awards"]).company
    sample, name_awards = name_matching_sample(enriched, company, args.naive_sample, args.seed)
    log(f"naive matcher on {len(sample)} of {name_awards:,} name-matching awards ...")
    recipient_names = read_column(paths["recipients"], EnrichmentConfig().recipient_columns.legal_business_name)
    naive = NaiveEstimate(len(sample), time_naive(sample, recipient_names), name_awards, len(recipient_names))
    del recipient_names
    return FullScaleResult(
        awards=summary["rows_in"],
        recipients=summary["recipients"],
        data_dir=str(data_dir),
        enrich=enrich,
        counts_by_method=summary["counts_by_method"],
        naive=naive,
        quality=quality,
        half_enrich=half,
        saved=saved,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--awards", type=int, default=FULL_AWARDS, help=f"awards to generate (default {FULL_AWARDS:,})")
    parser.add_argument(
        "--recipients", type=int, default=FULL_RECIPIENTS, help=f"recipients to generate (default {FULL_RECIPIENTS:,})"
    )
    parser.add_argument("--seed", type=int, default=0, help="generator seed; also seeds the naive sample")
    parser.add_argument(
        "--data", help="reuse a generated directory (awards.csv, recipients.csv, truth.csv) instead of generating"
    )
    parser.add_argument(
        "--work", default="out/full_scale", help="where generated data and outputs go (default out/full_scale)"
    )
    parser.add_argument(
        "--naive-sample", type=int, default=20, help="awards the naive algorithm is timed on (default 20)"
    )
    parser.add_argument(
        "--doubling", action="store_true", help="also run with half the recipients and print the doubling ratio"
    )
    parser.add_argument("--chunk-size", type=int, help="passed to sbir-etl enrich")
    parser.add_argument(
        "--no-saved-index", action="store_true", help="skip the saved-index, 10K-award and incremental runs"
    )
    parser.add_argument("--reference", help="an earlier output (e.g. of main) the cold output must equal")
    parser.add_argument("--markdown", help="also write the table as Markdown to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.naive_sample < 1:
        print("full_scale.py: --naive-sample must be at least 1", file=sys.stderr)
        return 2
    try:
        result = run(args)
    except (StepFailed, FileNotFoundError) as error:
        print(f"full_scale.py: {error}", file=sys.stderr)
        return 2
    print(render_text(result))
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(render_markdown(result))
        print(f"markdown table: {args.markdown}")
    missed = result.missed_targets()
    if missed:
        print(f"targets missed: {', '.join(missed)}")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
