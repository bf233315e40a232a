"""Run a command under a cgroup v1 memory limit and report whether it completed, how long it took
and how much memory the cgroup used (the seed's task 5.3: spill instead of failing).

With the recipient index memory-mapped (`sbir-etl enrich --index`), its pages are file-backed:
under a limit below the index's size the kernel drops them and reads them again from the file,
so the run completes, slower, where a run holding the index in anonymous memory is killed.

    sudo .venv/bin/python benchmarks/memory_cap.py --limit 1GiB --evict R.idx -- \\
        .venv/bin/sbir-etl enrich --awards A.csv --index R.idx --out O.parquet --quiet

Needs root and the cgroup v1 memory controller at /sys/fs/cgroup/memory. Prints one line of
figures; exits with the command's exit code (137 when the kernel killed it for memory).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup/memory")
UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text: str) -> int:
    """'1GiB', '800M', '1073741824' -> bytes."""
    cleaned = text.strip().lower().removesuffix("ib").removesuffix("b")
    if cleaned and cleaned[-1] in UNITS:
        return int(float(cleaned[:-1]) * UNITS[cleaned[-1]])
    return int(cleaned)


def read_int(group: Path, name: str) -> int:
    return int((group / name).read_text().split()[0])


def oom_kills(group: Path) -> int:
    for line in (group / "memory.oom_control").read_text().splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return 0


def evict(path: Path) -> None:
    """Drop a file's clean pages from the page cache, so that the capped run pays for reading them
    (a page another cgroup brought in stays charged there, outside the limit)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def run_capped(command: Sequence[str], limit: int) -> dict[str, float | int]:
    """Run `command` in a fresh memory cgroup limited to `limit` bytes (swap too); its figures."""
    group = CGROUP_ROOT / f"sbir_cap_{os.getpid()}"
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(limit))
        memsw = group / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            memsw.write_text(str(limit))  # no swap either: what cannot be dropped must fit
        started = time.perf_counter()
        # The child joins the cgroup before exec-ing the command, so everything it maps is charged there.
        joined = f'echo $$ > {group / "cgroup.procs"} && exec "$@"'
        done = subprocess.run(["sh", "-c", joined, "sh", *command])
        wall = time.perf_counter() - started
        return {
            "returncode": done.returncode,
            "wall_s": wall,
            "max_usage_mib": read_int(group, "memory.max_usage_in_bytes") / 2**20,
            "limit_hits": read_int(group, "memory.failcnt"),
            "oom_kills": oom_kills(group),
        }
    finally:
        group.rmdir()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", default="1GiB", help="memory limit (default 1GiB)")
    parser.add_argument(
        "--evict", action="append", default=[], help="drop this file from the page cache first (repeatable)"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    if not CGROUP_ROOT.is_dir():
        print(f"memory_cap.py: no cgroup v1 memory controller at {CGROUP_ROOT}", file=sys.stderr)
        return 2
    for path in args.evict:
        evict(Path(path))
    figures = run_capped(command, parse_size(args.limit))
    print(
        f"limit {args.limit}: exit {figures['returncode']}, {figures['wall_s']:.1f} s wall, "
        f"cgroup peak {figures['max_usage_mib']:,.0f} MiB, limit reached {figures['limit_hits']:,} times, "
        f"OOM kills {figures['oom_kills']}"
    )
    code = int(figures["returncode"])
    return 128 - code if code < 0 else code  # killed by a signal: as a shell reports it (137 for SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
