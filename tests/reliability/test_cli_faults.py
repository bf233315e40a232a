"""Each fault of issue 9 as a user meets it: `sbir-etl` in a subprocess on the real 235-award sample.

A fault is handled when the exit code is the documented one, the message is one line on stderr
naming the file (never a traceback), and no file that existed before the call changed. The cases
run two at a time in one module fixture (they are independent); each is then judged by its own test.
"""

import os
import re
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from tests.reliability.conftest import cli_env, copy_sample, sbir_etl, snapshot

ENRICH = ("enrich", "--awards", "a.csv", "--recipients", "r.csv", "--quiet")


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def open_a_quote(path: Path) -> None:
    """Put a stray quote at the start of the first data line that has no quote, as a hand edit or a
    broken export does: the reader would take the lines after it as one value up to the next quote."""
    lines = _lines(path)
    number = next(i for i, line in enumerate(lines) if i > 0 and line and '"' not in line)
    lines[number] = '"' + lines[number]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_config(d: Path, text: str) -> str:
    (d / "c.yaml").write_text(text)
    return "c.yaml"


@dataclass(frozen=True)
class Fault:
    """One fault: how to set it up in a fresh copy of the sample, and how `sbir-etl` must answer."""

    id: str
    setup: Callable[[Path], list[str]]
    """Prepares the directory; returns the arguments of `sbir-etl`."""
    code: int
    stderr: str
    """Regex the last stderr line must match ("" = stderr empty)."""
    stdout: str = ""
    """Regex stdout must match (successful cases)."""
    env: dict[str, str] = field(default_factory=dict)


def _hardlink(d: Path) -> list[str]:
    os.link(d / "a.csv", d / "same.csv")
    return [*ENRICH, "--out", "same.csv"]


def _awards_named_like_the_rejects(d: Path) -> list[str]:
    shutil.copy(d / "a.csv", d / "o.rejects.csv")
    return ["enrich", "--awards", "o.rejects.csv", "--recipients", "r.csv", "--out", "o.csv"]


def _glued_awards(d: Path) -> list[str]:
    open_a_quote(d / "a.csv")  # line 2 of the sample
    return [*ENRICH, "--out", "o.csv"]


def _glued_recipients(d: Path) -> list[str]:
    open_a_quote(d / "r.csv")
    return [*ENRICH, "--out", "o.csv"]


def _quote_to_end_of_file(d: Path) -> list[str]:
    lines = _lines(d / "a.csv")
    lines[-3] = lines[-3].replace(",", ',"', 1)  # line 235 of 236: a quote opened, never closed
    (d / "a.csv").write_text("\n".join(lines))
    return [*ENRICH, "--out", "o.csv"]


def _duplicate_columns(d: Path) -> list[str]:
    lines = _lines(d / "a.csv")
    lines[0] = lines[0].replace("City", "Company")
    (d / "a.csv").write_text("\n".join(lines))
    return [*ENRICH, "--out", "o.csv"]


def _header_without_newline(d: Path) -> list[str]:
    (d / "a.csv").write_text(_lines(d / "a.csv")[0])
    return [*ENRICH, "--out", "o.csv"]


def _cr_only(d: Path) -> list[str]:
    (d / "a.csv").write_bytes((d / "a.csv").read_bytes().replace(b"\n", b"\r"))
    return [*ENRICH, "--out", "o.csv"]


