"""`sbir-etl`: run the Dagster job, enrich, generate synthetic data, evaluate against truth, report.

Exit codes: 0 success; 2 bad input, output path or configuration; 1 the environment or the run
failed (full disk, read-only file system, another run on the same output, a failed quality gate,
an internal error); 130 interrupted; 141 standard output closed early (`| head`). Every error is
one line on stderr (`--debug` shows the traceback instead); see docs/reliability.md.

Each command is a `Command`: its name, help, an argument builder and a runner. Adding one is
adding a line to `COMMANDS`.
"""

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbir_etl.bundled import DEFAULT_SCENARIO
from sbir_etl.errors import BAD_INPUT_EXIT, FAILURE_EXIT, ConfigError, EnrichmentError, InputSchemaError, exit_code_of
from sbir_etl.outcomes import Severity

INTERRUPTED_EXIT = 130
CLOSED_STDOUT_EXIT = 141  # what a shell reports for a process killed by SIGPIPE
INVALID_IDENTIFIER_HINTS = {
    "duns:scientific-notation": (
        "DUNS written in scientific notation (1.23456789E+08) were saved by a spreadsheet that read the column "
        "as numbers; their digits cannot be trusted, so they join nothing. Re-export the DUNS column as text"
    ),
}


# -- enrich --------------------------------------------------------------------------------------


def _print_summary(summary: Any) -> None:
    out = sys.stdout
    award_rejects = f" (see {summary.rejects_path})" if summary.rejects_path and summary.rows_rejected else ""
    print(
        f"awards: {summary.rows_in} in, {summary.rows_out} out, {summary.rows_rejected} rejected{award_rejects}",
        file=out,
    )
    if summary.resumed_rows:
        print(f"resumed: {summary.resumed_rows} awards were already enriched by the interrupted run", file=out)
    if summary.incremental:
        counts = summary.incremental
        print(
            f"incremental: {counts['kept']} kept from the previous output, {counts['enriched']} enriched "
            f"({counts['rows_reenriched_for_evidence']} of them again because the file now ties their name differently)",
            file=out,
        )
    recipient_rejects = (
        f", {summary.recipients_rejected} rows rejected (see {summary.rejects_path})"
        if summary.recipients_rejected
        else ""
    )
    if summary.index_path:
        how = f"from the saved index {summary.index_path}, loaded in {summary.index_build_s:.1f} s"
        recipient_rejects = f", {summary.recipients_rejected} rows rejected when it was built" * bool(
            summary.recipients_rejected
        )
    else:
        how = f"indexed in {summary.index_build_s:.1f} s"
    print(f"recipients: {summary.recipients} {how}{recipient_rejects}", file=out)
    width = max(len(m) for m in summary.counts_by_method)
    for method, count in summary.counts_by_method.items():
        share = count / summary.rows_out if summary.rows_out else 0.0
        print(f"  {method:<{width}}  {count:>9}  {share:6.1%}", file=out)
    print(f"match rate: {summary.match_rate:.1%} (candidates are not matches)", file=out)
    if summary.invalid_identifiers:
        print("invalid identifiers: " + ", ".join(f"{k}={v}" for k, v in summary.invalid_identifiers.items()), file=out)
        for reason in summary.invalid_identifiers.keys() & INVALID_IDENTIFIER_HINTS.keys():
            print(f"  hint ({reason}): {INVALID_IDENTIFIER_HINTS[reason]}", file=out)
    events = {k: v for k, v in summary.events.items() if v}
    if events:
        print("resolved ties/conflicts: " + ", ".join(f"{k}={v}" for k, v in events.items()), file=out)
    print(f"wall time: {summary.wall_s:.1f} s, peak RSS: {summary.peak_rss_mib:.0f} MiB", file=out)
    print(f"output: {summary.out_path}", file=out)


