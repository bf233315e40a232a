"""Sharded enrichment on Dagster's executors: wall time, and how the workers share the saved index.

    python benchmarks/shard_scaling.py --awards A --recipients R [--shards 1 2 4] [--executors multiprocess dask]

Runs `sbir-etl run` once unsharded, then `sbir-etl run --shards N --executor E --workers N` for
each executor and shard count, each as its own process tree, and prints one table (figures from
one invocation, on whatever machine runs it; a busy machine makes walls rough):

- `job s`: the whole job, process start to exit (Dagster start-up and every step included);
  `enrich s`: the enrichment stage (first shard step started -> combine step finished; for the
  unsharded job, its `enriched_sbir_awards` step), read back from the run's Dagster event log.
- Memory, from samples every 0.2 s of every process of the run that has the saved recipient index
  memory-mapped (`/proc/<pid>/maps`): at the sample where most of them held it at once (`k`),
  their summed proportional set size (`sum PSS`, from `/proc/<pid>/smaps_rollup`: a page shared
  by k processes counts 1/k in each) against `k x RSS` (k times the largest worker's resident
  set, which counts every shared page in full): what k private copies of each worker would cost.
  `index RSS/PSS` is the index mapping alone (`/proc/<pid>/smaps`), in the largest worker.
- `same`: the enriched table equals the unsharded job's, row for row.
"""

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pyarrow.parquet as pq

INDEX_FILE = "recipient_index.arrow"
ENRICHED = "enriched_sbir_awards"
MIB = 1 << 20


def _kib_fields(text: str, names: tuple[str, ...]) -> dict[str, int]:
    return {
        m.group(1): int(m.group(2)) << 10 for m in re.finditer(r"^(\w+):\s+(\d+) kB", text, re.M) if m.group(1) in names
    }


