"""The saved recipient index: built once (`sbir-etl index`), memory-mapped by `enrich --index`,
refused when it does not fit the run."""

import os
import shutil
import subprocess
import sys

import pyarrow as pa
import pytest

from sbir_etl import recipient_index
from sbir_etl.cli import main
from sbir_etl.config import EnrichmentConfig
from sbir_etl.enrichment import enrich_files
from sbir_etl.errors import IndexMismatchError
from sbir_etl.evaluation.synthetic import generate, write
from sbir_etl.io.array_files import map_arrays
from sbir_etl.linkage.rules import rules_disabled
from sbir_etl.recipient_index import index_recipient_file, load_index


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved_index")
    paths = write(generate(n_awards=1_500, n_recipients=15_000, seed=5), folder)
    paths["index"] = folder / "recipients.idx"
    index_recipient_file(paths["recipients"], paths["index"], EnrichmentConfig(), folder / "idx.rejects.csv")
    return paths


def test_enrichment_with_the_saved_index_equals_enrichment_with_the_recipient_file(data, tmp_path):
    config = EnrichmentConfig(chunk_size=400)
    built = enrich_files(data["awards"], data["recipients"], tmp_path / "built.csv", config)
    loaded = enrich_files(data["awards"], None, tmp_path / "loaded.csv", config, index_path=data["index"])
    both = enrich_files(data["awards"], data["recipients"], tmp_path / "both.csv", config, index_path=data["index"])
    assert (tmp_path / "built.csv").read_bytes() == (tmp_path / "loaded.csv").read_bytes()
    assert (tmp_path / "built.csv").read_bytes() == (tmp_path / "both.csv").read_bytes()
    assert loaded.index_path == both.index_path == str(data["index"]) and built.index_path is None
    assert loaded.recipients == built.recipients == 15_000
    assert loaded.recipient_stats == built.recipient_stats
    # A cold run reads the award keys beside the build, a loaded one before its chunks.
    assert built.invalid_identifiers and built.events
    assert (loaded.invalid_identifiers, loaded.events) == (built.invalid_identifiers, built.events)


def test_loading_maps_the_file_instead_of_reading_it(data):
    before = pa.total_allocated_bytes()
    saved = load_index(data["index"], EnrichmentConfig())
    # Every array is a view of the mapped file: Arrow's allocator holds (almost) nothing new.
    assert pa.total_allocated_bytes() - before < 64 * 1024
    assert len(saved.index.names) > 10_000 and saved.source.size == data["recipients"].stat().st_size
    arrays, _ = map_arrays(data["index"])
    assert not arrays["name_members"].flags.writeable  # a NumPy view of read-only pages


def test_the_saved_index_stays_small(data):
    # A run maps nearly every page of the index it touches (2 MiB folios), so the file's size is
    # most of a small run's memory. 4.29 MB here at 2026-12-02 (5.02 MB before the int32 positions
    # and the dictionary-encoded locations); undoing either makes it 4.61 or 4.70 MB.
    assert data["index"].stat().st_size <= 4_450_000


def test_few_valued_columns_are_saved_compactly_and_read_back_as_the_cleaned_text(data):
    from sbir_etl.io.tables import read_whole_table
    from sbir_etl.linkage.locations import clean_text_key, clean_zip5

    index = load_index(data["index"], EnrichmentConfig()).index
    raw = read_whole_table(data["recipients"])
    rows = pa.array(range(0, 15_000, 7))
    for column, clean in (("state", clean_text_key), ("city", clean_text_key), ("zip5", clean_zip5)):
        cleaned = clean(raw.column(column).combine_chunks())
        assert index.text(column, rows).equals(cleaned.take(rows)), column
        assert index.table.column(column).nbytes <= cleaned.nbytes, column
    for column in ("state", "city"):  # 50-odd states, a few hundred cities: a byte or two per row
        assert pa.types.is_dictionary(index.table.column(column).type), column
        assert index.table.column(column).nbytes < raw.column(column).nbytes / 2, column
    # 15,000 random ZIP codes and unique hashes stay plain strings: a dictionary would only add its indices.
    assert index.table.column("zip5").type == index.table.column("recipient_hash").type == pa.string()
    assert index.text("recipient_hash", rows).equals(raw.column("recipient_hash").combine_chunks().take(rows))


def test_the_untouched_recipient_file_is_not_hashed_again_but_a_copy_is(data, tmp_path, monkeypatch):
    recipients = tmp_path / "recipients.csv"
    shutil.copy(data["recipients"], recipients)
    index = tmp_path / "r.idx"
    index_recipient_file(recipients, index, EnrichmentConfig(), tmp_path / "rejects.csv")
    hashed = []
    real_digest = recipient_index.content_digest
    monkeypatch.setattr(recipient_index, "content_digest", lambda path: hashed.append(path) or real_digest(path))
    load_index(index, EnrichmentConfig())
    assert hashed == []  # the same inode, not written since it was hashed
    copy = tmp_path / "copy.csv"
    shutil.copy2(recipients, copy)  # same content, size and mtime; another inode
    load_index(index, EnrichmentConfig(), copy)
    assert hashed == [copy]