def enrich_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--awards", required=True, help="SBIR.gov award export (.csv or .parquet)")
    p.add_argument("--recipients", help="USAspending recipient lookup (.csv or .parquet)")
    p.add_argument(
        "--index",
        help="a recipient index saved by `sbir-etl index`, used instead of building one "
        "(with --recipients too, it must have been built from that file)",
    )
    p.add_argument("--out", required=True, help="enriched output (.csv or .parquet); never one of the inputs")
    p.add_argument("--rejects", help="where unreadable rows go (default: <out>.rejects.csv)")
    p.add_argument("--chunk-size", type=_positive_int, help="awards per chunk (default 100000)")
    p.add_argument("--config", help="YAML/TOML configuration file")
    p.add_argument("--summary-json", help="also write the run summary as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--resume",
        action="store_true",
        help="checkpoint each chunk; rerunning the same command after a crash continues where it stopped",
    )
    p.add_argument(
        "--incremental",
        action="store_true",
        help="keep the results of the output already at --out (written by an --incremental run) for awards "
        "a full run would not change; enrich only new, changed or evidence-affected awards",
    )


def _check_enrich_paths(args: argparse.Namespace) -> None:
    """Every file `enrich` reads and writes, checked before the slow imports and the index build:
    the inputs are readable tables, no output is an input (or another output)."""
    from sbir_etl.io.inputs import read_header, table_format
    from sbir_etl.io.outputs import check_output_paths, default_rejects_path

    if not args.recipients and not args.index:
        raise ConfigError("give --recipients FILE, or --index FILE saved by `sbir-etl index`, or both")
    inputs = {"awards file": Path(args.awards)}
    if args.recipients:
        inputs["recipients file"] = Path(args.recipients)
    for path in inputs.values():
        read_header(path)
    if args.index:
        inputs["--index"] = _index_file(args.index)
    if args.config:
        inputs["config file"] = Path(args.config)
    table_format(args.out)
    outputs = {"output": Path(args.out), "rejects file": Path(args.rejects or default_rejects_path(args.out))}
    if args.summary_json:
        outputs["--summary-json"] = Path(args.summary_json)
    check_output_paths(inputs, outputs)


def cmd_enrich(args: argparse.Namespace) -> int:
    from sbir_etl.config import load_config

    config, sources = load_config(args.config, overrides={"chunk_size": args.chunk_size})
    _check_enrich_paths(args)
    logging.getLogger("sbir_etl").info("effective config: %s", {k: (getattr(config, k), v) for k, v in sources.items()})
    from tqdm import tqdm

    from sbir_etl.enrichment import enrich_files  # pandas and the core: ~1 s, once the arguments are sound

    with tqdm(desc="enriching", unit=" awards", disable=args.quiet or not sys.stderr.isatty(), file=sys.stderr) as bar:
        summary = enrich_files(
            args.awards,
            args.recipients,
            args.out,
            config=config,
            rejects_path=args.rejects,
            progress=bar.update,
            resume=args.resume,
            index_path=args.index,
            incremental=args.incremental,
        )
    if args.summary_json:
        from sbir_etl.io.outputs import atomic_path

        with atomic_path(args.summary_json) as tmp:
            tmp.write_text(json.dumps(summary.as_dict(), indent=2))
    _print_summary(summary)
    return 0


def _index_file(path: str) -> Path:
    """An index file to read: it exists and was written by `sbir-etl index` (its metadata is read)."""
    from sbir_etl.errors import InputFormatError
    from sbir_etl.io.array_files import read_metadata

    if not Path(path).is_file():
        raise InputFormatError(
            f"{path}: no such index file; write one with `sbir-etl index --recipients R --out {path}`"
        )
    read_metadata(path)
    return Path(path)


# -- index ---------------------------------------------------------------------------------------


def index_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipients", required=True, help="USAspending recipient lookup (.csv or .parquet)")
    p.add_argument("--out", required=True, help="the index file to write (Arrow IPC, memory-mapped when read)")
    p.add_argument("--rejects", help="where unreadable recipient rows go (default: <out>.rejects.csv)")
    p.add_argument("--config", help="YAML/TOML configuration file (the index records the settings it uses)")