def _corrupt_parquet(d: Path) -> list[str]:
    pd.read_csv(d / "a.csv", dtype=str).to_parquet(d / "a.parquet")
    data = (d / "a.parquet").read_bytes()
    (d / "a.parquet").write_bytes(data[: len(data) // 2])
    return ["enrich", "--awards", "a.parquet", "--recipients", "r.csv", "--out", "o.csv"]


def _directory_named_parquet(d: Path) -> list[str]:
    (d / "x.parquet").mkdir()
    return ["enrich", "--awards", "x.parquet", "--recipients", "r.csv", "--out", "o.csv"]


def _output_under_a_file(d: Path) -> list[str]:
    (d / "afile").write_text("")
    return [*ENRICH, "--out", "afile/o.csv"]


def _only_recipient_rejects(d: Path) -> list[str]:
    with open(d / "r.csv", "a", encoding="utf-8") as fh:
        fh.write("too,few,fields\n")
    return [*ENRICH, "--out", "o.csv"]


def _scientific_duns(d: Path) -> list[str]:
    awards = pd.read_csv(d / "a.csv", dtype=str, keep_default_na=False)
    awards.loc[:9, "DUNS"] = "1.23456789E+08"
    awards.to_csv(d / "a.csv", index=False)
    return [*ENRICH, "--out", "o.csv"]


def _stale_partial(d: Path) -> list[str]:
    (d / ".o.csv.partial-999999").write_bytes(b"x" * 1000)  # left by a run killed with kill -9
    (d / ".o.csv.lock").write_text("999999\n")  # its lock file, released by the kernel when it died
    return [*ENRICH, "--out", "o.csv"]


ENRICHED_HEADER = "Agency Tracking Number,Contract,match_method,usaspending_recipient_hash,candidate_recipient_hash"


def _two_enriched_awards(d: Path) -> None:
    (d / "e.csv").write_text(f"{ENRICHED_HEADER}\nA1,C1,uei-exact,h1,\nA2,C2,unmatched,,\n")


def _truth_repeating_an_award(d: Path) -> list[str]:
    _two_enriched_awards(d)
    (d / "t.csv").write_text("Agency Tracking Number,Contract,recipient_hash\nA1,C1,h1\nA2,C2,\nA1,C1,h9\n")
    return ["evaluate", "--truth", "t.csv", "--enriched", "e.csv"]


def _truth_of_other_awards(d: Path) -> list[str]:
    _two_enriched_awards(d)
    (d / "t.csv").write_text("Agency Tracking Number,Contract,recipient_hash\nX1,Y1,h1\n")
    return ["evaluate", "--truth", "t.csv", "--enriched", "e.csv"]


def _review_of_an_unreadable_row(d: Path) -> list[str]:
    header = "Agency Tracking Number,match_method,match_reason,match_score,match_margin,candidate_recipient_hash"
    rows = ["A1,name-fuzzy-candidate,ambiguous,93,0,h1", "A2,name-fuzzy-candidate,ambiguous,91,0,h2,stray"]
    (d / "e.csv").write_text("\n".join([header, *rows]) + "\n")
    return ["review", "--enriched", "e.csv", "--out", "q.csv"]


def _run_with_a_broken_schema(d: Path) -> list[str]:
    (d / "bad.csv").write_text("Firm,Agency Tracking Number,Contract\nAcme,A1,C1\n")
    return ["run", "--awards", "bad.csv", "--recipients", "r.csv", "--out", "job"]


FAULTS: tuple[Fault, ...] = (
    # inputs destroyed
    Fault("out-is-the-awards", lambda d: [*ENRICH, "--out", "a.csv"], 2, r"output a\.csv is the awards file"),
    Fault("out-is-the-recipients", lambda d: [*ENRICH, "--out", "r.csv"], 2, r"output r\.csv is the recipients file"),
    Fault("out-is-a-hard-link-to-an-input", _hardlink, 2, r"output same\.csv is the awards file \(a\.csv\)"),
    Fault("out-is-the-input-by-another-name", lambda d: [*ENRICH, "--out", "./x/../a.csv"], 2, r"is the awards file"),
    Fault(
        "rejects-is-an-input",
        lambda d: [*ENRICH, "--out", "o.csv", "--rejects", "r.csv"],
        2,
        r"rejects file r\.csv is the recipients file",
    ),
    Fault(
        "awards-named-like-the-default-rejects",
        _awards_named_like_the_rejects,
        2,
        r"rejects file o\.rejects\.csv is the awards file",
    ),
    Fault(
        "summary-json-is-an-input",
        lambda d: [*ENRICH, "--out", "o.csv", "--summary-json", "a.csv"],
        2,
        r"--summary-json a\.csv is the awards file",
    ),
    # rows merged or lost
    Fault("unterminated-quote-in-awards", _glued_awards, 2, r"a\.csv: line 2: a quote opened on this line"),
    Fault("unterminated-quote-in-recipients", _glued_recipients, 2, r"r\.csv: line 3: a quote opened on this line"),
    Fault("quote-open-to-end-of-file", _quote_to_end_of_file, 2, r"a\.csv: line 235: a quote opened on this line"),
    Fault(
        "empty-awards-file",
        lambda d: ((d / "a.csv").write_bytes(b""), [*ENRICH, "--out", "o.csv"])[1],
        2,
        r"a\.csv: the file is empty \(0 bytes\)",
    ),
    # invalid settings
    Fault(
        "negative-blocking-max-candidates",
        lambda d: [*ENRICH, "--out", "o.csv", "--config", write_config(d, "blocking_max_candidates: -1\n")],
        2,
        r"config file c\.yaml: blocking_max_candidates must be a whole number >= 1, got -1",
    ),
    Fault(
        "prefilter-above-candidate-threshold",
        lambda d: [*ENRICH, "--out", "o.csv", "--config", write_config(d, "prefilter_cutoff: 80\n")],
        2,
        r"prefilter_cutoff \(80\.0\) must not exceed fuzzy_candidate_threshold \(75\.0\)",
    ),
    Fault(
        "negative-memory-ceiling",
        lambda d: [*ENRICH, "--out", "o.csv", "--config", write_config(d, "memory_ceiling_mib: -100\n")],
        2,
        r"memory_ceiling_mib must be a whole number >= 1 or unset, got -100",
    ),
    Fault(
        "fractional-chunk-size-in-a-file",
        lambda d: [*ENRICH, "--out", "o.csv", "--config", write_config(d, "chunk_size: 2.7\n")],
        2,
        r"config file c\.yaml: chunk_size=2\.7 is not a whole number",
    ),
    Fault(
        "fractional-chunk-size-in-the-environment",
        lambda d: [*ENRICH, "--out", "o.csv"],
        2,
        r"environment variable SBIR_ETL_CHUNK_SIZE: chunk_size='2\.7' is not a whole number",
        env={"SBIR_ETL_CHUNK_SIZE": "2.7"},
    ),
    Fault(
        "fractional-chunk-size-on-the-command-line",
        lambda d: [*ENRICH, "--out", "o.csv", "--chunk-size", "2.7"],
        2,
        r"argument --chunk-size: '2\.7' is not a whole number",
    ),
    Fault(
        "award-columns-as-a-string",
        lambda d: [*ENRICH, "--out", "o.csv", "--config", write_config(d, "award_columns: Company\n")],
        2,
        r"config file c\.yaml: award_columns must be a mapping of role to header name",
    ),
    Fault(
        "award-columns-with-an-unknown-role",
        lambda d: [*ENRICH, "--out", "o.csv", "--config", write_config(d, "award_columns:\n  firm: [Firm]\n")],
        2,
        r"config file c\.yaml: award_columns: unknown role\(s\) \['firm'\]",
    ),
    # tracebacks for user or environment errors
    Fault("duplicate-column-names", _duplicate_columns, 2, r"a\.csv: duplicate column names \('Company' is column 1"),
    Fault(
        "header-without-a-trailing-newline",
        _header_without_newline,
        0,
        "",
        stdout=r"awards: 0 in, 0 out, 0 rejected",
    ),
    Fault("cr-only-line-endings", _cr_only, 0, "", stdout=r"awards: 235 in, 235 out, 0 rejected"),
    Fault("corrupt-parquet-input", _corrupt_parquet, 2, r"a\.parquet: not a readable Parquet file"),
    Fault("directory-named-x-parquet", _directory_named_parquet, 2, r"x\.parquet: is a directory"),
    Fault(
        "directory-as-input",
        lambda d: ["enrich", "--awards", ".", "--recipients", "r.csv", "--out", "o.csv"],
        2,
        r"\.: is a directory",
    ),
    Fault(
        "missing-input-file",
        lambda d: ["enrich", "--awards", "nope.csv", "--recipients", "r.csv", "--out", "o.csv"],
        2,
        r"nope\.csv: no such file",
    ),
    Fault("output-parent-is-a-file", _output_under_a_file, 2, r"output afile/o\.csv: afile is a file, not a directory"),
    Fault(
        "evaluate-on-the-wrong-files",
        lambda d: ["evaluate", "--truth", "a.csv", "--enriched", "r.csv"],
        2,
        r"a\.csv: missing required column\(s\) 'recipient_hash'",
    ),
    Fault(
        "evaluate-with-a-truth-that-repeats-an-award",
        _truth_repeating_an_award,
        2,
        r"t\.csv: award 'A1 \| C1' appears 2 times",
    ),
    Fault(
        "evaluate-with-the-truth-of-other-awards",
        _truth_of_other_awards,
        2,
        r"t\.csv: 2 of the 2 awards of e\.csv have no row here \(first: 'A1 \| C1'\)",
    ),
    Fault(
        "review-of-a-file-with-an-unreadable-row",
        _review_of_an_unreadable_row,
        2,
        r"e\.csv: row 2: wrong number of fields: expected 6, found 7",
    ),
    Fault(
        "bad-setting-for-the-dagster-run",
        lambda d: [
            "run",
            "--awards",
            "a.csv",
            "--recipients",
            "r.csv",
            "--out",
            "job",
            "--config",
            write_config(d, "fuzzy_margin: -1\n"),
        ],
        2,
        r"config file c\.yaml: fuzzy_margin must be within 0\.\.100, got -1\.0",
    ),
    Fault(
        "bad-setting-for-the-checklist",
        lambda d: ["checklist", "--out", "chk", "--config", write_config(d, "chunk_size: 2.7\n")],
        2,
        r"config file c\.yaml: chunk_size=2\.7 is not a whole number",
    ),
    Fault(
        "generate-a-negative-count",
        lambda d: ["generate", "--awards", "-5", "--out", "g"],
        2,
        r"argument --awards: must be at least 1, got -5",
    ),
    Fault(
        "missing-config-file",
        lambda d: [*ENRICH, "--out", "o.csv", "--config", "nope.yaml"],
        2,
        r"cannot read config file nope\.yaml",
    ),
    # leftovers
    Fault("stale-partial-of-a-killed-run", _stale_partial, 0, "", stdout=r"awards: 235 in, 235 out"),
    # unclear messages
    Fault(
        "only-recipient-rows-rejected",
        _only_recipient_rejects,
        0,
        "",
        stdout=r"awards: 235 in, 235 out, 0 rejected\n.*recipients: \d+ indexed in [\d.]+ s, 1 rows rejected \(see o\.rejects\.csv\)",
    ),
    Fault(
        "duns-in-scientific-notation",
        _scientific_duns,
        0,
        "",
        stdout=r"duns:scientific-notation=10[\s\S]*hint \(duns:scientific-notation\): DUNS written in scientific notation",
    ),
    Fault(
        "run-failure-goes-to-stderr",
        _run_with_a_broken_schema,
        2,
        r"sbir-etl: error: step \w+: InputSchemaError: bad\.csv: missing required column",
    ),
)


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    changed: list[str]
    """Files that existed before the call and are different (or gone) after it."""
    directory: Path


def _run(fault: Fault, root: Path) -> Outcome:
    d = copy_sample(root / fault.id)
    args = fault.setup(d)
    before = snapshot(d)
    done = sbir_etl(*args, cwd=d, env=cli_env(**fault.env))
    after = snapshot(d)
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    return Outcome(done.returncode, done.stdout, done.stderr, changed, d)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("faults")
    slowest_first = sorted(FAULTS, key=lambda f: (not f.id.startswith("run-"), f.code != 0))  # Dagster, full runs
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip((f.id for f in slowest_first), pool.map(lambda f: _run(f, root), slowest_first)))


@pytest.mark.fault
@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_fault_is_handled(fault: Fault, outcomes: dict[str, Outcome]) -> None:
    got = outcomes[fault.id]
    context = f"exit {got.code}\nstdout:\n{got.stdout}\nstderr:\n{got.stderr}"
    assert "Traceback" not in got.stderr, context
    assert got.code == fault.code, context
    assert got.changed == [], f"input files changed: {got.changed}\n{context}"
    last = got.stderr.strip().splitlines()[-1] if got.stderr.strip() else ""
    if fault.stderr:
        assert re.search(fault.stderr, last), context
        if not fault.id.startswith(("generate-", "fractional-chunk-size-on-")):  # argparse prints its usage first
            assert len(got.stderr.strip().splitlines()) == 1 or fault.id.startswith("run-"), context
    else:
        assert last == "", context
    if fault.stdout:
        assert re.search(fault.stdout, got.stdout), context
    if fault.code:
        assert not (got.directory / "o.csv").exists(), "a failed run left an output"


def test_a_stale_partial_is_removed_by_the_next_run(outcomes: dict[str, Outcome]) -> None:
    d = outcomes["stale-partial-of-a-killed-run"].directory
    assert not (d / ".o.csv.partial-999999").exists() and not (d / ".o.csv.lock").exists()


def test_cr_only_line_endings_give_the_same_enrichment(outcomes: dict[str, Outcome]) -> None:
    lf = outcomes["stale-partial-of-a-killed-run"].directory / "o.csv"  # the sample as shipped, with LF endings
    cr_only = outcomes["cr-only-line-endings"].directory / "o.csv"
    assert cr_only.read_bytes() == lf.read_bytes()