def test_a_changed_recipient_file_is_refused_naming_it(data, tmp_path):
    recipients = tmp_path / "recipients.csv"
    shutil.copy(data["recipients"], recipients)
    index = tmp_path / "r.idx"
    index_recipient_file(recipients, index, EnrichmentConfig(), tmp_path / "rejects.csv")
    load_index(index, EnrichmentConfig())  # unchanged: fine
    text = recipients.read_bytes()
    last = text.rstrip(b"\n").rsplit(b"\n", 1)[1]
    before = recipients.stat()
    recipients.write_bytes(text.replace(last, last.upper().replace(b"A", b"E")))  # same size, other content
    os.utime(recipients, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime: only the content tells
    assert recipients.stat().st_size == len(text) and recipients.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(IndexMismatchError, match=f"{index}: built from another recipient file than {recipients}") as e:
        load_index(index, EnrichmentConfig())
    assert "same size, different content" in str(e.value) and "modified 20" in str(e.value)
    other = tmp_path / "other.csv"
    shutil.copy(data["recipients"], other)  # the original content under another name is fine
    assert load_index(index, EnrichmentConfig(), other).source.path == str(recipients.resolve())


def test_an_index_whose_recipient_file_is_gone_is_used_as_saved(data, tmp_path):
    recipients = tmp_path / "recipients.csv"
    shutil.copy(data["recipients"], recipients)
    index_recipient_file(recipients, tmp_path / "r.idx", EnrichmentConfig(), tmp_path / "rejects.csv")
    recipients.unlink()
    assert len(load_index(tmp_path / "r.idx", EnrichmentConfig()).index.table) == 15_000


def test_other_settings_other_rules_or_other_code_are_refused(data, monkeypatch):
    with pytest.raises(IndexMismatchError, match="blocking_max_key_share: index 0.005, this run 0.01"):
        load_index(data["index"], EnrichmentConfig(blocking_max_key_share=0.01))
    with rules_disabled("plurals"), pytest.raises(IndexMismatchError, match="rules_disabled"):
        load_index(data["index"], EnrichmentConfig())
    monkeypatch.setattr(recipient_index, "code_digest", lambda: "another version")
    with pytest.raises(IndexMismatchError, match="another version of sbir-etl"):
        load_index(data["index"], EnrichmentConfig())


def test_cli_index_then_enrich_with_it(data, tmp_path, capsys):
    index = tmp_path / "cli.idx"
    assert main(["index", "--recipients", str(data["recipients"]), "--out", str(index)]) == 0
    assert "recipients: 15000" in capsys.readouterr().out
    out = tmp_path / "out.parquet"
    assert main(["enrich", "--awards", str(data["awards"]), "--index", str(index), "--out", str(out), "--quiet"]) == 0
    assert f"from the saved index {index}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ("settings", "built with other settings"),
        ("not-an-index", "not an index file written by sbir-etl"),
        ("missing", "no such index file"),
        ("neither", "give --recipients FILE, or --index FILE"),
    ],
)
def test_cli_index_mistakes_exit_2_with_one_line(data, tmp_path, mistake, message):
    args = ["enrich", "--awards", str(data["awards"]), "--out", str(tmp_path / "o.csv")]
    args += {
        "settings": ["--index", str(data["index"]), "--config", str(tmp_path / "c.yaml")],
        "not-an-index": ["--index", str(data["awards"])],
        "missing": ["--index", str(tmp_path / "nothing.idx")],
        "neither": [],
    }[mistake]
    (tmp_path / "c.yaml").write_text("blocking_max_key_share: 0.01\n")
    done = subprocess.run([sys.executable, "-m", "sbir_etl.cli", *args], capture_output=True, text=True)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1


def test_the_code_digest_covers_every_linkage_module_the_build_imports() -> None:
    """An index is trusted only when the code that built it is this code: a linkage module that
    `linkage.recipients` imports (directly or not) and that the digest leaves out could change
    what a saved index holds without the index being rebuilt."""
    import ast
    from pathlib import Path

    import sbir_etl.linkage

    folder = Path(sbir_etl.linkage.__file__).parent
    seen, todo = set(), ["recipients"]
    while todo:
        module = todo.pop()
        seen.add(module)
        tree = ast.parse((folder / f"{module}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sbir_etl.linkage."):
                name = node.module.split(".")[2]
                if name not in seen:
                    todo.append(name)
    assert seen <= set(recipient_index.INDEX_CODE), sorted(seen - set(recipient_index.INDEX_CODE))


LOAD_THEN_RUN = """
import sys
from sbir_etl import cli
from sbir_etl.linkage import indel_kernel
from sbir_etl.linkage.candidates import load_kernels

kernels = (indel_kernel.kept_pairs, indel_kernel.token_set_ratios)
load_kernels()
loaded = [list(k.signatures) for k in kernels]
assert cli.main(sys.argv[1:]) == 0
print(loaded == [list(k.signatures) for k in kernels], [len(s) for s in loaded])
"""


def test_load_kernels_loads_what_a_built_or_a_saved_index_run_then_uses(data, tmp_path):
    """A run loads the scoring kernels in a thread while it builds or loads its index. numba
    compiles one kernel per kind of argument (a saved index is read-only memory), so the run's
    first batch must find exactly the kernels `load_kernels` loaded, and no others."""
    awards = ["enrich", "--awards", str(data["awards"])]
    for source in (["--recipients", str(data["recipients"])], ["--index", str(data["index"])]):
        out = ["--out", str(tmp_path / f"out-{source[0][2:]}.parquet")]
        run = subprocess.run(
            [sys.executable, "-c", LOAD_THEN_RUN, *awards, *source, *out], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip().splitlines()[-1] == "True [1, 1]", (source, run.stdout)
