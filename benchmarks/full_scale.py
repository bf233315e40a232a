"""Full-scale acceptance run of the enrichment core, with the naive algorithm side by side.

In one run, on one dataset (default: the full scale, 533,000 awards x 3,300,000 recipients):

1. ``sbir-etl enrich`` as a whole *subprocess*: wall time (perf_counter around the process) and
   peak RSS (the child's own ``ru_maxrss`` from ``os.wait4``, what ``/usr/bin/time -v`` reports
   as "Maximum resident set size");
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

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FULL_AWARDS = 533_000
FULL_RECIPIENTS = 3_300_000
IDENTIFIER_METHODS = frozenset({"uei-exact", "duns-exact"})
NAIVE_LIMIT = 5

# target name -> (threshold, "max" or "min")
TARGETS: dict[str, tuple[float, str]] = {
    "wall_s": (60.0, "max"),
    "peak_rss_mib": (2048.0, "max"),
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
    machine: str = field(default_factory=lambda: f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs")
    date: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))

    @property
    def naive_ratio(self) -> float:
        return naive_ratio(self.naive.extrapolated_s, self.enrich.wall_s)

    @property
    def doubling_ratio(self) -> float | None:
        return None if self.half_enrich is None else self.enrich.wall_s / self.half_enrich.wall_s

    def measured(self) -> dict[str, float | None]:
        return {
            "wall_s": self.enrich.wall_s,
            "peak_rss_mib": self.enrich.peak_rss_mib,
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
