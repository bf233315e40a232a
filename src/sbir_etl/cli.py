"""`sbir-etl`: run the Dagster job, enrich, generate synthetic data, evaluate against truth, report.

Exit codes: 0 success, 2 bad input or configuration (message on stderr), 1 any other failure.
"""

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sbir_etl.bundled import DEFAULT_SCENARIO
from sbir_etl.errors import ConfigError, EnrichmentError, InputFormatError, InputSchemaError

BAD_INPUT = (InputSchemaError, InputFormatError, ConfigError, FileNotFoundError, IsADirectoryError)


def _print_summary(summary, config_sources: dict[str, str] | None = None) -> None:
    out = sys.stdout
    print(
        f"awards: {summary.rows_in} in, {summary.rows_out} out, {summary.rows_rejected} rejected"
        + (f" (see {summary.rejects_path})" if summary.rejects_path else ""),
        file=out,
    )
    if summary.resumed_rows:
        print(f"resumed: {summary.resumed_rows} awards were already enriched by the interrupted run", file=out)
    print(f"recipients: {summary.recipients} indexed in {summary.index_build_s:.1f} s", file=out)
    width = max(len(m) for m in summary.counts_by_method)
    for method, count in summary.counts_by_method.items():
        share = count / summary.rows_out if summary.rows_out else 0.0
        print(f"  {method:<{width}}  {count:>9}  {share:6.1%}", file=out)
    print(f"match rate: {summary.match_rate:.1%} (candidates are not matches)", file=out)
    if summary.invalid_identifiers:
        print("invalid identifiers: " + ", ".join(f"{k}={v}" for k, v in summary.invalid_identifiers.items()), file=out)
    events = {k: v for k, v in summary.events.items() if v}
    if events:
        print("resolved ties/conflicts: " + ", ".join(f"{k}={v}" for k, v in events.items()), file=out)
    print(f"wall time: {summary.wall_s:.1f} s, peak RSS: {summary.peak_rss_mib:.0f} MiB", file=out)
    print(f"output: {summary.out_path}", file=out)