def cmd_index(args: argparse.Namespace) -> int:
    """Build the recipient index once; `sbir-etl enrich --index` then loads it instead of rebuilding it."""
    from sbir_etl.config import load_config
    from sbir_etl.io.inputs import read_header
    from sbir_etl.io.outputs import check_output_paths, default_rejects_path

    config, _ = load_config(args.config)
    read_header(args.recipients)
    inputs = {"recipients file": Path(args.recipients)} | ({"config file": Path(args.config)} if args.config else {})
    rejects = Path(args.rejects or default_rejects_path(args.out))
    check_output_paths(inputs, {"--out": Path(args.out), "rejects file": rejects})
    from sbir_etl.recipient_index import index_recipient_file

    done = index_recipient_file(args.recipients, args.out, config, rejects)
    rejected = f", {done.recipients_rejected} rows rejected (see {rejects})" if done.recipients_rejected else ""
    print(
        f"recipients: {done.recipients} ({done.distinct_names} distinct names) indexed in {done.build_s:.1f} s"
        f"{rejected}; saved in {done.save_s:.1f} s to {args.out} ({done.size_bytes / 2**20:.0f} MiB)"
    )
    return 0


# -- generate, evaluate --------------------------------------------------------------------------


def generate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--awards", type=_positive_int, default=533_000, help="awards to generate (default 533000)")
    p.add_argument("--recipients", type=_positive_int, default=3_300_000, help="recipients (default 3300000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="directory for awards.csv, recipients.csv, truth.csv")


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


def evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--truth", required=True, help="truth.csv: award key columns + recipient_hash")
    p.add_argument("--enriched", required=True, help="output of `sbir-etl enrich`")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")


EVALUATED_COLUMNS = ("match_method", "usaspending_recipient_hash", "candidate_recipient_hash")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sbir_etl.io.inputs import read_header, require_columns

    truth_header = read_header(args.truth)
    key = [c for c in truth_header if c != "recipient_hash"]
    truth_hint = "--truth takes the truth.csv of `sbir-etl generate` (award key columns + recipient_hash)"
    if not key:
        raise InputSchemaError(args.truth, ["an award key column"], truth_header, hint=truth_hint)
    require_columns(args.truth, ["recipient_hash"], truth_hint)
    enriched_hint = f"--enriched takes the output of `sbir-etl enrich`, with the key columns {key} of the truth file"
    require_columns(args.enriched, [*key, *EVALUATED_COLUMNS], enriched_hint)
    from sbir_etl.evaluation.quality import check_truth_covers, evaluate_against_truth
    from sbir_etl.io.tables import read_whole_table

    truth = read_whole_table(args.truth).to_pandas()
    enriched = read_whole_table(args.enriched, [*key, *EVALUATED_COLUMNS]).to_pandas()
    check_truth_covers(enriched, truth, key, truth_path=args.truth, enriched_path=args.enriched)
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


# -- the Dagster job: run, demo, checklist -------------------------------------------------------


@dataclass(frozen=True)
class Sharding:
    """`run --shards N --executor E [--workers W] [--dask-scheduler ADDRESS]`: the sharded job, or None."""

    shards: int
    executor: str
    workers: int | None
    dask_address: str | None

    @classmethod
    def of(cls, args: argparse.Namespace) -> "Sharding | None":
        """The sharding the arguments ask for, checked (`ConfigError`, one line); None for the unsharded job."""
        options = (args.shards, args.executor, args.workers, args.dask_scheduler)
        if all(option is None for option in options):
            return None
        executor = args.executor or "in_process"
        if executor not in SHARD_EXECUTORS:
            raise ConfigError(f"--executor: {executor!r} is not one of {', '.join(SHARD_EXECUTORS)}")
        if args.dask_scheduler and executor != "dask":
            raise ConfigError("--dask-scheduler needs --executor dask")
        shards = _count_option("--shards", args.shards) or 1
        return cls(shards, executor, _count_option("--workers", args.workers), args.dask_scheduler)


SHARD_EXECUTORS = ("in_process", "multiprocess", "dask")  # sbir_etl.dagster_defs.sharded.EXECUTORS, without Dagster


def _count_option(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError as error:
        raise ConfigError(f"{name}: {error}") from None


def _check_job_inputs(awards: str, recipients: str, config: str | None) -> None:
    """The job's input files and configuration, checked before Dagster (or a test run) starts."""
    from sbir_etl.config import load_config
    from sbir_etl.io.inputs import check_input_file

    check_input_file(awards)
    check_input_file(recipients)
    load_config(config)


def _materialize(awards: str, recipients: str, out: str, config: str | None, sharding: Sharding | None = None) -> int:
    """Materialize `sbir_etl_job` (or, sharded, `sbir_etl_sharded_job`); its summary to stdout on
    success, to stderr with the failure otherwise.

    The inputs and the configuration are checked first, before Dagster loads: a mistake there is
    one line in a fraction of a second, not a failed job.
    """
    _check_job_inputs(awards, recipients, config)
    from sbir_etl.dagster_defs import run_job, run_sharded_job

    if sharding is None:
        print(f"materializing sbir_etl_job: awards {awards}, recipients {recipients} -> {out}", flush=True)
        run = run_job(awards, recipients, out, config_path=config)
    else:
        print(
            f"materializing sbir_etl_sharded_job in {sharding.shards} shards on the {sharding.executor} executor: "
            f"awards {awards}, recipients {recipients} -> {out}",
            flush=True,
        )
        run = run_sharded_job(
            awards,
            recipients,
            out,
            config_path=config,
            shards=sharding.shards,
            executor=sharding.executor,
            workers=sharding.workers,
            dask_address=sharding.dask_address,
        )
    if run.success:
        print(run.describe())
        report = run.asset_values.get("enrichment_quality_report")
        if report:
            print(f"quality report: {report}")
        return 0
    print(run.describe(), file=sys.stderr)
    failures = list(run.failed_steps.values())
    code = max((exit_code_of(f.error_type) for f in failures), default=FAILURE_EXIT)
    kind = "error" if code == BAD_INPUT_EXIT else "failed"
    if failures:
        first = failures[0]
        print(f"sbir-etl: {kind}: step {first.step}: {first.error_type}: {first.message}", file=sys.stderr)
    elif run.run_error:
        print(f"sbir-etl: {kind}: the run failed before its steps: {run.run_error}", file=sys.stderr)
    else:
        failed = [c.name for c in run.checks.values() if not c.passed and c.severity is Severity.ERROR]
        print(f"sbir-etl: {kind}: blocking quality gate(s) {', '.join(failed) or '?'} did not pass", file=sys.stderr)
    return code


def run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--awards", default=str(DEFAULT_SCENARIO / "awards.csv"), help="SBIR.gov award export (.csv or .parquet)"
    )
    p.add_argument(
        "--recipients", default=str(DEFAULT_SCENARIO / "recipients.csv"), help="USAspending recipient lookup"
    )
    p.add_argument("--out", default="out/run", help="directory for the job's tables and its Dagster instance")
    p.add_argument("--config", help="YAML/TOML configuration file")
    sharding = p.add_argument_group("sharding (docs/scale-out.md): the same output, enriched by several workers")
    sharding.add_argument("--shards", metavar="N", help="enrich the awards in N shards (sbir_etl_sharded_job)")
    sharding.add_argument(
        "--executor",
        metavar="NAME",
        help=f"Dagster executor of the shards: {', '.join(SHARD_EXECUTORS)} (default in_process)",
    )
    sharding.add_argument("--workers", metavar="W", help="steps running at once (default: one per shard)")
    sharding.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="run on this Dask scheduler instead of a LocalCluster (--executor dask)",
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Materialize the Dagster `sbir_etl_job`: ingest, validate, enrich, gate, report (sharded with --shards)."""
    sharding = Sharding.of(args)  # checked before the inputs: a wrong option is the first thing to say
    return _materialize(args.awards, args.recipients, args.out, args.config, sharding)


def demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scenario", default=str(DEFAULT_SCENARIO), help="scenario directory with awards.csv and recipients.csv"
    )
    p.add_argument("--out", default="out/demo", help="output directory")


def cmd_demo(args: argparse.Namespace) -> int:
    """`sbir-etl run` on the bundled real-data scenario (real SBIR.gov awards and FPDS recipients)."""
    scenario = Path(args.scenario)
    if not (scenario / "awards.csv").is_file():
        raise ConfigError(
            f"--scenario {scenario}: no awards.csv there; pass a scenario directory (awards.csv, recipients.csv)"
        )
    return _materialize(str(scenario / "awards.csv"), str(scenario / "recipients.csv"), args.out, None)


def report_arguments(p: argparse.ArgumentParser) -> None:
    from sbir_etl.monitoring.reporting import FORMATS

    p.add_argument("--history", required=True, help="metrics store written by pytest --sbir-history")
    p.add_argument("--format", choices=FORMATS, default="md", help="output format (default md)")
    p.add_argument("--out", help="write here instead of standard output (required for html)")
    p.add_argument("--window", type=int, default=10, help="latest passed runs a trend looks at (default 10)")


def _history_file(location: str | None) -> dict[str, Path]:
    """The metrics store as an input file to protect from being overwritten: a SQLite path; a
    PostgreSQL URL names no file."""
    from sbir_etl.monitoring.history_backend import HistoryLocationError
    from sbir_etl.monitoring.history_url import StoreURL

    try:
        path = StoreURL.parse(location).path if location else None
    except HistoryLocationError as error:
        raise ConfigError(f"--history: {error}") from None
    return {"--history": path} if path is not None else {}


def cmd_report(args: argparse.Namespace) -> int:
    """Markdown or JSON to stdout, or any format to ``--out`` (written whole or not at all)."""
    from sbir_etl.io.outputs import atomic_path, check_output_paths
    from sbir_etl.monitoring.reporting import load_report, render
    from sbir_etl.monitoring.trends import TrendPolicy

    if args.format == "html" and not args.out:
        raise ConfigError("--format html needs --out FILE (an HTML page is not meant for a terminal)")
    history = _history_file(args.history)
    if args.out:
        check_output_paths(history, {"--out": Path(args.out)})
    try:
        trend = TrendPolicy(window=args.window)
    except ValueError as error:
        raise ConfigError(f"--window: {error}") from None
    text = render(load_report(args.history, policy=trend), args.format)
    if not args.out:
        sys.stdout.write(text)
        return 0
    with atomic_path(args.out) as partial:
        partial.write_text(text, encoding="utf-8")
    print(f"wrote {args.format} report to {args.out}", file=sys.stderr)
    return 0


def checklist_arguments(p: argparse.ArgumentParser) -> None:
    from sbir_etl.checklist import add_checklist_arguments

    add_checklist_arguments(p)


def review_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--enriched", required=True, help="output of `sbir-etl enrich`")
    p.add_argument("--out", required=True, help="the review queue (.csv)")
    p.add_argument("--recipients", help="the recipient table, to show each candidate's name and location")


def cmd_review(args: argparse.Namespace) -> int:
    """Write the candidates of an enriched file, most likely right first (sbir_etl.evaluation.review)."""
    from sbir_etl.evaluation.review import write_review
    from sbir_etl.io.outputs import check_output_paths

    inputs = {"--enriched": Path(args.enriched)} | ({"--recipients": Path(args.recipients)} if args.recipients else {})
    check_output_paths(inputs, {"--out": Path(args.out)})
    count = write_review(args.enriched, args.out, args.recipients)
    print(f"{count} candidates to review, most likely right first: {args.out}")
    return 0


def cmd_checklist(args: argparse.Namespace) -> int:
    from sbir_etl.checklist import ChecklistOptions, checklist_command
    from sbir_etl.io.outputs import check_output_paths

    _check_job_inputs(args.awards, args.recipients, args.config)  # a mistake here costs no smoke-test run
    if args.markdown:
        inputs = {"--awards": Path(args.awards), "--recipients": Path(args.recipients)} | _history_file(args.history)
        check_output_paths(inputs, {"--markdown": Path(args.markdown)})

    options = ChecklistOptions(
        awards=Path(args.awards),
        recipients=Path(args.recipients),
        out_dir=Path(args.out),
        config=Path(args.config) if args.config else None,
        tests_dir=Path(args.tests),
        history=args.history or None,
    )
    return checklist_command(options, markdown=Path(args.markdown) if args.markdown else None)


# -- the commands, the parser and the error boundary ---------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, its help, the builder of its arguments and the function that runs it."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: tuple[Command, ...] = (
    Command("enrich", "enrich an award file with USAspending recipients", enrich_arguments, cmd_enrich),
    Command("index", "build the recipient index once and save it for `enrich --index`", index_arguments, cmd_index),
    Command("generate", "write synthetic awards, recipients and ground truth", generate_arguments, cmd_generate),
    Command("evaluate", "precision/recall of an enriched file against ground truth", evaluate_arguments, cmd_evaluate),
    Command(
        "run", "materialize the Dagster sbir_etl_job (enrichment with blocking quality gates)", run_arguments, cmd_run
    ),
    Command("demo", "materialize sbir_etl_job on the bundled real-data sample", demo_arguments, cmd_demo),
    Command(
        "review", "list an enriched file's candidates, ranked by how likely each is right", review_arguments, cmd_review
    ),
    Command(
        "report",
        "trends, match rate and scores from a pytest --sbir-history store (md/json/html)",
        report_arguments,
        cmd_report,
    ),
    Command(
        "checklist",
        "deployment readiness: smoke tests, quality gates, baseline comparison; exit 1 until all critical items pass",
        checklist_arguments,
        cmd_checklist,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sbir-etl", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and the effective configuration")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.arguments(p)
        p.set_defaults(func=command.run)
    return parser


def _os_error(error: BaseException) -> str:
    assert isinstance(error, OSError)
    where = f"{error.filename}: " if error.filename else ""
    return f"failed: {where}{error.strerror or error}"


@dataclass(frozen=True)
class ExitRule:
    """How an error that escapes a command ends the process: exit code (None: the error's own) and message."""

    error: type[BaseException]
    code: int | None
    message: Callable[[BaseException], str | None]


EXIT_RULES: tuple[ExitRule, ...] = (
    ExitRule(BrokenPipeError, CLOSED_STDOUT_EXIT, lambda e: None),  # the reader left (`| head`): stop quietly
    ExitRule(KeyboardInterrupt, INTERRUPTED_EXIT, lambda e: "interrupted"),
    ExitRule(
        EnrichmentError,
        None,
        lambda e: f"{'error' if getattr(e, 'exit_code', 1) == BAD_INPUT_EXIT else 'failed'}: {e}",
    ),
    ExitRule(OSError, FAILURE_EXIT, _os_error),  # the environment: file system, permissions, devices
    ExitRule(
        Exception,
        FAILURE_EXIT,
        lambda e: f"internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback, and report it)",
    ),
)
"""First match wins: specific classes before their bases."""


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced by a capture without a file descriptor
        pass


def exit_for(error: BaseException) -> int:
    """The error boundary: print the rule's one-line message on stderr and return its exit code."""
    rule = next(r for r in EXIT_RULES if isinstance(error, r.error))
    if isinstance(error, BrokenPipeError):
        _silence_stdout()
    message = rule.message(error)
    if message:
        print(f"sbir-etl: {message}", file=sys.stderr)
    return rule.code if rule.code is not None else getattr(error, "exit_code", FAILURE_EXIT)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the boundary
        return code
    except (Exception, KeyboardInterrupt) as error:
        if args.debug and not isinstance(error, BrokenPipeError):
            raise
        return exit_for(error)


def console() -> int:
    """The `sbir-etl` command: `main` in a process whose Arrow memory comes from jemalloc and
    whose other memory comes from one glibc arena."""
    _share_one_malloc_arena()
    _prefer_jemalloc()
    return main()


M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def _share_one_malloc_arena() -> None:
    """glibc gives each thread that allocates its own heap arena, and what one arena frees is not
    reused by another. A cold run builds its index beside a thread that reads the awards, and
    then scores names in worker threads: at full scale that held 90 MiB (before the award thread)
    and 200 MiB (with it) more at the peak than one arena shared by every thread, at the same
    speed (docs/performance/enrichment-benchmarks.md). Called before any thread starts; a
    MALLOC_ARENA_MAX the user set stays, and only glibc has the knob."""
    if os.environ.get("MALLOC_ARENA_MAX") or platform.libc_ver()[0] != "glibc":
        return
    import ctypes

    ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)  # always succeeds for a positive value
    os.environ["MALLOC_ARENA_MAX"] = "1"  # and in the worker processes a run starts


def _prefer_jemalloc() -> None:
    """Arrow's default allocator, mimalloc, keeps the pages a run frees; jemalloc hands them back.
    At full scale that is 20 % less peak memory for `sbir-etl index`, 7 % for `enrich --index` and
    9 % for a cold `enrich`, with the same output (docs/performance/enrichment-benchmarks.md). Only
    the command does this, not the library: a process that imports `sbir_etl` keeps its own pool.
    A pool the user named in ARROW_DEFAULT_MEMORY_POOL stays, as does the default of a pyarrow
    built without jemalloc."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    import pyarrow as pa

    if "jemalloc" in pa.supported_memory_backends():
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "jemalloc"  # and in the worker processes a run starts


if __name__ == "__main__":
    sys.exit(console())
