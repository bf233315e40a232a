"""Where outputs may go and how they are written, so that no input is ever destroyed.

- `check_output_paths`: the one place that compares every output path with every input, by
  inode (a symlink, a hard link or `./x.csv` against `x.csv` is still the same file), and the
  outputs with each other.
- `output_lock`: one `filelock` lock per output (`.<name>.lock` beside it, holding the pid of
  the run that has it). A second run on the same output fails at once, naming that pid; the
  operating system releases the lock of a killed run.
- `atomic_path`: a temporary `.<name>.partial-<pid>` beside the target, renamed onto it only
  when complete; partials left by dead runs are removed first.
- Full disks and read-only file systems become `OutputWriteError` naming the output.
"""

import errno
import glob
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from sbir_etl.errors import OutputBusyError, OutputPathError, OutputWriteError

WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
"""OSErrors that can only come from writing: reported against the output being written."""
OPEN_ERRNOS = WRITE_ERRNOS | {errno.EACCES, errno.EPERM}
"""... and, when creating a file or directory for an output, a refused permission too."""


def partial_path(path: Path) -> Path:
    """The temporary file this process writes `path` through."""
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def default_rejects_path(out_path: str | Path) -> Path:
    """`<out stem>.rejects.csv` beside the output."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.stem + ".rejects.csv")


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return a.resolve() == b.resolve()


def _check_output(role: str, path: Path) -> None:
    if path.is_dir():
        raise OutputPathError(f"{role} {path} is a directory; give a file path")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputPathError(f"{role} {path}: {parent} is a file, not a directory")
            return


def check_output_paths(inputs: Mapping[str, Path], outputs: Mapping[str, Path]) -> None:
    """Refuse outputs that would overwrite an input or each other, are directories or lie under a file.

    `inputs` and `outputs` map a role as the user knows it ("awards file", "--out") to a path.
    """
    for role, path in outputs.items():
        _check_output(role, path)
        for input_role, source in inputs.items():
            if _same_file(path, source):
                alias = "" if str(path) == str(source) else f" ({source})"
                raise OutputPathError(
                    f"{role} {path} is the {input_role}{alias}: writing it would destroy that input; "
                    "choose another path"
                )
    named = list(outputs.items())
    for i, (role, path) in enumerate(named):
        for other_role, other in named[i + 1 :]:
            if _same_file(path, other):
                raise OutputPathError(f"{role} and {other_role} are the same file {path}; choose two paths")


def prepare_output_dir(path: Path) -> None:
    """Create the directory of an output (and its parents)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise OutputPathError(f"{path}: cannot create its directory: a part of {path.parent} is a file") from exc
    except OSError as exc:
        if exc.errno in OPEN_ERRNOS:
            raise OutputWriteError(path.parent, exc) from exc
        raise


def _process_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_partials(path: Path, *, locked: bool = False) -> list[Path]:
    """Delete the `.<name>.partial-<pid>` files of runs that died writing `path`.

    Holding the output's lock, every other partial is stale; without it, only those of
    processes that no longer exist are.
    """
    removed = []
    for partial in path.parent.glob(f".{glob.escape(path.name)}.partial-*"):
        pid = partial.name.rsplit("-", 1)[1]
        if pid != str(os.getpid()) and (locked or not _process_alive(pid)):
            partial.unlink(missing_ok=True)
            removed.append(partial)
    return removed


@contextmanager
def reporting_write_errors(path: Path) -> Iterator[None]:
    """Turn a full disk or a read-only file system met inside the block into `OutputWriteError(path)`."""
    try:
        yield
    except OSError as exc:
        if exc.errno in WRITE_ERRNOS:
            raise OutputWriteError(path, exc) from exc
        raise


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path`, renamed onto it only if the block completes."""
    path = Path(path)
    prepare_output_dir(path)
    remove_stale_partials(path)
    tmp = partial_path(path)
    try:
        with reporting_write_errors(path):
            yield tmp
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def lock_holder(path: Path, attempts: int = 20) -> int | None:
    """The pid recorded in an output's lock file (it is written just after the lock is taken)."""
    for _ in range(attempts):
        try:
            text = lock_path(path).read_text().strip()
        except OSError:
            text = ""
        if text.isdigit():
            return int(text)
        time.sleep(0.01)
    return None


@contextmanager
def output_lock(path: Path) -> Iterator[None]:
    """Hold the lock of an output for the block; `OutputBusyError` if another run holds it.

    The lock file is removed while still held, just before release: a run that opened it in
    that instant finds its inode unlinked once it gets the lock and does not count it as held
    (filelock checks this). A killed run's lock file stays until the next run on the output.
    """
    import filelock  # ~0.1 s to import: only for runs that write an output

    lock = filelock.FileLock(lock_path(path), timeout=0, on_acquired=_write_pid)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise OutputBusyError(path, lock_holder(path)) from None
    except OSError as exc:
        if exc.errno in OPEN_ERRNOS:
            raise OutputWriteError(path, exc) from exc
        raise
    try:
        yield
    finally:
        lock_path(path).unlink(missing_ok=True)
        lock.release()


@contextmanager
def claim_outputs(inputs: Mapping[str, Path], output: Path, rejects: Path) -> Iterator[None]:
    """Everything a run does before writing `output` and its `rejects` file: check both paths
    against the inputs, create their directories, take the output's lock (which covers the
    rejects file too), and remove the partials of runs that died writing them."""
    outputs = {"output": output, "rejects file": rejects}
    check_output_paths(inputs, outputs)
    for path in outputs.values():
        prepare_output_dir(path)
    with output_lock(output):
        for path in outputs.values():
            remove_stale_partials(path, locked=True)
        yield