def process_memory(pid: int) -> dict[str, int] | None:
    """Rss and Pss of the whole process, and of its mapping of the saved index (bytes); None if it holds no index."""
    try:
        smaps = Path(f"/proc/{pid}/smaps").read_text()
        if INDEX_FILE not in smaps:
            return None
        rollup = _kib_fields(Path(f"/proc/{pid}/smaps_rollup").read_text(), ("Rss", "Pss"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    index = {"Rss": 0, "Pss": 0}
    for block in re.split(r"\n(?=[0-9a-f]+-[0-9a-f]+ )", smaps):
        if block.split("\n", 1)[0].endswith(INDEX_FILE):
            for key, value in _kib_fields(block, ("Rss", "Pss")).items():
                index[key] += value
    return {"rss": rollup["Rss"], "pss": rollup["Pss"], "index_rss": index["Rss"], "index_pss": index["Pss"]}


@dataclass
class MemorySampler:
    """Samples the processes under `root` that map the index, keeping the sample with the most of them."""

    root: int
    best: dict[int, dict[str, int]] = field(default_factory=dict)
    peak_rss: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                root = psutil.Process(self.root)
                tree = [self.root, *(p.pid for p in root.children(recursive=True))]
                self.peak_rss = max(self.peak_rss, root.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            holders = {pid: m for pid in tree if (m := process_memory(pid))}
            if len(holders) > len(self.best) or (
                len(holders) == len(self.best) and sum(m["pss"] for m in holders.values()) > self._sum("pss")
            ):
                self.best = holders
            time.sleep(0.2)

    def _sum(self, key: str) -> int:
        return sum(m[key] for m in self.best.values())

    def stop(self) -> None:
        self._stop.set()


def step_times(out: Path) -> dict[str, tuple[float, float]]:
    """(start, end) timestamp of each step of the run stored in `out/.dagster`."""
    import dagster as dg

    times: dict[str, list[float]] = {}
    with dg.DagsterInstance.local_temp(tempdir=str(out / ".dagster")) as instance:
        run = instance.get_runs(limit=1)[0]
        for event in instance.all_logs(run.run_id):
            kind = event.dagster_event.event_type_value if event.dagster_event else None
            if kind in ("STEP_START", "STEP_SUCCESS") and event.step_key:
                times.setdefault(event.step_key, [0.0, 0.0])[kind == "STEP_SUCCESS"] = event.timestamp
    return {step: (start, end) for step, (start, end) in times.items()}


def enrich_stage_s(out: Path) -> float:
    steps = {k: v for k, v in step_times(out).items() if k == ENRICHED or k.startswith(ENRICHED + ".")}
    return max(end for _, end in steps.values()) - min(start for start, _ in steps.values())


@dataclass
class Measured:
    label: str
    job_s: float
    enrich_s: float
    sampler: MemorySampler
    same: bool | None


UNSHARDED = """
import sys
from pathlib import Path
import dagster as dg
from sbir_etl.dagster_defs import run_job
awards, recipients, out = sys.argv[1:]
(Path(out) / ".dagster").mkdir(parents=True, exist_ok=True)
with dg.DagsterInstance.local_temp(tempdir=str(Path(out) / ".dagster")) as instance:
    sys.exit(0 if run_job(awards, recipients, out, instance=instance).success else 1)
"""
"""`sbir-etl run` without shards, on an instance that keeps the run's event log for `step_times`."""


def measure_run(label: str, command: list[str], out: Path, reference: Path | None) -> Measured:
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = MemorySampler(process.pid)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    _, stderr = process.communicate()
    job_s = time.perf_counter() - started
    sampler.stop()
    thread.join()
    if process.returncode != 0:
        raise SystemExit(f"{label}: sbir-etl run failed ({process.returncode}):\n{stderr[-2000:]}")
    same = None
    if reference is not None:
        same = pq.read_table(out / f"{ENRICHED}.parquet").equals(pq.read_table(reference))
    return Measured(label, job_s, enrich_stage_s(out), sampler, same)


def row(m: Measured) -> str:
    best = m.sampler.best
    k = len(best)
    if not k:
        return f"| {m.label} | {m.job_s:.1f} | {m.enrich_s:.1f} | 0 | – | {m.sampler.peak_rss / MIB:.0f} (main) | – | – | – | – |"
    biggest = max(best.values(), key=lambda mem: mem["rss"])
    pss, rss = sum(mem["pss"] for mem in best.values()), biggest["rss"]
    same = "" if m.same is None else ("yes" if m.same else "**NO**")
    return (
        f"| {m.label} | {m.job_s:.1f} | {m.enrich_s:.1f} | {k} | {pss / MIB:.0f} | {rss / MIB:.0f} | {k * rss / MIB:.0f} "
        f"| {pss / (k * rss):.2f} | {biggest['index_rss'] / MIB:.0f} / {biggest['index_pss'] / MIB:.0f} | {same} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--awards", required=True)
    parser.add_argument("--recipients", required=True)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--executors", nargs="+", default=["multiprocess", "dask"])
    parser.add_argument("--work", help="directory for the runs' outputs (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="shard-scaling-"))
    inputs = ["--awards", args.awards, "--recipients", args.recipients]
    print(f"awards {args.awards}, recipients {args.recipients}; outputs in {work}")
    unsharded = measure_run(
        "unsharded (in-process)",
        [sys.executable, "-c", UNSHARDED, args.awards, args.recipients, str(work / "unsharded")],
        work / "unsharded",
        None,
    )
    reference = work / "unsharded" / f"{ENRICHED}.parquet"
    results = [unsharded]
    for executor in args.executors:
        for shards in args.shards:
            options = [*inputs, "--shards", str(shards), "--executor", executor, "--workers", str(shards)]
            out = work / f"{executor}-{shards}"
            command = [sys.executable, "-m", "sbir_etl.cli", "run", "--out", str(out), *options]
            results.append(measure_run(f"{executor}, {shards} shards", command, out, reference))
            index = out / INDEX_FILE
            print(f"  {results[-1].label}: done in {results[-1].job_s:.1f} s", file=sys.stderr)
    print(f"\nsaved index: {index.stat().st_size / MIB:.0f} MiB\n")
    print(
        "| run | job s | enrich s | k | sum PSS MiB | max RSS MiB | k x RSS MiB | PSS / (k x RSS) | index RSS / PSS MiB | same |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for measured in results:
        print(row(measured))


if __name__ == "__main__":
    main()