def cmd_enrich(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sbir_etl.config import load_config
    from sbir_etl.enrichment import enrich_files

    config, sources = load_config(args.config, overrides={"chunk_size": args.chunk_size})
    logging.getLogger("sbir_etl").debug(
        "effective config: %s", {k: (getattr(config, k), v) for k, v in sources.items()}
    )
    with tqdm(desc="enriching", unit=" awards", disable=args.quiet or not sys.stderr.isatty(), file=sys.stderr) as bar:
        summary = enrich_files(
            args.awards,
            args.recipients,
            args.out,
            config=config,
            rejects_path=args.rejects,
            progress=bar.update,
            resume=args.resume,
        )
    _print_summary(summary)
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(summary.as_dict(), indent=2))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from sbir_etl.evaluation.synthetic import generate, write

    started = time.perf_counter()
    data = generate(args.awards, args.recipients, args.seed)
    paths = write(data, args.out)
    print(
        f"wrote {args.awards} awards, {args.recipients} recipients and truth to {args.out} "
        f"in {time.perf_counter() - started:.1f} s: " + ", ".join(str(p) for p in paths.values())
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import pandas as pd

    from sbir_etl.evaluation.quality import evaluate_against_truth
    from sbir_etl.io.tables import RejectSink, read_text_table

    def load(path: str) -> pd.DataFrame:
        return read_text_table(path, RejectSink()).to_pandas()

    enriched, truth = load(args.enriched), load(args.truth)
    key = [c for c in truth.columns if c != "recipient_hash"]
    result = evaluate_against_truth(enriched, truth, key)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"awards: {result['awards']} ({result['with_true_recipient']} with a true recipient)")
    print(
        f"precision {result['precision']:.4f}  recall {result['recall']:.4f}  false-join rate {result['false_join_rate']:.4%}"
    )
    print(
        f"name matching (exact + fuzzy-auto): precision {result['name_precision']:.4f}  recall {result['name_recall']:.4f}"
        f"  (recall if every candidate pointing at the truth were accepted: {result['name_recall_with_review']:.4f})"
    )
    print(f"candidates: {result['candidates']} (pointing at the true recipient: {result['candidate_precision']:.1%})")
    for method, row in result["by_method"].items():
        print(
            f"  {method:<16} joined {row['joined']:>8}  correct {row['correct']:>8}  precision {row['precision']:.4f}"
        )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Materialize the Dagster `sbir_etl_job`: ingest, validate, enrich, gate, report."""
    from sbir_etl.dagster_defs import run_job

    for path in (args.awards, args.recipients):
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such file")
    print(f"materializing sbir_etl_job: awards {args.awards}, recipients {args.recipients} -> {args.out}", flush=True)
    run = run_job(args.awards, args.recipients, args.out, config_path=args.config)
    print(run.describe())
    report = run.asset_values.get("enrichment_quality_report")
    if report:
        print(f"quality report: {report}")
    if run.success:
        return 0
    bad_input = {"InputSchemaError", "InputFormatError", "ConfigError"}
    return 2 if any(f.error_type in bad_input for f in run.failed_steps.values()) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    """`sbir-etl run` on the bundled real-data scenario (real SBIR.gov awards and FPDS recipients)."""
    scenario = Path(args.scenario)
    if not (scenario / "awards.csv").exists():
        raise FileNotFoundError(f"bundled scenario not found at {scenario}; run from a checkout of the project")
    ns = argparse.Namespace(
        awards=str(scenario / "awards.csv"), recipients=str(scenario / "recipients.csv"), out=args.out, config=None
    )
    return cmd_run(ns)


def cmd_report(args: argparse.Namespace) -> int:
    from sbir_etl.monitoring.reporting import ReportOptions, run_report
    from sbir_etl.monitoring.trends import TrendPolicy

    try:
        trend = TrendPolicy(window=args.window)
    except ValueError as error:
        print(f"sbir-etl report: error: --window: {error}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else None
    return run_report(ReportOptions(history=args.history, format=args.format, out=out, trend=trend))


def cmd_checklist(args: argparse.Namespace) -> int:
    from sbir_etl.checklist import cmd_checklist as run_checklist_command

    return run_checklist_command(args)


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "enrich": (cmd_enrich, "enrich an award file with USAspending recipients"),
    "generate": (cmd_generate, "write synthetic awards, recipients and ground truth"),
    "evaluate": (cmd_evaluate, "precision/recall of an enriched file against ground truth"),
    "run": (cmd_run, "materialize the Dagster sbir_etl_job (enrichment with blocking quality gates)"),
    "demo": (cmd_demo, "materialize sbir_etl_job on the bundled real-data sample"),
    "report": (cmd_report, "trends, match rate and scores from a pytest --sbir-history store (md/json/html)"),
    "checklist": (
        cmd_checklist,
        "deployment readiness: smoke tests, quality gates, baseline comparison; exit 1 until all critical items pass",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sbir-etl", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and the effective configuration")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (func, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        if name == "enrich":
            p.add_argument("--awards", required=True, help="SBIR.gov award export (.csv or .parquet)")
            p.add_argument("--recipients", required=True, help="USAspending recipient lookup (.csv or .parquet)")
            p.add_argument("--out", required=True, help="enriched output (.csv or .parquet)")
            p.add_argument("--rejects", help="where unreadable rows go (default: <out>.rejects.csv)")
            p.add_argument("--chunk-size", type=int, help="awards per chunk (default 100000)")
            p.add_argument("--config", help="YAML/TOML configuration file")
            p.add_argument("--summary-json", help="also write the run summary as JSON here")
            p.add_argument("--quiet", action="store_true", help="no progress bar")
            p.add_argument(
                "--resume",
                action="store_true",
                help="checkpoint each chunk; rerunning the same command after a crash continues where it stopped",
            )
        elif name == "generate":
            p.add_argument("--awards", type=int, default=533_000)
            p.add_argument("--recipients", type=int, default=3_300_000)
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--out", required=True, help="directory for awards.csv, recipients.csv, truth.csv")
        elif name == "evaluate":
            p.add_argument("--truth", required=True, help="truth.csv: award key columns + recipient_hash")
            p.add_argument("--enriched", required=True, help="output of `sbir-etl enrich`")
            p.add_argument("--json", action="store_true", help="print the figures as JSON")
        elif name == "report":
            p.add_argument("--history", required=True, help="metrics store written by pytest --sbir-history")
            p.add_argument("--format", choices=("md", "json", "html"), default="md", help="output format (default md)")
            p.add_argument("--out", help="write here instead of standard output (required for html)")
            p.add_argument("--window", type=int, default=10, help="latest passed runs a trend looks at (default 10)")
        elif name == "run":
            p.add_argument(
                "--awards",
                default=str(DEFAULT_SCENARIO / "awards.csv"),
                help="SBIR.gov award export (.csv or .parquet)",
            )
            p.add_argument(
                "--recipients", default=str(DEFAULT_SCENARIO / "recipients.csv"), help="USAspending recipient lookup"
            )
            p.add_argument("--out", default="out/run", help="directory for the job's tables and its Dagster instance")
            p.add_argument("--config", help="YAML/TOML configuration file")
        elif name == "demo":
            p.add_argument(
                "--scenario",
                default=str(DEFAULT_SCENARIO),
                help="scenario directory with awards.csv and recipients.csv",
            )
            p.add_argument("--out", default="out/demo", help="output directory")
        elif name == "checklist":
            from sbir_etl.checklist import add_checklist_arguments

            add_checklist_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.func(args)
    except BAD_INPUT as exc:
        print(f"sbir-etl: error: {exc}", file=sys.stderr)
        return 2
    except EnrichmentError as exc:
        print(f"sbir-etl: failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
